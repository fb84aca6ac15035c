import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetObjectCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { issue } from './helpers/tokens.js';

// Who and what a bucket policy's statements are matched against, as AWS does: temporary
// credentials are their token.

const ctx = useS3Server('pact');

function policy(bucket: string, statements: Record<string, unknown>[]): PutBucketPolicyCommand {
  return new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
}

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
