// S3 orders keys by their UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which
// disagrees for characters above U+FFFF versus U+E000–U+FFFF, so comparisons here go by code point
// (the same order as UTF-8 bytes). Keys are assumed well-formed Unicode: a lone surrogate has no
// UTF-8 form, and the S3 layer must reject such keys before they reach the store.

const MAX_CODE_POINT = 0x10ffff;

/** Compares two strings by their UTF-8 bytes (i.e. by code point): negative, zero or positive. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

/**
 * Surrogates (D800–DFFF) stand for code points above U+FFFF, which sort after U+E000–U+FFFF in
 * UTF-8: move them above that range. At the first differing unit this gives code point order.
 */
function codeUnitRank(u: number): number {
  if (u >= 0xe000) return u - 0x800;
  if (u >= 0xd800) return u + 0x2000;
  return u;
}

/**
 * The smallest string greater (in UTF-8 byte order) than every string that starts with `prefix`,
 * or null when there is none (empty prefix, or a prefix made only of U+10FFFF).
 * Increments the last code point, skipping the surrogate range; a last code point already at
 * U+10FFFF is dropped and the one before it incremented instead.
 */
export function prefixSuccessor(prefix: string): string | null {
  // Most prefixes end in a character below the surrogates (a delimiter such as '/'): bump it in place.
  const last = prefix.length > 0 ? prefix.charCodeAt(prefix.length - 1) : 0xffff;
  if (last < 0xd7ff) return prefix.slice(0, -1) + String.fromCharCode(last + 1);
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0) as number);
  while (cps.length > 0) {
    const last = cps.pop() as number;
    if (last === MAX_CODE_POINT) continue;
    cps.push(last === 0xd7ff ? 0xe000 : last + 1);
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
