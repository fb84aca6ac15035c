// The presigner against AWS's published example and against our own verifier (authenticate.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { presign, presignObjectUrl } from './presign.js';
import { authenticate, type SignedRequest } from './authenticate.js';
import { S3Error } from '../s3/errors.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';

const AK = 'AKIASKEPPRESIGN00001';
const SECRET = 'presign/secret+Key=0123456789';
const PRINCIPAL: Principal = { accessKeyId: AK, projectId: 'p', tokenId: 't', permission: 'object-rw', bucketScope: null, billing: false };
const lookup: CredentialLookup = {
  async lookup(id) {
    return id === AK ? { secrets: [SECRET], principal: PRINCIPAL, state: 'active', expiresAt: null } : null;
  },
};
const NOW = new Date('2024-03-10T12:34:56Z');

/** The request a client such as fetch sends for `url`. */
function requestFor(method: string, url: string): SignedRequest {
  const u = new URL(url);
  return { method, rawPath: u.pathname, rawQuery: u.search.slice(1), rawHeaders: ['Host', u.host], headers: { host: u.host } };
}

describe('presign', () => {
  test("matches AWS's published GET example (Authenticating Requests: Using Query Parameters)", () => {
    const url = presign({
      method: 'GET',
      url: 'https://examplebucket.s3.amazonaws.com/test.txt',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      expiresIn: 86400,
      now: new Date('2013-05-24T00:00:00Z'),
    });
    assert.equal(
      url,
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
        '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
        '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  for (const key of ['plain.txt', 'dir/sub dir/file name.bin', 'ünï cödé/✓ 😀.txt', 'a+b=c&d?e#f%g', 'x//y', "it's (1)!*~"]) {
    test(`a URL for key ${JSON.stringify(key)} verifies with authenticate()`, async () => {
      for (const method of ['GET', 'PUT']) {
        const url = presignObjectUrl({ method, endpoint: 'http://127.0.0.1:9000/', bucket: 'my-bucket', key, accessKeyId: AK, secretAccessKey: SECRET, region: 'us-east-1', expiresIn: 600, now: NOW });
        const auth = await authenticate(requestFor(method, url), { regions: ['us-east-1'], now: NOW, lookup });
        assert.equal(auth?.presigned, true);
        assert.deepEqual(auth?.principal, PRINCIPAL);
        assert.equal(auth?.expiresAt?.getTime(), NOW.getTime() + 600_000);
        assert.deepEqual(auth?.payload, { kind: 'unsigned' });
      }
    });
  }

  test('the verifier refuses a presigned URL after it expires, for another method, or with a changed path', async () => {
    const url = presignObjectUrl({ method: 'GET', endpoint: 'http://localhost:9000', bucket: 'b', key: 'k', accessKeyId: AK, secretAccessKey: SECRET, region: 'us-east-1', expiresIn: 60, now: NOW });
    const opts = { regions: ['us-east-1'], now: new Date(NOW.getTime() + 61_000), lookup };
    await assert.rejects(authenticate(requestFor('GET', url), opts), (e: unknown) => e instanceof S3Error && e.code === 'AccessDenied');
    const now = { ...opts, now: NOW };
    await assert.rejects(authenticate(requestFor('PUT', url), now), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
    await assert.rejects(authenticate(requestFor('GET', url.replace('/b/k', '/b/j')), now), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
    await assert.rejects(authenticate(requestFor('GET', url.replace('localhost:9000', 'localhost:9001')), now), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
  });

  test('query parameters already on the URL are signed too', async () => {
    const url = presign({ method: 'GET', url: 'http://h:1/b/k?response-content-disposition=attachment%3B%20filename%3D%22k%22', accessKeyId: AK, secretAccessKey: SECRET, region: 'us-east-1', expiresIn: 10, now: NOW });
    assert.ok((await authenticate(requestFor('GET', url), { regions: ['us-east-1'], now: NOW, lookup }))?.presigned);
    const tampered = url.replace('attachment', 'inline');
    await assert.rejects(authenticate(requestFor('GET', tampered), { regions: ['us-east-1'], now: NOW, lookup }));
  });

  test('expiresIn outside 1..604800 is refused', () => {
    const base = { method: 'GET', url: 'http://h/b/k', accessKeyId: AK, secretAccessKey: SECRET, region: 'us-east-1', now: NOW };
    assert.throws(() => presign({ ...base, expiresIn: 0 }), RangeError);
    assert.throws(() => presign({ ...base, expiresIn: 604801 }), RangeError);
    assert.throws(() => presign({ ...base, expiresIn: 1.5 }), RangeError);
  });
});
