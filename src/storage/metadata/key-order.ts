// S3 orders keys by their UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which
// disagrees for characters above U+FFFF versus U+E000–U+FFFF, so comparisons here go by code point
// (the same order as UTF-8 bytes).

const MAX_CODE_POINT = 0x10ffff;
const REPLACEMENT = 0xfffd;

/** Code points of `s`; a lone surrogate counts as U+FFFD, as it is when encoded to UTF-8. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    out.push(cp >= 0xd800 && cp <= 0xdfff ? REPLACEMENT : cp);
  }
  return out;
}

/** Compares two strings by their UTF-8 bytes: negative, zero or positive. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The smallest string greater (in UTF-8 byte order) than every string that starts with `prefix`,
 * or null when there is none (empty prefix, or a prefix made only of U+10FFFF).
 * Increments the last code point, skipping the surrogate range; a last code point already at
 * U+10FFFF is dropped and the one before it incremented instead.
 */
export function prefixSuccessor(prefix: string): string | null {
  const cps = codePoints(prefix);
  while (cps.length > 0) {
    const last = cps.pop() as number;
    if (last === MAX_CODE_POINT) continue;
    const next = last === 0xd7ff ? 0xe000 : last + 1;
    cps.push(next);
    return String.fromCodePoint(...cps);
  }
  return null;
}

export interface KeyBound {
  key: string;
  inclusive: boolean;
}

/**
 * The tightest of several lower bounds, by UTF-8 bytes. Picking one in code (rather than ANDing
 * them all in SQL) lets the database seek straight to it in the index, keeping listings O(limit).
 */
export function tightestLowerBound(bounds: Array<KeyBound | undefined>): KeyBound | undefined {
  let best: KeyBound | undefined;
  for (const b of bounds) {
    if (!b) continue;
    if (!best) {
      best = b;
      continue;
    }
    const c = compareUtf8(b.key, best.key);
    if (c > 0 || (c === 0 && !b.inclusive)) best = b;
  }
  return best;
}
