import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCorsCommand,
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketPolicyCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketCorsCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { s3Error } from './helpers/s3.js';
import { ROOT_KEY, startTestServer, useS3Server } from './helpers/server.js';
import { blobFiles, blobsAddedSince, raw, signedHeaders, xmlField } from './helpers/raw-s3.js';
import { formBytes, formData, postPolicyFields } from './helpers/post-form.js';
import { issue } from './helpers/tokens.js';
import { signV2 } from '../src/sigv4/sigv2.js';
import { crc32 } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';

function crc32Base64(text: string): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(text) >>> 0);
  return out.toString('base64');
}

// Bucket configuration and anonymous access over HTTP: bad input gets AWS's codes and stores
// nothing (policies, CORS XML, ACL grants, POST forms), anonymous callers get what policies and
// ACLs open and 404/403 as S3 answers them, CORS preflights, SigV2 over raw HTTP, Expect.

const ctx = useS3Server('pub');
const anon = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
  fetch(`${ctx.server.url}${path}`, { method, headers, body });

async function codeOf(res: Response): Promise<string | undefined> {
  return xmlField(await res.text(), 'Code');
}

async function absent(bucket: string, key: string): Promise<void> {
  const err = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  assert.equal(err.$metadata.httpStatusCode, 404, `${key} must not exist`);
}

describe('bucket policies', () => {
  test('malformed policies are MalformedPolicy (400) and leave no policy behind', async () => {
    const bucket = await ctx.newBucket('badpol');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    for (const policy of ['{"Statement": [', 'not json', '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}]}', '{"Statement":[{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:GetObject","Resource":"*"}]}']) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: policy });
      assert.equal(res.status, 400, policy);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedPolicy', policy);
    }
    const get = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { policy: '' } });
    assert.equal(xmlField(get.text, 'Code'), 'NoSuchBucketPolicy');
  });

  test('a principal that names no project or token is MalformedPolicy, as AWS refuses one that does not exist', async () => {
    const bucket = await ctx.newBucket('nobody');
    const project = ctx.server.bootstrap.projectId;
    const token = await issue(ctx.server, { permission: 'object-rw', bucketScope: [bucket] });
    const deny = (aws: string | string[]) => JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: aws }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` }] });
    const missing = [`arn:aws:iam::${project}:user/AKNOSUCHKEY000000000`, 'arn:aws:iam::00000000-0000-4000-8000-000000000000:root', '00000000-0000-4000-8000-000000000000', `arn:aws:iam::${project}:user/a\u0000b`];
    // Alone, or beside "*" (which names everyone, but a bad name is as bad there).
    for (const name of [...missing, ...missing.map((m) => ['*', m])] as (string | string[])[]) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: deny(name) });
      assert.deepEqual([res.status, xmlField(res.text, 'Code')], [400, 'MalformedPolicy'], String(name));
      assert.match(xmlField(res.text, 'Message') ?? '', /Invalid principal in policy/, String(name));
    }
    assert.equal(xmlField((await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { policy: '' } })).text, 'Code'), 'NoSuchBucketPolicy');
    // The project, a token by its access key ID and by its token ID: each exists.
    for (const name of [`arn:aws:iam::${project}:root`, `arn:aws:iam::${project}:user/${token.credentials.accessKeyId}`, `arn:aws:iam::${project}:user/${token.token.id}`]) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: deny(name) });
      assert.equal(res.status, 204, `${name}: ${res.text}`);
    }
  });

  test('PutBucketPolicy refuses an action S3 does not have, and one that applies to none of its resources', async () => {
    const bucket = await ctx.newBucket('badact');
    const arn = `arn:aws:s3:::${bucket}`;
    const cases: [string, string, string][] = [
      ['s3:DeleteObjects', `${arn}/*`, 'Policy has invalid action'],
      ['s3:GetObjectFoo', `${arn}/*`, 'Policy has invalid action'],
      ['s3:GetObject', arn, 'Action does not apply to any resource(s) in statement'],
    ];
    for (const [action, resource, message] of cases) {
      const Policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: action, Resource: resource }] });
      const err = await s3Error(ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy })));
      assert.equal(err.$metadata.httpStatusCode, 400, action);
      assert.equal(err.name, 'MalformedPolicy', action);
      assert.equal(err.message, message, action);
    }
    assert.equal((await s3Error(ctx.s3.send(new GetBucketPolicyCommand({ Bucket: bucket })))).name, 'NoSuchBucketPolicy');
    // A real S3 action skep does not implement is accepted, as AWS accepts it.
    const Policy = JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: ['s3:PutReplicationConfiguration', 's3:DeleteObject'], Resource: [arn, `${arn}/*`] }] });
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy }));
    assert.equal((await ctx.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy, Policy);
  });

  test('a Deny in the policy narrows a token; it never widens one', async () => {
    const bucket = await ctx.newBucket('deny');
    const writer = await issue(ctx.server, { permission: 'object-rw', bucketScope: [bucket] });
    const reader = await issue(ctx.server, { permission: 'object-ro', bucketScope: [bucket] });
    await ctx.s3.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({
        Statement: [
          { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ctx.server.bootstrap.projectId}:user/${writer.credentials.accessKeyId}` }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/locked/*` },
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ctx.server.bootstrap.projectId}:root` }, Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/*` },
        ],
      }),
    }));
    assert.equal((await s3Error(writer.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'locked/a', Body: 'x' })))).name, 'AccessDenied');
    await absent(bucket, 'locked/a');
    await writer.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'open/a', Body: 'x' }));
    assert.equal((await s3Error(reader.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'open/b', Body: 'x' })))).name, 'AccessDenied');
  });

  test('anonymous: 404 NoSuchBucket for a missing bucket, 403 otherwise unless the bucket opens it', async () => {
    const bucket = await ctx.newBucket('anon');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hidden' }));
    assert.equal((await anon('GET', `/${bucket}-missing/k`)).status, 404);
    assert.equal((await anon('GET', `/${bucket}/k`)).status, 403);
    assert.equal((await anon('GET', `/${bucket}/missing`)).status, 403);
    assert.equal((await anon('GET', '/')).status, 403);
    // A policy that opens listing and reading: a missing key is then 404 NoSuchKey, as in S3.
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }] }),
    }));
    const got = await anon('GET', `/${bucket}/k`);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'hidden');
    // An unsigned link may not restyle a public object (text/html would run a stored script on
    // this origin): response-* overrides need a signature, as on AWS.
    for (const method of ['GET', 'HEAD']) {
      const restyled = await anon(method, `/${bucket}/k?response-content-type=text/html`);
      assert.equal(restyled.status, 400, method);
      assert.notEqual(restyled.headers.get('content-type'), 'text/html', method);
      if (method === 'GET') {
        const text = await restyled.text();
        assert.equal(xmlField(text, 'Code'), 'InvalidRequest');
        assert.equal(xmlField(text, 'Message'), 'Request specific response headers cannot be used for anonymous GET requests.');
      }
    }
    const missing = await anon('GET', `/${bucket}/missing`);
    assert.equal(missing.status, 404);
    assert.equal(await codeOf(missing), 'NoSuchKey');
    const list = await anon('GET', `/${bucket}?list-type=2`);
    assert.equal(list.status, 200);
    assert.match(await list.text(), /<Key>k<\/Key>/);
    const put = await anon('PUT', `/${bucket}/anon-write`, {}, 'x');
    assert.equal(put.status, 403);
    await absent(bucket, 'anon-write');
  });
});

describe('ACLs', () => {
  test('with BucketOwnerEnforced (the default) a public ACL is AccessControlListNotSupported; private is accepted', async () => {
    const bucket = await ctx.newBucket('enforced');
    assert.equal((await s3Error(ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' })))).name, 'AccessControlListNotSupported');
    await ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'private' }));
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ACL: 'public-read' })))).name, 'AccessControlListNotSupported');
    await absent(bucket, 'k');
  });

  test('public-read-write on a bucket lets anonymous callers list and write; grants map onto canned ACLs', async () => {
    const bucket = await ctx.newBucket('prw');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } }));
    await ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' }));
    const acl = await ctx.s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.URI ?? g.Grantee?.ID, g.Permission]), [
      ['CanonicalUser', ctx.server.bootstrap.projectId, 'FULL_CONTROL'],
      ['Group', 'http://acs.amazonaws.com/groups/global/AllUsers', 'READ'],
      ['Group', 'http://acs.amazonaws.com/groups/global/AllUsers', 'WRITE'],
    ]);
    assert.equal((await anon('PUT', `/${bucket}/dropbox.txt`, {}, 'anonymous upload')).status, 200);
    assert.equal((await anon('GET', `/${bucket}?list-type=2`)).status, 200);
    // The object itself is private: listing is open, reading it is not.
    assert.equal((await anon('GET', `/${bucket}/dropbox.txt`)).status, 403);
    // The writer may give what it makes an ACL and tags as it uploads it (rclone sends
    // x-amz-acl: private on every PUT), but not change the ACL or tags of what exists.
    assert.equal((await anon('PUT', `/${bucket}/with-acl.txt`, { 'x-amz-acl': 'private', 'x-amz-tagging': 'a=b' }, 'x')).status, 200);
    assert.equal((await anon('PUT', `/${bucket}/dropbox.txt?acl`, { 'x-amz-acl': 'public-read' })).status, 403);
    assert.equal((await anon('PUT', `/${bucket}/dropbox.txt?tagging`, {}, '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>')).status, 403);
    // Grant headers naming the AllUsers group READ are public-read.
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, headers: { 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' } });
    assert.equal(res.status, 200, res.text);
    assert.equal((await anon('PUT', `/${bucket}/second.txt`, {}, 'x')).status, 403);
  });

  test('grants that name unknown users are 400 as in S3, and change nothing', async () => {
    const bucket = await ctx.newBucket('grants');
    const cases: [Record<string, string>, string][] = [
      [{ 'x-amz-grant-read': 'id="0123456789abcdef"' }, 'InvalidArgument'],
      [{ 'x-amz-grant-read': 'emailAddress="someone@example.com"' }, 'UnresolvableGrantByEmailAddress'],
    ];
    for (const [headers, code] of cases) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, headers });
      assert.equal(res.status, 400, res.text);
      assert.equal(xmlField(res.text, 'Code'), code);
    }
    const doc = `<AccessControlPolicy><Owner><ID>${ctx.server.bootstrap.projectId}</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>someone-else</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`;
    const xml = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, body: doc });
    assert.equal(xml.status, 400);
    const acl = await ctx.s3.send(new GetBucketAclCommand({ Bucket: bucket }));
    assert.equal(acl.Grants?.length, 1, 'still only the owner');
  });

  test('an object ACL round-trips through PutObjectAcl / GetObjectAcl', async () => {
    const bucket = await ctx.newBucket('objacl');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    assert.equal((await anon('GET', `/${bucket}/k`)).status, 403);
    await ctx.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'public-read' }));
    const acl = await ctx.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'k' }));
    assert.ok(acl.Grants?.some((g) => g.Grantee?.URI?.endsWith('/AllUsers') && g.Permission === 'READ'));
    assert.equal((await anon('GET', `/${bucket}/k`)).status, 200);
    // IgnorePublicAcls turns it off again without touching the ACL.
    await ctx.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'private' }));
    assert.equal((await anon('GET', `/${bucket}/k`)).status, 403);
  });

  test('BlockPublicAcls counts a grant to AuthenticatedUsers as public, as AWS does: authenticated-read is AccessDenied on every write until the block is lifted', async () => {
    const bucket = await ctx.newBucket('authread');
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const denied = async (p: Promise<unknown>, what: string) => {
      const err = await s3Error(p);
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], ['AccessDenied', 403], what);
    };
    await denied(ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'authenticated-read' })), 'PutBucketAcl');
    await denied(ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, GrantRead: 'uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers' })), 'PutBucketAcl grant');
    await denied(ctx.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'authenticated-read' })), 'PutObjectAcl');
    await denied(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k2', Body: 'x', ACL: 'authenticated-read' })), 'PutObject');
    await absent(bucket, 'k2');
    const form = await fetch(`${ctx.server.url}/${bucket}`, {
      method: 'POST',
      body: formData(postPolicyFields({ bucket, key: 'k3', credentials: ROOT_KEY, fields: { acl: 'authenticated-read' } }), 'x'),
    });
    assert.equal(form.status, 403);
    assert.equal(await codeOf(form), 'AccessDenied');
    await absent(bucket, 'k3');
    assert.equal((await ctx.s3.send(new GetBucketAclCommand({ Bucket: bucket }))).Grants?.length, 1, 'still only the owner');
    assert.equal((await ctx.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'k' }))).Grants?.length, 1, 'still only the owner');
    // Lifted, it is accepted; it opens nothing to anonymous callers (they are not authenticated).
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k2', Body: 'x', ACL: 'authenticated-read' }));
    assert.ok((await ctx.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'k2' }))).Grants?.some((g) => g.Grantee?.URI?.endsWith('/AuthenticatedUsers')));
    assert.equal((await anon('GET', `/${bucket}/k2`)).status, 403);
  });

  test('RestrictPublicBuckets on a bucket with a public policy shuts anonymous callers out of what the ACLs grant too', async () => {
    const bucket = await ctx.newBucket('restrict');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'pub', Body: 'x', ACL: 'public-read' }));
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/site/*` }] };
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    assert.equal((await anon('GET', `/${bucket}/pub`)).status, 200, 'open before the restriction');
    await ctx.s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: true } }));
    for (const path of [`/${bucket}/pub`, `/${bucket}?list-type=2`]) assert.equal((await anon('GET', path)).status, 403, path);
    assert.equal((await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'pub' }))).$metadata.httpStatusCode, 200, 'the owner still reads');
  });

  test('x-amz-grant-* on object writes: applied as x-amz-acl is, refused where it is, and never together with it', async () => {
    const bucket = await ctx.newBucket('objgrants');
    const allUsers = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"';
    // BucketOwnerEnforced (the default): a grant is an ACL, and ACLs are disabled.
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'g', Body: 'x', GrantRead: allUsers })))).name, 'AccessControlListNotSupported');
    await absent(bucket, 'g');
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    // The block refuses a public grant as it refuses public-read.
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'g', Body: 'x', GrantRead: allUsers })))).name, 'AccessDenied');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    const both = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/g`, headers: { 'x-amz-acl': 'private', 'x-amz-grant-read': allUsers }, body: 'x' });
    assert.deepEqual([both.status, xmlField(both.text, 'Code')], [400, 'InvalidRequest']);
    await absent(bucket, 'g');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'g', Body: 'granted', GrantRead: allUsers }));
    assert.equal((await anon('GET', `/${bucket}/g`)).status, 200);
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'g2', CopySource: `${bucket}/g`, GrantRead: allUsers }));
    assert.equal((await anon('GET', `/${bucket}/g2`)).status, 200);
  });

  test('under BucketOwnerEnforced an object ACL stored before reads as the owner\'s full control, and bucket-owner-read is refused', async () => {
    const bucket = await ctx.newBucket('enforcedlater');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'was-public', Body: 'x', ACL: 'public-read' }));
    assert.equal((await ctx.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'was-public' }))).Grants?.length, 2);
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }));
    const acl = await ctx.s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'was-public' }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission]), [[ctx.server.bootstrap.projectId, 'FULL_CONTROL']]);
    assert.equal((await anon('GET', `/${bucket}/was-public`)).status, 403);
    for (const [what, call] of [
      ['PutObject', () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ACL: 'bucket-owner-read' }))],
      ['PutObjectAcl', () => ctx.s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'was-public', ACL: 'bucket-owner-read' }))],
    ] as const) {
      assert.equal((await s3Error(call())).name, 'AccessControlListNotSupported', what);
    }
    const form = await fetch(`${ctx.server.url}/${bucket}`, {
      method: 'POST',
      body: formData(postPolicyFields({ bucket, key: 'k-form', credentials: ROOT_KEY, fields: { acl: 'bucket-owner-read' } }), 'x'),
    });
    assert.deepEqual([form.status, await codeOf(form)], [400, 'AccessControlListNotSupported'], 'a POST form');
    await absent(bucket, 'k-form');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ACL: 'bucket-owner-full-control' }));
  });

  test('an ACL document that does not validate is MalformedACLError; headers with a document are UnexpectedContent; nothing changes', async () => {
    const bucket = await ctx.newBucket('acldoc');
    const owner = ctx.server.bootstrap.projectId;
    const grant = (permission: string) => `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${owner}</ID></Grantee><Permission>${permission}</Permission></Grant>`;
    const doc = (grants: string) => `<AccessControlPolicy><Owner><ID>${owner}</ID></Owner><AccessControlList>${grants}</AccessControlList></AccessControlPolicy>`;
    const noList = `<AccessControlPolicy><Owner><ID>${owner}</ID></Owner></AccessControlPolicy>`;
    for (const [body, what] of [[doc(grant('BOGUS')), 'an unknown permission'], [doc(grant('FULL_CONTROL').repeat(101)), '101 grants'], ['<AccessControlPolicy/>', 'an empty policy'], [noList, 'no AccessControlList (it would reset the ACL to private)']]) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, body });
      assert.deepEqual([res.status, xmlField(res.text, 'Code')], [400, 'MalformedACLError'], what);
    }
    const mixed = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, headers: { 'x-amz-acl': 'private' }, body: doc(grant('FULL_CONTROL')) });
    assert.deepEqual([mixed.status, xmlField(mixed.text, 'Code')], [400, 'UnexpectedContent']);
    const ok = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { acl: '' }, body: doc(grant('FULL_CONTROL')) });
    assert.equal(ok.status, 200, ok.text);
  });

  test('an anonymous reader who may list the bucket gets 404 for a missing key; one who may not gets 403', async () => {
    const bucket = await ctx.newBucket('anon404');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'private', Body: 'x' }));
    assert.equal((await anon('GET', `/${bucket}/missing`)).status, 403, 'no listing: missing and private look alike');
    await ctx.s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    const missing = await anon('GET', `/${bucket}/missing`);
    assert.deepEqual([missing.status, await codeOf(missing)], [404, 'NoSuchKey']);
    // An anonymous copy of a missing key out of a bucket it may not list tells no more than a GET.
    const hidden = await ctx.newBucket('anon404src');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: hidden }));
    await ctx.s3.send(new PutBucketPolicyCommand({
      Bucket: hidden,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${hidden}/pub/*` },
          { Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${hidden}/inbox/*` },
        ],
      }),
    }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: hidden, Key: 'pub/there', Body: 'x' }));
    assert.equal((await anon('PUT', `/${hidden}/inbox/a`, { 'x-amz-copy-source': `/${hidden}/pub/there` })).status, 200);
    const copied = await anon('PUT', `/${hidden}/inbox/b`, { 'x-amz-copy-source': `/${hidden}/pub/missing` });
    assert.deepEqual([copied.status, await codeOf(copied)], [403, 'AccessDenied']);
    assert.equal((await anon('HEAD', `/${bucket}/missing`)).status, 404);
    assert.equal((await anon('GET', `/${bucket}/private`)).status, 403, 'a private object stays 403');
    // An explicit Deny of the read outranks the listing: 403, missing or not.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` },
        { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/secret/*` },
      ],
    };
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    for (const method of ['GET', 'HEAD']) assert.equal((await anon(method, `/${bucket}/secret/missing`)).status, 403, method);
    assert.equal((await anon('GET', `/${bucket}/open/missing`)).status, 404, 'outside the Deny');
  });

  test('a token the policy denies s3:ListBucket gets 403 for a missing key, as S3 answers one without the permission', async () => {
    const bucket = await ctx.newBucket('nolist');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'there', Body: 'x' }));
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })))).$metadata.httpStatusCode, 404);
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` }] };
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    for (const read of [new GetObjectCommand({ Bucket: bucket, Key: 'missing' }), new HeadObjectCommand({ Bucket: bucket, Key: 'missing' })]) {
      const err = await s3Error(ctx.s3.send(read));
      assert.equal(err.$metadata.httpStatusCode, 403, read.constructor.name);
    }
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'there' }))).ContentLength, 1, 'what exists is still read');
    // A copy of a missing key tells no more than a GET of it would.
    assert.equal((await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/missing` })))).name, 'AccessDenied');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/mp`, query: { partNumber: '1', uploadId: UploadId! }, headers: { 'x-amz-copy-source': `/${bucket}/missing` } });
    assert.deepEqual([part.status, xmlField(part.text, 'Code')], [403, 'AccessDenied']);
    await ctx.s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    assert.equal((await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/missing` })))).name, 'NoSuchKey');
  });

  test('an upload that sets an ACL or tags needs s3:PutObjectAcl or s3:PutObjectTagging too: s3:PutObject alone makes nothing public', async () => {
    const bucket = await ctx.newBucket('putacl');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/drop/*` },
        { Effect: 'Deny', Principal: '*', Action: ['s3:PutObjectAcl', 's3:PutObjectTagging'], Resource: `arn:aws:s3:::${bucket}/kept/*` },
      ],
    };
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    const anonPut = await anon('PUT', `/${bucket}/drop/a`, { 'x-amz-acl': 'public-read' }, 'made public?');
    assert.equal(anonPut.status, 403, 'an ACL needs s3:PutObjectAcl, which nobody granted');
    assert.equal((await anon('GET', `/${bucket}/drop/a`)).status, 403);
    assert.equal((await anon('PUT', `/${bucket}/drop/b`, { 'x-amz-tagging': 'k=v' }, 'tagged?')).status, 403);
    assert.equal((await anon('PUT', `/${bucket}/drop/c`, {}, 'plain')).status, 200, 's3:PutObject alone still uploads');
    // A Deny of either action stops a token's upload that sets it, by every write.
    const refused: [string, () => Promise<unknown>][] = [
      ['PutObject with an ACL', () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept/a', Body: 'x', ACL: 'private' }))],
      ['PutObject with tags', () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept/b', Body: 'x', Tagging: 'k=v' }))],
      ['CopyObject replacing tags', () => ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'kept/c', CopySource: `${bucket}/drop/c`, TaggingDirective: 'REPLACE', Tagging: 'k=v' }))],
      ['CreateMultipartUpload with an ACL', () => ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'kept/d', ACL: 'public-read' }))],
    ];
    for (const [name, send] of refused) assert.equal((await s3Error(send())).name, 'AccessDenied', name);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept/e', Body: 'x' }));
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'kept/f', CopySource: `${bucket}/drop/c` }));
    // A form's acl and tagging fields are asked the same.
    const form = postPolicyFields({ bucket, key: 'kept/form', credentials: ROOT_KEY, fields: { acl: 'private' } });
    const posted = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(form, 'x') });
    assert.equal(posted.status, 403, await posted.text());
    for (const key of ['kept/a', 'kept/b', 'kept/c', 'kept/form']) await absent(bucket, key);
  });

  test('the public access block defaults to blocking everything, as AWS since 2023', async () => {
    const bucket = await ctx.newBucket('pab');
    const pab = await ctx.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
    assert.deepEqual(pab.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    // A misspelt setting is MalformedXML: read as absent (false), it would lift the block.
    const typo = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { publicAccessBlock: '' }, body: '<PublicAccessBlockConfiguration><BlockPublicPolicyy>true</BlockPublicPolicyy></PublicAccessBlockConfiguration>' });
    assert.deepEqual([typo.status, xmlField(typo.text, 'Code')], [400, 'MalformedXML']);
    assert.equal((await ctx.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration?.BlockPublicPolicy, true);
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    assert.equal((await s3Error(ctx.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket })))).name, 'NoSuchPublicAccessBlockConfiguration');
  });
});

describe('CORS configuration and preflight', () => {
  test('malformed or invalid CORS XML is refused and stores nothing', async () => {
    const bucket = await ctx.newBucket('badcors');
    const cases: [string, string][] = [
      ['<CORSConfiguration><CORSRule>', 'MalformedXML'],
      ['<CORSConfiguration></CORSConfiguration>', 'MalformedXML'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*.*.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      // Sent back as Access-Control-Expose-Headers: a value that cannot be a header name is refused, not stored to fail every matching response.
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x-☃</ExposeHeader></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>ETag&#13;&#10;Set-Cookie: a=b</ExposeHeader></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x amz</ExposeHeader></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      // The schema requires an origin and a method in every rule, and names every element.
      ['<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>', 'MalformedXML'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>', 'MalformedXML'],
      ['<CORSConfiguration><CORSRule/></CORSConfiguration>', 'MalformedXML'],
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethods>PUT</AllowedMethods></CORSRule></CORSConfiguration>', 'MalformedXML'],
      // No wildcard in ExposeHeader (x-amz-meta-* would expose nothing), and an ID of at most 255 characters.
      ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x-amz-meta-*</ExposeHeader></CORSRule></CORSConfiguration>', 'InvalidRequest'],
      [`<CORSConfiguration><CORSRule><ID>${'i'.repeat(256)}</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`, 'InvalidRequest'],
    ];
    for (const [body, code] of cases) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { cors: '' }, body });
      assert.equal(res.status, 400, body);
      assert.equal(xmlField(res.text, 'Code'), code, body);
    }
    assert.equal((await s3Error(ctx.s3.send(new GetBucketCorsCommand({ Bucket: bucket })))).name, 'NoSuchCORSConfiguration');
  });

  test('preflight: rules decide; no bucket, no rules or no match is 403 AccessForbidden; a missing header is BadRequest', async () => {
    const bucket = await ctx.newBucket('preflight');
    const preflight = (headers: Record<string, string>, path = `/${bucket}/k`) => anon('OPTIONS', path, headers);
    // No rules, or no bucket: 403 as S3 answers, whether or not the method header is there.
    for (const [path, message] of [[`/${bucket}/k`, 'CORSResponse: CORS is not enabled for this bucket.'], ['/no-such-bucket-here/k', 'CORSResponse: Bucket not found']]) {
      for (const headers of [{ Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' }, { Origin: 'https://app.example' }] as Record<string, string>[]) {
        const r = await preflight(headers, path);
        const text = await r.text();
        assert.equal(r.status, 403, `${path} ${JSON.stringify(headers)}: ${text}`);
        assert.equal(xmlField(text, 'Code'), 'AccessForbidden');
        assert.equal(xmlField(text, 'Message'), message);
      }
    }
    await ctx.s3.send(new PutBucketCorsCommand({
      Bucket: bucket,
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://*.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['x-amz-*', 'content-type'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 300 }] },
    }));
    let res = await preflight({ Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'Content-Type, X-Amz-Date' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, PUT');
    assert.equal(res.headers.get('access-control-allow-headers'), 'content-type, x-amz-date');
    assert.equal(res.headers.get('access-control-max-age'), '300');
    for (const [headers, status, code] of [
      [{ Origin: 'https://evil.test', 'Access-Control-Request-Method': 'GET' }, 403, 'AccessForbidden'],
      [{ Origin: 'https://app.example', 'Access-Control-Request-Method': 'DELETE' }, 403, 'AccessForbidden'],
      [{ Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' }, 403, 'AccessForbidden'],
      [{ 'Access-Control-Request-Method': 'GET' }, 400, 'BadRequest'],
      [{ Origin: 'https://app.example' }, 400, 'BadRequest'],
    ] as const) {
      const r = await preflight(headers);
      assert.equal(r.status, status, JSON.stringify(headers));
      assert.equal(await codeOf(r), code);
    }
    // Actual requests carry the headers for a matching Origin only.
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const signed = await signedHeaders(ctx.server, { method: 'GET', path: `/${bucket}/k`, headers: { origin: 'https://app.example' } });
    const actual = await fetch(`${ctx.server.url}/${bucket}/k`, { headers: signed });
    assert.equal(actual.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(actual.headers.get('access-control-expose-headers'), 'ETag');
    // The rule's max age too, as S3 sends it on actual requests.
    assert.equal(actual.headers.get('access-control-max-age'), '300');
    assert.equal(actual.headers.get('access-control-allow-headers'), null);
    // And on errors: a page reads why it was refused, anonymous or signed, before its bucket is authorized or after.
    await ctx.s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://*.example'], AllowedMethods: ['GET', 'POST'] }] } }));
    const denied = await anon('GET', `/${bucket}/k`, { Origin: 'https://app.example' });
    assert.deepEqual([denied.status, denied.headers.get('access-control-allow-origin')], [403, 'https://app.example']);
    const badForm = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', headers: { Origin: 'https://app.example' }, body: formData({ ...postPolicyFields({ bucket, key: 'f', credentials: ROOT_KEY }), 'x-amz-signature': '0'.repeat(64) }, 'x') });
    assert.deepEqual([badForm.status, badForm.headers.get('access-control-allow-origin')], [403, 'https://app.example']);
    const missingSigned = await signedHeaders(ctx.server, { method: 'GET', path: `/${bucket}/missing`, headers: { origin: 'https://app.example' } });
    const missing = await fetch(`${ctx.server.url}/${bucket}/missing`, { headers: missingSigned });
    assert.deepEqual([missing.status, missing.headers.get('access-control-allow-origin')], [404, 'https://app.example']);
    // Only * is a wildcard: ? stands for itself.
    await ctx.s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://q?.example'], AllowedMethods: ['GET'], AllowedHeaders: ['x-h?'] }] } }));
    assert.equal((await preflight({ Origin: 'https://qz.example', 'Access-Control-Request-Method': 'GET' })).status, 403);
    assert.equal((await preflight({ Origin: 'https://q?.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-hz' })).status, 403);
    assert.equal((await preflight({ Origin: 'https://q?.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-h?' })).status, 200);
    await ctx.s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    res = await preflight({ Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' });
    assert.equal(res.status, 403);
  });

  test('the console\'s own routes answer OPTIONS themselves, untouched by bucket rules', async () => {
    const res = await anon('OPTIONS', '/api/v1/projects', { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET' });
    assert.notEqual(await codeOf(res.clone()), 'AccessForbidden');
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

describe('POST object (browser forms)', () => {
  const post = (bucket: string, fields: Record<string, string>, file: string | Buffer = 'form body', filename = 'a.txt') =>
    fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(fields, file, filename) });

  test('SigV4 and SigV2 policies upload; ${filename}, metadata, checksum and success_action_redirect apply', async () => {
    const bucket = await ctx.newBucket('post');
    const v4 = postPolicyFields({ bucket, key: 'v4/${filename}', credentials: ROOT_KEY, fields: { 'Content-Type': 'text/plain', 'x-amz-meta-color': 'blue', success_action_redirect: 'https://app.example/done?x=1' }, conditions: [['starts-with', '$key', 'v4/']] });
    const res = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(v4, 'four', 'name with space.txt'), redirect: 'manual' });
    assert.equal(res.status, 303, await res.clone().text());
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.searchParams.get('key'), 'v4/name with space.txt');
    assert.equal(location.searchParams.get('x'), '1');
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'v4/name with space.txt' }));
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { color: 'blue' });
    const v2 = await post(bucket, postPolicyFields({ bucket, key: 'v2.txt', credentials: ROOT_KEY, version: 'v2', fields: { 'x-amz-checksum-crc32': crc32Base64('body') } }), 'body');
    assert.equal(v2.status, 204, await v2.clone().text());
    const bad = await post(bucket, postPolicyFields({ bucket, key: 'crc.txt', credentials: ROOT_KEY, fields: { 'x-amz-checksum-crc32': 'AAAAAA==' } }), 'body');
    assert.equal(bad.status, 400);
    assert.equal(await codeOf(bad), 'BadDigest');
    await absent(bucket, 'crc.txt');
  });

  test('conditions not met are 403 naming the condition; limits and malformed forms get AWS codes; nothing is stored', async () => {
    const bucket = await ctx.newBucket('postbad');
    const before = await blobFiles(ctx.server);
    const cases: [string, Record<string, string>, string | Buffer, number, string, RegExp?][] = [
      ['wrong key', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), key: 'other.txt' }, 'x', 403, 'AccessDenied', /Policy Condition failed: \["eq","\$key","ok.txt"\]/],
      ['extra field', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), 'x-amz-meta-sneaky': '1' }, 'x', 403, 'AccessDenied', /Extra input fields: x-amz-meta-sneaky/],
      ['expired', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, expiresInSeconds: -10 }), 'x', 403, 'AccessDenied', /Policy expired/],
      ['too large', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, conditions: [['content-length-range', 0, 4]] }), '12345', 400, 'EntityTooLarge'],
      ['too small', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, conditions: [['content-length-range', 10, 20]] }), '123', 400, 'EntityTooSmall'],
      ['bad signature', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), 'x-amz-signature': '0'.repeat(64) }, 'x', 403, 'SignatureDoesNotMatch'],
      ['policy not JSON', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), policy: Buffer.from('nope').toString('base64') }, 'x', 403, 'SignatureDoesNotMatch'],
      ['oversize fields', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), 'x-ignore-padding': 'p'.repeat(21 * 1024) }, 'x', 400, 'MaxPostPreDataLengthExceededError'],
      ['anonymous on a private bucket', { key: 'ok.txt' }, 'x', 403, 'AccessDenied'],
      ['no key', { ...postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }), key: '' }, 'x', 403, 'AccessDenied'],
      // Every type of a Content-Type list must meet starts-with, or image/ would let HTML in.
      ['a type list', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, fields: { 'Content-Type': 'image/png, text/html' }, conditions: [['starts-with', '$Content-Type', 'image/']] }), 'x', 403, 'AccessDenied', /Policy Condition failed: \["starts-with","\$Content-Type","image\/"\]/],
      ['a condition on a field without its $', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, conditions: [['eq', 'success_action_status', '201']] }), 'x', 403, 'AccessDenied', /Policy Condition failed: \["eq","success_action_status","201"\]/],
      ['a length range of words', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, conditions: [['content-length-range', 'test', '10']] }), 'x', 403, 'AccessDenied', /Policy Condition failed/],
      ['another region', postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, region: 'eu-west-1' }), 'x', 400, 'InvalidArgument', /^the region 'eu-west-1' is wrong; expecting 'us-east-1'$/],
      ['SigV4 without its signature', Object.fromEntries(Object.entries(postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY })).filter(([k]) => k !== 'x-amz-signature')), 'x', 400, 'InvalidArgument', /field named 'X-Amz-Signature'/],
    ];
    for (const [name, fields, file, status, code, message] of cases) {
      const res = await post(bucket, fields, file);
      const text = await res.text();
      assert.equal(res.status, status, `${name}: ${text}`);
      assert.equal(xmlField(text, 'Code'), code, name);
      if (message) assert.match((xmlField(text, 'Message') ?? '').replace(/&quot;/g, '"').replace(/&apos;/g, "'"), message, name);
    }
    const region = await post(bucket, postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY, region: 'eu-west-1' }));
    const regionText = await region.text();
    assert.deepEqual([xmlField(regionText, 'ArgumentName'), xmlField(regionText, 'Region')], ['X-Amz-Credential', 'us-east-1']);
    // No file part, and a body that is not multipart/form-data.
    const noFile = new FormData();
    for (const [k, v] of Object.entries(postPolicyFields({ bucket, key: 'ok.txt', credentials: ROOT_KEY }))) noFile.append(k, v);
    const res = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: noFile });
    assert.equal(res.status, 400);
    assert.equal(await codeOf(res), 'IncorrectNumberOfFilesInPostRequest');
    const plain = await anon('POST', `/${bucket}`, { 'content-type': 'text/plain' }, 'hello');
    assert.equal(plain.status, 412);
    await absent(bucket, 'ok.txt');
    await absent(bucket, 'other.txt');
    assert.deepEqual(await blobsAddedSince(ctx.server, before), [], 'no blob left behind');
  });

  test('${filename} is filled in every field before the policy is checked, with the file\'s name and not its folders', async () => {
    const bucket = await ctx.newBucket('postname');
    const fields = postPolicyFields({
      bucket,
      key: 'in/${filename}',
      credentials: ROOT_KEY,
      fields: { 'x-amz-meta-original': '${filename}', 'Content-Disposition': 'attachment; filename="${filename}"' },
      conditions: [['eq', '$x-amz-meta-original', 'photo.jpg'], ['starts-with', '$Content-Disposition', 'attachment;']],
    });
    for (const sent of ['C:\\Users\\me\\photo.jpg', 'dir/sub/photo.jpg']) {
      const res = await post(bucket, fields, 'jpeg bytes', sent);
      assert.equal(res.status, 204, `${sent}: ${await res.text()}`);
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'in/photo.jpg' }));
      assert.deepEqual([head.Metadata, head.ContentDisposition], [{ original: 'photo.jpg' }, 'attachment; filename="photo.jpg"'], sent);
    }
    // An exact key condition is met by the key as filled in, not by the field as sent.
    const exact = { ...postPolicyFields({ bucket, key: 'in/exact.jpg', credentials: ROOT_KEY }), key: 'in/${filename}' };
    assert.equal((await post(bucket, exact, 'x', 'exact.jpg')).status, 204);
    assert.equal((await post(bucket, exact, 'x', 'other.jpg')).status, 403);
    await absent(bucket, 'in/other.jpg');
  });

  test('a file sent as text content (no filename) is stored; one whose bytes are not UTF-8 is refused; the 201 reply is in no namespace', async () => {
    const bucket = await ctx.newBucket('posttext');
    const form = new FormData();
    for (const [k, v] of Object.entries(postPolicyFields({ bucket, key: 'note.txt', credentials: ROOT_KEY, fields: { success_action_status: '201' } }))) form.append(k, v);
    form.append('file', 'typed into a textarea: café');
    const res = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: form });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.match(text, /<PostResponse><Location>/, 'no xmlns: a parser asking for a bare <Key> finds it');
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'note.txt' }));
    assert.equal(await got.Body!.transformToString(), 'typed into a textarea: café');
    // Up to 1 MiB of it, to the byte.
    for (const [size, status] of [[1024 * 1024, 204], [1024 * 1024 + 1, 400]] as const) {
      const big = new FormData();
      for (const [k, v] of Object.entries(postPolicyFields({ bucket, key: `big-${size}`, credentials: ROOT_KEY }))) big.append(k, v);
      big.append('file', 'x'.repeat(size));
      assert.equal((await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: big })).status, status, String(size));
    }
    // The same part holding bytes that are not UTF-8 would be stored altered: refused.
    const boundary = 'skepboundary';
    const parts = Object.entries(postPolicyFields({ bucket, key: 'binary.bin', credentials: ROOT_KEY }))
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('');
    const body = Buffer.concat([Buffer.from(`${parts}--${boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n`), Buffer.from([0xff, 0xfe, 0x00, 0x89]), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const binary = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    assert.deepEqual([binary.status, await codeOf(binary)], [400, 'InvalidArgument']);
    await absent(bucket, 'binary.bin');
  });

  test('fields stored as response headers: kept as the form\'s UTF-8 bytes; a control character or a bad name is InvalidArgument and stores nothing', async () => {
    // A form field, unlike a request header, can hold any text. Stored as it was, a value beyond
    // ISO-8859-1 or with a line break made every later GET and HEAD of the object a 500.
    const bucket = await ctx.newBucket('posthdr');
    const before = await blobFiles(ctx.server);
    const cases: [string, string, string][] = [
      ['Content-Type', 'text/html\r\nSet-Cookie: a=b', 'Header value cannot contain control characters.'],
      ['Cache-Control', 'no-cache\u0000', 'Header value cannot contain control characters.'],
      ['x-amz-meta-note', 'line\r\nbreak', 'Header value cannot contain control characters.'],
      ['x-amz-meta-two words', 'x', 'Header name is not a valid HTTP token.'],
    ];
    for (const [name, value, message] of cases) {
      const res = await post(bucket, postPolicyFields({ bucket, key: 'h.txt', credentials: ROOT_KEY, fields: { [name]: value } }));
      const text = await res.text();
      assert.equal(res.status, 400, `${name}: ${text}`);
      assert.equal(xmlField(text, 'Code'), 'InvalidArgument', name);
      assert.equal(xmlField(text, 'Message'), message, name);
      assert.equal(xmlField(text, 'ArgumentName'), name.toLowerCase(), name);
      await absent(bucket, 'h.txt');
    }
    assert.deepEqual(await blobsAddedSince(ctx.server, before), [], 'no blob left behind');
    // Text beyond ASCII goes back as the UTF-8 bytes the form sent, on GET as on HEAD.
    const fields = { 'Content-Type': 'text/plain; name=☃', 'Content-Disposition': 'attachment; filename="résumé.txt"', 'x-amz-meta-city': 'Zürich' };
    const ok = await post(bucket, postPolicyFields({ bucket, key: 'utf8.txt', credentials: ROOT_KEY, fields }), 'hello');
    assert.equal(ok.status, 204, await ok.clone().text());
    for (const method of ['GET', 'HEAD']) {
      const res = await raw(ctx.server, { method, path: `/${bucket}/utf8.txt` });
      assert.equal(res.status, 200, method);
      const bytes = (name: string) => Buffer.from(res.headers[name] as string, 'latin1').toString('utf8');
      assert.equal(bytes('content-type'), fields['Content-Type'], method);
      assert.equal(bytes('content-disposition'), fields['Content-Disposition'], method);
      assert.equal(bytes('x-amz-meta-city'), 'Zürich', method);
    }
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'utf8.txt' }))).Body!.transformToString(), 'hello');
  });

  test('success_action_redirect: a URL S3 cannot interpret is treated as absent; non-ASCII is percent-encoded', async () => {
    const bucket = await ctx.newBucket('postredir');
    const upload = (key: string, redirect: string, extra: Record<string, string> = {}) =>
      fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(postPolicyFields({ bucket, key, credentials: ROOT_KEY, fields: { success_action_redirect: redirect, ...extra } }), 'body'), redirect: 'manual' });
    // Before, each of these stored the object and then answered 500: the client saw a failure for an upload that had happened.
    for (const [key, redirect, extra, status] of [
      ['crlf', 'https://app.example/done\r\nSet-Cookie: a=b', {}, 204],
      ['not-a-url', 'not a url', {}, 204],
      ['status', 'https://app.example/\u0000', { success_action_status: '201' }, 201],
    ] as const) {
      const res = await upload(key, redirect, extra);
      assert.equal(res.status, status, `${key}: ${await res.clone().text()}`);
      assert.equal(res.headers.get('location'), `${ctx.server.url}/${bucket}/${key}`, key);
      await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    }
    const res = await upload('snow', 'https://app.example/☃/done#top');
    assert.equal(res.status, 303, await res.clone().text());
    const location = res.headers.get('location')!;
    assert.ok(location.startsWith('https://app.example/%E2%98%83/done?bucket='), location);
    assert.ok(location.endsWith('#top'), location);
    assert.equal(new URL(location).searchParams.get('key'), 'snow');
  });
});

describe('POST object: key bytes', () => {
  const MARK = '\uFFFD';
  /** POSTs a signed form whose U+FFFD (in the key field or the file's name) is sent as `bytes`. */
  async function postWithBytes(bucket: string, key: string, filename: string, bytes: Buffer): Promise<Response> {
    const form = await formBytes(formData(postPolicyFields({ bucket, key, credentials: ROOT_KEY }), 'form body', filename));
    const at = form.body.indexOf(MARK);
    assert.ok(at >= 0);
    const body = Buffer.concat([form.body.subarray(0, at), bytes, form.body.subarray(at + Buffer.byteLength(MARK))]);
    return fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body, headers: { 'content-type': form.contentType } });
  }

  test('a key field or ${filename} whose bytes are not UTF-8 is InvalidURI, as in a path; two such names do not become one U+FFFD key', async () => {
    const bucket = await ctx.newBucket('postutf');
    for (const bad of ['ff', 'fe', 'c0af', 'eda080']) {
      for (const [key, filename] of [[`up/x${MARK}y`, 'a.txt'], ['up/${filename}', `x${MARK}y`]]) {
        const res = await postWithBytes(bucket, key, filename, Buffer.from(bad, 'hex'));
        assert.equal(res.status, 400, `${bad} ${key}`);
        assert.equal(await codeOf(res), 'InvalidURI');
      }
    }
    // A decoded form cannot tell U+FFFD sent as its bytes from a bad byte: through a form it is refused too
    // (a path takes it). A bad file name the key does not use is no matter.
    assert.equal(await codeOf(await postWithBytes(bucket, `up/x${MARK}y`, 'a.txt', Buffer.from(MARK))), 'InvalidURI');
    assert.equal((await postWithBytes(bucket, 'up/plain', `x${MARK}y`, Buffer.from('ff', 'hex'))).status, 204);
    // The file's name is put in as sent, a '$&' in it included.
    assert.equal((await postWithBytes(bucket, 'up/${filename}', `caf\u00e9 $&${MARK}`, Buffer.from('.txt'))).status, 204);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents?.map((o) => o.Key).sort(), ['up/caf\u00e9 $&.txt', 'up/plain']);
  });

  test('parts that name their charset (Apache HttpClient), and filename*= (.NET), are read by it: UTF-8 text in the Latin-1 range included', async () => {
    const bucket = await ctx.newBucket('postcharset');
    const fields = postPolicyFields({ bucket, key: 'cs/caf\u00e9-${filename}', credentials: ROOT_KEY, conditions: [['starts-with', '$key', 'cs/'], ['eq', '$x-amz-meta-note', 'na\u00efve']], fields: { 'x-amz-meta-note': 'na\u00efve' } });
    const boundary = '----skep-charset';
    const parts: Buffer[] = [];
    for (const [name, value] of Object.entries(fields)) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n${value}\r\n`, 'utf8'));
    }
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=utf-8''r%C3%A9sum%C3%A9.txt\r\nContent-Type: text/plain\r\n\r\nform body\r\n--${boundary}--\r\n`, 'utf8'));
    const res = await fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    // 204: the policy's condition on x-amz-meta-note held, so the field was read as the text sent.
    assert.equal(res.status, 204, await res.clone().text());
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents?.map((o) => o.Key), ['cs/caf\u00e9-r\u00e9sum\u00e9.txt']);
  });
});

describe('POST object: what PutObject does besides storing', () => {
  const post = (bucket: string, key: string, fields: Record<string, string>) =>
    fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(postPolicyFields({ bucket, key, credentials: ROOT_KEY, fields }), `body of ${key}`) });

  test('encryption fields apply as PutObject\'s headers: SSE-S3 and SSE-C are stored and answered; KMS, bad values and bad keys store nothing', async () => {
    const bucket = await ctx.newBucket('postsse');
    let res = await post(bucket, 's3.txt', { 'x-amz-server-side-encryption': 'AES256' });
    assert.equal(res.status, 204, await res.clone().text());
    assert.equal(res.headers.get('x-amz-server-side-encryption'), 'AES256');
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 's3.txt' }))).ServerSideEncryption, 'AES256');

    const customerKey = randomBytes(32);
    const keyMd5 = createHash('md5').update(customerKey).digest('base64');
    const ssec = {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': customerKey.toString('base64'),
      'x-amz-server-side-encryption-customer-key-md5': keyMd5,
    };
    res = await post(bucket, 'c.txt', ssec);
    assert.equal(res.status, 204, await res.clone().text());
    assert.equal(res.headers.get('x-amz-server-side-encryption-customer-algorithm'), 'AES256');
    assert.equal(res.headers.get('x-amz-server-side-encryption-customer-key-md5'), keyMd5);
    // Readable with its key only.
    const without = await raw(ctx.server, { method: 'GET', path: `/${bucket}/c.txt` });
    assert.equal(without.status, 400);
    assert.equal(xmlField(without.text, 'Code'), 'InvalidRequest');
    const withKey = await raw(ctx.server, { method: 'GET', path: `/${bucket}/c.txt`, headers: ssec });
    assert.equal(withKey.status, 200);
    assert.equal(withKey.text, 'body of c.txt');

    const before = await blobFiles(ctx.server);
    for (const [name, fields, status, code] of [
      ['KMS', { 'x-amz-server-side-encryption': 'aws:kms' }, 501, 'NotImplemented'],
      ['unknown algorithm', { 'x-amz-server-side-encryption': 'bogus' }, 400, 'InvalidArgument'],
      ['SSE-S3 and SSE-C', { 'x-amz-server-side-encryption': 'AES256', ...ssec }, 400, 'InvalidArgument'],
      ['wrong key MD5', { ...ssec, 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('other').digest('base64') }, 400, 'InvalidArgument'],
      ['key without algorithm', { 'x-amz-server-side-encryption-customer-key': ssec['x-amz-server-side-encryption-customer-key'], 'x-amz-server-side-encryption-customer-key-md5': keyMd5 }, 400, 'InvalidArgument'],
    ] as const) {
      const r = await post(bucket, 'refused.txt', fields);
      const text = await r.text();
      assert.equal(r.status, status, `${name}: ${text}`);
      assert.equal(xmlField(text, 'Code'), code, name);
      await absent(bucket, 'refused.txt');
    }
    assert.deepEqual(await blobsAddedSince(ctx.server, before), [], 'no blob left behind');
  });

  test('in a versioned bucket the reply names the version made', async () => {
    const bucket = await ctx.newBucket('postver');
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const res = await post(bucket, 'v.txt', {});
    assert.equal(res.status, 204, await res.clone().text());
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'v.txt' }));
    assert.ok(head.VersionId);
    assert.equal(res.headers.get('x-amz-version-id'), head.VersionId);
  });

  test('Location is the object\'s absolute URL, path-style or virtual-hosted as the form was posted', async () => {
    const bucket = await ctx.newBucket('postloc');
    const key = 'dir/a b+c';
    // Form-encoded as in CompleteMultipartUploadResult: '/' as %2F, ' ' as '+'.
    const encodedKey = 'dir%2Fa+b%2Bc';
    const res = await post(bucket, key, { success_action_status: '201' });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.equal(res.headers.get('location'), `${ctx.server.url}/${bucket}/${encodedKey}`);
    assert.equal(xmlField(text, 'Location'), `${ctx.server.url}/${bucket}/${encodedKey}`);
    const host = `${bucket}.s3.localhost:${ctx.server.port}`;
    const form = await formBytes(formData(postPolicyFields({ bucket, key, credentials: ROOT_KEY }), 'virtual'));
    const vhost = await raw(ctx.server, { method: 'POST', host, path: '/', sign: false, headers: { 'content-type': form.contentType }, body: form.body });
    assert.equal(vhost.status, 204, vhost.text);
    assert.equal(vhost.headers.location, `http://${host}/${encodedKey}`);
  });

  test('a form that ends inside its file is 400 MalformedPOSTRequest and stores nothing', async () => {
    const bucket = await ctx.newBucket('postcut');
    const before = await blobFiles(ctx.server);
    const form = await formBytes(formData(postPolicyFields({ bucket, key: 'cut.bin', credentials: ROOT_KEY }), randomBytes(5000)));
    const closing = form.body.lastIndexOf('\r\n--');
    for (const [name, body] of [['no closing boundary', form.body.subarray(0, closing)], ['cut mid-file', form.body.subarray(0, form.body.length - 2500)]] as const) {
      const res = await raw(ctx.server, { method: 'POST', path: `/${bucket}`, sign: false, headers: { 'content-type': form.contentType }, body });
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedPOSTRequest', name);
      await absent(bucket, 'cut.bin');
    }
    assert.deepEqual(await blobsAddedSince(ctx.server, before), [], 'no blob left behind');
  });
});

describe('SigV2 over raw HTTP', () => {
  test('a header-signed PUT and GET work; a wrong signature is 403 SignatureDoesNotMatch and stores nothing', async () => {
    const bucket = await ctx.newBucket('v2hdr');
    const date = new Date().toUTCString();
    const sign = (method: string, key: string, type = '') => `AWS ${ROOT_KEY.accessKeyId}:${signV2(ROOT_KEY.secretAccessKey, `${method}\n\n${type}\n${date}\n/${bucket}/${key}`)}`;
    const put = await anon('PUT', `/${bucket}/k`, { Date: date, 'Content-Type': 'text/plain', Authorization: sign('PUT', 'k', 'text/plain') }, 'via sigv2');
    assert.equal(put.status, 200, await put.clone().text());
    const get = await anon('GET', `/${bucket}/k`, { Date: date, Authorization: sign('GET', 'k') });
    assert.equal(await get.text(), 'via sigv2');
    const bad = await anon('PUT', `/${bucket}/bad`, { Date: date, Authorization: sign('PUT', 'other') }, 'x');
    assert.equal(bad.status, 403);
    assert.equal(await codeOf(bad), 'SignatureDoesNotMatch');
    await absent(bucket, 'bad');
  });

  test('a server started with SigV2 off refuses it with InvalidRequest naming AWS4-HMAC-SHA256', async () => {
    const strict = await startTestServer({ sigv2: false });
    try {
      const date = new Date().toUTCString();
      const auth = `AWS ${ROOT_KEY.accessKeyId}:${signV2(ROOT_KEY.secretAccessKey, `GET\n\n\n${date}\n/`)}`;
      const res = await fetch(`${strict.url}/`, { headers: { Date: date, Authorization: auth } });
      assert.equal(res.status, 400);
      const text = await res.text();
      assert.equal(xmlField(text, 'Code'), 'InvalidRequest');
      assert.match(text, /AWS4-HMAC-SHA256/);
    } finally {
      await strict.stop();
    }
  });

  test('an expired SigV2 URL is 403 AccessDenied', async () => {
    const bucket = await ctx.newBucket('v2exp');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const expires = Math.floor(Date.now() / 1000) - 5;
    const sig = signV2(ROOT_KEY.secretAccessKey, `GET\n\n\n${expires}\n/${bucket}/k`);
    const res = await anon('GET', `/${bucket}/k?AWSAccessKeyId=${ROOT_KEY.accessKeyId}&Expires=${expires}&Signature=${encodeURIComponent(sig)}`);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
  });
});

describe('protocol details s3-tests checks', () => {
  test('Expect: 100-continue is answered only after authentication; a refused upload gets its error instead', async () => {
    const bucket = await ctx.newBucket('expect');
    const exchange = (headers: Record<string, string>, contentLength = '5', key = 'k') =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(ctx.server.port, '127.0.0.1');
        let text = '';
        socket.on('data', (c) => {
          text += c.toString('latin1');
          if (/\r\n\r\n/.test(text)) {
            socket.destroy();
            resolve(text.split('\r\n')[0]);
          }
        });
        socket.on('error', reject);
        socket.write(`PUT /${bucket}/${key} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\nContent-Length: ${contentLength}\r\nExpect: 100-continue\r\n\r\n`);
      });
    const good = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.match(await exchange(good), /^HTTP\/1\.1 100 Continue/);
    const wrong = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, payloadHash: 'UNSIGNED-PAYLOAD', sign: { accessKeyId: ROOT_KEY.accessKeyId, secretAccessKey: 'wrong' } });
    assert.match(await exchange(wrong), /^HTTP\/1\.1 403 /);
    assert.match(await exchange({ host: `127.0.0.1:${ctx.server.port}` }), /^HTTP\/1\.1 403 /, 'anonymous, private bucket');
    // Refusals the headers alone decide are answered before the body too.
    const huge = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, payloadHash: 'UNSIGNED-PAYLOAD' });
    assert.match(await exchange(huge, String(6 * 1024 ** 3)), /^HTTP\/1\.1 400 /, 'over 5 GiB');
    const storageClass = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'x-amz-storage-class': 'BOGUS' } });
    assert.match(await exchange(storageClass), /^HTTP\/1\.1 400 /, 'an unknown storage class');
    // A write condition the stored object fails: the body would be thrown away.
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'taken', Body: 'first' }));
    const taken = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/taken`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'if-none-match': '*' } });
    assert.match(await exchange(taken, String(20 * 1024 * 1024), 'taken'), /^HTTP\/1\.1 412 /, 'If-None-Match: * on a stored key');
    const stale = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/taken`, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'if-match': '"00000000000000000000000000000000"' } });
    assert.match(await exchange(stale, '5', 'taken'), /^HTTP\/1\.1 412 /, 'If-Match with a stale ETag');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).$metadata.httpStatusCode, 404, 'nothing stored');
  });

  test('an Expect value other than 100-continue is 417 Expectation Failed and stores nothing', async () => {
    const bucket = await ctx.newBucket('badexpect');
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers: { expect: 'something-else' }, body: 'x' });
    assert.equal(res.status, 417);
    await absent(bucket, 'k');
  });

  test('tags come back sorted by key', async () => {
    const bucket = await ctx.newBucket('tags');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    await ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'k', Tagging: { TagSet: [{ Key: 'zeta', Value: '1' }, { Key: 'alpha', Value: '2' }, { Key: 'Mid', Value: '3' }] } }));
    const tags = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }));
    assert.deepEqual(tags.TagSet?.map((t) => t.Key), ['Mid', 'alpha', 'zeta']);
  });

  test('CreateBucket with x-amz-acl public-read under the default ownership is InvalidBucketAclWithObjectOwnership and creates nothing', async () => {
    const name = ctx.bucketName('aclcreate');
    assert.equal((await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: name, ACL: 'public-read' })))).name, 'InvalidBucketAclWithObjectOwnership');
    const head = await raw(ctx.server, { method: 'HEAD', path: `/${name}` });
    assert.equal(head.status, 404);
  });

  test('CreateBucket reads its grant headers as PutBucketAcl does: a public ACL is InvalidBucketAclWithBlockPublicAccessError, any ACL under BucketOwnerEnforced InvalidBucketAclWithObjectOwnership', async () => {
    const allUsers = 'uri=http://acs.amazonaws.com/groups/global/AllUsers';
    const authenticated = 'uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
    const refused: [Partial<ConstructorParameters<typeof CreateBucketCommand>[0]>, string][] = [
      [{ ObjectOwnership: 'ObjectWriter', ACL: 'public-read' }, 'InvalidBucketAclWithBlockPublicAccessError'],
      [{ ObjectOwnership: 'ObjectWriter', GrantRead: allUsers }, 'InvalidBucketAclWithBlockPublicAccessError'],
      [{ ObjectOwnership: 'BucketOwnerPreferred', GrantRead: allUsers, GrantWrite: allUsers }, 'InvalidBucketAclWithBlockPublicAccessError'],
      // AuthenticatedUsers (every AWS account) is public to Block Public Access too.
      [{ ObjectOwnership: 'ObjectWriter', ACL: 'authenticated-read' }, 'InvalidBucketAclWithBlockPublicAccessError'],
      [{ ObjectOwnership: 'BucketOwnerPreferred', GrantRead: authenticated }, 'InvalidBucketAclWithBlockPublicAccessError'],
      [{ GrantRead: authenticated }, 'InvalidBucketAclWithObjectOwnership'],
      [{ GrantRead: allUsers }, 'InvalidBucketAclWithObjectOwnership'],
    ];
    for (const [input, code] of refused) {
      const name = ctx.bucketName('aclgrant');
      const err = await s3Error(ctx.s3.send(new CreateBucketCommand({ Bucket: name, ...input })));
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], [code, 400], JSON.stringify(input));
      assert.equal((await raw(ctx.server, { method: 'HEAD', path: `/${name}` })).status, 404, 'nothing created');
    }
    // The owner's own FULL_CONTROL is the private ACL, which BucketOwnerEnforced accepts.
    const own = ctx.bucketName('aclgrant');
    await ctx.s3.send(new CreateBucketCommand({ Bucket: own, GrantFullControl: `id=${ctx.server.bootstrap.projectId}` }));
    assert.equal((await raw(ctx.server, { method: 'HEAD', path: `/${own}` })).status, 200);
  });
});
