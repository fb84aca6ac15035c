import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { BEARER_PATTERN, bearerMatches, bearerPrefix, hashBearer, newBearerToken } from './bearer.js';

test('new bearer tokens: skep_v1_<12>_<32>, the prefix to find the row, the SHA-256 to check it', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const b = newBearerToken();
    assert.match(b.token, BEARER_PATTERN);
    assert.equal(bearerPrefix(b.token), b.prefix);
    assert.equal(b.hash, createHash('sha256').update(b.token).digest('hex'));
    assert.ok(!seen.has(b.token) && !seen.has(b.prefix));
    seen.add(b.token).add(b.prefix);
  }
});

test('bearerPrefix refuses anything not shaped like a token', () => {
  const { token } = newBearerToken();
  for (const bad of ['', 'skep_v1_', `Bearer ${token}`, `${token} `, token.slice(0, -1), `${token}a`, token.replace('v1', 'v2'), token.replace(/_/g, '-')]) {
    assert.equal(bearerPrefix(bad), null, bad);
  }
});

test('bearerMatches compares hashes, and fails on a missing or malformed stored hash', () => {
  const { token, hash } = newBearerToken();
  assert.ok(bearerMatches(token, hash));
  assert.ok(!bearerMatches(token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'), hash));
  assert.ok(!bearerMatches(token, null));
  assert.ok(!bearerMatches(token, hash.slice(0, 10)));
  assert.ok(!bearerMatches(token, hashBearer('other')));
});
