import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestServer, type TestServer } from './helpers/server.js';
import { fetchOutcome, isDenied, issue, outcome, type Issued } from './helpers/tokens.js';
import { postForm } from './helpers/post-form.js';
import { availability, awsEnv, findExecutable, run, systemExecutable, tempDir } from './helpers/clients.js';
import { call, isProblem, problemText, rootBearer } from './helpers/api.js';

// Prefix scope: a token whose scope names `bucket/prefix/` reaches only the keys under it, in
// every operation: reads, writes, deletes (DeleteObjects key by key), copies (source and target),
// multipart, presigned URLs (SigV4 and SigV2), POST forms, and listings — refused outside the
// prefix, filtered inside it (delimiter included) — through the SDK, the AWS CLI, boto3 and the
// REST API. Bad scopes are a 400 naming the field, and nothing is created.

const BUCKET = 'pfx-data';
const OTHER = 'pfx-other';
const KEYS = ['team/a.txt', 'team/docs/b.txt', 'team/docs/c.txt', 'teamwork/x.txt', 'other/y.txt', 'root.txt', 'shared/inbox/z.txt'];

let server: TestServer;
let root: S3Client;
let team: Issued;
let twoPrefixes: Issued;
let reader: Issued;

before(async () => {
  server = await startTestServer();
  root = server.client({ maxAttempts: 1 });
  for (const b of [BUCKET, OTHER]) await root.send(new CreateBucketCommand({ Bucket: b }));
  for (const key of KEYS) await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` }));
  await root.send(new PutObjectCommand({ Bucket: OTHER, Key: 'team/elsewhere.txt', Body: 'elsewhere' }));
  team = await issue(server, { permission: 'object-rw', bucketScope: [`${BUCKET}/team/`] });
  twoPrefixes = await issue(server, { permission: 'object-rw', bucketScope: [`${BUCKET}/team/docs/`, `${BUCKET}/shared/`] });
  reader = await issue(server, { permission: 'object-ro', bucketScope: [`${BUCKET}/team/`, OTHER] });
});
after(() => server.stop());

async function keysOf(client: S3Client, input: { Prefix?: string; Delimiter?: string }) {
  const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ...input }));
  return { keys: (out.Contents ?? []).map((o) => o.Key), prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix) };
}

describe('objects under the prefix, and nothing else', () => {
  test('GET, HEAD, PUT and DELETE work under the prefix and are AccessDenied outside it', async () => {
    const got = await team.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'team/a.txt' }));
    assert.equal(await got.Body!.transformToString(), 'body of team/a.txt');
    await team.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'team/new.txt', Body: 'new' }));
    await team.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'team/new.txt' }));
    // "teamwork/" starts with "team" but not with "team/": outside.
    for (const key of ['root.txt', 'teamwork/x.txt', 'other/y.txt', 'team']) {
      assert.ok(isDenied(await outcome(team.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })))), `GET ${key}`);
      assert.ok(isDenied(await outcome(team.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))), `HEAD ${key}`);
      assert.ok(isDenied(await outcome(team.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' })))), `PUT ${key}`);
      assert.ok(isDenied(await outcome(team.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key })))), `DELETE ${key}`);
    }
    // The same prefix in another bucket is not in scope.
    assert.ok(isDenied(await outcome(team.s3.send(new GetObjectCommand({ Bucket: OTHER, Key: 'team/elsewhere.txt' })))));
    // Nothing outside changed.
    const still = await root.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'root.txt' }));
    assert.equal(await still.Body!.transformToString(), 'body of root.txt');
  });

  test('bucket-wide operations need the whole bucket: configuration is AccessDenied even for an admin level', async () => {
    const admin = await issue(server, { permission: 'admin-rw', bucketScope: [`${BUCKET}/team/`] });
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }] });
    assert.ok(isDenied(await outcome(admin.s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: policy })))));
    // ...while its objects under the prefix are its to write.
    await admin.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'team/by-admin.txt', Body: 'a' }));
    await root.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'team/by-admin.txt' }));
  });

  test('DeleteObjects deletes the keys under the prefix and answers AccessDenied for each of the others', async () => {
    for (const key of ['team/d1', 'team/d2', 'outside-d3']) await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'd' }));
    const out = await team.s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'team/d1' }, { Key: 'outside-d3' }, { Key: 'team/d2' }] } }));
    assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), ['team/d1', 'team/d2']);
    assert.deepEqual((out.Errors ?? []).map((e) => [e.Key, e.Code]), [['outside-d3', 'AccessDenied']]);
    assert.ok((await outcome(root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'outside-d3' })))).ok, 'the key outside stays');
    await root.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'outside-d3' }));
  });

  test('copies check the source and the target keys', async () => {
    await team.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'team/copy.txt', CopySource: `${BUCKET}/team/a.txt` }));
    assert.ok(isDenied(await outcome(team.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'team/stolen.txt', CopySource: `${BUCKET}/root.txt` })))), 'source outside');
    assert.ok(isDenied(await outcome(team.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'leak.txt', CopySource: `${BUCKET}/team/a.txt` })))), 'target outside');
    for (const key of ['team/stolen.txt', 'leak.txt']) assert.equal((await outcome(root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).status, 404, key);
  });

  test('multipart uploads: under the prefix only, part copies included', async () => {
    assert.ok(isDenied(await outcome(team.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big-outside.bin' })))));
    const { UploadId } = await team.s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'team/big.bin' }));
    const part = await team.s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'team/big.bin', UploadId, PartNumber: 1, Body: 'only part' }));
    const copy = await outcome(team.s3.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: 'team/big.bin', UploadId, PartNumber: 2, CopySource: `${BUCKET}/root.txt` })));
    assert.ok(isDenied(copy), 'a part copied from outside');
    // Uploads outside the prefix are not listed to the token.
    const { UploadId: hidden } = await root.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'hidden-upload' }));
    const uploads = await team.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.deepEqual((uploads.Uploads ?? []).map((u) => u.Key), ['team/big.bin']);
    await team.s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'team/big.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await root.send(new (await import('@aws-sdk/client-s3')).AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'hidden-upload', UploadId: hidden }));
    await root.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'team/big.bin' }));
  });
});

describe('listings: refused outside the prefix, filtered inside it', () => {
  test('under the prefix, with and without a delimiter, V1, V2 and versions', async () => {
    assert.deepEqual(await keysOf(team.s3, { Prefix: 'team/' }), { keys: ['team/a.txt', 'team/copy.txt', 'team/docs/b.txt', 'team/docs/c.txt'], prefixes: [] });
    assert.deepEqual(await keysOf(team.s3, { Prefix: 'team/', Delimiter: '/' }), { keys: ['team/a.txt', 'team/copy.txt'], prefixes: ['team/docs/'] });
    const v1 = await team.s3.send(new ListObjectsCommand({ Bucket: BUCKET, Prefix: 'team/docs/' }));
    assert.deepEqual((v1.Contents ?? []).map((o) => o.Key), ['team/docs/b.txt', 'team/docs/c.txt']);
    const versions = await team.s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'team/', Delimiter: '/' }));
    assert.deepEqual((versions.Versions ?? []).map((v) => v.Key), ['team/a.txt', 'team/copy.txt']);
  });

  test('above the prefix (the bucket root): only the keys under it show, and the folder that holds them', async () => {
    assert.deepEqual(await keysOf(team.s3, { Delimiter: '/' }), { keys: [], prefixes: ['team/'] });
    assert.deepEqual((await keysOf(team.s3, {})).keys, ['team/a.txt', 'team/copy.txt', 'team/docs/b.txt', 'team/docs/c.txt']);
    // "tea" is a parent of "team/": filtered, and "teamwork/" is not shown.
    assert.deepEqual((await keysOf(team.s3, { Prefix: 'tea' })).keys, ['team/a.txt', 'team/copy.txt', 'team/docs/b.txt', 'team/docs/c.txt']);
    // Two prefixes: each shows, folders once, in key order; pages of one walk them all.
    assert.deepEqual(await keysOf(twoPrefixes.s3, { Delimiter: '/' }), { keys: [], prefixes: ['shared/', 'team/'] });
    const walked: string[] = [];
    let token: string | undefined;
    do {
      const page = await twoPrefixes.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 1, ContinuationToken: token }));
      walked.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    assert.deepEqual(walked, ['shared/inbox/z.txt', 'team/docs/b.txt', 'team/docs/c.txt']);
  });

  test('a listing outside the prefix is AccessDenied', async () => {
    for (const prefix of ['other/', 'teamwork/', 'root']) {
      const o = await outcome(team.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, Delimiter: '/' })));
      assert.ok(isDenied(o), `${prefix}: ${JSON.stringify(o)}`);
    }
    assert.ok(isDenied(await outcome(team.s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'other/' })))));
    assert.ok(isDenied(await outcome(team.s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'other/' })))));
  });

  test('a whole bucket and a prefix in another, in one scope', async () => {
    const out = await reader.s3.send(new ListObjectsV2Command({ Bucket: OTHER }));
    assert.deepEqual((out.Contents ?? []).map((o) => o.Key), ['team/elsewhere.txt']);
    assert.ok(isDenied(await outcome(reader.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'team/ro.txt', Body: 'x' })))), 'object-ro stays read-only');
  });
});

describe('presigned URLs and forms', () => {
  test('SigV4 presigned URLs reach keys under the prefix only', async () => {
    const inside = await getSignedUrl(team.s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'team/a.txt' }), { expiresIn: 300 });
    const res = await fetch(inside);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'body of team/a.txt');
    const outside = await getSignedUrl(team.s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'root.txt' }), { expiresIn: 300 });
    assert.ok(isDenied(await fetchOutcome(await fetch(outside))));
    const list = await getSignedUrl(team.s3, new ListObjectsV2Command({ Bucket: BUCKET, Delimiter: '/' }), { expiresIn: 300 });
    const text = await (await fetch(list)).text();
    assert.deepEqual([...text.matchAll(/<Prefix>([^<]*)<\/Prefix>/g)].map((m) => m[1]).filter(Boolean), ['team/']);
  });

  test('POST forms write under the prefix only', async () => {
    const ok = await postForm(server.url, { bucket: BUCKET, key: 'team/posted.txt', credentials: team.credentials, file: 'posted' });
    assert.equal(ok.status, 204, await ok.text());
    const refused = await postForm(server.url, { bucket: BUCKET, key: 'posted-outside.txt', credentials: team.credentials, file: 'nope' });
    assert.ok(isDenied(await fetchOutcome(refused)));
    assert.equal((await outcome(root.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'posted-outside.txt' })))).status, 404);
  });

  const python = findExecutable('python3');
  const py = availability('python3 with boto3', python, 'pyenv python3 with boto3');
  test('boto3: SigV2 and SigV4 presigned URLs and a prefix listing with a delimiter', { skip: py.skip }, async () => {
    const script = String.raw`
import json, sys, urllib.request, urllib.error
import boto3
from botocore.config import Config
endpoint, key_id, secret, bucket = sys.argv[1:5]
out = {}
for sig in ("s3", "s3v4"):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret,
                      config=Config(signature_version=sig, s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    for key in ("team/a.txt", "root.txt"):
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        try:
            out[sig + ":" + key] = urllib.request.urlopen(url).status
        except urllib.error.HTTPError as e:
            out[sig + ":" + key] = e.code
listing = s3.list_objects_v2(Bucket=bucket, Prefix="team/", Delimiter="/")
out["keys"] = [o["Key"] for o in listing.get("Contents", [])]
out["prefixes"] = [p["Prefix"] for p in listing.get("CommonPrefixes", [])]
try:
    s3.list_objects_v2(Bucket=bucket, Prefix="other/", Delimiter="/")
    out["outside"] = "listed"
except s3.exceptions.ClientError as e:
    out["outside"] = e.response["Error"]["Code"]
print(json.dumps(out))
`;
    const home = await tempDir('pfx-boto3');
    try {
      const r = await run(py.require(), ['-c', script, server.url, team.credentials.accessKeyId, team.credentials.secretAccessKey, BUCKET], { env: awsEnv(home.path) });
      const out = JSON.parse(r.stdout);
      assert.deepEqual(
        [out['s3:team/a.txt'], out['s3:root.txt'], out['s3v4:team/a.txt'], out['s3v4:root.txt']],
        [200, 403, 200, 403],
        'SigV2 and SigV4 URLs: inside 200, outside 403',
      );
      assert.deepEqual(out.keys, ['team/a.txt', 'team/copy.txt', 'team/posted.txt']);
      assert.deepEqual(out.prefixes, ['team/docs/']);
      assert.equal(out.outside, 'AccessDenied');
    } finally {
      await home.remove();
    }
  });

  const aws = systemExecutable('/usr/bin/aws') ?? findExecutable('aws');
  const cli = availability('AWS CLI', aws, 'apt-get install awscli');
  test('AWS CLI: s3 ls shows the prefix folder at the root, its files under it, and refuses other folders', { skip: cli.skip }, async () => {
    const home = await tempDir('pfx-cli');
    try {
      const env = awsEnv(home.path, { AWS_ACCESS_KEY_ID: team.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: team.credentials.secretAccessKey });
      const ls = (path: string) => run(cli.require(), ['--endpoint-url', server.url, 's3', 'ls', path], { env, allowFailure: true });
      const top = await ls(`s3://${BUCKET}/`);
      assert.equal(top.code, 0, top.stderr);
      assert.deepEqual(top.stdout.trim().split('\n').map((l) => l.trim()), ['PRE team/']);
      const inside = await ls(`s3://${BUCKET}/team/`);
      assert.equal(inside.code, 0, inside.stderr);
      assert.match(inside.stdout, /PRE docs\//);
      assert.match(inside.stdout, /a\.txt/);
      assert.doesNotMatch(inside.stdout, /root\.txt|x\.txt/);
      const outside = await ls(`s3://${BUCKET}/other/`);
      assert.notEqual(outside.code, 0);
      assert.match(outside.stderr, /AccessDenied/);
    } finally {
      await home.remove();
    }
  });
});

describe('the REST API honours prefixes too', () => {
  test('listing is filtered, objects outside are 403', async () => {
    const as = { bearer: team.credentials.bearerToken };
    const p = server.bootstrap.projectId;
    const list = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}/objects?delimiter=/`, { as });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.prefixes, ['team/']);
    const outside = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}/objects/content?key=root.txt`, { as });
    assert.ok(isProblem(outside, 403, 'forbidden'), problemText(outside));
    const inside = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}/objects/content?key=team/a.txt`, { as });
    assert.equal(inside.text, 'body of team/a.txt');
    const refused = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}/objects?prefix=other/`, { as });
    assert.ok(isProblem(refused, 403, 'forbidden'), problemText(refused));
  });

  test('the bucket list and the bucket show counts only to callers that reach the whole bucket', async () => {
    const p = server.bootstrap.projectId;
    const counts = (b: Record<string, unknown>) => [b.objects, b.bytes, b.noncurrentVersions, b.noncurrentBytes, b.deleteMarkers];
    // `reader` holds a prefix of BUCKET and the whole of OTHER.
    const list = await call(server, 'GET', `/projects/${p}/buckets`, { as: { bearer: reader.credentials.bearerToken } });
    assert.equal(list.status, 200, list.text);
    const byName = new Map<string, Record<string, unknown>>(list.body.items.map((b: Record<string, unknown>) => [b.name, b]));
    assert.deepEqual([...byName.keys()].sort(), [BUCKET, OTHER]);
    assert.deepEqual(counts(byName.get(BUCKET)!), [null, null, null, null, null], 'a prefix holder learns nothing about keys outside its prefix');
    assert.deepEqual(counts(byName.get(OTHER)!), [1, 'elsewhere'.length, 0, 0, 0]);
    const shown = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}`, { as: { bearer: team.credentials.bearerToken } });
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(counts(shown.body), [null, null, null, null, null]);
    const whole = await call(server, 'GET', `/projects/${p}/buckets/${BUCKET}`, { as: rootBearer(server) });
    // (earlier tests wrote under the prefix too)
    assert.ok(typeof whole.body.objects === 'number' && whole.body.objects >= KEYS.length, JSON.stringify(whole.body));
  });
});

describe('bad scopes: 400 naming bucketScope, nothing created', () => {
  test('an empty prefix, overlapping entries, an unknown bucket', async () => {
    const p = server.bootstrap.projectId;
    const before = (await server.tokens.list(p)).length;
    for (const [scope, pattern] of [
      [[`${BUCKET}/`], /empty prefix/],
      [[BUCKET, `${BUCKET}/team/`], /overlap/],
      [[`${BUCKET}/team/`, `${BUCKET}/team/docs/`], /overlap/],
      [['no-such-bucket/x/'], /Unknown bucket/],
      [['/x/'], /names no bucket/],
    ] as const) {
      const r = await call(server, 'POST', `/projects/${p}/tokens`, { as: rootBearer(server), json: { name: 'bad-scope', permission: 'object-ro', bucketScope: scope } });
      assert.ok(isProblem(r, 400, 'validation', 'bucketScope'), `${JSON.stringify(scope)}: ${problemText(r)}`);
      assert.match(r.body.detail, pattern);
    }
    assert.equal((await server.tokens.list(p)).length, before, 'no token was created');
  });

  test("a prefix-scoped caller hands out only prefixes within its own", async () => {
    const p = server.bootstrap.projectId;
    const admin = await issue(server, { permission: 'admin-rw', bucketScope: [`${BUCKET}/team/`] });
    const as = { bearer: admin.credentials.bearerToken };
    const ok = await call(server, 'POST', `/projects/${p}/tokens`, { as, json: { name: 'narrower', permission: 'object-ro', bucketScope: [`${BUCKET}/team/docs/`] } });
    assert.equal(ok.status, 201, ok.text);
    for (const scope of [[BUCKET], [`${BUCKET}/other/`], null]) {
      const r = await call(server, 'POST', `/projects/${p}/tokens`, { as, json: { name: 'wider', permission: 'object-ro', bucketScope: scope } });
      assert.ok(isProblem(r, 403, 'forbidden'), `${JSON.stringify(scope)}: ${problemText(r)}`);
    }
  });
});
