import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import { openFsBlobStore } from '../storage/blob/fs-blob-store.js';
import { readAll } from '../storage/blob/contract.js';
import { CHUNK_SIZE, EncryptingStream, HEADER_SIZE, openSealedBytes, readSealedBlobs, sealedSize } from './chunked-cipher.js';

const folders: string[] = [];
after(async () => {
  for (const dir of folders) await rm(dir, { recursive: true, force: true });
});

/** The local folder store, with every range read recorded. */
interface RecordedBlobs {
  store: BlobStore;
  reads: Array<ByteRange | undefined>;
  /** The sealed bytes as stored. */
  raw(ref: string): Promise<Buffer>;
  /** Replaces a blob's stored bytes, as damage on disk would. */
  overwrite(ref: string, bytes: Buffer): Promise<void>;
}

async function recordedBlobs(): Promise<RecordedBlobs> {
  const dir = await mkdtemp(join(tmpdir(), 'skep-cipher-'));
  folders.push(dir);
  const fs = await openFsBlobStore(dir);
  const reads: Array<ByteRange | undefined> = [];
  const store: BlobStore = {
    newRef: () => fs.newRef(),
    put: (body, ref) => fs.put(body, ref),
    get(ref, range) {
      reads.push(range);
      // Re-cut into pieces smaller than a chunk, as a network backend may deliver them.
      return Readable.from(pieces(fs.get(ref, range)));
    },
    delete: (ref, opts) => fs.delete(ref, opts),
    list: () => fs.list(),
    ping: () => fs.ping(),
    close: () => fs.close(),
  };
  return {
    store,
    reads,
    raw: (ref) => readAll(fs.get(ref)),
    overwrite: async (ref, bytes) => void (await fs.put(Readable.from([bytes]), ref)),
  };
}

async function* pieces(stream: Readable): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    for (let i = 0; i < bytes.length; i += 10_000) yield bytes.subarray(i, i + 10_000);
  }
}

async function sealInto(store: BlobStore, plain: Buffer, key: Buffer): Promise<{ ref: string; size: number }> {
  const enc = new EncryptingStream(key);
  // Fed in uneven pieces so chunk boundaries never line up with writes.
  const pieces: Buffer[] = [];
  for (let i = 0; i < plain.length; i += 7777) pieces.push(plain.subarray(i, i + 7777));
  const written = await store.put(Readable.from(pieces).pipe(enc));
  assert.equal(written.size, sealedSize(plain.length));
  return { ref: written.ref, size: plain.length };
}

describe('chunked AES-256-GCM at rest', () => {
  const key = randomBytes(32);

  for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5]) {
    test(`${size} bytes round-trip whole and in every boundary range, streamed and opened at once from memory`, async () => {
      const recorded = await recordedBlobs();
      const store = recorded.store;
      const plain = randomBytes(size);
      const blob = await sealInto(store, plain, key);
      const sealed = await recorded.raw(blob.ref);
      assert.deepEqual(await readAll(readSealedBlobs(store, [blob], key)), plain);
      assert.deepEqual(openSealedBytes(sealed, blob, key), plain);
      const edges = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 3, size - 1].filter((x) => x >= 0 && x < size);
      for (const start of edges) {
        for (const end of edges) {
          if (end < start) continue;
          const want = plain.subarray(start, end + 1);
          assert.deepEqual(await readAll(readSealedBlobs(store, [blob], key, { start, end })), want, `stream ${start}-${end}`);
          assert.deepEqual(openSealedBytes(sealed, blob, key, { start, end }), want, `memory ${start}-${end}`);
        }
      }
    });
  }

  test('bytes held in memory: a wrong key, an altered byte in the chunk read, or a wrong length fail', async () => {
    const recorded = await recordedBlobs();
    const plain = randomBytes(2 * CHUNK_SIZE + 10);
    const blob = await sealInto(recorded.store, plain, key);
    const sealed = await recorded.raw(blob.ref);
    assert.throws(() => openSealedBytes(sealed, blob, randomBytes(32)));
    const altered = Buffer.from(sealed);
    altered[HEADER_SIZE + CHUNK_SIZE + 16 + 5] ^= 1; // in the second chunk
    assert.throws(() => openSealedBytes(altered, blob, key));
    assert.throws(() => openSealedBytes(altered, blob, key, { start: CHUNK_SIZE, end: CHUNK_SIZE + 1 }));
    // Only the chunks a range needs are opened, as the stream does.
    assert.deepEqual(openSealedBytes(altered, blob, key, { start: 0, end: 9 }), plain.subarray(0, 10));
    assert.throws(() => openSealedBytes(sealed.subarray(0, sealed.length - 1), blob, key), /bytes, not/);
    assert.throws(() => openSealedBytes(sealed, { ...blob, size: blob.size - 1 }, key), /bytes, not/);
    const notSealed = Buffer.from(sealed);
    notSealed[0] ^= 1;
    assert.throws(() => openSealedBytes(notSealed, blob, key), /not in the encrypted format/);
  });

  test('the stored format: each chunk opens by hand with HKDF-SHA256(data key, salt) and its index as nonce', async () => {
    const recorded = await recordedBlobs();
    const plain = randomBytes(CHUNK_SIZE + 10);
    const blob = await sealInto(recorded.store, plain, key);
    const raw = await recorded.raw(blob.ref);
    assert.equal(raw.subarray(0, 4).toString('ascii'), 'SKE1');
    const blobKey = Buffer.from(hkdfSync('sha256', key, raw.subarray(4, HEADER_SIZE), 'skep blob chunks v1', 32));
    const openChunk = (index: number, last: boolean, sealed: Buffer) => {
      const nonce = Buffer.alloc(12);
      nonce.writeUIntBE(index, 6, 6);
      const decipher = createDecipheriv('aes-256-gcm', blobKey, nonce);
      decipher.setAAD(Buffer.from([last ? 1 : 0]));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    };
    const first = raw.subarray(HEADER_SIZE, HEADER_SIZE + CHUNK_SIZE + 16);
    const second = raw.subarray(HEADER_SIZE + CHUNK_SIZE + 16);
    assert.deepEqual(Buffer.concat([openChunk(0, false, first), openChunk(1, true, second)]), plain);
  });

  test('the stored bytes hold no plaintext', async () => {
    const recorded = await recordedBlobs();
    const store = recorded.store;
    const plain = Buffer.from('a very recognisable secret sentence. '.repeat(5000));
    const blob = await sealInto(store, plain, key);
    assert.equal((await recorded.raw(blob.ref)).includes(Buffer.from('recognisable secret')), false);
  });

  test('a range reads only the chunks that hold it, not from byte 0', async () => {
    const recorded = await recordedBlobs();
    const store = recorded.store;
    const plain = randomBytes(10 * CHUNK_SIZE);
    const blob = await sealInto(store, plain, key);
    recorded.reads.length = 0;
    const start = 7 * CHUNK_SIZE + 100;
    assert.deepEqual(await readAll(readSealedBlobs(store, [blob], key, { start, end: start + 50 })), plain.subarray(start, start + 51));
    assert.deepEqual(recorded.reads, [
      { start: 0, end: HEADER_SIZE - 1 },
      { start: HEADER_SIZE + 7 * (CHUNK_SIZE + 16), end: HEADER_SIZE + 8 * (CHUNK_SIZE + 16) - 1 },
    ]);
  });

  test('ranges across several blobs (multipart parts) pick the right chunks of each', async () => {
    const recorded = await recordedBlobs();
    const store = recorded.store;
    const a = randomBytes(2 * CHUNK_SIZE + 3);
    const b = randomBytes(CHUNK_SIZE);
    const blobs = [await sealInto(store, a, key), await sealInto(store, b, key)];
    const all = Buffer.concat([a, b]);
    assert.deepEqual(await readAll(readSealedBlobs(store, blobs, key)), all);
    const start = 2 * CHUNK_SIZE;
    assert.deepEqual(await readAll(readSealedBlobs(store, blobs, key, { start, end: start + 10 })), all.subarray(start, start + 11));
  });

  test('a wrong key, an altered byte, swapped chunks or a cut blob fail the read', async () => {
    const recorded = await recordedBlobs();
    const store = recorded.store;
    const plain = randomBytes(3 * CHUNK_SIZE);
    const blob = await sealInto(store, plain, key);
    await assert.rejects(readAll(readSealedBlobs(store, [blob], randomBytes(32))));
    const original = await recorded.raw(blob.ref);

    const altered = Buffer.from(original);
    altered[HEADER_SIZE + CHUNK_SIZE + 50] ^= 1;
    await recorded.overwrite(blob.ref, altered);
    await assert.rejects(readAll(readSealedBlobs(store, [blob], key)));

    const sealed = CHUNK_SIZE + 16;
    const swapped = Buffer.concat([
      original.subarray(0, HEADER_SIZE),
      original.subarray(HEADER_SIZE + sealed, HEADER_SIZE + 2 * sealed),
      original.subarray(HEADER_SIZE, HEADER_SIZE + sealed),
      original.subarray(HEADER_SIZE + 2 * sealed),
    ]);
    await recorded.overwrite(blob.ref, swapped);
    await assert.rejects(readAll(readSealedBlobs(store, [blob], key)));

    // Cut after two chunks, claimed as a two-chunk object: the second chunk is not marked last.
    await recorded.overwrite(blob.ref, original.subarray(0, HEADER_SIZE + 2 * sealed));
    await assert.rejects(readAll(readSealedBlobs(store, [{ ref: blob.ref, size: 2 * CHUNK_SIZE }], key)));
    await recorded.overwrite(blob.ref, original);
    assert.deepEqual(await readAll(readSealedBlobs(store, [blob], key)), plain);
  });
});
