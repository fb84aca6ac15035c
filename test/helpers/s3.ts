import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';

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
