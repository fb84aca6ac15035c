/**
 * Whether `s` holds a NUL (U+0000). PostgreSQL text cannot: a query given one fails (SQLSTATE
 * 22021), where SQLite stores it as any other character. No stored name or ID holds one, so a
 * request's name or ID with a NUL names nothing, and is answered so before the store is asked.
 */
export function hasNul(s: string): boolean {
  return s.includes('\u0000');
}
