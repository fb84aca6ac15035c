import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectsCommand,
  GetBucketAccelerateConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketLoggingCommand,
  GetBucketRequestPaymentCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketTaggingCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  paginateListBuckets,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { s3Error } from './helpers/s3.js';
import { startTestServer, useS3Server } from './helpers/server.js';
import { raw, settledBlobFiles, xmlField } from './helpers/raw-s3.js';

// CreateBucket, ListBuckets, HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning,
// ListObjectVersions, and bucket addressing (path style and virtual-hosted style).

const ctx = useS3Server('bkt');
const { bucketName, newBucket } = ctx;

describe('CreateBucket / ListBuckets / HeadBucket', () => {
  test('a created bucket is listed with its creation date and answers HeadBucket', async () => {
    const name = await newBucket('list');
    const listed = await ctx.s3.send(new ListBucketsCommand({}));
    const entry = listed.Buckets?.find((b) => b.Name === name);
    assert.ok(entry, 'the new bucket is listed');
    assert.ok(entry.CreationDate instanceof Date && Math.abs(entry.CreationDate.getTime() - Date.now()) < 60_000);
    assert.ok(listed.Owner?.ID);
    const head = await ctx.s3.send(new HeadBucketCommand({ Bucket: name }));
    assert.equal(head.$metadata.httpStatusCode, 200);
    assert.equal(head.BucketRegion, 'us-east-1');
  });

  test('ListBuckets pages by max-buckets in name order, resumes at a continuation token and filters by bucket-region', async () => {
    const base = bucketName('pages');
    const names = ['-c', '-a', '-e', '-b', '-d'].map((s) => base + s);
    for (const name of names) await ctx.s3.send(new CreateBucketCommand({ Bucket: name }));
    const sorted = [...names].sort();
    const seen: string[][] = [];
    let token: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await ctx.s3.send(new ListBucketsCommand({ Prefix: `${base}-`, MaxBuckets: 2, ContinuationToken: token }));
      seen.push((page.Buckets ?? []).map((b) => b.Name!));
      assert.equal(page.Prefix, `${base}-`);
      assert.ok(page.Owner?.ID);
      token = page.ContinuationToken;
      if (!token) break;
    }
    assert.deepEqual(seen, [sorted.slice(0, 2), sorted.slice(2, 4), sorted.slice(4)]);
    // The SDK's paginator follows the tokens.
    const walked: string[] = [];
    for await (const page of paginateListBuckets({ client: ctx.s3, pageSize: 3 }, { Prefix: `${base}-` })) walked.push(...(page.Buckets ?? []).map((b) => b.Name!));
    assert.deepEqual(walked, sorted);
    const here = await ctx.s3.send(new ListBucketsCommand({ Prefix: `${base}-`, BucketRegion: 'us-east-1' }));
    assert.deepEqual(here.Buckets?.map((b) => [b.Name, b.BucketRegion]), sorted.map((n) => [n, 'us-east-1']));
    assert.equal(here.ContinuationToken, undefined);
    const elsewhere = await ctx.s3.send(new ListBucketsCommand({ Prefix: `${base}-`, BucketRegion: 'eu-west-1' }));
    assert.deepEqual(elsewhere.Buckets ?? [], []);
    // S3's element order: Buckets, Owner, ContinuationToken, Prefix.
    const doc = await raw(ctx.server, { method: 'GET', path: '/', query: { prefix: `${base}-`, 'max-buckets': '1' } });
    assert.deepEqual([...doc.text.matchAll(/<(Buckets|Owner|ContinuationToken|Prefix)>/g)].map((m) => m[1]), ['Buckets', 'Owner', 'ContinuationToken', 'Prefix']);
  });

  test('ListBuckets refuses a max-buckets outside 1..10000 and a continuation token it did not give', async () => {
    const cases: [Record<string, string>, string, string | undefined][] = [
      [{ 'max-buckets': '0' }, 'Argument max-buckets must be an integer between 1 and 10000', '0'],
      [{ 'max-buckets': '10001' }, 'Argument max-buckets must be an integer between 1 and 10000', '10001'],
      [{ 'max-buckets': '-01' }, 'Argument max-buckets must be an integer between 1 and 10000', '-1'],
      [{ 'max-buckets': 'abc' }, 'Provided max-buckets not an integer or within integer range', 'abc'],
      [{ 'max-buckets': '99999999999' }, 'Provided max-buckets not an integer or within integer range', '99999999999'],
      [{ 'continuation-token': 'not a token' }, 'The continuation token provided is incorrect', undefined],
    ];
    for (const [query, message, value] of cases) {
      const res = await raw(ctx.server, { method: 'GET', path: '/', query });
      assert.equal(res.status, 400, JSON.stringify(query));
      assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
      assert.equal(xmlField(res.text, 'Message'), message);
      assert.equal(xmlField(res.text, 'ArgumentName'), Object.keys(query)[0]);
      assert.equal(xmlField(res.text, 'ArgumentValue'), value);
    }
    // An empty token (allowed by the reference) and max-buckets 10000 start at the first bucket.
    const res = await raw(ctx.server, { method: 'GET', path: '/', query: { 'continuation-token': '', 'max-buckets': '10000' } });
    assert.equal(res.status, 200);
    assert.ok(xmlField(res.text, 'Name'));
  });

  test('invalid names are rejected with InvalidBucketName', async () => {
    for (const bad of ['ab', 'x'.repeat(64), 'Upper-Case', 'under_score', '-leading', 'trailing-', 'a..b', '192.168.5.4', 'xn--punycode', 'ends-s3alias']) {
      const err = await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: bad })));
      assert.equal(err.name, 'InvalidBucketName', bad);
      assert.equal(err.$metadata.httpStatusCode, 400, bad);
    }
    const listed = await ctx.s3.send(new ListBucketsCommand({}));
    assert.ok(!listed.Buckets?.some((b) => b.Name === 'ab' || b.Name === 'Upper-Case'));
  });

  test('the names skep reserves (api, console) are S3 buckets that cannot exist to signed requests and writes', async () => {
    for (const name of ['api', 'console']) {
      const created = await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: name })));
      assert.deepEqual([created.name, created.$metadata.httpStatusCode], ['InvalidBucketName', 400], name);
      const head = await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: name })));
      assert.deepEqual([head.name, head.$metadata.httpStatusCode], ['NotFound', 404], name);
      const listed = await s3Error(ctx.s3.send(new ListObjectsV2Command({ Bucket: name })));
      assert.deepEqual([listed.name, listed.$metadata.httpStatusCode], ['NoSuchBucket', 404], name);
      const got = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'some/key.txt' })));
      assert.deepEqual([got.name, got.$metadata.httpStatusCode], ['NoSuchBucket', 404], name);
      const deleted = await raw(ctx.server, { method: 'DELETE', path: `/${name}` });
      assert.deepEqual([deleted.status, xmlField(deleted.text, 'Code')], [404, 'NoSuchBucket'], name);
      const unsignedPut = await raw(ctx.server, { method: 'PUT', path: `/${name}/k`, body: 'x', sign: false });
      assert.deepEqual([unsignedPut.status, xmlField(unsignedPut.text, 'Code')], [404, 'NoSuchBucket'], name);
    }
    // A presigned URL is a signed request too; a browser's plain GET still opens the console.
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: 'console', Key: 'key.txt' }), { expiresIn: 60 });
    const presigned = await fetch(url);
    assert.deepEqual([presigned.status, xmlField(await presigned.text(), 'Code')], [404, 'NoSuchBucket']);
    const page = await raw(ctx.server, { method: 'GET', path: '/console/', sign: false });
    assert.equal(page.headers['x-amz-request-id'], undefined, 'the console answers it');
    // Under api, the REST API's own path (v1/...) included: S3 signs it, so S3 answers.
    const apiKey = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: 'api', Key: 'v1/projects' })));
    assert.deepEqual([apiKey.name, apiKey.$metadata.httpStatusCode], ['NoSuchBucket', 404]);
    const apiUrl = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: 'api', Key: 'v1/projects' }), { expiresIn: 60 });
    const apiPresigned = await fetch(apiUrl);
    assert.deepEqual([apiPresigned.status, xmlField(await apiPresigned.text(), 'Code')], [404, 'NoSuchBucket']);
    const rest = await fetch(`${ctx.server.url}/api/v1/projects`, { headers: { authorization: 'Bearer not-a-token' } });
    assert.equal(rest.status, 401, 'a bearer token is the REST API\'s');
  });

  test('names at the length limits are accepted', async () => {
    for (const name of ['abc', `a${'b'.repeat(61)}c`, 'with.dots.ok']) {
      await ctx.s3.send(new CreateBucketCommand({ Bucket: name }));
      await ctx.s3.send(new HeadBucketCommand({ Bucket: name }));
      await ctx.s3.send(new DeleteBucketCommand({ Bucket: name }));
    }
  });

  test('re-creating your own bucket in us-east-1 answers 200 and keeps its objects (S3\'s legacy rule there)', async () => {
    const name = await newBucket('twice');
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'kept', Body: 'still here' }));
    const again = await ctx.s3.send(new CreateBucketCommand({ Bucket: name }));
    assert.equal(again.$metadata.httpStatusCode, 200);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'kept' }));
    assert.equal(await got.Body!.transformToString(), 'still here');
  });

  test('re-creating your own bucket in another region is 409 BucketAlreadyOwnedByYou', async () => {
    const server = await startTestServer({ region: 'eu-west-3' });
    try {
      const s3 = server.client({ region: 'eu-west-3' });
      await s3.send(new CreateBucketCommand({ Bucket: 'twice-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-3' } }));
      const err = await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'twice-eu', CreateBucketConfiguration: { LocationConstraint: 'eu-west-3' } })));
      assert.equal(err.name, 'BucketAlreadyOwnedByYou');
      assert.equal(err.$metadata.httpStatusCode, 409);
      // The LocationConstraint equal to the server's region was accepted and is reported back.
      assert.equal((await s3.send(new GetBucketLocationCommand({ Bucket: 'twice-eu' }))).LocationConstraint, 'eu-west-3');
    } finally {
      await server.stop();
    }
  });

  test('LocationConstraint naming the server region is accepted; a foreign one is refused', async () => {
    const name = bucketName('loc');
    await ctx.s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never } }));
    const loc = await ctx.s3.send(new GetBucketLocationCommand({ Bucket: name }));
    // us-east-1 is reported as an empty constraint, as AWS does.
    assert.ok(loc.LocationConstraint === undefined || (loc.LocationConstraint as string) === '');
    const err = await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: bucketName('loc2'), CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })));
    assert.equal(err.name, 'IllegalLocationConstraintException');
    assert.equal(err.$metadata.httpStatusCode, 400);
  });

  test('a HeadBucket refused with 403 still names the bucket\'s region, as S3\'s does', async () => {
    const name = await newBucket('region');
    const anonymous = await raw(ctx.server, { method: 'HEAD', path: `/${name}`, sign: false });
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.headers['x-amz-bucket-region'], 'us-east-1');
  });

  test('HeadBucket of a missing bucket is a 404', async () => {
    const err = await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: bucketName('missing') })));
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.equal(err.name, 'NotFound');
  });

  test('GetBucketVersioning of a never-versioned bucket has no Status', async () => {
    const name = await newBucket('ver');
    const v = await ctx.s3.send(new GetBucketVersioningCommand({ Bucket: name }));
    assert.equal(v.$metadata.httpStatusCode, 200);
    assert.equal(v.Status, undefined);
    assert.equal(v.MFADelete, undefined);
    const err = await s3Error(ctx.s3.send(new GetBucketVersioningCommand({ Bucket: bucketName('nover') })));
    assert.equal(err.name, 'NoSuchBucket');
  });
});

describe('bucket tagging', () => {
  test('PutBucketTagging replaces the set, GetBucketTagging returns it sorted, DeleteBucketTagging removes it', async () => {
    const name = await newBucket('tags');
    assert.equal((await s3Error(ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name })))).name, 'NoSuchTagSet');
    const put = await ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: [{ Key: 'team', Value: 'data' }, { Key: 'cost-center', Value: '42' }, { Key: 'empty', Value: '' }] } }));
    assert.equal(put.$metadata.httpStatusCode, 200);
    const got = await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }));
    assert.deepEqual(got.TagSet, [{ Key: 'cost-center', Value: '42' }, { Key: 'empty', Value: '' }, { Key: 'team', Value: 'data' }]);
    await ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: [{ Key: 'team', Value: 'ml' }] } }));
    assert.deepEqual((await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }))).TagSet, [{ Key: 'team', Value: 'ml' }]);
    // Objects keep their own tags: the bucket's are not theirs.
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'o', Body: 'x' }));
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: name, Key: 'o' }))).TagSet, []);
    assert.equal((await ctx.s3.send(new DeleteBucketTaggingCommand({ Bucket: name }))).$metadata.httpStatusCode, 204);
    assert.equal((await s3Error(ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name })))).name, 'NoSuchTagSet');
    assert.equal((await s3Error(ctx.s3.send(new GetBucketTaggingCommand({ Bucket: bucketName('notags') })))).name, 'NoSuchBucket');
  });

  test('an empty TagSet leaves the bucket with no tags, as DeleteBucketTagging does', async () => {
    const name = await newBucket('emptytags');
    await ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: [{ Key: 'team', Value: 'data' }] } }));
    const put = await raw(ctx.server, { method: 'PUT', path: `/${name}`, query: { tagging: '' }, body: '<Tagging><TagSet></TagSet></Tagging>' });
    assert.equal(put.status, 200, put.text);
    assert.equal((await s3Error(ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name })))).name, 'NoSuchTagSet');
  });

  test('invalid tag sets are refused and change nothing', async () => {
    const name = await newBucket('badtags');
    await ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: [{ Key: 'keep', Value: '1' }] } }));
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const cases: [string, { Key: string; Value: string }[], string, RegExp][] = [
      ['51 tags', tags(51), 'InvalidTag', /cannot be greater than 50/],
      ['a key in the aws: namespace', [{ Key: 'aws:createdBy', Value: 'x' }], 'InvalidTag', /System tags/],
      ['a key of 129 characters', [{ Key: 'k'.repeat(129), Value: 'v' }], 'InvalidTag', /TagKey/],
      ['a value of 257 characters', [{ Key: 'k', Value: 'v'.repeat(257) }], 'InvalidTag', /TagValue/],
      ['the same key twice', [{ Key: 'k', Value: '1' }, { Key: 'k', Value: '2' }], 'InvalidTag', /same key/],
      ['a key in the AWS: namespace in capitals', [{ Key: 'AWS:createdBy', Value: 'x' }], 'InvalidTag', /System tags/],
      ['a key with a character outside S3\'s set', [{ Key: 'a#b', Value: 'x' }], 'InvalidTag', /TagKey/],
      ['a value with a character outside S3\'s set', [{ Key: 'k', Value: '<x>' }], 'InvalidTag', /TagValue/],
    ];
    for (const [what, TagSet, code, message] of cases) {
      const err = await s3Error(ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet } })));
      assert.equal(err.name, code, what);
      assert.match(err.message, message, what);
    }
    assert.deepEqual((await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }))).TagSet, [{ Key: 'keep', Value: '1' }]);
    await ctx.s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: tags(50) } }));
    assert.equal((await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }))).TagSet!.length, 50, '50 tags are allowed');
    const malformed = await raw(ctx.server, { method: 'PUT', path: `/${name}`, query: { tagging: '' }, body: '<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>' });
    assert.equal(malformed.status, 400);
    assert.equal(xmlField(malformed.text, 'Code'), 'MalformedXML');
    assert.equal((await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }))).TagSet!.length, 50);
  });
});

describe('settings skep does not offer read as S3 reports them unset', () => {
  test('requester pays is BucketOwner, acceleration has no status, access logging is off; setting them is NotImplemented', async () => {
    const name = await newBucket('unoffered');
    assert.equal((await ctx.s3.send(new GetBucketRequestPaymentCommand({ Bucket: name }))).Payer, 'BucketOwner');
    const accelerate = await ctx.s3.send(new GetBucketAccelerateConfigurationCommand({ Bucket: name }));
    assert.equal(accelerate.$metadata.httpStatusCode, 200);
    assert.equal(accelerate.Status, undefined);
    const logging = await ctx.s3.send(new GetBucketLoggingCommand({ Bucket: name }));
    assert.equal(logging.$metadata.httpStatusCode, 200);
    assert.equal(logging.LoggingEnabled, undefined);
    for (const sub of ['requestPayment', 'accelerate', 'logging']) {
      const got = await raw(ctx.server, { method: 'GET', path: `/${name}`, query: { [sub]: '' } });
      assert.equal(got.status, 200, sub);
      assert.match(got.text, /xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"/, sub);
      const put = await raw(ctx.server, { method: 'PUT', path: `/${name}`, query: { [sub]: '' }, body: '<x/>' });
      assert.equal(put.status, 501, `PUT ?${sub}`);
      assert.equal(xmlField(put.text, 'Code'), 'NotImplemented');
      const missing = await raw(ctx.server, { method: 'GET', path: `/${bucketName('absent')}`, query: { [sub]: '' } });
      assert.equal(xmlField(missing.text, 'Code'), 'NoSuchBucket', `GET ?${sub} of a missing bucket`);
    }
    assert.equal(xmlField((await raw(ctx.server, { method: 'GET', path: `/${name}`, query: { requestPayment: '' } })).text, 'Payer'), 'BucketOwner');
  });
});

describe('requests on a bucket that S3 qualifies', () => {
  test('sub-resources skep does not implement: NoSuchBucket on a missing bucket, NotImplemented on an existing one', async () => {
    const name = await newBucket('unimpl');
    const absent = bucketName('unimpl-absent');
    for (const [method, sub] of [['GET', 'website'], ['GET', 'replication'], ['GET', 'notification'], ['PUT', 'logging'], ['DELETE', 'website']] as const) {
      const body = method === 'PUT' ? '<BucketLoggingStatus/>' : undefined;
      const missing = await raw(ctx.server, { method, path: `/${absent}`, query: { [sub]: '' }, body });
      assert.deepEqual([missing.status, xmlField(missing.text, 'Code')], [404, 'NoSuchBucket'], `${method} ?${sub} of a missing bucket`);
      const there = await raw(ctx.server, { method, path: `/${name}`, query: { [sub]: '' }, body });
      assert.deepEqual([there.status, xmlField(there.text, 'Code')], [501, 'NotImplemented'], `${method} ?${sub}`);
    }
  });

  test('an anonymous CreateBucket is AccessDenied, whether or not the name is taken', async () => {
    const taken = await newBucket('anon-create');
    for (const name of [bucketName('anon-free'), taken]) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${name}`, sign: false });
      assert.deepEqual([res.status, xmlField(res.text, 'Code')], [403, 'AccessDenied'], name);
    }
    assert.equal((await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: bucketName('anon-free') })))).$metadata.httpStatusCode, 404, 'nothing created');
  });

  test('x-amz-expected-bucket-owner: another owner is 403 and nothing happens; the bucket\'s own owner (its project) passes', async () => {
    const name = await newBucket('owner');
    const src = await newBucket('owner-src');
    await ctx.s3.send(new PutObjectCommand({ Bucket: src, Key: 'k', Body: 'source' }));
    const owner = (await ctx.s3.send(new ListBucketsCommand({}))).Owner!.ID!;
    const other = '111122223333';
    for (const [what, call] of [
      ['HeadBucket', () => ctx.s3.send(new HeadBucketCommand({ Bucket: name, ExpectedBucketOwner: other }))],
      ['PutObject', () => ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'x', ExpectedBucketOwner: other }))],
      ['DeleteBucket', () => ctx.s3.send(new DeleteBucketCommand({ Bucket: name, ExpectedBucketOwner: other }))],
      ['CopyObject', () => ctx.s3.send(new CopyObjectCommand({ Bucket: name, Key: 'k', CopySource: `${src}/k`, ExpectedSourceBucketOwner: other }))],
    ] as const) {
      const err = await s3Error(call());
      // A HEAD answer has no body to name its code.
      assert.equal(err.$metadata.httpStatusCode, 403, what);
      if (what !== 'HeadBucket') assert.equal(err.name, 'AccessDenied', what);
    }
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'k' })))).name, 'NoSuchKey', 'nothing written');
    // CreateBucket takes no such header on S3: re-creating your own bucket still answers 200.
    const again = await raw(ctx.server, { method: 'PUT', path: `/${name}`, headers: { 'x-amz-expected-bucket-owner': other } });
    assert.equal(again.status, 200, again.text);
    await ctx.s3.send(new CopyObjectCommand({ Bucket: name, Key: 'k', CopySource: `${src}/k`, ExpectedBucketOwner: owner, ExpectedSourceBucketOwner: owner }));
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'k', ExpectedBucketOwner: owner }))).Body!.transformToString(), 'source');
  });

  test('tags given at creation (CreateBucketConfiguration Tags) are the bucket\'s tags; a tag S3 refuses creates nothing', async () => {
    const name = bucketName('born-tagged');
    await ctx.s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { Tags: [{ Key: 'team', Value: 'data' }, { Key: 'cost', Value: '42' }] } }));
    const tags = await ctx.s3.send(new GetBucketTaggingCommand({ Bucket: name }));
    assert.deepEqual(tags.TagSet, [{ Key: 'cost', Value: '42' }, { Key: 'team', Value: 'data' }]);
    const refused = bucketName('born-bad');
    const err = await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: refused, CreateBucketConfiguration: { Tags: [{ Key: 'aws:reserved', Value: 'x' }] } })));
    assert.deepEqual([err.$metadata.httpStatusCode, err.name], [400, 'InvalidTag']);
    assert.equal((await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: refused })))).$metadata.httpStatusCode, 404, 'not created');
  });
});

describe('DeleteBucket', () => {
  test('an empty bucket is deleted; then it is gone', async () => {
    const name = await newBucket('del');
    const res = await ctx.s3.send(new DeleteBucketCommand({ Bucket: name }));
    assert.equal(res.$metadata.httpStatusCode, 204);
    const err = await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: name })));
    assert.equal(err.$metadata.httpStatusCode, 404);
    const err2 = await s3Error(ctx.s3.send(new DeleteBucketCommand({ Bucket: name })));
    assert.equal(err2.name, 'NoSuchBucket');
  });

  test('a bucket holding an object answers 409 BucketNotEmpty and keeps the object', async () => {
    const name = await newBucket('full');
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'k', Body: 'v' }));
    const err = await s3Error(ctx.s3.send(new DeleteBucketCommand({ Bucket: name })));
    assert.equal(err.name, 'BucketNotEmpty');
    assert.equal(err.$metadata.httpStatusCode, 409);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), 'v');
  });

  test('unfinished multipart uploads do not keep a bucket alive: DeleteBucket aborts them, as S3 does', async () => {
    const name = await newBucket('mpu');
    const before = await settledBlobFiles(ctx.server);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'big' }));
    await ctx.s3.send(new UploadPartCommand({ Bucket: name, Key: 'big', UploadId, PartNumber: 1, Body: 'part one' }));
    await ctx.s3.send(new DeleteBucketCommand({ Bucket: name }));
    const err = await s3Error(ctx.s3.send(new HeadBucketCommand({ Bucket: name })));
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.deepEqual(await settledBlobFiles(ctx.server), before, 'the part\'s blob was released');
    // With an object as well, the bucket is not empty and the upload survives.
    const full = await newBucket('mpufull');
    await ctx.s3.send(new PutObjectCommand({ Bucket: full, Key: 'obj', Body: 'x' }));
    const up = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: full, Key: 'big' }));
    assert.equal((await s3Error(ctx.s3.send(new DeleteBucketCommand({ Bucket: full })))).name, 'BucketNotEmpty');
    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: full, Key: 'big', UploadId: up.UploadId }));
  });
});

describe('ListObjectVersions on an unversioned bucket', () => {
  test('every object is one version with VersionId "null" and IsLatest', async () => {
    const name = await newBucket('vers');
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'a', Body: 'aa' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'b/c', Body: 'bbb' }));
    const res = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name }));
    assert.deepEqual(res.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size]), [
      ['a', 'null', true, 2],
      ['b/c', 'null', true, 3],
    ]);
    assert.equal(res.DeleteMarkers, undefined);
    assert.equal(res.IsTruncated, false);
    const etag = res.Versions![0].ETag;
    assert.match(etag!, /^"[0-9a-f]{32}"$/);
    const grouped = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, Delimiter: '/' }));
    assert.deepEqual(grouped.Versions?.map((v) => v.Key), ['a']);
    assert.deepEqual(grouped.CommonPrefixes?.map((p) => p.Prefix), ['b/']);
  });

  test('max-keys / key-marker / NextKeyMarker pagination visits every key exactly once', async () => {
    const name = await newBucket('vpage');
    const keys = Array.from({ length: 23 }, (_, i) => `k/${String(i).padStart(3, '0')}`).concat(['top1', 'top2']);
    await Promise.all(keys.map((Key) => ctx.s3.send(new PutObjectCommand({ Bucket: name, Key, Body: Key }))));
    for (const delimiter of [undefined, '/']) {
      const seen: string[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      let pages = 0;
      for (;;) {
        const res = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 4, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, Delimiter: delimiter }));
        pages++;
        assert.ok((res.Versions?.length ?? 0) + (res.CommonPrefixes?.length ?? 0) <= 4);
        for (const v of res.Versions ?? []) seen.push(v.Key!);
        for (const p of res.CommonPrefixes ?? []) seen.push(p.Prefix!);
        if (!res.IsTruncated) break;
        assert.ok(res.NextKeyMarker, 'a truncated page names the next key marker');
        keyMarker = res.NextKeyMarker;
        versionIdMarker = res.NextVersionIdMarker;
        assert.ok(pages < 50);
      }
      const expected = delimiter ? ['k/', 'top1', 'top2'] : [...keys].sort();
      assert.equal(new Set(seen).size, seen.length, 'no key twice');
      assert.deepEqual([...seen].sort(), expected, `delimiter ${delimiter}`);
    }
  });

  test('NextVersionIdMarker names a version only when the page ends on one, not on a common prefix', async () => {
    const name = await newBucket('vnext');
    for (const Key of ['a', 'dir/x', 'dir/y', 'z']) await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key, Body: Key }));
    // Page 1 ends on the key "a".
    const first = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, Delimiter: '/', MaxKeys: 1 }));
    assert.equal(first.IsTruncated, true);
    assert.equal(first.NextKeyMarker, 'a');
    assert.equal(first.NextVersionIdMarker, 'null');
    // Page 2 ends on the common prefix "dir/": no version to name.
    const second = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, Delimiter: '/', MaxKeys: 1, KeyMarker: 'a', VersionIdMarker: 'null' }));
    assert.deepEqual(second.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
    assert.equal(second.IsTruncated, true);
    assert.equal(second.NextKeyMarker, 'dir/');
    assert.equal(second.NextVersionIdMarker, undefined);
    // Resuming from the prefix alone skips all of it.
    const third = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, Delimiter: '/', MaxKeys: 1, KeyMarker: second.NextKeyMarker }));
    assert.deepEqual(third.Versions?.map((v) => v.Key), ['z']);
    assert.equal(third.IsTruncated, false);
    assert.equal(third.NextVersionIdMarker, undefined);
  });

  test('the "empty a bucket" loop (list versions, delete them in batches) empties it and DeleteBucket succeeds', async () => {
    const name = await newBucket('empty');
    const keys = Array.from({ length: 30 }, (_, i) => `obj-${i}`);
    await Promise.all(keys.map((Key) => ctx.s3.send(new PutObjectCommand({ Bucket: name, Key, Body: 'x' }))));
    let rounds = 0;
    for (;;) {
      const res = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: name, MaxKeys: 7 }));
      const objects = [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
      if (objects.length === 0) break;
      const del = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects } }));
      assert.equal(del.Errors, undefined);
      assert.equal(del.Deleted?.length, objects.length);
      assert.ok(++rounds < 20);
    }
    assert.equal(rounds, 5);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: name }));
    assert.equal(list.KeyCount, 0);
    await ctx.s3.send(new DeleteBucketCommand({ Bucket: name }));
  });
});

describe('bucket addressing', () => {
  /** A client that resolves every host name to the test server, so <bucket>.s3.localhost reaches it. */
  function virtualHostClient(seen: string[]): S3Client {
    const agent = new Agent({
      keepAlive: true,
      lookup: ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
        if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
        else cb(null, '127.0.0.1', 4);
      }) as never,
    });
    const client = ctx.server.client({
      endpoint: `http://s3.localhost:${ctx.server.port}`,
      forcePathStyle: false,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { hostname?: string; path?: string };
        seen.push(`${req.hostname} ${req.path}`);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordHost' },
    );
    return client;
  }

  test('virtual-hosted style: the bucket comes from the Host header', async () => {
    const seen: string[] = [];
    const vh = virtualHostClient(seen);
    const name = bucketName('vhost');
    await vh.send(new CreateBucketCommand({ Bucket: name }));
    await vh.send(new PutObjectCommand({ Bucket: name, Key: 'dir/hello world.txt', Body: 'virtual' }));
    const got = await vh.send(new GetObjectCommand({ Bucket: name, Key: 'dir/hello world.txt' }));
    assert.equal(await got.Body!.transformToString(), 'virtual');
    const list = await vh.send(new ListObjectsV2Command({ Bucket: name }));
    assert.deepEqual(list.Contents?.map((o) => o.Key), ['dir/hello world.txt']);
    await vh.send(new HeadBucketCommand({ Bucket: name }));
    // Every request went to <bucket>.s3.localhost with the bucket absent from the path.
    assert.ok(seen.length >= 5);
    for (const line of seen) {
      assert.ok(line.startsWith(`${name}.s3.localhost /`), line);
      assert.ok(!line.includes(`/${name}`), line);
    }
    // The same object seen path-style.
    const pathStyle = await ctx.s3.send(new GetObjectCommand({ Bucket: name, Key: 'dir/hello world.txt' }));
    assert.equal(await pathStyle.Body!.transformToString(), 'virtual');
  });

  test('a bucket named like a project ID (a UUID) is reached virtual-hosted under the base domain', async () => {
    const id = randomUUID();
    for (const name of [id, `logs.${id}`]) {
      await ctx.s3.send(new CreateBucketCommand({ Bucket: name }));
      await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'obj', Body: name }));
      const vhost = await raw(ctx.server, { method: 'GET', path: '/obj', host: `${name}.s3.localhost:${ctx.server.port}` });
      assert.deepEqual([vhost.status, vhost.text], [200, name]);
    }
  });

  test('raw requests: Host <bucket>.s3.localhost routes to the bucket; a plain host routes path-style', async () => {
    const name = await newBucket('rawvh');
    await ctx.s3.send(new PutObjectCommand({ Bucket: name, Key: 'obj', Body: 'via-path' }));
    const vhost = await raw(ctx.server, { method: 'GET', path: '/obj', host: `${name}.s3.localhost:${ctx.server.port}` });
    assert.equal(vhost.status, 200);
    assert.equal(vhost.text, 'via-path');
    const listing = await raw(ctx.server, { method: 'GET', path: '/', host: `${name}.s3.localhost:${ctx.server.port}`, query: { 'list-type': '2' } });
    assert.equal(listing.status, 200);
    assert.equal(xmlField(listing.text, 'Name'), name);
    assert.equal(xmlField(listing.text, 'Key'), 'obj');
    // The bare base domain is the service endpoint: ListBuckets.
    const service = await raw(ctx.server, { method: 'GET', path: '/', host: `s3.localhost:${ctx.server.port}` });
    assert.equal(service.status, 200);
    assert.match(service.text, /<ListAllMyBucketsResult/);
    assert.ok(service.text.includes(`<Name>${name}</Name>`));
    // Path style on the IP host: "/obj" names a bucket called "obj".
    const pathStyle = await raw(ctx.server, { method: 'GET', path: '/obj' });
    assert.equal(pathStyle.status, 404);
    assert.equal(xmlField(pathStyle.text, 'Code'), 'NoSuchBucket');
  });

  test('virtual-hosted keys under api/v1/ and console/ are the bucket\'s objects, not the REST API or console', async () => {
    const name = await newBucket('vhreserved');
    const host = `${name}.s3.localhost:${ctx.server.port}`;
    const keys = ['api/v1', 'api/v1/buckets', 'api/v1/openapi.json', 'console', 'console/index.html'];
    for (const key of keys) {
      const put = await raw(ctx.server, { method: 'PUT', path: `/${key}`, host, body: `body of ${key}` });
      assert.equal(put.status, 200, `PUT ${key}: ${put.text}`);
    }
    for (const key of keys) {
      const got = await raw(ctx.server, { method: 'GET', path: `/${key}`, host });
      assert.equal(got.status, 200, `GET ${key}`);
      assert.equal(got.text, `body of ${key}`);
      assert.ok(got.headers['x-amz-request-id'], 'answered by S3');
      const head = await raw(ctx.server, { method: 'HEAD', path: `/${key}`, host });
      assert.equal(head.status, 200, `HEAD ${key}`);
      const del = await raw(ctx.server, { method: 'DELETE', path: `/${key}`, host });
      assert.equal(del.status, 204, `DELETE ${key}`);
    }
    const listing = await ctx.s3.send(new ListObjectsV2Command({ Bucket: name }));
    assert.equal(listing.KeyCount, 0);
    // Without a bucket in the Host, /api/v1 is still the REST API's.
    const api = await raw(ctx.server, { method: 'GET', path: '/api/v1/openapi.json', sign: false });
    assert.equal(api.status, 200);
    assert.match(String(api.headers['content-type']), /json/);
  });
});
