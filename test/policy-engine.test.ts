import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DeletePublicAccessBlockCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { useS3Server } from './helpers/server.js';

// Bucket policies end to end: wildcard resources cannot stall the server.

const ctx = useS3Server('poleng');
const anon = (path: string) => fetch(`${ctx.server.url}${path}`);

function policyFor(bucket: string, statement: object): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Resource: `arn:aws:s3:::${bucket}/*`, Action: 's3:GetObject', ...statement }] });
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
