import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GetObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';

/** Awaits a request that must fail with an S3 error, and returns that error. */
export async function s3Error(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3ServiceException, `expected an S3 error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to fail');
}

/** An object's bytes, read whole. */
export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

export const md5Hex = (b: Buffer): string => createHash('md5').update(b).digest('hex');
