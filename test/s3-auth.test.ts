import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CopyObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3Error } from './helpers/s3.js';
import { ROOT_KEY, useS3Server } from './helpers/server.js';
import { crc32 } from 'node:zlib';
import {
  blobFiles,
  settledBlobFiles,
  raw,
  seedSignatureOf,
  send,
  sha256Hex,
  signedChunkedBody,
  signedChunkedBodyWithTrailer,
  signedHeaders,
  signer,
  queryString,
  sleep,
  unsignedChunkedBodyWithTrailer,
  xmlField,
} from './helpers/raw-s3.js';

// SigV4 through the SDK and by hand: header signatures, presigned URLs, clock skew, signed
// payload hashes and aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) bodies.

const ctx = useS3Server('auth');
const { newBucket } = ctx;

async function assertAbsent(bucket: string, key: string): Promise<void> {
  const err = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  assert.equal(err.$metadata.httpStatusCode, 404, `${key} must not exist`);
}

describe('header signatures', () => {
  test('a wrong secret is SignatureDoesNotMatch (403)', async () => {
    const bucket = await newBucket('wrongsecret');
    const bad = ctx.server.client({ credentials: { accessKeyId: ROOT_KEY.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 });
    const err = await s3Error(bad.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' })));
    assert.equal(err.name, 'SignatureDoesNotMatch');
    assert.equal(err.$metadata.httpStatusCode, 403);
    await assertAbsent(bucket, 'k');
    const list = await s3Error(bad.send(new ListBucketsCommand({})));
    assert.equal(list.name, 'SignatureDoesNotMatch');
  });

  test('an unknown access key is InvalidAccessKeyId (403)', async () => {
    const bad = ctx.server.client({ credentials: { accessKeyId: 'AKIDOESNOTEXIST00000', secretAccessKey: 'whatever' }, maxAttempts: 1 });
    const err = await s3Error(bad.send(new ListBucketsCommand({})));
    assert.equal(err.name, 'InvalidAccessKeyId');
    assert.equal(err.$metadata.httpStatusCode, 403);
  });

  test('a request signed 20 minutes away from the server clock is RequestTimeTooSkewed', async () => {
    const bucket = await newBucket('skew');
    const once = ctx.server.client({ maxAttempts: 1 });
    for (const shift of [20 * 60_000, -20 * 60_000]) {
      ctx.server.shiftClock(shift);
      try {
        const err = await s3Error(once.send(new PutObjectCommand({ Bucket: bucket, Key: 'skewed', Body: 'x' })));
        assert.equal(err.name, 'RequestTimeTooSkewed');
        assert.equal(err.$metadata.httpStatusCode, 403);
      } finally {
        ctx.server.shiftClock(-shift);
      }
    }
    await assertAbsent(bucket, 'skewed');
    // Within the 15-minute window it works.
    ctx.server.shiftClock(10 * 60_000);
    try {
      await ctx.server.client({ maxAttempts: 1 }).send(new PutObjectCommand({ Bucket: bucket, Key: 'ok', Body: 'x' }));
    } finally {
      ctx.server.shiftClock(-10 * 60_000);
    }
  });

  test('the SDK corrects its clock from the RequestTimeTooSkewed reply (ServerTime) and retries', async () => {
    const bucket = await newBucket('skewfix');
    ctx.server.shiftClock(40 * 60_000);
    try {
      const fresh = ctx.server.client();
      await fresh.send(new PutObjectCommand({ Bucket: bucket, Key: 'after-correction', Body: 'x' }));
      const got = await fresh.send(new GetObjectCommand({ Bucket: bucket, Key: 'after-correction' }));
      assert.equal(await got.Body!.transformToString(), 'x');
    } finally {
      ctx.server.shiftClock(-40 * 60_000);
    }
  });

  test('anonymous requests are AccessDenied', async () => {
    const bucket = await newBucket('anon');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'hidden' }));
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', `/${bucket}`],
      ['GET', `/${bucket}/secret`],
      ['PUT', `/${bucket}/anon-upload`],
      ['DELETE', `/${bucket}/secret`],
    ] as const) {
      const res = await fetch(`${ctx.server.url}${path}`, { method, body: method === 'PUT' ? 'x' : undefined });
      assert.equal(res.status, 403, `${method} ${path}`);
      const text = await res.text();
      assert.equal(xmlField(text, 'Code'), 'AccessDenied');
      assert.ok(!text.includes('hidden'));
    }
    await assertAbsent(bucket, 'anon-upload');
    const still = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret' }));
    assert.equal(await still.Body!.transformToString(), 'hidden');
  });

  test('a body changed after signing its SHA-256 is XAmzContentSHA256Mismatch and nothing is stored', async () => {
    const bucket = await newBucket('tamper');
    const before = await settledBlobFiles(ctx.server);
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/tampered`, body: 'the signed body', sendBody: 'the evil! body' });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'XAmzContentSHA256Mismatch');
    await assertAbsent(bucket, 'tampered');
    assert.deepEqual(await blobFiles(ctx.server), before, 'no blob left behind');
    // The same request untampered is accepted.
    const ok = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/tampered`, body: 'the signed body' });
    assert.equal(ok.status, 200);
  });

  test('a signed header changed after signing is SignatureDoesNotMatch', async () => {
    const bucket = await newBucket('hdrtamper');
    const headers = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, body: 'x', headers: { 'x-amz-meta-owner': 'alice' } });
    headers['x-amz-meta-owner'] = 'mallory';
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'content-length': '1' }, Buffer.from('x'));
    assert.equal(res.status, 403);
    assert.equal(xmlField(res.text, 'Code'), 'SignatureDoesNotMatch');
    // What skep signed, as text and as bytes (S3's fields), shows the client where they differ.
    const unescape = (t: string) => t.replace(/&#13;/g, '\r').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
    const hex = (t: string) => Buffer.from(unescape(t)).toString('hex').match(/../g)!.join(' ');
    assert.match(xmlField(res.text, 'CanonicalRequest') ?? '', /x-amz-meta-owner:mallory/);
    assert.equal(xmlField(res.text, 'CanonicalRequestBytes'), hex(xmlField(res.text, 'CanonicalRequest')!));
    assert.equal(xmlField(res.text, 'StringToSignBytes'), hex(xmlField(res.text, 'StringToSign')!));
    await assertAbsent(bucket, 'k');
  });
});

describe('presigned URLs', () => {
  test('presigned GET and PUT URLs work with plain fetch', async () => {
    const bucket = await newBucket('presign');
    const key = 'dir/presigned file ü+.txt';
    const putUrl = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    assert.match(putUrl, /X-Amz-Signature=/);
    const put = await fetch(putUrl, { method: 'PUT', body: 'uploaded via presigned PUT' });
    assert.equal(put.status, 200, await put.clone().text());
    const getUrl = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentType: 'text/x-presigned' }), { expiresIn: 300 });
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'text/x-presigned');
    assert.equal(await got.text(), 'uploaded via presigned PUT');
    // Changing the signed URL (another key) breaks the signature.
    const other = await fetch(getUrl.replace('presigned%20file', 'presigned%20filf'));
    assert.equal(other.status, 403);
    assert.equal(xmlField(await other.text(), 'Code'), 'SignatureDoesNotMatch');
  });

  test('an expired presigned URL is AccessDenied', async () => {
    const bucket = await newBucket('expired');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 60 });
    assert.equal((await fetch(url)).status, 200);
    ctx.server.shiftClock(120_000);
    try {
      const res = await fetch(url);
      assert.equal(res.status, 403);
      const text = await res.text();
      assert.equal(xmlField(text, 'Code'), 'AccessDenied');
      assert.match(xmlField(text, 'Message') ?? '', /expired/i);
    } finally {
      ctx.server.shiftClock(-120_000);
    }
    assert.equal((await fetch(url)).status, 200);
  });

  test('X-Amz-Expires over 604800 seconds, negative, or not a number is 400 AuthorizationQueryParametersError', async () => {
    const bucket = await newBucket('week');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 604800 });
    assert.equal((await fetch(url)).status, 200, 'exactly a week is allowed');
    // Out of range either way is a malformed URL, with AWS's code and words.
    for (const [expires, words] of [['604801', /X-Amz-Expires must be less than a week \(in seconds\); that is, the given X-Amz-Expires must be less than 604800 seconds/], ['-7', /X-Amz-Expires must be non-negative/]] as const) {
      const res = await fetch(url.replace('X-Amz-Expires=604800', `X-Amz-Expires=${expires}`));
      assert.equal(res.status, 400, expires);
      const text = await res.text();
      assert.equal(xmlField(text, 'Code'), 'AuthorizationQueryParametersError');
      assert.match(xmlField(text, 'Message') ?? '', words);
    }
    const garbage = await fetch(url.replace('X-Amz-Expires=604800', 'X-Amz-Expires=soon'));
    assert.equal(garbage.status, 400);
    assert.equal(xmlField(await garbage.text(), 'Code'), 'AuthorizationQueryParametersError');
  });

  test('a presigned PUT whose body does not match a signed Content-MD5 stores nothing', async () => {
    const bucket = await newBucket('presignmd5');
    const md5 = 'XrY7u+Ae7tCTyyK7j1rNww=='; // md5("hello world")
    const url = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'k', ContentMD5: md5 }), { expiresIn: 300, signableHeaders: new Set(['content-md5']) });
    const bad = await fetch(url, { method: 'PUT', body: 'goodbye world', headers: { 'content-md5': md5 } });
    assert.equal(bad.status, 400);
    assert.equal(xmlField(await bad.text(), 'Code'), 'BadDigest');
    await assertAbsent(bucket, 'k');
    const good = await fetch(url, { method: 'PUT', body: 'hello world', headers: { 'content-md5': md5 } });
    assert.equal(good.status, 200);
  });

  test('the x-amz-* headers a presigned URL carries in its query are the request\'s: metadata, tags, storage class, a copy source', async () => {
    const bucket = await newBucket('hoisted');
    const url = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'k', Metadata: { color: 'blue' }, Tagging: 'a=b', StorageClass: 'STANDARD_IA' }), { expiresIn: 300 });
    assert.match(url, /x-amz-meta-color=blue/, 'the SDK moves them into the signed query');
    const put = await fetch(url, { method: 'PUT', body: 'with metadata' });
    assert.equal(put.status, 200, await put.clone().text());
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.deepEqual([head.Metadata, head.StorageClass], [{ color: 'blue' }, 'STANDARD_IA']);
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, [{ Key: 'a', Value: 'b' }]);
    const copyUrl = await getSignedUrl(ctx.s3, new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/k` }), { expiresIn: 300 });
    const copy = await fetch(copyUrl, { method: 'PUT' });
    assert.equal(copy.status, 200, await copy.clone().text());
    assert.deepEqual((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy' }))).Metadata, { color: 'blue' });
    // One added to the URL after signing breaks the signature.
    const forged = await fetch(`${url}&x-amz-meta-extra=x`, { method: 'PUT', body: 'x' });
    assert.equal(forged.status, 403);
    // A value no header can hold is refused, not stored for every later read to fail on.
    for (const value of ['x\r\nSet-Cookie: a=b', 'x\u0000y', 'x\u007fy']) {
      const bad = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'bad', Metadata: { a: value } }), { expiresIn: 300 });
      const res = await fetch(bad, { method: 'PUT', body: 'x' });
      assert.deepEqual([res.status, xmlField(await res.text(), 'Code')], [400, 'InvalidArgument'], JSON.stringify(value));
      await assertAbsent(bucket, 'bad');
    }
    // x-amz-checksum-mode is the request's too (checksum values are not: S3 does not take them from a URL).
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'summed', Body: 'x', ChecksumAlgorithm: 'CRC32' }));
    const getUrl = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'summed', ChecksumMode: 'ENABLED' }), { expiresIn: 300 });
    assert.match(getUrl, /x-amz-checksum-mode=ENABLED/);
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    assert.ok(got.headers.get('x-amz-checksum-crc32'), 'the checksum comes back');
  });

  test('x-amz-* headers the signature does not cover are refused: a presigned PUT cannot become a copy, carry tags or lift a lock', async () => {
    const bucket = await newBucket('unsignedamz');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'secret', Body: 'not for the URL holder' }));
    const url = await getSignedUrl(ctx.s3, new PutObjectCommand({ Bucket: bucket, Key: 'slot' }), { expiresIn: 300 });
    const extras: Record<string, string>[] = [{ 'x-amz-copy-source': `/${bucket}/secret` }, { 'x-amz-tagging': 'a=1' }, { 'x-amz-meta-extra': 'x' }, { 'x-amz-bypass-governance-retention': 'true' }];
    for (const headers of extras) {
      const res = await fetch(url, { method: 'PUT', body: 'upload', headers });
      const text = await res.text();
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(xmlField(text, 'Code'), 'AccessDenied');
      assert.equal(xmlField(text, 'HeadersNotSigned'), Object.keys(headers)[0]);
      await assertAbsent(bucket, 'slot');
    }
    // x-amz-content-sha256 alone may go unsigned, as on S3.
    const ok = await fetch(url, { method: 'PUT', body: 'upload', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    assert.equal(ok.status, 200, await ok.text());
    // A header-signed request with an x-amz-* header outside SignedHeaders is refused too.
    const path = `/${bucket}/header-signed`;
    const headers = await signedHeaders(ctx.server, { method: 'PUT', path, body: 'x' });
    const res = await send(ctx.server, 'PUT', path, { ...headers, 'x-amz-tagging': 'a=1', 'content-length': '1' }, Buffer.from('x'));
    assert.equal(res.status, 403);
    assert.equal(xmlField(res.text, 'HeadersNotSigned'), 'x-amz-tagging');
    await assertAbsent(bucket, 'header-signed');
  });

  test('a presigned URL sent with an Authorization header as well is InvalidArgument: one auth mechanism only', async () => {
    const bucket = await newBucket('twoauth');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const url = new URL(await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 300 }));
    const headers = await signedHeaders(ctx.server, { method: 'GET', path: `/${bucket}/k` });
    const res = await send(ctx.server, 'GET', url.pathname + url.search, headers);
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    assert.equal(xmlField(res.text, 'ArgumentName'), 'Authorization');
  });
});

describe('aws-chunked uploads made by hand', () => {
  const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)];
  const decoded = Buffer.concat(chunks);

  async function chunkedRequest(bucket: string, key: string, opts: { contentLength: boolean }) {
    const framedLength = signedChunkedBody(chunks, '0'.repeat(64), '20200101T000000Z').reduce((s, b) => s + b.length, 0);
    const headers = await signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/${key}`,
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decoded.length),
        ...(opts.contentLength ? { 'content-length': String(framedLength) } : {}),
      },
    });
    const body = signedChunkedBody(chunks, seedSignatureOf(headers), headers['x-amz-date']);
    return { headers, body };
  }

  test('signed chunks are verified and the decoded bytes stored', async () => {
    const bucket = await newBucket('chunked');
    const { headers, body } = await chunkedRequest(bucket, 'ok', { contentLength: true });
    const res = await send(ctx.server, 'PUT', `/${bucket}/ok`, headers, body);
    assert.equal(res.status, 200, res.text);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ok' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(decoded));
    assert.equal(got.ContentEncoding, undefined, 'aws-chunked is framing, not stored');
  });

  test('a tampered chunk is SignatureDoesNotMatch and nothing is stored', async () => {
    const bucket = await newBucket('chunktamper');
    const before = await settledBlobFiles(ctx.server);
    const { headers, body } = await chunkedRequest(bucket, 'bad', { contentLength: true });
    // Flip one data byte in the second chunk, after its signature was computed.
    const second = Buffer.from(body[1]);
    second[second.indexOf('\r\n') + 2 + 100] ^= 0xff;
    const res = await send(ctx.server, 'PUT', `/${bucket}/bad`, headers, [body[0], second, ...body.slice(2)]);
    assert.equal(res.status, 403);
    assert.equal(xmlField(res.text, 'Code'), 'SignatureDoesNotMatch');
    await assertAbsent(bucket, 'bad');
    await sleep(100);
    assert.deepEqual(await blobFiles(ctx.server), before, 'no blob left behind');
  });

  test('a chunk signature chain cut short (final chunk missing) stores nothing', async () => {
    const bucket = await newBucket('chunkcut');
    const { headers, body } = await chunkedRequest(bucket, 'cut', { contentLength: false });
    const res = await send(ctx.server, 'PUT', `/${bucket}/cut`, { ...headers, 'transfer-encoding': 'chunked' }, body.slice(0, 2));
    assert.equal(res.status, 400);
    await assertAbsent(bucket, 'cut');
  });

  test('no Content-Length (Transfer-Encoding: chunked) with x-amz-decoded-content-length works', async () => {
    const bucket = await newBucket('nolength');
    const { headers, body } = await chunkedRequest(bucket, 'streamed', { contentLength: false });
    assert.equal(headers['content-length'], undefined);
    const res = await send(ctx.server, 'PUT', `/${bucket}/streamed`, { ...headers, 'transfer-encoding': 'chunked' }, body);
    assert.equal(res.status, 200, res.text);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(decoded));
  });

  test('a decoded length that disagrees with the chunks stores nothing', async () => {
    const bucket = await newBucket('badlen');
    const headers = await signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/k`,
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded.length + 1) },
    });
    const body = signedChunkedBody(chunks, seedSignatureOf(headers), headers['x-amz-date']);
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, body);
    assert.equal(res.status, 400);
    await assertAbsent(bucket, 'k');
  });

  test('a plain signed PUT with a hex payload hash and no Content-Length (chunked transfer) works', async () => {
    const bucket = await newBucket('te');
    const body = Buffer.from('sent with transfer-encoding chunked');
    const headers = await signedHeaders(ctx.server, { method: 'PUT', path: `/${bucket}/k`, body });
    assert.equal(headers['x-amz-content-sha256'], sha256Hex(body));
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, [body.subarray(0, 10), body.subarray(10)]);
    assert.equal(res.status, 200, res.text);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(await got.Body!.transformToString(), body.toString());
  });
});

describe('aws-chunked bodies recognised by x-amz-content-sha256 alone (no Content-Encoding: aws-chunked)', () => {
  const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(777)];
  const decoded = Buffer.concat(chunks);
  const crc = (b: Buffer) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(b) >>> 0);
    return out.toString('base64');
  };

  async function assertStoredExactly(bucket: string, key: string): Promise<void> {
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(bytes.length, decoded.length, 'no chunk framing stored');
    assert.ok(bytes.equals(decoded));
    assert.equal(got.ContentEncoding, undefined);
  }

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD without Content-Encoding stores exactly the payload', async () => {
    const bucket = await newBucket('noce-signed');
    const headers = await signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/k`,
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'x-amz-decoded-content-length': String(decoded.length) },
    });
    assert.equal(headers['content-encoding'], undefined);
    const body = signedChunkedBody(chunks, seedSignatureOf(headers), headers['x-amz-date']);
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, body);
    assert.equal(res.status, 200, res.text);
    await assertStoredExactly(bucket, 'k');
  });

  test('STREAMING-UNSIGNED-PAYLOAD-TRAILER without Content-Encoding stores exactly the payload and checks the trailer', async () => {
    const bucket = await newBucket('noce-unsigned');
    const headers = await signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/k`,
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'x-amz-decoded-content-length': String(decoded.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
    });
    assert.equal(headers['content-encoding'], undefined);
    const body = unsignedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(decoded) });
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-amz-checksum-crc32'], crc(decoded));
    await assertStoredExactly(bucket, 'k');
  });
});

describe('aws-chunked uploads with trailing checksums', () => {
  const chunks = [randomBytes(64 * 1024), randomBytes(5000)];
  const decoded = Buffer.concat(chunks);
  const crc = (b: Buffer) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(b) >>> 0);
    return out.toString('base64');
  };

  async function trailerHeaders(bucket: string, key: string, payloadHash: string) {
    return signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/${key}`,
      payloadHash,
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decoded.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    });
  }

  test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: chunks and trailer signed, checksum stored', async () => {
    const bucket = await newBucket('sigtrailer');
    const headers = await trailerHeaders(bucket, 'k', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER');
    const body = signedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(decoded) }, seedSignatureOf(headers), headers['x-amz-date']);
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-amz-checksum-crc32'], crc(decoded));
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, crc(decoded));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(decoded));
  });

  test('a signed trailer with a wrong checksum is BadDigest; a forged trailer signature is SignatureDoesNotMatch', async () => {
    const bucket = await newBucket('badtrailer');
    const before = await settledBlobFiles(ctx.server);
    const headers = await trailerHeaders(bucket, 'k', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER');
    const wrong = signedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(Buffer.from('other')) }, seedSignatureOf(headers), headers['x-amz-date']);
    const res = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers, 'transfer-encoding': 'chunked' }, wrong);
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'BadDigest');

    // The right checksum, but the trailer changed after it was signed.
    const headers2 = await trailerHeaders(bucket, 'k', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER');
    const signed = signedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(Buffer.from('other')) }, seedSignatureOf(headers2), headers2['x-amz-date']);
    const last = signed[signed.length - 1].toString('latin1').replace(/x-amz-checksum-crc32:[^\r]*/, `x-amz-checksum-crc32:${crc(decoded)}`);
    const forged = [...signed.slice(0, -1), Buffer.from(last, 'latin1')];
    const res2 = await send(ctx.server, 'PUT', `/${bucket}/k`, { ...headers2, 'transfer-encoding': 'chunked' }, forged);
    assert.equal(res2.status, 403);
    assert.equal(xmlField(res2.text, 'Code'), 'SignatureDoesNotMatch');

    await assertAbsent(bucket, 'k');
    await sleep(100);
    assert.deepEqual(await blobFiles(ctx.server), before, 'no blob left behind');
  });

  test('STREAMING-UNSIGNED-PAYLOAD-TRAILER: the trailing checksum is verified', async () => {
    const bucket = await newBucket('unsignedtrailer');
    const headers = await trailerHeaders(bucket, 'ok', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const res = await send(ctx.server, 'PUT', `/${bucket}/ok`, { ...headers, 'transfer-encoding': 'chunked' }, unsignedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(decoded) }));
    assert.equal(res.status, 200, res.text);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ok' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(decoded));

    const headers2 = await trailerHeaders(bucket, 'bad', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    const bad = await send(ctx.server, 'PUT', `/${bucket}/bad`, { ...headers2, 'transfer-encoding': 'chunked' }, unsignedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': crc(Buffer.from('x')) }));
    assert.equal(bad.status, 400);
    assert.equal(xmlField(bad.text, 'Code'), 'BadDigest');
    await assertAbsent(bucket, 'bad');
  });
});

describe('aws-chunked framing is decoded only under a STREAMING-* payload hash', () => {
  const data = Buffer.from('hello presigned streaming');
  const crc = (b: Buffer) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(b) >>> 0);
    return out.toString('base64');
  };
  const framed = () => unsignedChunkedBodyWithTrailer([data], { 'x-amz-checksum-crc32': crc(data) });
  const streamingHeaders = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' };

  /**
   * A presigned PUT URL (path and query) and the headers to send with it; x-amz-* headers given stay
   * signed headers. Its payload is UNSIGNED-PAYLOAD, or `queryHash` pinned in the query (X-Amz-Content-Sha256).
   */
  async function presignedPut(bucket: string, key: string, headers: Record<string, string>, queryHash?: string) {
    const host = `127.0.0.1:${ctx.server.port}`;
    const amzHeaders = Object.keys(headers).filter((h) => h.startsWith('x-amz-'));
    // The signer takes the payload hash from this header, which is neither signed nor sent.
    const payload = { 'x-amz-content-sha256': queryHash ?? 'UNSIGNED-PAYLOAD' };
    const query: Record<string, string> = queryHash ? { 'X-Amz-Content-Sha256': queryHash } : {};
    const req = await signer().presign(
      { method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: ctx.server.port, path: `/${bucket}/${key}`, query, headers: { host, ...payload, ...headers } },
      { expiresIn: 300, unhoistableHeaders: new Set([...amzHeaders, 'x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) },
    );
    const { 'x-amz-content-sha256': _unsigned, ...sent } = req.headers as Record<string, string>;
    return { target: req.path + queryString(req.query as Record<string, string>), headers: sent };
  }

  async function assertStoredExactly(bucket: string, key: string): Promise<void> {
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(data), 'the payload, not its framing');
    assert.equal(got.ContentEncoding, undefined);
  }

  test('a presigned URL with X-Amz-Content-Sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER stores the decoded payload', async () => {
    const bucket = await newBucket('ps-stream-query');
    const { target, headers } = await presignedPut(bucket, 'k', streamingHeaders, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.match(target, /X-Amz-Content-Sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER/);
    const res = await send(ctx.server, 'PUT', target, { ...headers, 'transfer-encoding': 'chunked' }, framed());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-amz-checksum-crc32'], crc(data));
    await assertStoredExactly(bucket, 'k');
  });

  test('a presigned PUT sent with x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER stores the decoded payload', async () => {
    const bucket = await newBucket('ps-stream-header');
    const { target, headers } = await presignedPut(bucket, 'k', streamingHeaders);
    const res = await send(ctx.server, 'PUT', target, { ...headers, 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'transfer-encoding': 'chunked' }, framed());
    assert.equal(res.status, 200, res.text);
    await assertStoredExactly(bucket, 'k');
  });

  test('signed STREAMING-* payloads on a presigned URL (no seed signature to chain from) are InvalidArgument', async () => {
    const bucket = await newBucket('ps-stream-signed');
    const before = await settledBlobFiles(ctx.server);
    for (const hash of ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']) {
      const { target, headers } = await presignedPut(bucket, 'k', streamingHeaders, hash);
      const res = await send(ctx.server, 'PUT', target, { ...headers, 'transfer-encoding': 'chunked' }, framed());
      assert.equal(res.status, 400, `${hash}: ${res.text}`);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    }
    await assertAbsent(bucket, 'k');
    assert.deepEqual(await settledBlobFiles(ctx.server), before, 'no blob left behind');
  });

  test('Content-Encoding: aws-chunked or x-amz-decoded-content-length under a non-streaming payload hash is InvalidArgument', async () => {
    const bucket = await newBucket('framing-unsigned');
    const before = await settledBlobFiles(ctx.server);
    const body = Buffer.concat(framed());
    const cases: { payloadHash?: string; headers: Record<string, string> }[] = [
      { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) } },
      { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-encoding': 'gzip, aws-chunked' } },
      { payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'x-amz-decoded-content-length': String(data.length) } },
      { headers: { 'content-encoding': 'aws-chunked' } },
    ];
    for (const c of cases) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, body, ...c });
      assert.equal(res.status, 400, `${JSON.stringify(c)}: ${res.text}`);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    }
    // The same on a presigned URL, whose payload is unsigned.
    const { target, headers } = await presignedPut(bucket, 'k', { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length) });
    const res = await send(ctx.server, 'PUT', target, headers, body);
    assert.equal(res.status, 400, res.text);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    await assertAbsent(bucket, 'k');
    assert.deepEqual(await settledBlobFiles(ctx.server), before, 'no blob left behind');
  });
});

describe('trailing checksums must be the one x-amz-trailer declares', () => {
  const data = Buffer.from('hello world, checksum me');
  const crc = (b: Buffer) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(b) >>> 0);
    return out.toString('base64');
  };
  const wrong = crc(Buffer.from('something else'));

  async function put(bucket: string, key: string, payloadHash: string, headers: Record<string, string>, body: (h: Record<string, string>) => Buffer[]) {
    const signed = await signedHeaders(ctx.server, {
      method: 'PUT',
      path: `/${bucket}/${key}`,
      payloadHash,
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), ...headers },
    });
    return send(ctx.server, 'PUT', `/${bucket}/${key}`, { ...signed, 'transfer-encoding': 'chunked' }, body(signed));
  }

  test('an undeclared, extra or other trailing checksum is MalformedTrailerError and nothing is stored', async () => {
    const bucket = await newBucket('trailer-undeclared');
    const before = await settledBlobFiles(ctx.server);
    const declared = { 'x-amz-trailer': 'x-amz-checksum-crc32' };
    const unsigned = (trailers: Record<string, string>) => () => unsignedChunkedBodyWithTrailer([data], trailers);
    const cases: [string, string, Record<string, string>, (h: Record<string, string>) => Buffer[]][] = [
      ['unsigned, undeclared', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', {}, unsigned({ 'x-amz-checksum-crc32': wrong })],
      ['signed, undeclared', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', {}, (h) => signedChunkedBodyWithTrailer([data], { 'x-amz-checksum-crc32': wrong }, seedSignatureOf(h), h['x-amz-date'])],
      ['an extra trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', declared, unsigned({ 'x-amz-checksum-crc32': crc(data), 'x-amz-checksum-sha256': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' })],
      ['another name', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', declared, unsigned({ 'x-amz-checksum-crc32c': 'AAAAAA==' })],
      ['the declared one missing', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', declared, unsigned({})],
    ];
    for (const [what, payloadHash, headers, body] of cases) {
      const res = await put(bucket, 'k', payloadHash, headers, body);
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedTrailerError', what);
    }
    await assertAbsent(bucket, 'k');
    assert.deepEqual(await settledBlobFiles(ctx.server), before, 'no blob left behind');
  });

  test('an x-amz-checksum-* header beside x-amz-trailer, or an x-amz-sdk-checksum-algorithm naming another, is InvalidRequest', async () => {
    const bucket = await newBucket('trailer-and-header');
    const body = () => unsignedChunkedBodyWithTrailer([data], { 'x-amz-checksum-crc32c': 'AAAAAA==' });
    const both = await put(bucket, 'k', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32c', 'x-amz-checksum-crc32': crc(data) }, body);
    assert.equal(both.status, 400, both.text);
    assert.equal(xmlField(both.text, 'Code'), 'InvalidRequest');
    assert.match(xmlField(both.text, 'Message') ?? '', /Expecting a single x-amz-checksum- header/);
    const sdk = await put(bucket, 'k', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32c', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, body);
    assert.equal(sdk.status, 400, sdk.text);
    assert.equal(xmlField(sdk.text, 'Code'), 'InvalidRequest');
    assert.match(xmlField(sdk.text, 'Message') ?? '', /x-amz-sdk-checksum-algorithm/);
    await assertAbsent(bucket, 'k');
  });

  test('a trailer without its final empty line is IncompleteBody', async () => {
    const bucket = await newBucket('trailer-unended');
    const res = await put(bucket, 'k', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', { 'x-amz-trailer': 'x-amz-checksum-crc32' }, () => {
      const framed = Buffer.concat(unsignedChunkedBodyWithTrailer([data], { 'x-amz-checksum-crc32': crc(data) }));
      return [framed.subarray(0, framed.length - 2)];
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(xmlField(res.text, 'Code'), 'IncompleteBody');
    await assertAbsent(bucket, 'k');
  });
});
