import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DeletePublicAccessBlockCommand,
  GetBucketPolicyStatusCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { raw, xmlField } from './helpers/raw-s3.js';

// Bucket policies end to end: wildcard resources cannot stall the server, what counts as a public
// policy for BlockPublicPolicy / GetBucketPolicyStatus / RestrictPublicBuckets, condition keys skep
// cannot evaluate are refused, and the ForAllValues / ForAnyValue qualifiers on a missing key.

const ctx = useS3Server('poleng');
const anon = (path: string) => fetch(`${ctx.server.url}${path}`);

function policyFor(bucket: string, statement: object): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Resource: `arn:aws:s3:::${bucket}/*`, Action: 's3:GetObject', ...statement }] });
}

/** PutBucketPolicy over raw HTTP: status and error code (none on success). */
async function putPolicy(bucket: string, policy: string): Promise<{ status: number; code?: string; message?: string }> {
  const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: policy });
  return { status: res.status, code: xmlField(res.text, 'Code'), message: xmlField(res.text, 'Message') };
}

async function openBucket(tag: string): Promise<string> {
  const bucket = await ctx.newBucket(tag);
  await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  return bucket;
}

describe('wildcard resources', () => {
  test('a many-star resource against a deep key answers promptly, and correctly', async () => {
    const bucket = await openBucket('redos');
    // A backtracking RegExp tries every way of placing the stars on the slashes: C(500, 6) ways.
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Resource: `arn:aws:s3:::${bucket}/${'*/'.repeat(6)}*.jpg` }) }));
    const deep = 'a/'.repeat(500);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${deep}x.jpg`, Body: 'jpg' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${deep}x.png`, Body: 'png' }));
    assert.equal((await anon(`/${bucket}/${deep}x.png`)).status, 403);
    const hit = await anon(`/${bucket}/${deep}x.jpg`);
    assert.equal(hit.status, 200);
    assert.equal(await hit.text(), 'jpg');
  });
});

describe('public policies', () => {
  const bypasses: [string, object][] = [
    ['NotIpAddress of one address', { NotIpAddress: { 'aws:SourceIp': '192.0.2.1/32' } }],
    ['IpAddress 0.0.0.0/0', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }],
    ['IpAddress 0.0.0.0/1 + 128.0.0.0/1', { IpAddress: { 'aws:SourceIp': ['0.0.0.0/1', '128.0.0.0/1'] } }],
    ['IpAddressIfExists 0.0.0.0/0', { IpAddressIfExists: { 'aws:SourceIp': '0.0.0.0/0' } }],
  ];
  for (const [name, Condition] of bypasses) {
    test(`${name} is public: refused under BlockPublicPolicy, IsPublic otherwise`, async () => {
      const blocked = await ctx.newBucket('pab');
      const refused = await putPolicy(blocked, policyFor(blocked, { Condition }));
      assert.deepEqual([refused.status, refused.code], [403, 'AccessDenied']);
      const open = await openBucket('pab');
      await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: open, Policy: policyFor(open, { Condition }) }));
      const status = await ctx.s3.send(new GetBucketPolicyStatusCommand({ Bucket: open }));
      assert.equal(status.PolicyStatus?.IsPublic, true);
    });
  }

  for (const Condition of [{ StringNotEquals: { 'aws:SourceVpce': 'vpce-1' } }, { Null: { 'aws:SourceVpce': 'true' } }]) {
    test(`${JSON.stringify(Condition)} is refused (a key skep never sets)`, async () => {
      const bucket = await ctx.newBucket('vpce');
      const refused = await putPolicy(bucket, policyFor(bucket, { Condition }));
      assert.deepEqual([refused.status, refused.code], [400, 'MalformedPolicy']);
    });
  }

  test('RestrictPublicBuckets shuts out anonymous callers of a NotIpAddress policy', async () => {
    const bucket = await openBucket('restrict');
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { NotIpAddress: { 'aws:SourceIp': '192.0.2.1/32' } } }) }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    assert.equal((await anon(`/${bucket}/k`)).status, 200);
    await ctx.s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: true } }));
    assert.equal((await anon(`/${bucket}/k`)).status, 403);
  });

  test('a policy pinned to a /24 is not public: accepted under BlockPublicPolicy', async () => {
    const bucket = await ctx.newBucket('narrow');
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }) }));
    const status = await ctx.s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }));
    assert.equal(status.PolicyStatus?.IsPublic, false);
  });
});

describe('condition keys and operators', () => {
  const refused: [string, object][] = [
    ['s3:ExistingObjectTag/<tag>', { StringEquals: { 's3:ExistingObjectTag/classification': 'secret' } }],
    ['s3:x-amz-server-side-encryption', { Null: { 's3:x-amz-server-side-encryption': 'true' } }],
    ['s3:authType', { StringEquals: { 's3:authType': 'REST-QUERY-STRING' } }],
    ['an empty operator block', { StringEquals: {} }],
    ['a word for NumericGreaterThan', { NumericGreaterThan: { 's3:max-keys': 'many' } }],
  ];
  for (const [name, Condition] of refused) {
    test(`a Deny on ${name} is MalformedPolicy, not a Deny that never matches`, async () => {
      const bucket = await ctx.newBucket('keys');
      const res = await putPolicy(bucket, policyFor(bucket, { Effect: 'Deny', Condition }));
      assert.deepEqual([res.status, res.code], [400, 'MalformedPolicy'], res.message);
    });
  }

  test('ForAllValues holds on a listing without a prefix, ForAnyValue does not', async () => {
    const bucket = await openBucket('sets');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'pub/a', Body: 'x' }));
    const listing = (set: string) => JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'S3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { [`${set}:StringLike`]: { 's3:prefix': 'pub/*' } } }] });
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: listing('ForAllValues') }));
    assert.equal((await anon(`/${bucket}?list-type=2`)).status, 200);
    assert.equal((await anon(`/${bucket}?list-type=2&prefix=pub/`)).status, 200);
    assert.equal((await anon(`/${bucket}?list-type=2&prefix=priv/`)).status, 403);
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: listing('ForAnyValue') }));
    assert.equal((await anon(`/${bucket}?list-type=2`)).status, 403);
    assert.equal((await anon(`/${bucket}?list-type=2&prefix=pub/`)).status, 200);
  });

  test('a valid policy with typed conditions still applies', async () => {
    const bucket = await openBucket('typed');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { Bool: { 'aws:SecureTransport': 'false' }, DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } } }) }));
    assert.equal((await anon(`/${bucket}/k`)).status, 200);
    const err = await s3Error(ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { Bool: { 'aws:SecureTransport': 'nope' } } }) })));
    assert.equal(err.name, 'MalformedPolicy');
  });

  test('aws:SourceIp with a prefix length other than 1-3 digits is MalformedPolicy, not /0 or a guess', async () => {
    const bucket = await openBucket('cidr');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    // "10.9.9.9/" was read as /0: an Allow for one address let everyone in.
    for (const cidr of ['10.9.9.9/', '10.9.9.9/-0', '127.0.0.0/0x8', '127.0.0.0/1e0', '127.0.0.0/8/8', '2001:db8::/']) {
      const err = await s3Error(ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { IpAddress: { 'aws:SourceIp': cidr } } }) })));
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], ['MalformedPolicy', 400], cidr);
    }
    assert.equal((await anon(`/${bucket}/k`)).status, 403, 'no policy was put');
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policyFor(bucket, { Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }) }));
    assert.equal((await anon(`/${bucket}/k`)).status, 200);
  });
});
