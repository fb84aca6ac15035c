import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Bearer tokens: `skep_v1_<prefix>_<secret>`. The prefix is not secret and finds the row; only a
// SHA-256 of the whole token is stored (the token carries 190+ random bits, so a fast hash is safe).

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const BEARER_PATTERN = /^skep_v1_([A-Za-z0-9]{12})_([A-Za-z0-9]{32})$/;

function randomText(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % ALPHABET.length];
    }
  }
  return out;
}

export interface NewBearer {
  token: string;
  prefix: string;
  hash: string;
}

export function newBearerToken(): NewBearer {
  const prefix = randomText(12);
  const token = `skep_v1_${prefix}_${randomText(32)}`;
  return { token, prefix, hash: hashBearer(token) };
}

export function hashBearer(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The lookup prefix of a well-formed token, or null. */
export function bearerPrefix(token: string): string | null {
  return BEARER_PATTERN.exec(token)?.[1] ?? null;
}

export function bearerMatches(token: string, storedHash: string | null): boolean {
  if (!storedHash) return false;
  const a = Buffer.from(hashBearer(token), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
