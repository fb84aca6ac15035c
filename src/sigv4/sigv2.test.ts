// SigV2 on AWS's published examples (the "Signing and authenticating REST requests" page of the
// S3 developer guide, credentials AKIAIOSFODNN7EXAMPLE), then authenticate() end to end.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAmzHeaders, canonicalResourceV2, signV2, stringToSignV2 } from './sigv2.js';
import { authenticate, type SignedRequest, type VerifyOptions } from './authenticate.js';
import { S3Error } from '../s3/errors.js';
import type { CredentialState, Principal, ResolvedCredential } from '../auth/principal.js';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function sts(method: string, resource: string, date: string, o: { md5?: string; type?: string; amz?: string[] } = {}): string {
  return stringToSignV2({ method, contentMd5: o.md5 ?? '', contentType: o.type ?? '', date, amzHeaders: canonicalAmzHeaders(o.amz ?? []), resource });
}

describe("AWS's SigV2 examples", () => {
  test('Object GET', () => {
    const s = sts('GET', canonicalResourceV2('/photos/puppy.jpg', '', 'johnsmith'), 'Tue, 27 Mar 2007 19:36:42 +0000');
    assert.equal(s, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg');
    assert.equal(signV2(SECRET, s), 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=');
  });

  test('Object PUT', () => {
    const s = sts('PUT', '/johnsmith/photos/puppy.jpg', 'Tue, 27 Mar 2007 21:15:45 +0000', { type: 'image/jpeg' });
    assert.equal(signV2(SECRET, s), 'MyyxeRY7whkBe+bq8fHCL/2kKUg=');
  });

  test('List (sub-resources that are not signed stay out of the resource)', () => {
    const resource = canonicalResourceV2('/', 'prefix=photos&max-keys=50&marker=puppy', 'johnsmith');
    assert.equal(resource, '/johnsmith/');
    assert.equal(signV2(SECRET, sts('GET', resource, 'Tue, 27 Mar 2007 19:42:41 +0000')), 'htDYFYduRNen8P9ZfE/s9SuKy0U=');
  });

  test('Fetch ACL', () => {
    const resource = canonicalResourceV2('/', 'acl', 'johnsmith');
    assert.equal(resource, '/johnsmith/?acl');
    assert.equal(signV2(SECRET, sts('GET', resource, 'Tue, 27 Mar 2007 19:44:46 +0000')), 'c2WLPFtWHVgbEmeEG93a4cG37dM=');
  });

  test('Delete (path style, x-amz-date as the date)', () => {
    const s = sts('DELETE', canonicalResourceV2('/johnsmith/photos/puppy.jpg', '', null), 'Tue, 27 Mar 2007 21:20:26 +0000');
    assert.equal(signV2(SECRET, s), 'lx3byBScXR6KzyMaifNkardMwNk=');
  });

  test('Upload (amz headers folded, sorted and joined)', () => {
    const amz = [
      'x-amz-acl', 'public-read',
      'X-Amz-Meta-ReviewedBy', 'joe@johnsmith.net',
      'X-Amz-Meta-ReviewedBy', 'jane@johnsmith.net',
      'X-Amz-Meta-FileChecksum', '0x02661779',
      'X-Amz-Meta-ChecksumAlgorithm', 'crc32',
    ];
    assert.equal(canonicalAmzHeaders(amz), 'x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n');
    const s = sts('PUT', '/static.johnsmith.net/db-backup.dat.gz', 'Tue, 27 Mar 2007 21:06:08 +0000', { md5: '4gJE4saaMU4BqNR0kLY+lw==', type: 'application/x-download', amz });
    assert.equal(signV2(SECRET, s), 'ilyl83RwaSoYIEdixDQcA4OnAnc=');
  });

  test('Query string authentication', () => {
    const s = sts('GET', '/johnsmith/photos/puppy.jpg', '1175139620');
    assert.equal(signV2(SECRET, s), 'NpgCjnDzrM+WFzoENXmpNDUsSn8=');
  });

  test('signed sub-resources are sorted and keep their decoded values', () => {
    assert.equal(canonicalResourceV2('/b/k', 'versionId=v%2B1&uploadId=u&x-id=GetObject&response-content-type=text%2Fplain', null), '/b/k?response-content-type=text/plain&uploadId=u&versionId=v+1');
  });
});

const PRINCIPAL: Principal = { accessKeyId: AK, projectId: 'p', tokenId: 't', permission: 'object-rw', bucketScope: null, billing: false };
const states = new Map<string, CredentialState>([[AK, 'active'], ['AKREVOKED', 'revoked'], ['AKEXPIRED', 'expired']]);
const opts = (now: Date, over: Partial<VerifyOptions> = {}): VerifyOptions => ({
  regions: ['us-east-1'],
  now,
  lookup: {
    async lookup(id): Promise<ResolvedCredential | null> {
      const state = states.get(id);
      return state ? { secrets: ['old-secret', SECRET], principal: { ...PRINCIPAL, accessKeyId: id }, state, expiresAt: null } : null;
    },
  },
  ...over,
});

function request(method: string, path: string, rawQuery: string, headers: Record<string, string>, hostBucket: string | null = null): SignedRequest {
  const rawHeaders = Object.entries(headers).flat();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method, rawPath: path, rawQuery, rawHeaders, headers: lower, hostBucket };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof S3Error, String(err));
    return err.code;
  }
  return 'ok';
}

describe('authenticate() with SigV2', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const now = new Date(date);
  const header = (ak = AK, secret = SECRET, resource = '/johnsmith/photos/puppy.jpg') =>
    `AWS ${ak}:${signV2(secret, `GET\n\n\n${date}\n${resource}`)}`;

  test('a header signature yields the principal (virtual-hosted and path style), with any valid secret', async () => {
    const virt = await authenticate(request('GET', '/photos/puppy.jpg', '', { Host: 'johnsmith.s3.x', Date: date, Authorization: header() }, 'johnsmith'), opts(now));
    assert.equal(virt?.principal.accessKeyId, AK);
    assert.equal(virt?.presigned, false);
    const path = await authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Host: 's3.x', Date: date, Authorization: header() }), opts(now));
    assert.equal(path?.principal.tokenId, 't');
  });

  test('x-amz-date signed the ways clients sign it', async () => {
    const amzDate = 'Tue, 27 Mar 2007 19:36:42 +0000';
    for (const toSign of [`GET\n\n\n\nx-amz-date:${amzDate}\n/b/k`, `GET\n\n\n${amzDate}\n/b/k`]) {
      const auth = `AWS ${AK}:${signV2(SECRET, toSign)}`;
      const ok = await authenticate(request('GET', '/b/k', '', { Host: 's3.x', 'X-Amz-Date': amzDate, Authorization: auth }), opts(now));
      assert.equal(ok?.principal.accessKeyId, AK);
    }
  });

  test('a wrong signature is SignatureDoesNotMatch; an unknown key InvalidAccessKeyId; skew RequestTimeTooSkewed', async () => {
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header(AK, 'wrong') }), opts(now))), 'SignatureDoesNotMatch');
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header('AKNOBODY') }), opts(now))), 'InvalidAccessKeyId');
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header() }), opts(new Date(now.getTime() + 20 * 60_000)))), 'RequestTimeTooSkewed');
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Authorization: header() }), opts(now))), 'AccessDenied');
    assert.equal(await code(authenticate(request('GET', '/b/k', '', { Date: date, Authorization: 'AWS nocolon' }), opts(now))), 'InvalidArgument');
  });

  test('a revoked or expired token is refused after its signature verifies', async () => {
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header('AKREVOKED', SECRET) }), opts(now))), 'InvalidAccessKeyId');
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header('AKEXPIRED', SECRET) }), opts(now))), 'ExpiredToken');
  });

  test('query-string authentication: valid until Expires, then AccessDenied', async () => {
    const expires = '1175139620';
    const sig = encodeURIComponent(signV2(SECRET, `GET\n\n\n${expires}\n/johnsmith/photos/puppy.jpg`));
    const query = `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${sig}`;
    const ok = await authenticate(request('GET', '/photos/puppy.jpg', query, { Host: 'johnsmith.s3.x' }, 'johnsmith'), opts(new Date(1175139000 * 1000)));
    assert.equal(ok?.presigned, true);
    assert.equal(ok?.expiresAt?.getTime(), 1175139620 * 1000);
    assert.equal(await code(authenticate(request('GET', '/photos/puppy.jpg', query, {}, 'johnsmith'), opts(new Date(1175139621 * 1000)))), 'AccessDenied');
    // The signature with its '+' unescaped still verifies.
    const plain = `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${decodeURIComponent(sig)}`;
    assert.equal((await authenticate(request('GET', '/photos/puppy.jpg', plain, {}, 'johnsmith'), opts(new Date(1175139000 * 1000))))?.presigned, true);
    assert.equal(await code(authenticate(request('GET', '/photos/kitten.jpg', query, {}, 'johnsmith'), opts(new Date(1175139000 * 1000)))), 'SignatureDoesNotMatch');
  });

  test('with SigV2 turned off both forms are InvalidRequest naming AWS4-HMAC-SHA256', async () => {
    assert.equal(await code(authenticate(request('GET', '/johnsmith/photos/puppy.jpg', '', { Date: date, Authorization: header() }), opts(now, { sigv2: false }))), 'InvalidRequest');
    assert.equal(await code(authenticate(request('GET', '/b/k', 'AWSAccessKeyId=x&Expires=1&Signature=y', {}), opts(now, { sigv2: false }))), 'InvalidRequest');
  });
});
