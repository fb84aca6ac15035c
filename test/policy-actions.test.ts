import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeletePublicAccessBlockCommand,
  GetBucketPolicyCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { xmlField } from './helpers/raw-s3.js';
import { issue } from './helpers/tokens.js';

// Which IAM action a bucket policy is asked about for each request, as AWS names them: the
// version forms (s3:GetObjectVersion, s3:DeleteObjectVersion...) when a request names a version,
// both actions GetObjectAttributes needs, s3:BypassGovernanceRetention; who a statement names
// (temporary credentials are their token); and what an anonymous caller never gets whatever a
// policy says (the policy itself, configuration writes, DeleteBucket).

const ctx = useS3Server('pact');
const anon = (method: string, path: string, init: RequestInit = {}) => fetch(`${ctx.server.url}${path}`, { method, ...init });

async function statusAndCode(res: Response): Promise<[number, string | undefined]> {
  return [res.status, xmlField(await res.text(), 'Code')];
}

async function versionedBucket(tag: string): Promise<string> {
  const bucket = await ctx.newBucket(tag);
  await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

function policy(bucket: string, statements: Record<string, unknown>[]): PutBucketPolicyCommand {
  return new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
}

describe('versioned requests are the version actions', () => {
  test('a public s3:GetObject / s3:DeleteObject opens the current version only, not versions by ID', async () => {
    const bucket = await versionedBucket('pub');
    const old = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'old secret' }));
    const current = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'public' }));
    await ctx.s3.send(policy(bucket, [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:DeleteObject', 's3:GetObjectTagging'], Resource: `arn:aws:s3:::${bucket}/*` }]));
    assert.equal((await anon('GET', `/${bucket}/doc`)).status, 200);
    assert.deepEqual(await statusAndCode(await anon('GET', `/${bucket}/doc?versionId=${old.VersionId}`)), [403, 'AccessDenied']);
    assert.deepEqual(await statusAndCode(await anon('GET', `/${bucket}/doc?versionId=${current.VersionId}`)), [403, 'AccessDenied'], 'even the current one, by ID');
    assert.equal((await anon('HEAD', `/${bucket}/doc?versionId=${old.VersionId}`)).status, 403);
    assert.equal((await anon('GET', `/${bucket}/doc?tagging`)).status, 200);
    assert.equal((await anon('GET', `/${bucket}/doc?tagging&versionId=${old.VersionId}`)).status, 403);
    assert.deepEqual(await statusAndCode(await anon('DELETE', `/${bucket}/doc?versionId=${old.VersionId}`)), [403, 'AccessDenied']);
    const versions = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.equal(versions.Versions?.length, 2, 'nothing deleted');
    // Granting the version actions opens them.
    await ctx.s3.send(policy(bucket, [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObjectVersion'], Resource: `arn:aws:s3:::${bucket}/*` }]));
    const got = await anon('GET', `/${bucket}/doc?versionId=${old.VersionId}`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'old secret');
  });

  test('a Deny of s3:GetObjectVersion / s3:DeleteObjectVersion binds tokens; the plain actions still work', async () => {
    const bucket = await versionedBucket('deny');
    const writer = await issue(ctx.server, { permission: 'object-rw', bucketScope: [bucket] });
    const old = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'old' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'new' }));
    await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: '*', Action: ['s3:GetObjectVersion', 's3:DeleteObjectVersion', 's3:GetObjectVersionTagging'], Resource: `arn:aws:s3:::${bucket}/*` }]));
    assert.equal((await s3Error(writer.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: old.VersionId })))).name, 'AccessDenied');
    assert.equal((await s3Error(writer.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'doc', VersionId: old.VersionId })))).name, 'AccessDenied');
    assert.equal((await s3Error(writer.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: old.VersionId })))).name, 'AccessDenied');
    assert.equal((await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions?.length, 2, 'nothing deleted');
    const latest = await writer.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }));
    assert.equal(await latest.Body?.transformToString(), 'new');
    await writer.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc' }));
  });
  test('a copy whose x-amz-copy-source names a version is a read of that version (s3:GetObjectVersion)', async () => {
    const bucket = await versionedBucket('copy');
    const writer = await issue(ctx.server, { permission: 'object-rw', bucketScope: [bucket] });
    const old = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'old secret' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'new' }));
    await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObjectVersion', Resource: `arn:aws:s3:::${bucket}/*` }]));
    const source = `${bucket}/doc?versionId=${old.VersionId}`;
    assert.equal((await s3Error(writer.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'leak', CopySource: source })))).name, 'AccessDenied');
    const { UploadId } = await writer.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'leak' }));
    const part = writer.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'leak', UploadId, PartNumber: 1, CopySource: source }));
    assert.equal((await s3Error(part)).name, 'AccessDenied');
    await writer.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'leak', UploadId }));
    assert.equal((await s3Error(writer.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'leak' })))).name, 'NoSuchKey', 'nothing copied');
    // The current version, named by key alone, is still s3:GetObject.
    await writer.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/doc` }));
  });
});

test('an object ACL opens to anonymous callers the current version only, not older ones by ID', async () => {
  const bucket = await versionedBucket('acl');
  await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
  const old = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'old private' }));
  const current = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'new public', ACL: 'public-read' }));
  assert.equal((await anon('GET', `/${bucket}/doc`)).status, 200);
  assert.equal((await anon('GET', `/${bucket}/doc?versionId=${current.VersionId}`)).status, 200);
  assert.deepEqual(await statusAndCode(await anon('GET', `/${bucket}/doc?versionId=${old.VersionId}`)), [403, 'AccessDenied']);
  assert.equal((await anon('HEAD', `/${bucket}/doc?versionId=${old.VersionId}`)).status, 403);
});

test('an anonymous copy of an older version needs that version\'s ACL, not the current one\'s', async () => {
  const bucket = await versionedBucket('acl-copy');
  await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
  await ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
  const old = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'old private' }));
  const current = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'new public', ACL: 'public-read' }));
  const copy = (version: string | undefined) => anon('PUT', `/${bucket}/copy`, { headers: { 'x-amz-copy-source': `/${bucket}/doc${version ? `?versionId=${version}` : ''}` } });
  assert.deepEqual(await statusAndCode(await copy(old.VersionId)), [403, 'AccessDenied']);
  assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy' })))).name, 'NoSuchKey', 'nothing copied');
  assert.equal((await copy(current.VersionId)).status, 200);
  assert.equal((await copy(undefined)).status, 200);
});

test('anonymous callers never manage the policy (405), change the configuration or delete the bucket (403), whatever the policy allows', async () => {
  const bucket = await ctx.newBucket('cfg');
  await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'a' }));
  const everything = [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }];
  await ctx.s3.send(policy(bucket, everything));
  const replacement = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/*` }] });
  for (const [method, query, body] of [['GET', 'policy'], ['PUT', 'policy', replacement], ['DELETE', 'policy']] as const) {
    assert.deepEqual(await statusAndCode(await anon(method, `/${bucket}?${query}`, { body })), [405, 'MethodNotAllowed'], `${method} ?${query}`);
  }
  const writes: [string, string, string?][] = [
    ['PUT', 'publicAccessBlock', '<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>'],
    ['DELETE', 'publicAccessBlock'],
    ['PUT', 'ownershipControls', '<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>'],
    ['DELETE', 'ownershipControls'],
    ['PUT', 'versioning', '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>'],
    ['PUT', 'tagging', '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>'],
    ['PUT', 'cors', '<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>'],
  ];
  for (const [method, query, body] of writes) {
    assert.deepEqual(await statusAndCode(await anon(method, `/${bucket}?${query}`, { body })), [403, 'AccessDenied'], `${method} ?${query}`);
  }
  assert.deepEqual(await statusAndCode(await anon('PUT', `/${bucket}?acl`, { headers: { 'x-amz-acl': 'public-read-write' } })), [403, 'AccessDenied']);
  assert.deepEqual(await statusAndCode(await anon('DELETE', `/${bucket}`)), [403, 'AccessDenied']);
  // The policy is unchanged and still opens object data and listings.
  assert.deepEqual(JSON.parse((await ctx.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!).Statement, everything);
  assert.equal((await anon('GET', `/${bucket}/a`)).status, 200);
  assert.equal((await anon('GET', `/${bucket}?list-type=2`)).status, 200);
  assert.equal((await anon('PUT', `/${bucket}/b`, { body: 'b' })).status, 200);
  // Without a grant the policy operations stay 403, as on S3.
  const closed = await ctx.newBucket('cfg-closed');
  assert.deepEqual(await statusAndCode(await anon('GET', `/${closed}?policy`)), [403, 'AccessDenied']);
});

test('GetObjectAttributes needs s3:GetObject as well as s3:GetObjectAttributes', async () => {
  const bucket = await ctx.newBucket('attrs');
  const reader = await issue(ctx.server, { permission: 'object-ro', bucketScope: [bucket] });
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
  const ask = () => reader.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'k', ObjectAttributes: ['ETag', 'ObjectSize'] }));
  assert.equal((await ask()).ObjectSize, 1);
  for (const action of ['s3:GetObject', 's3:GetObjectAttributes']) {
    await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: '*', Action: action, Resource: `arn:aws:s3:::${bucket}/*` }]));
    assert.equal((await s3Error(ask())).name, 'AccessDenied', action);
  }
});

test('a Deny of s3:BypassGovernanceRetention keeps even an admin from bypassing GOVERNANCE retention', async () => {
  const bucket = ctx.bucketName('gov');
  await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const admin = await issue(ctx.server, { permission: 'admin-rw', bucketScope: [bucket] });
  const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: '1', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) }));
  await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: '*', Action: 's3:BypassGovernanceRetention', Resource: `arn:aws:s3:::${bucket}/*` }]));
  const err = await s3Error(admin.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: put.VersionId, BypassGovernanceRetention: true })));
  assert.equal(err.name, 'AccessDenied');
  assert.equal((await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions?.length, 1, 'the version is kept');
  // Without the Deny the same request bypasses.
  await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: '*', Action: 's3:PutBucketTagging', Resource: `arn:aws:s3:::${bucket}` }]));
  await admin.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: put.VersionId, BypassGovernanceRetention: true }));
});

test('GET and HEAD report retention and legal hold only to callers allowed s3:GetObjectRetention / s3:GetObjectLegalHold', async () => {
  const bucket = ctx.bucketName('lockhdr');
  await ctx.s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
  const reader = await issue(ctx.server, { permission: 'object-ro', bucketScope: [bucket] });
  const until = new Date(Math.ceil((Date.now() + 86_400_000) / 1000) * 1000);
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: until, ObjectLockLegalHoldStatus: 'ON' }));
  const anonLockHeaders = async (method: string) => {
    const res = await anon(method, `/${bucket}/doc`);
    assert.equal(res.status, 200, method);
    return [...res.headers.keys()].filter((name) => name.startsWith('x-amz-object-lock-')).sort();
  };
  const object = `arn:aws:s3:::${bucket}/*`;
  // A public s3:GetObject opens the object, not its lock state.
  await ctx.s3.send(policy(bucket, [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: object }]));
  for (const method of ['GET', 'HEAD']) assert.deepEqual(await anonLockHeaders(method), [], method);
  // Each is its own action: the retention opened, the legal hold not.
  await ctx.s3.send(policy(bucket, [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:GetObjectRetention'], Resource: object }]));
  assert.deepEqual(await anonLockHeaders('HEAD'), ['x-amz-object-lock-mode', 'x-amz-object-lock-retain-until-date']);
  // A token the policy denies both reads the object without them; the owner still sees all three.
  const project = ctx.server.bootstrap.projectId;
  await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${project}:user/${reader.credentials.accessKeyId}` }, Action: ['s3:GetObjectRetention', 's3:GetObjectLegalHold'], Resource: object }]));
  const lockOf = (r: { ObjectLockMode?: string; ObjectLockRetainUntilDate?: Date; ObjectLockLegalHoldStatus?: string }) => [r.ObjectLockMode, r.ObjectLockRetainUntilDate?.toISOString(), r.ObjectLockLegalHoldStatus];
  assert.deepEqual(lockOf(await reader.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doc' }))), [undefined, undefined, undefined]);
  assert.deepEqual(lockOf(await reader.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }))), [undefined, undefined, undefined]);
  assert.deepEqual(lockOf(await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doc' }))), ['GOVERNANCE', until.toISOString(), 'ON']);
});

test('a statement naming a token\'s access key ID applies to its temporary credentials too', async () => {
  const bucket = await ctx.newBucket('temp');
  const reader = await issue(ctx.server, { permission: 'object-ro', bucketScope: [bucket] });
  await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'x' }));
  const sts = new STSClient({ endpoint: ctx.server.url, region: 'us-east-1', credentials: reader.credentials, maxAttempts: 1 });
  const c = (await sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }))).Credentials!;
  const session = ctx.server.client({ credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! }, maxAttempts: 1 });
  assert.equal((await session.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' }))).$metadata.httpStatusCode, 200);
  const project = ctx.server.bootstrap.projectId;
  await ctx.s3.send(policy(bucket, [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${project}:user/${reader.credentials.accessKeyId}` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }]));
  assert.equal((await s3Error(reader.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' })))).name, 'AccessDenied');
  assert.equal((await s3Error(session.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' })))).name, 'AccessDenied');
});
