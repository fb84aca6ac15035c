import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../credentials/secret-box.js';
import { S3Error } from '../s3/errors.js';
import type { StoredEncryption } from '../storage/metadata/metadata-store.js';

// Server-side encryption keys. SSE-S3: each object gets a random 256-bit data key, stored only
// sealed under the master key. SSE-C: the customer's key is the data key; it is never stored,
// only a salted HMAC of it, to tell a later request's key right from wrong.

/** A key the client sent with SSE-C headers (already checked against its MD5). */
export interface CustomerKey {
  key: Buffer;
  /** Base64 MD5 of the key, echoed in responses. */
  keyMd5: string;
}

export type EncryptionRequest = { kind: 'SSE-S3' } | { kind: 'SSE-C'; customer: CustomerKey };

const SSE_S3_AD = 'skep sse-s3 data key v1';

export function keyMd5(key: Buffer): string {
  return createHash('md5').update(key).digest('base64');
}

// Keys go to HMAC as KeyObjects, made per call since each key serves one request: a Buffer key
// costs Node.js 24 a thrown and caught TypeError (sigv4/canonical.ts), 13 us against 4.
function hmac(salt: Buffer, key: Buffer): Buffer {
  return createHmac('sha256', createSecretKey(salt)).update(key).digest();
}

export class DataKeys {
  constructor(private readonly box: SecretBox) {}

  /** A new object's stored encryption and the key its bytes are sealed with. */
  create(req: EncryptionRequest): { stored: StoredEncryption; dataKey: Buffer } {
    if (req.kind === 'SSE-S3') {
      const dataKey = randomBytes(32);
      return { stored: { kind: 'SSE-S3', wrappedKey: this.box.encrypt(dataKey.toString('base64'), SSE_S3_AD) }, dataKey };
    }
    const salt = randomBytes(16);
    return {
      stored: { kind: 'SSE-C', keySalt: salt.toString('base64'), keyHmac: hmac(salt, req.customer.key).toString('base64') },
      dataKey: req.customer.key,
    };
  }

  /**
   * The data key of a stored object. An SSE-C object needs the customer's key (and only it); an
   * object stored otherwise must not be read with one, as S3 answers.
   */
  open(stored: StoredEncryption | null, customer: CustomerKey | undefined): Buffer | null {
    this.checkReadable(stored, customer);
    if (!stored) return null;
    return stored.kind === 'SSE-S3' ? Buffer.from(this.box.decrypt(stored.wrappedKey, SSE_S3_AD), 'base64') : customer!.key;
  }

  /** Throws where open() would refuse `customer`, without unwrapping a key (a HEAD reads no bytes). */
  checkReadable(stored: StoredEncryption | null, customer: CustomerKey | undefined): void {
    if (!stored || stored.kind === 'SSE-S3') {
      if (customer) throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
      return;
    }
    if (!customer) {
      throw new S3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
    }
    if (!DataKeys.matches(stored, customer)) throw new S3Error('AccessDenied', 'The SSE-C key does not match the key the object was stored with.');
  }

  /** Whether `customer` is the key an SSE-C object or upload was stored with (constant time). */
  static matches(stored: Extract<StoredEncryption, { kind: 'SSE-C' }>, customer: CustomerKey): boolean {
    const want = Buffer.from(stored.keyHmac, 'base64');
    const got = hmac(Buffer.from(stored.keySalt, 'base64'), customer.key);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/**
 * The ETag of an SSE-C object: not the MD5 of its plaintext (which would tell anyone who can list
 * the bucket what the bytes are), but a keyed digest of it, stable for the same bytes and key.
 */
export function customerEtag(dataKey: Buffer, md5Hex: string): string {
  return createHmac('sha256', createSecretKey(dataKey)).update(`etag:${md5Hex}`).digest('hex').slice(0, 32);
}
