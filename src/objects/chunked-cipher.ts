import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { BlobStore, ByteRange } from '../storage/blob/blob-store.js';
import type { BlobPart } from '../storage/metadata/metadata-store.js';
import { readParts } from './object-reader.js';

// Encryption at rest, one layer above the BlobStore (so it works the same on any backend).
//
// A blob of an encrypted object is: "SKE1" + a 16-byte random salt, then the plaintext in chunks
// of 64 KiB, each sealed with AES-256-GCM (ciphertext + 16-byte tag). Each blob has its own key,
// HKDF-SHA256(data key, salt), so a chunk's nonce can simply be its index; the last chunk is
// bound as last (in its associated data), so a blob cut at a chunk boundary does not decrypt. An
// empty blob still has one (empty, last) chunk. A range of plaintext is read by fetching and
// opening only the chunks that hold it: O(range), never from byte 0.

export const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
const MAGIC = Buffer.from('SKE1', 'ascii');
const SALT_SIZE = 16;
export const HEADER_SIZE = MAGIC.length + SALT_SIZE;
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;
const LAST = Buffer.from([1]);
const NOT_LAST = Buffer.from([0]);

// A KeyObject, made once per blob: each chunk's cipher takes it as it is, where a Buffer key costs
// Node.js 24 a thrown and caught TypeError per cipher (its check for a KeyObject), about 5 us of
// the 30-40 us a 64 KiB chunk takes. HKDF pays the same for a Buffer (17 us against 8).
function blobKey(dataKey: Buffer, salt: Buffer): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', createSecretKey(dataKey), salt, 'skep blob chunks v1', 32)));
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 6, 6);
  return n;
}

/** Chunks in a blob of `size` plaintext bytes (at least one). */
export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_SIZE));
}

/** Stored size of a blob holding `size` plaintext bytes. */
export function sealedSize(size: number): number {
  return HEADER_SIZE + size + chunkCount(size) * TAG_SIZE;
}

function seal(key: KeyObject, index: number, last: boolean, plain: Buffer): Buffer[] {
  const cipher = createCipheriv('aes-256-gcm', key, nonce(index));
  cipher.setAAD(last ? LAST : NOT_LAST);
  const body = cipher.update(plain);
  cipher.final();
  return [body, cipher.getAuthTag()];
}

function open(key: KeyObject, index: number, last: boolean, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce(index));
  decipher.setAAD(last ? LAST : NOT_LAST);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  decipher.final(); // throws when the chunk was altered, moved or cut
  return plain;
}

/** A transform from plaintext to the sealed blob format. */
export class EncryptingStream extends Transform {
  private readonly key: KeyObject;
  private readonly salt = randomBytes(SALT_SIZE);
  private pending: Buffer[] = [];
  private pendingSize = 0;
  private index = 0;
  private started = false;

  constructor(dataKey: Buffer) {
    super({ highWaterMark: 256 * 1024 });
    this.key = blobKey(dataKey, this.salt);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.started) {
      this.started = true;
      this.push(Buffer.concat([MAGIC, this.salt]));
    }
    this.pending.push(chunk);
    this.pendingSize += chunk.length;
    // A full chunk is sealed only once more bytes follow: until then it might be the last.
    if (this.pendingSize > CHUNK_SIZE) {
      let all = Buffer.concat(this.pending);
      const out: Buffer[] = [];
      while (all.length > CHUNK_SIZE) {
        out.push(...seal(this.key, this.index++, false, all.subarray(0, CHUNK_SIZE)));
        all = all.subarray(CHUNK_SIZE);
      }
      this.pending = [all];
      this.pendingSize = all.length;
      this.push(Buffer.concat(out));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (!this.started) this.push(Buffer.concat([MAGIC, this.salt]));
    this.push(Buffer.concat(seal(this.key, this.index++, true, Buffer.concat(this.pending))));
    this.pending = [];
    done();
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Plaintext bytes in chunk `index` of a blob of `size` plaintext bytes. */
function plainLengthOf(size: number, index: number): number {
  return Math.min(size, (index + 1) * CHUNK_SIZE) - index * CHUNK_SIZE;
}

/** The bytes of chunk `index`'s plaintext that fall in [start, end] of the blob (maybe none). */
function clip(plain: Buffer, index: number, start: number, end: number): Buffer {
  const chunkStart = index * CHUNK_SIZE;
  return plain.subarray(Math.max(start, chunkStart) - chunkStart, Math.min(end, chunkStart + plain.length - 1) - chunkStart + 1);
}

/**
 * The plaintext of a sealed blob held in memory as stored (`sealed`), or the bytes [start, end]
 * of it: what the stream below yields, opened at once, for a small object kept inline. Only the
 * chunks that hold the range are opened, and each is checked as the stream checks it.
 */
export function openSealedBytes(sealed: Buffer, blob: BlobPart, dataKey: Buffer, range?: ByteRange): Buffer {
  if (sealed.length !== sealedSize(blob.size)) throw new Error(`encrypted blob ${blob.ref} is ${sealed.length} bytes, not ${sealedSize(blob.size)}`);
  const key = keyFromHeader(sealed.subarray(0, HEADER_SIZE), dataKey, blob.ref);
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size - 1;
  const chunks = chunkCount(blob.size);
  const out: Buffer[] = [];
  for (let index = Math.floor(start / CHUNK_SIZE); index <= Math.min(chunks - 1, Math.floor(end / CHUNK_SIZE)); index++) {
    const at = HEADER_SIZE + index * SEALED_CHUNK;
    const plain = open(key, index, index === chunks - 1, sealed.subarray(at, at + plainLengthOf(blob.size, index) + TAG_SIZE));
    out.push(clip(plain, index, start, end));
  }
  return out.length === 1 ? out[0] : Buffer.concat(out);
}

/** The plaintext bytes [start, end] of one sealed blob holding `size` plaintext bytes. */
async function* openBlobRange(store: BlobStore, blob: BlobPart, dataKey: Buffer, start: number, end: number): AsyncGenerator<Buffer> {
  const chunks = chunkCount(blob.size);
  const first = Math.floor(start / CHUNK_SIZE);
  const last = Math.min(chunks - 1, Math.floor(end / CHUNK_SIZE));
  const from = HEADER_SIZE + first * SEALED_CHUNK;
  const to = HEADER_SIZE + last * SEALED_CHUNK + plainLengthOf(blob.size, last) + TAG_SIZE - 1;
  // The salt sits in the header: read with the chunks when they start at the first one, else on its own.
  const header = first === 0 ? undefined : await readAll(store.get(blob.ref, { start: 0, end: HEADER_SIZE - 1 }));
  let buffered: Buffer = Buffer.alloc(0);
  let key: KeyObject | undefined = header ? keyFromHeader(header, dataKey, blob.ref) : undefined;
  let index = first;
  for await (const piece of store.get(blob.ref, { start: first === 0 ? 0 : from, end: to })) {
    buffered = buffered.length === 0 ? (piece as Buffer) : Buffer.concat([buffered, piece as Buffer]);
    if (!key) {
      if (buffered.length < HEADER_SIZE) continue;
      key = keyFromHeader(buffered.subarray(0, HEADER_SIZE), dataKey, blob.ref);
      buffered = buffered.subarray(HEADER_SIZE);
    }
    while (index <= last) {
      const sealedLength = plainLengthOf(blob.size, index) + TAG_SIZE;
      if (buffered.length < sealedLength) break;
      const plain = open(key, index, index === chunks - 1, buffered.subarray(0, sealedLength));
      buffered = buffered.subarray(sealedLength);
      const wanted = clip(plain, index, start, end);
      index++;
      if (wanted.length > 0) yield wanted;
    }
  }
  if (index <= last) throw new Error(`encrypted blob ${blob.ref} is shorter than its object`);
}

function keyFromHeader(header: Buffer, dataKey: Buffer, ref: string): KeyObject {
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`blob ${ref} is not in the encrypted format`);
  return blobKey(dataKey, header.subarray(MAGIC.length, HEADER_SIZE));
}

/**
 * Streams the plaintext of an encrypted object (one sealed blob per part; BlobPart.size is the
 * part's plaintext size), or a range of it.
 */
export function readSealedBlobs(store: BlobStore, blobs: BlobPart[], dataKey: Buffer, range?: ByteRange): Readable {
  return readParts(blobs, range, (blob, start, end) => openBlobRange(store, blob, dataKey, start, end));
}
