import { randomBytes } from 'node:crypto';

// Shapes of generated credentials, matching what S3 tools expect of AWS keys.

const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomString(alphabet: string, length: number): string {
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** 20 upper-case characters, starting with "SK" so skep keys are recognisable. */
export function newAccessKeyId(): string {
  return 'SK' + randomString(KEY_ID_ALPHABET, 18);
}

/** 40 characters, like an AWS secret access key. */
export function newSecretAccessKey(): string {
  return randomString(SECRET_ALPHABET, 40);
}

export const ACCESS_KEY_ID_PATTERN = /^[A-Z0-9]{16,128}$/;
