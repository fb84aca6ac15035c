import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { BlobStore, BlobWriteResult, ByteRange } from '../storage/blob/blob-store.js';
import { CHUNK_SIZE, EncryptingStream, HEADER_SIZE, readSealedBlobs, sealedSize } from './chunked-cipher.js';

/** A BlobStore in memory that records every range read. */
class MemoryBlobs implements BlobStore {
  readonly data = new Map<string, Buffer>();
  readonly reads: Array<{ ref: string; range?: ByteRange }> = [];
  private n = 0;

  async put(body: Readable): Promise<BlobWriteResult> {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c as Buffer);
    const ref = `blob${++this.n}`;
    this.data.set(ref, Buffer.concat(parts));
    return { ref, size: this.data.get(ref)!.length };
  }

  get(ref: string, range?: ByteRange): Readable {
    this.reads.push({ ref, range });
    const all = this.data.get(ref)!;
    const bytes = range ? all.subarray(range.start, range.end + 1) : all;
    // Small pieces, as a real store may deliver them.
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 10_000) pieces.push(bytes.subarray(i, i + 10_000));
    return Readable.from(pieces);
  }

  async delete(ref: string): Promise<void> {
    this.data.delete(ref);
  }

  async *list(): AsyncIterable<{ ref: string; mtime: Date }> {}

  async close(): Promise<void> {}
}

async function text(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function sealInto(store: MemoryBlobs, plain: Buffer, key: Buffer): Promise<{ ref: string; size: number }> {
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
    test(`${size} bytes round-trip whole and in every boundary range`, async () => {
      const store = new MemoryBlobs();
      const plain = randomBytes(size);
      const blob = await sealInto(store, plain, key);
      assert.deepEqual(await text(readSealedBlobs(store, [blob], key)), plain);
      const edges = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, size - 1].filter((x) => x >= 0 && x < size);
      for (const start of edges) {
        for (const end of edges) {
          if (end < start) continue;
          assert.deepEqual(await text(readSealedBlobs(store, [blob], key, { start, end })), plain.subarray(start, end + 1), `${start}-${end}`);
        }
      }
    });
  }

  test('the stored bytes hold no plaintext', async () => {
    const store = new MemoryBlobs();
    const plain = Buffer.from('a very recognisable secret sentence. '.repeat(5000));
    const blob = await sealInto(store, plain, key);
    assert.equal(store.data.get(blob.ref)!.includes(Buffer.from('recognisable secret')), false);
  });

  test('a range reads only the chunks that hold it, not from byte 0', async () => {
    const store = new MemoryBlobs();
    const plain = randomBytes(10 * CHUNK_SIZE);
    const blob = await sealInto(store, plain, key);
    store.reads.length = 0;
    const start = 7 * CHUNK_SIZE + 100;
    assert.deepEqual(await text(readSealedBlobs(store, [blob], key, { start, end: start + 50 })), plain.subarray(start, start + 51));
    assert.deepEqual(store.reads.map((r) => r.range), [
      { start: 0, end: HEADER_SIZE - 1 },
      { start: HEADER_SIZE + 7 * (CHUNK_SIZE + 16), end: HEADER_SIZE + 8 * (CHUNK_SIZE + 16) - 1 },
    ]);
  });

  test('ranges across several blobs (multipart parts) pick the right chunks of each', async () => {
    const store = new MemoryBlobs();
    const a = randomBytes(2 * CHUNK_SIZE + 3);
    const b = randomBytes(CHUNK_SIZE);
    const blobs = [await sealInto(store, a, key), await sealInto(store, b, key)];
    const all = Buffer.concat([a, b]);
    assert.deepEqual(await text(readSealedBlobs(store, blobs, key)), all);
    const start = 2 * CHUNK_SIZE;
    assert.deepEqual(await text(readSealedBlobs(store, blobs, key, { start, end: start + 10 })), all.subarray(start, start + 11));
  });

  test('a wrong key, an altered byte, swapped chunks or a cut blob fail the read', async () => {
    const store = new MemoryBlobs();
    const plain = randomBytes(3 * CHUNK_SIZE);
    const blob = await sealInto(store, plain, key);
    await assert.rejects(text(readSealedBlobs(store, [blob], randomBytes(32))));
    const original = Buffer.from(store.data.get(blob.ref)!);

    const altered = Buffer.from(original);
    altered[HEADER_SIZE + CHUNK_SIZE + 50] ^= 1;
    store.data.set(blob.ref, altered);
    await assert.rejects(text(readSealedBlobs(store, [blob], key)));

    const sealed = CHUNK_SIZE + 16;
    const swapped = Buffer.concat([
      original.subarray(0, HEADER_SIZE),
      original.subarray(HEADER_SIZE + sealed, HEADER_SIZE + 2 * sealed),
      original.subarray(HEADER_SIZE, HEADER_SIZE + sealed),
      original.subarray(HEADER_SIZE + 2 * sealed),
    ]);
    store.data.set(blob.ref, swapped);
    await assert.rejects(text(readSealedBlobs(store, [blob], key)));

    // Cut after two chunks, claimed as a two-chunk object: the second chunk is not marked last.
    store.data.set(blob.ref, original.subarray(0, HEADER_SIZE + 2 * sealed));
    await assert.rejects(text(readSealedBlobs(store, [{ ref: blob.ref, size: 2 * CHUNK_SIZE }], key)));
    store.data.set(blob.ref, original);
    assert.deepEqual(await text(readSealedBlobs(store, [blob], key)), plain);
  });
});
