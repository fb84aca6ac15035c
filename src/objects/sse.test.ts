import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { SecretBox } from '../credentials/secret-box.js';
import { customerEtag, DataKeys, keyMd5 } from './sse.js';

// The stored forms of SSE-C, computed here by hand: objects written by any release must keep
// matching their customer's key and keep their ETag.
describe('SSE-C stored forms', () => {
  const keys = new DataKeys(new SecretBox(randomBytes(32)));
  const key = randomBytes(32);
  const customer = { key, keyMd5: keyMd5(key) };

  test('the stored key check is HMAC-SHA256 keyed by the salt, over the customer key', () => {
    const { stored, dataKey } = keys.create({ kind: 'SSE-C', customer });
    assert.equal(stored.kind, 'SSE-C');
    if (stored.kind !== 'SSE-C') return;
    assert.deepEqual(dataKey, key);
    const salt = Buffer.from(stored.keySalt, 'base64');
    assert.equal(salt.length, 16);
    assert.equal(stored.keyHmac, createHmac('sha256', salt).update(key).digest('base64'));
  });

  test('a record made by hand matches its key and no other', () => {
    const salt = randomBytes(16);
    const stored = { kind: 'SSE-C' as const, keySalt: salt.toString('base64'), keyHmac: createHmac('sha256', salt).update(key).digest('base64') };
    assert.equal(DataKeys.matches(stored, customer), true);
    const other = randomBytes(32);
    assert.equal(DataKeys.matches(stored, { key: other, keyMd5: keyMd5(other) }), false);
    assert.throws(() => keys.checkReadable(stored, { key: other, keyMd5: keyMd5(other) }), { code: 'AccessDenied' });
  });

  test('the ETag is the first 32 hex digits of HMAC-SHA256(data key, "etag:" + MD5)', () => {
    const md5 = createHash('md5').update('hello').digest('hex');
    const etag = customerEtag(key, md5);
    assert.equal(etag, createHmac('sha256', key).update(`etag:${md5}`).digest('hex').slice(0, 32));
    assert.notEqual(etag, md5);
    assert.notEqual(customerEtag(randomBytes(32), md5), etag);
  });
});
