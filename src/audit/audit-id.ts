import { randomBytes } from 'node:crypto';

// Audit event ids: UUIDv7 (RFC 9562), time-ordered and strictly increasing within a process.
// The audit log is listed newest first by (time, id); with random ids, events written in the
// same millisecond (create then revoke, say) came back in random order.

let lastMs = -1;
let seq = 0;

/** A UUIDv7 for an event at `at`; each call returns an id greater than the one before. */
export function newAuditId(at: Date = new Date()): string {
  let ms = at.getTime();
  if (ms > lastMs) {
    lastMs = ms;
    seq = 0;
  } else {
    // Same millisecond, or the clock went back: count on from the last id.
    ms = lastMs;
    seq++;
    if (seq > 0xfff) {
      lastMs = ++ms;
      seq = 0;
    }
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (seq >> 8); // version 7, then the 12-bit counter
  bytes[7] = seq & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f); // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
