import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intersect, keyInReach, listingLimit, listingRanges, outside, reachOf, scopeProblem } from './scope.js';
import { authorize } from './authorize.js';
import type { Principal } from './principal.js';

// Scope entries (a bucket, or a key prefix in one) and what the authorizer makes of them.

test('reach: every bucket, a whole bucket, prefixes, nothing; "photos2" is not "photos"', () => {
  assert.equal(reachOf(null, 'photos'), 'bucket');
  assert.equal(reachOf(['photos'], 'photos'), 'bucket');
  assert.deepEqual(reachOf(['photos/2024/', 'photos/raw/', 'docs'], 'photos'), ['2024/', 'raw/']);
  assert.equal(reachOf(['photos/2024/'], 'photos2'), 'none');
  assert.equal(reachOf(['photos2/x/'], 'photos'), 'none');
  assert.equal(keyInReach(['2024/'], '2024/jan.jpg'), true);
  assert.equal(keyInReach(['2024/'], '2024'), false);
  assert.equal(keyInReach(['2024/'], '2025/x'), false);
});

test('listings: inside a prefix unfiltered, above it filtered to the prefixes under it, beside it refused', () => {
  const reach = ['team/', 'shared/inbox/'];
  assert.equal(listingRanges(reach, 'team/docs/'), null);
  assert.equal(listingRanges(reach, 'team/'), null);
  assert.deepEqual(listingRanges(reach, ''), ['shared/inbox/', 'team/']);
  assert.deepEqual(listingRanges(reach, 'sh'), ['shared/inbox/']);
  assert.deepEqual(listingRanges(reach, 'other/'), []);
  assert.equal(listingLimit(null, 'b', ''), undefined);
  assert.equal(listingLimit(['b'], 'b', ''), undefined);
  // Ranges come in UTF-8 byte order (an astral character after U+FFFF).
  assert.deepEqual(listingRanges(['\u{1F600}/', '\uffff/'], ''), ['\uffff/', '\u{1F600}/']);
});

test('problems: no bucket, an empty prefix, overlapping entries', () => {
  assert.equal(scopeProblem(['photos', 'docs/a/', 'docs/b/']), null);
  assert.equal(scopeProblem(Array.from({ length: 1000 }, (_, i) => `b${i}`)), null);
  assert.match(scopeProblem(Array.from({ length: 1001 }, (_, i) => `b${i}`))!, /at most 1000 entries/);
  assert.match(scopeProblem(['/x'])!, /names no bucket/);
  assert.match(scopeProblem(['photos/'])!, /empty prefix/);
  assert.match(scopeProblem(['photos', 'photos/2024/'])!, /overlap/);
  assert.match(scopeProblem(['photos/2024/', 'photos/2024/jan/'])!, /overlap/);
  assert.match(scopeProblem(['photos/a', 'photos/ab'])!, /overlap/, 'a prefix includes any longer one it starts');
  assert.match(scopeProblem([`b/${'x'.repeat(1025)}`])!, /longer than 1024 bytes/);
});

test('containment and intersection', () => {
  assert.deepEqual(outside(['photos/2024/', 'docs'], ['photos', 'docs']), []);
  assert.deepEqual(outside(['photos', 'docs/x/'], ['photos/2024/', 'docs']), ['photos']);
  assert.deepEqual(outside(null, ['photos']), ['all buckets']);
  assert.deepEqual(outside(['a'], null), []);
  assert.deepEqual(intersect(['photos', 'docs/'.slice(0, 4)], ['photos/2024/', 'logs']), ['photos/2024/']);
  assert.deepEqual(intersect(null, ['photos/2024/']), ['photos/2024/']);
  assert.deepEqual(intersect(['photos/2024/jan/', 'logs'], null), ['photos/2024/jan/', 'logs']);
  assert.deepEqual(intersect(['photos/x/'], ['docs']), []);
  assert.equal(intersect(null, null), null);
});

test('the authorizer: object rights under the prefix, listings by prefix, bucket-wide rights need the bucket', () => {
  const p: Principal = { accessKeyId: 'K', projectId: 'p', tokenId: 't', permission: 'admin-rw', bucketScope: ['b/team/'], billing: false };
  assert.equal(authorize(p, 'ReadObject', 'b', { key: 'team/x' }).allow, true);
  assert.equal(authorize(p, 'WriteObject', 'b', { key: 'other/x' }).allow, false);
  assert.equal(authorize(p, 'DeleteObject', 'b', { key: null }).allow, true, 'DeleteObjects is checked per key later');
  assert.equal(authorize(p, 'ListObjects', 'b', { key: null, listPrefix: '' }).allow, true);
  assert.equal(authorize(p, 'ListObjects', 'b', { key: null, listPrefix: 'other/' }).allow, false);
  assert.equal(authorize(p, 'ProbeBucket', 'b', { key: null }).allow, true);
  for (const right of ['ReadBucketConfig', 'WriteBucketConfig', 'DeleteBucket'] as const) {
    const d = authorize(p, right, 'b');
    assert.ok(!d.allow && /only prefixes/.test(d.reason), right);
  }
  assert.equal(authorize(p, 'ReadObject', 'c', { key: 'team/x' }).allow, false);
});
