import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelMeet, levelWithin, parseSessionPolicy } from './session-policy.js';
import { networkAllows, networkWithin, networksProblem } from './network.js';

// STS session policies read as a level and a scope; levels meet; networks contain each other.

const policy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

test('actions map to the least level that covers them; resources to scope entries', () => {
  assert.deepEqual(parseSessionPolicy(policy([{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: 'arn:aws:s3:::b/logs/*' }])), {
    permission: 'object-ro',
    scope: ['b/logs/'],
  });
  assert.equal(parseSessionPolicy(policy([{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*' }])).permission, 'object-rw');
  assert.equal(parseSessionPolicy(policy([{ Effect: 'Allow', Action: 's3:GetBucketPolicy', Resource: 'arn:aws:s3:::b' }])).permission, 'admin-ro');
  assert.equal(parseSessionPolicy(policy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }])).permission, 'admin-rw');
  assert.equal(parseSessionPolicy(policy([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }])).scope, null);
  // "b" and "b/*" are one entry; a prefix inside a named bucket folds into it.
  assert.deepEqual(parseSessionPolicy(policy([{ Effect: 'Allow', Action: 's3:Get*', Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*', 'arn:aws:s3:::b/x/*', 'arn:aws:s3:::c/y*'] }])).scope, ['b', 'c/y']);
});

test('statements together: the same level on every resource, or levels that meet on one resource', () => {
  const allow = (Action: string | string[], Resource: string | string[]) => ({ Effect: 'Allow', Action, Resource });
  // The README's example, and read + list on a bucket and a prefix in it (one statement).
  assert.deepEqual(parseSessionPolicy(policy([allow('s3:*', 'arn:aws:s3:::assets/uploads/*')])), { permission: 'admin-rw', scope: ['assets/uploads/'] });
  assert.deepEqual(parseSessionPolicy(policy([allow(['s3:Get*', 's3:ListBucket'], ['arn:aws:s3:::b', 'arn:aws:s3:::b/p/*'])])), { permission: 'admin-ro', scope: ['b'] });
  // One level on two resources; two levels on the same one (the wider is allowed there).
  assert.deepEqual(parseSessionPolicy(policy([allow('s3:GetObject', 'arn:aws:s3:::b/x/*'), allow('s3:GetObject', 'arn:aws:s3:::c/*')])), { permission: 'object-ro', scope: ['b/x/', 'c'] });
  assert.deepEqual(parseSessionPolicy(policy([allow('s3:GetObject', 'arn:aws:s3:::b/*'), allow('s3:PutObject', 'arn:aws:s3:::b')])), { permission: 'object-rw', scope: ['b'] });
  // A narrower resource at the same level folds into the wider one.
  assert.deepEqual(parseSessionPolicy(policy([allow('s3:PutObject', 'arn:aws:s3:::b/x/*'), allow('s3:*Object', 'arn:aws:s3:::b/*')])), { permission: 'object-rw', scope: ['b'] });
});

test('a policy one level on one scope would widen is refused, not read wider', () => {
  const allow = (Action: string | string[], Resource: string | string[]) => ({ Effect: 'Allow', Action, Resource });
  for (const [statements, reason] of [
    // Listing the whole bucket, writing under a prefix: object-rw would reach the whole bucket.
    [[allow('s3:ListBucket', 'arn:aws:s3:::bkt'), allow(['s3:GetObject', 's3:PutObject'], 'arn:aws:s3:::bkt/uploads/*')], /needs object-rw .*also allow WriteObject, DeleteObject on bkt,/],
    // Reading one prefix, writing another: both would be writable.
    [[allow('s3:GetObject', 'arn:aws:s3:::bkt/uploads/*'), allow('s3:PutObject', 'arn:aws:s3:::bkt/secret/*')], /WriteObject, DeleteObject on bkt\/uploads\//],
    // Reading every bucket, everything on one: admin-rw everywhere.
    [[allow('s3:GetObject', '*'), allow('s3:*', 'arn:aws:s3:::b/*')], /needs admin-rw .* on every bucket/],
    // Actions of two levels that only admin-rw has together: rights none of them needs.
    [[allow(['s3:GetBucketPolicy', 's3:PutObject'], 'arn:aws:s3:::b')], /needs admin-rw .*also allow CreateBucket, DeleteBucket, WriteBucketConfig/],
  ] as const) {
    assert.throws(() => parseSessionPolicy(policy([...statements])), reason);
  }
  // One object is not a prefix.
  assert.throws(() => parseSessionPolicy(policy([allow('s3:GetObject', 'arn:aws:s3:::bkt/uploads/a.txt')])), /names one object; .*end it with \*/);
  assert.throws(() => parseSessionPolicy(policy([allow('s3:GetObject', 'arn:aws:s3:::bkt/')])), /names one object/);
});

test('what cannot be read as a level and scope is refused with a reason', () => {
  for (const [doc, reason] of [
    ['not json', /not valid JSON/],
    [policy([{ Effect: 'Deny', Action: 's3:*', Resource: '*' }]), /Allow statements only/],
    [policy([{ Effect: 'Allow', Action: 's3:*', Resource: '*', Condition: {} }]), /"Condition" is not supported/],
    [policy([{ Effect: 'Allow', Action: 'ec2:RunInstances', Resource: '*' }]), /not an S3 action/],
    [policy([{ Effect: 'Allow', Action: 's3:Nothing', Resource: '*' }]), /names no S3 operation/],
    [policy([{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*.jpg' }]), /only a trailing \*/],
    [policy([{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::ph*' }]), /wildcards in a bucket name/],
    [policy([]), /no Statement/],
    [JSON.stringify({ Statement: [], Extra: 1 }), /Unknown policy element/],
    ['x'.repeat(2049), /longer than 2048/],
  ] as const) {
    assert.throws(() => parseSessionPolicy(doc), reason as RegExp, String(doc).slice(0, 60));
  }
});

test('levels meet in a level; within', () => {
  assert.equal(levelMeet('admin-ro', 'object-rw'), 'object-ro');
  assert.equal(levelMeet('admin-rw', 'object-rw'), 'object-rw');
  assert.equal(levelMeet('admin-rw', 'admin-ro'), 'admin-ro');
  assert.equal(levelWithin('object-ro', 'admin-ro'), true);
  assert.equal(levelWithin('object-rw', 'admin-ro'), false);
});

test('networks: validation and containment, IPv4 and IPv6', () => {
  assert.equal(networksProblem(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']), null);
  assert.match(networksProblem(['10.0.0.0/33'])!, /not an IPv4 or IPv6/);
  assert.match(networksProblem([])!, /at least one/);
  assert.equal(networkWithin('10.1.0.0/16', ['10.0.0.0/8']), true);
  assert.equal(networkWithin('10.0.0.0/8', ['10.1.0.0/16']), false);
  assert.equal(networkWithin('192.0.2.7', ['192.0.2.0/24']), true);
  assert.equal(networkWithin('2001:db8:1::/48', ['2001:db8::/32']), true);
  assert.equal(networkWithin('2001:db8::/32', ['10.0.0.0/8']), false);
});

test('networks: a prefix length is 1-3 digits; an entry stored before that rule admits no one', () => {
  for (const bad of ['10.9.9.9/-0', '10.9.9.9/', '10.0.0.0/0x18', '10.0.0.0/1e1', '10.0.0.0/8/8', '::ffff:10.0.0.0/8']) {
    assert.match(networksProblem([bad]) ?? 'accepted', /not an IPv4 or IPv6/, bad);
    assert.equal(networkWithin(bad, ['0.0.0.0/0', '::/0']), false, bad);
  }
  // "10.9.9.9/" was read as /0: a token that kept it must not be usable from everywhere.
  assert.equal(networkAllows(['10.9.9.9/'], '127.0.0.1'), false);
  assert.equal(networkAllows(['10.9.9.9/', '127.0.0.1'], '127.0.0.1'), true);
  // IPv4-mapped entries match IPv4 clients (a /104 of ::ffff:10.0.0.0 is 10.0.0.0/8).
  assert.equal(networkAllows(['::ffff:10.0.0.0/104'], '10.1.2.3'), true);
  assert.equal(networkAllows(['::ffff:10.0.0.0/104'], '11.1.2.3'), false);
});
