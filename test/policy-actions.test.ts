import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeletePublicAccessBlockCommand, GetBucketPolicyCommand, GetObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { xmlField } from './helpers/raw-s3.js';
import { issue } from './helpers/tokens.js';

// Who and what a bucket policy's statements are matched against, as AWS does: temporary
// credentials are their token; an anonymous caller never gets the policy itself, configuration
// writes or DeleteBucket, whatever a policy says.

const ctx = useS3Server('pact');

const anon = (method: string, path: string, init: RequestInit = {}) => fetch(`${ctx.server.url}${path}`, { method, ...init });

async function statusAndCode(res: Response): Promise<[number, string | undefined]> {
  return [res.status, xmlField(await res.text(), 'Code')];
}

function policy(bucket: string, statements: Record<string, unknown>[]): PutBucketPolicyCommand {
  return new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
}

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
