import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SecretBox, loadMasterKey } from './secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  test('round trip, with a fresh IV each time and no trace of the plaintext', () => {
    const a = box.encrypt(secret, 'SKAAAA');
    const b = box.encrypt(secret, 'SKAAAA');
    assert.notEqual(a, b);
    assert.equal(box.decrypt(a, 'SKAAAA'), secret);
    assert.equal(box.decrypt(b, 'SKAAAA'), secret);
    for (const form of [secret, Buffer.from(secret).toString('base64').slice(0, 40), Buffer.from(secret).toString('hex')]) {
      assert.ok(!a.includes(form));
    }
  });

  test('a ciphertext bound to one access key ID does not open for another', () => {
    const c = box.encrypt(secret, 'SKAAAA');
    assert.throws(() => box.decrypt(c, 'SKBBBB'));
  });

  test('tampering and a wrong key are detected', () => {
    const c = box.encrypt(secret, 'SKAAAA');
    const [v, iv, body, tag] = c.split(':');
    const flipped = Buffer.from(body, 'base64');
    flipped[0] ^= 1;
    assert.throws(() => box.decrypt([v, iv, flipped.toString('base64'), tag].join(':'), 'SKAAAA'));
    assert.throws(() => new SecretBox(randomBytes(32)).decrypt(c, 'SKAAAA'));
    assert.throws(() => box.decrypt('v0:' + c.slice(3), 'SKAAAA'), /unrecognised/);
    assert.throws(() => box.decrypt('garbage', 'SKAAAA'), /unrecognised/);
  });

  test('a secret opened once (and so cached) still opens only with its own ciphertext, key ID and master key', () => {
    const c = box.encrypt(secret, 'SKCCCC');
    assert.equal(box.decrypt(c, 'SKCCCC'), secret);
    assert.equal(box.decrypt(c, 'SKCCCC'), secret);
    assert.throws(() => box.decrypt(c, 'SKDDDD'));
    const [v, iv, body, tag] = c.split(':');
    const flipped = Buffer.from(tag, 'base64');
    flipped[0] ^= 1;
    assert.throws(() => box.decrypt([v, iv, body, flipped.toString('base64')].join(':'), 'SKCCCC'));
    assert.throws(() => new SecretBox(randomBytes(32)).decrypt(c, 'SKCCCC'));
  });

  test('the stored format is AES-256-GCM under the master key bytes: secrets sealed by hand open, and what the box seals opens by hand', () => {
    const master = randomBytes(32);
    const sealer = new SecretBox(master);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', master, iv);
    cipher.setAAD(Buffer.from('SKEEEE', 'utf8'));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    const byHand = ['v1', iv.toString('base64'), body.toString('base64'), cipher.getAuthTag().toString('base64')].join(':');
    assert.equal(sealer.decrypt(byHand, 'SKEEEE'), secret);

    const [, iv2, body2, tag2] = sealer.encrypt(secret, 'SKFFFF').split(':');
    const decipher = createDecipheriv('aes-256-gcm', master, Buffer.from(iv2, 'base64'));
    decipher.setAAD(Buffer.from('SKFFFF', 'utf8'));
    decipher.setAuthTag(Buffer.from(tag2, 'base64'));
    assert.equal(Buffer.concat([decipher.update(Buffer.from(body2, 'base64')), decipher.final()]).toString('utf8'), secret);
  });

  test('the master key must be 32 bytes', () => {
    assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/);
  });
});

describe('loadMasterKey', () => {
  test('creates master.key (mode 0600) once, then reads the same key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skep-masterkey-'));
    try {
      const first = await loadMasterKey(dir, undefined);
      assert.equal(first.length, 32);
      assert.equal((await stat(join(dir, 'master.key'))).mode & 0o777, 0o600);
      assert.deepEqual(await loadMasterKey(dir, undefined), first);
      assert.equal((await readFile(join(dir, 'master.key'), 'utf8')).trim(), first.toString('base64'));
      await writeFile(join(dir, 'master.key'), 'dG9vIHNob3J0\n');
      await assert.rejects(loadMasterKey(dir, undefined), /32-byte/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('SKEP_MASTER_KEY as hex or base64 wins over the file; other lengths are refused', async () => {
    const key = randomBytes(32);
    assert.deepEqual(await loadMasterKey('/nonexistent-folder', key.toString('hex')), key);
    assert.deepEqual(await loadMasterKey('/nonexistent-folder', key.toString('base64')), key);
    await assert.rejects(loadMasterKey('/nonexistent-folder', randomBytes(16).toString('hex')), /32 bytes/);
  });
});
