import { ApiProblem } from './problems.js';

// Opaque page cursors: the keyset position after the last item of a page (a short tuple of
// strings and numbers), as base64url JSON. Anything that does not decode to the expected shape
// is a 400 naming `cursor`.

type Part = string | number;

export function encodeCursor(parts: readonly Part[]): string {
  return Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');
}

function invalid(): ApiProblem {
  return new ApiProblem('validation', 'The cursor is not one this API returned.', 'cursor');
}

/** Decodes a cursor made by encodeCursor whose parts have these types, in order. */
export function decodeCursor<const K extends readonly ('string' | 'number')[]>(
  cursor: string,
  kinds: K,
): { [I in keyof K]: K[I] extends 'string' ? string : number } {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== kinds.length) throw invalid();
  const parts: unknown[] = parsed;
  kinds.forEach((kind, i) => {
    const v = parts[i];
    if (kind === 'string' ? typeof v !== 'string' : !Number.isSafeInteger(v)) throw invalid();
  });
  return parts as { [I in keyof K]: K[I] extends 'string' ? string : number };
}

/** A total order on keyset positions (negative: a comes first). */
export type PositionOrder<P> = (a: P, b: P) => number;

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One page of a list that is read whole (short lists: a user's projects, a project's buckets or
 * tokens): the items after `after` in `order`, at most `limit`, and the cursor of the next page.
 * Keyset, not offset: items added or removed meanwhile neither repeat nor skip others.
 */
export function keysetPage<T, P extends readonly Part[]>(
  items: readonly T[],
  position: (item: T) => P,
  order: PositionOrder<P>,
  after: P | undefined,
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const rest = items
    .filter((item) => after === undefined || order(position(item), after) > 0)
    .sort((a, b) => order(position(a), position(b)));
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rest.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
}
