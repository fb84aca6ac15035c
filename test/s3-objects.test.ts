import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type GetObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { crc32c } from '@node-rs/crc32';
import { s3Error } from './helpers/s3.js';
import { ROOT_KEY, useS3Server } from './helpers/server.js';
import { postForm } from './helpers/post-form.js';
import { raw, requestHead, send, sendOnSocket, signedHeaders, xmlField } from './helpers/raw-s3.js';

// PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject, object tagging,
// conditional requests, ranges, stored headers and checksums, through the AWS SDK with its defaults.

const ctx = useS3Server('obj');
const { bucketName, newBucket } = ctx;

async function getBytes(input: GetObjectCommandInput, client = ctx.s3): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand(input));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const md5Hex = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const b64 = (buf: Buffer) => buf.toString('base64');
function checksumOf(alg: ChecksumAlgorithm, data: Buffer): string {
  switch (alg) {
    case 'CRC32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(data) >>> 0);
      return b64(out);
    }
    case 'CRC32C': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32c(data) >>> 0);
      return b64(out);
    }
    case 'CRC64NVME': {
      const h = new Crc64Nvme();
      h.update(data);
      return h.digest().then((d) => b64(Buffer.from(d))) as unknown as string;
    }
    case 'SHA1':
      return b64(createHash('sha1').update(data).digest());
    case 'SHA256':
      return b64(createHash('sha256').update(data).digest());
  }
  throw new Error(alg);
}

describe('PutObject / GetObject / HeadObject / DeleteObject', () => {
  test('round trip of bytes, ETag = MD5, size and Last-Modified', async () => {
    const bucket = await newBucket('basic');
    const body = randomBytes(100_000);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'data.bin', Body: body }));
    assert.equal(put.ETag, `"${md5Hex(body)}"`);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'data.bin' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    assert.equal(got.ETag, put.ETag);
    assert.equal(got.ContentLength, body.length);
    assert.equal(got.ContentType, 'application/octet-stream', 'what the SDK sent');
    assert.equal(got.AcceptRanges, 'bytes');
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'data.bin' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    assert.ok(head.LastModified instanceof Date && Math.abs(head.LastModified.getTime() - Date.now()) < 60_000);
  });

  test('a streamed body of known length (aws-chunked with a trailing checksum) is stored intact', async () => {
    const bucket = await newBucket('stream');
    const body = randomBytes(300_000);
    const chunks = [body.subarray(0, 70_000), body.subarray(70_000, 200_000), body.subarray(200_000)];
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 's', Body: Readable.from(chunks), ContentLength: body.length }));
    assert.equal(put.ETag, `"${md5Hex(body)}"`);
    assert.ok((await getBytes({ Bucket: bucket, Key: 's' })).equals(body));
  });

  test('an object stored without Content-Type is served as binary/octet-stream', async () => {
    const bucket = await newBucket('notype');
    const put = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/plain`, body: 'no type' });
    assert.equal(put.status, 200);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'plain' }));
    assert.equal(head.ContentType, 'binary/octet-stream');
  });

  test('overwriting replaces the bytes and the ETag', async () => {
    const bucket = await newBucket('over');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'first version' }));
    const second = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'second' }));
    assert.equal(second.ETag, `"${md5Hex('second')}"`);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'k' })).toString(), 'second');
  });

  test('0-byte objects', async () => {
    const bucket = await newBucket('empty');
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
    assert.equal(put.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty' }));
    assert.equal(got.ContentLength, 0);
    assert.equal((await got.Body!.transformToByteArray()).length, 0);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'empty' }));
    assert.equal(head.ContentLength, 0);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(list.Contents![0].Size, 0);
    // A range on an empty object cannot be satisfied.
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty', Range: 'bytes=0-0' })));
    assert.equal(err.$metadata.httpStatusCode, 416);
  });

  test('GET and HEAD of a missing key: NoSuchKey 404 (HEAD without a body)', async () => {
    const bucket = await newBucket('missing');
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' })));
    assert.equal(err.name, 'NoSuchKey');
    assert.equal(err.$metadata.httpStatusCode, 404);
    const head = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'nope' })));
    assert.equal(head.name, 'NotFound');
    assert.equal(head.$metadata.httpStatusCode, 404);
    const noBucket = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucketName('gone'), Key: 'k' })));
    assert.equal(noBucket.name, 'NoSuchBucket');
  });

  test('DeleteObject removes the object; deleting a missing key is still 204', async () => {
    const bucket = await newBucket('del');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const del = await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const err = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })));
    assert.equal(err.$metadata.httpStatusCode, 404);
    const again = await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never-existed' }));
    assert.equal(again.$metadata.httpStatusCode, 204);
  });
});

describe('keys', () => {
  const KEYS = ['../escape', 'a/../../b', './dot', 'a/./b', 'a//b', 'trailing/', 'with space', 'tab\there', 'ünïcödé/日本', '\u{1F600}', 'semi;colon', 'q?mark', 'hash#', 'plus+sign', 'percent%20literal', 'amp&eq=', '~tilde', "quote'\"", '*star', 'a\uFFFDb'];

  test('unusual keys are stored and read back under exactly that key', async () => {
    const bucket = await newBucket('keys');
    for (const key of KEYS) {
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    }
    for (const key of KEYS) {
      assert.equal((await getBytes({ Bucket: bucket, Key: key })).toString(), `body of ${key}`, key);
    }
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(new Set(list.Contents!.map((o) => o.Key)), new Set(KEYS));
    // '../escape' did not escape the bucket: no bucket-level object named "escape" appeared.
    const err = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'escape' })));
    assert.equal(err.$metadata.httpStatusCode, 404);
  });

  test('a 1024-byte key is accepted; 1025 bytes is KeyTooLongError', async () => {
    const bucket = await newBucket('long');
    const ok = 'k'.repeat(1022) + 'é'; // 1024 bytes in UTF-8
    assert.equal(Buffer.byteLength(ok), 1024);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: ok, Body: 'long' }));
    assert.equal((await getBytes({ Bucket: bucket, Key: ok })).toString(), 'long');
    const tooLong = 'k'.repeat(1023) + 'é';
    const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: tooLong, Body: 'x' })));
    assert.equal(err.name, 'KeyTooLongError');
    assert.equal(err.$metadata.httpStatusCode, 400);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents!.map((o) => o.Key), [ok]);
  });

  test('a key whose escapes are not valid UTF-8 is InvalidURI', async () => {
    const bucket = await newBucket('badutf');
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/bad%FFkey`, body: 'x' });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidURI');
  });
});

describe('stored headers and metadata', () => {
  test('Content-Type/-Encoding/-Disposition/-Language, Cache-Control, Expires and x-amz-meta-* come back on GET and HEAD', async () => {
    const bucket = await newBucket('hdrs');
    const expires = new Date('2031-02-03T04:05:06Z');
    await ctx.s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'doc',
        Body: 'hello',
        ContentType: 'text/plain; charset=utf-8',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="doc.txt"',
        ContentLanguage: 'de-CH',
        CacheControl: 'max-age=3600, public',
        Expires: expires,
        Metadata: { color: 'blue', 'multi-word': 'Hello World', empty: '' },
      }),
    );
    for (const res of [await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doc' })), await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' }))]) {
      assert.equal(res.ContentType, 'text/plain; charset=utf-8');
      assert.equal(res.ContentEncoding, 'identity');
      assert.equal(res.ContentDisposition, 'attachment; filename="doc.txt"');
      assert.equal(res.ContentLanguage, 'de-CH');
      assert.equal(res.CacheControl, 'max-age=3600, public');
      assert.equal(res.Expires?.getTime(), expires.getTime());
      assert.equal(res.ExpiresString, expires.toUTCString());
      assert.deepEqual(res.Metadata, { color: 'blue', 'multi-word': 'Hello World', empty: '' });
    }
  });

  test('a metadata entry with no name (x-amz-meta-) is dropped, as S3 drops it; the others are kept', async () => {
    const bucket = await newBucket('noname');
    const put = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/m`, headers: { 'x-amz-meta-': 'nameless', 'x-amz-meta-ok': '1' }, body: 'x' });
    assert.equal(put.status, 200);
    const head = await raw(ctx.server, { method: 'HEAD', path: `/${bucket}/m` });
    assert.deepEqual(Object.keys(head.headers).filter((h) => h.startsWith('x-amz-meta')), ['x-amz-meta-ok']);
    assert.deepEqual((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'm' }))).Metadata, { ok: '1' });
  });

  test('response-* query overrides replace the stored headers on GET', async () => {
    const bucket = await newBucket('override');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: 'x', ContentType: 'text/plain', CacheControl: 'no-cache' }));
    const res = await ctx.s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: 'o',
        ResponseContentType: 'application/json',
        ResponseContentDisposition: 'inline; filename="o.json"',
        ResponseCacheControl: 'max-age=60',
        ResponseContentLanguage: 'fr',
        ResponseContentEncoding: 'identity',
        ResponseExpires: new Date('2030-01-01T00:00:00Z'),
      }),
    );
    assert.equal(res.ContentType, 'application/json');
    assert.equal(res.ContentDisposition, 'inline; filename="o.json"');
    assert.equal(res.CacheControl, 'max-age=60');
    assert.equal(res.ContentLanguage, 'fr');
    assert.equal(res.ContentEncoding, 'identity');
    assert.equal(res.Expires?.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(await res.Body!.transformToString(), 'x');
    // Stored values are unchanged.
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'o' }));
    assert.equal(head.ContentType, 'text/plain');
    assert.equal(head.CacheControl, 'no-cache');
  });

  test('a response-* override that cannot be a header value is 400 InvalidArgument naming it; ISO-8859-1 text is sent as is', async () => {
    // Before, these were 500 InternalError: the value reached the response and Node.js refused it.
    const bucket = await newBucket('overridebad');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'o', Body: 'x' }));
    for (const [param, value, message] of [
      ['response-content-disposition', 'attachment; filename="résumé ☃.txt"', 'Header value cannot be represented using ISO-8859-1.'],
      ['response-content-type', 'text/plain\r\nSet-Cookie: a=b', 'Header value cannot contain control characters.'],
      ['response-cache-control', 'max-age=1\u0000', 'Header value cannot contain control characters.'],
    ] as const) {
      for (const method of ['GET', 'HEAD']) {
        const res = await raw(ctx.server, { method, path: `/${bucket}/o`, query: { [param]: value } });
        assert.equal(res.status, 400, `${method} ${param}: ${res.text}`);
        if (method === 'GET') {
          assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
          assert.equal(xmlField(res.text, 'Message'), message);
          assert.equal(xmlField(res.text, 'ArgumentName'), param);
        }
      }
    }
    // Through the SDK, as an app building a download link does.
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'o', ResponseContentDisposition: 'attachment; filename="☃.txt"' })));
    assert.equal(err.name, 'InvalidArgument');
    const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/o`, query: { 'response-content-disposition': 'attachment; filename="résumé.txt"' } });
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(res.headers['content-disposition'] as string, 'latin1').toString('hex'), Buffer.from('attachment; filename="résumé.txt"', 'latin1').toString('hex'));
    assert.equal(res.text, 'x');
  });

  test('objects read path-style on the console\'s host are sandboxed documents, PDFs aside; a bucket host is left alone', async () => {
    const bucket = await newBucket('sandbox');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'p.html', Body: '<script>1</script>', ContentType: 'text/html' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'd.pdf', Body: '%PDF-1.4', ContentType: 'application/pdf' }));
    const csp = async (method: string, key: string, host?: string, query?: Record<string, string>) => {
      const res = await raw(ctx.server, { method, path: host ? `/${key}` : `/${bucket}/${key}`, host, query });
      assert.equal(res.status, 200, `${method} ${key} ${host ?? ''}`);
      return res.headers['content-security-policy'];
    };
    for (const method of ['GET', 'HEAD']) {
      assert.equal(await csp(method, 'p.html'), 'sandbox', method);
      assert.equal(await csp(method, 'd.pdf'), undefined, method);
      // The type that counts is the one sent: a signed override to text/html is sandboxed too.
      assert.equal(await csp(method, 'd.pdf', undefined, { 'response-content-type': 'text/html' }), 'sandbox', method);
      assert.equal(await csp(method, 'p.html', `${bucket}.s3.localhost:${ctx.server.port}`), undefined, method);
    }
  });

  test('user metadata over 2 KB is MetadataTooLarge', async () => {
    const bucket = await newBucket('bigmeta');
    const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: 'x', Metadata: { big: 'v'.repeat(2100) } })));
    assert.equal(err.name, 'MetadataTooLarge');
  });
});

describe('ranges', () => {
  let bucket: string;
  const body = Buffer.from('0123456789abcdefghij');
  before(async () => {
    bucket = await newBucket('range');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: body }));
  });

  for (const [range, start, end] of [
    ['bytes=0-4', 0, 4],
    ['bytes=5-9', 5, 9],
    ['bytes=5-', 5, 19],
    ['bytes=-3', 17, 19],
    ['bytes=15-100', 15, 19],
    ['bytes=-100', 0, 19],
    ['bytes=19-19', 19, 19],
  ] as const) {
    test(`Range ${range} → 206 with bytes ${start}-${end}`, async () => {
      const res = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: range }));
      assert.equal(res.$metadata.httpStatusCode, 206);
      assert.equal(res.ContentRange, `bytes ${start}-${end}/20`);
      assert.equal(res.ContentLength, end - start + 1);
      assert.equal(await res.Body!.transformToString(), body.subarray(start, end + 1).toString());
    });
  }

  test('a range starting past the end is 416 InvalidRange', async () => {
    for (const range of ['bytes=20-', 'bytes=100-200']) {
      const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: range })));
      assert.equal(err.name, 'InvalidRange', range);
      assert.equal(err.$metadata.httpStatusCode, 416);
    }
  });

  test('a suffix range of an empty object is the whole (empty) object, 200; bytes=0- and bytes=-0 stay 416', async () => {
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
    for (const range of ['bytes=-1', 'bytes=-512']) {
      const res = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty', Range: range }));
      assert.deepEqual([res.$metadata.httpStatusCode, res.ContentLength, res.ContentRange], [200, 0, undefined], range);
      assert.equal(await res.Body!.transformToString(), '');
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'empty', Range: range }));
      assert.deepEqual([head.$metadata.httpStatusCode, head.ContentLength], [200, 0], range);
    }
    for (const range of ['bytes=0-', 'bytes=-0']) {
      const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'empty', Range: range })));
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], ['InvalidRange', 416], range);
    }
  });

  test('If-Range: the range is served only while the validator names the object as it is; otherwise the whole object, 200', async () => {
    const first = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'resume', Body: 'AAAAAAAAAA' }));
    const stored = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'resume' }));
    const modified = stored.LastModified!.toUTCString();
    const get = (ifRange: string) => raw(ctx.server, { method: 'GET', path: `/${bucket}/resume`, headers: { range: 'bytes=5-', 'if-range': ifRange } });
    for (const validator of [first.ETag!, modified]) {
      const res = await get(validator);
      assert.deepEqual([res.status, res.headers['content-range'], res.text], [206, 'bytes 5-9/10', 'AAAAA'], validator);
    }
    // Replaced since: a resumed download gets the new object whole, never half of each.
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'resume', Body: 'BBBBBBBBBB' }));
    for (const validator of [first.ETag!, `W/${first.ETag}`, new Date(stored.LastModified!.getTime() - 1000).toUTCString(), 'not a date']) {
      const res = await get(validator);
      assert.deepEqual([res.status, res.headers['content-range'], res.text], [200, undefined, 'BBBBBBBBBB'], validator);
    }
  });

  test('HEAD with a Range reports the partial length', async () => {
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=2-5' }));
    assert.equal(head.ContentLength, 4);
    assert.equal(head.ContentRange, 'bytes 2-5/20');
  });
});

describe('conditional GET', () => {
  let bucket: string;
  let etag: string;
  let modified: Date;
  before(async () => {
    bucket = await newBucket('cond');
    etag = (await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'conditional' }))).ETag!;
    modified = (await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'c' }))).LastModified!;
  });
  const hourMs = 3600_000;

  test('If-Match: matching → 200, other → 412 PreconditionFailed', async () => {
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfMatch: etag })).toString(), 'conditional');
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfMatch: '*' })).toString(), 'conditional');
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    assert.equal(err.name, 'PreconditionFailed');
    assert.equal(err.$metadata.httpStatusCode, 412);
  });

  test('If-None-Match: matching → 304, other → 200', async () => {
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfNoneMatch: etag })));
    assert.equal(err.$metadata.httpStatusCode, 304);
    const notModified = await raw(ctx.server, { method: 'GET', path: `/${bucket}/c`, headers: { 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, etag, '304 names the current ETag');
    assert.equal(notModified.body.length, 0);
    const head = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'c', IfNoneMatch: etag })));
    assert.equal(head.$metadata.httpStatusCode, 304);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfNoneMatch: '"other"' })).toString(), 'conditional');
  });

  test('If-Modified-Since: not modified since → 304, modified since → 200', async () => {
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfModifiedSince: new Date(modified.getTime() + hourMs) })));
    assert.equal(err.$metadata.httpStatusCode, 304);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfModifiedSince: new Date(modified.getTime() - hourMs) })).toString(), 'conditional');
  });

  test('If-Unmodified-Since: modified since → 412, not modified → 200', async () => {
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfUnmodifiedSince: new Date(modified.getTime() - hourMs) })));
    assert.equal(err.$metadata.httpStatusCode, 412);
    assert.equal(err.name, 'PreconditionFailed');
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfUnmodifiedSince: new Date(modified.getTime() + hourMs) })).toString(), 'conditional');
  });

  test('If-Match wins over a failing If-Unmodified-Since; If-None-Match wins over If-Modified-Since', async () => {
    assert.equal((await getBytes({ Bucket: bucket, Key: 'c', IfMatch: etag, IfUnmodifiedSince: new Date(modified.getTime() - hourMs) })).toString(), 'conditional');
    assert.equal(
      (await getBytes({ Bucket: bucket, Key: 'c', IfNoneMatch: '"other"', IfModifiedSince: new Date(modified.getTime() + hourMs) })).toString(),
      'conditional',
    );
  });
});

describe('conditional PUT', () => {
  test('If-None-Match: * creates once; the second PUT is 412 and the first body stays', async () => {
    const bucket = await newBucket('ifnone');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: 'first', IfNoneMatch: '*' }));
    const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: 'second', IfNoneMatch: '*' })));
    assert.equal(err.name, 'PreconditionFailed');
    assert.equal(err.$metadata.httpStatusCode, 412);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'once' })).toString(), 'first');
  });

  test('If-Match with If-None-Match is refused (501 NotImplemented) on PUT, copy and completion, and writes nothing', async () => {
    const bucket = await newBucket('ifboth');
    const both = { IfNoneMatch: '*', IfMatch: '"0123456789abcdef0123456789abcdef"' };
    const put = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'x', ...both })));
    assert.equal(put.$metadata.httpStatusCode, 501);
    assert.equal(put.name, 'NotImplemented');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'source' }));
    const copy = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'new', CopySource: `${bucket}/src`, ...both })));
    assert.equal(copy.$metadata.httpStatusCode, 501);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'new' }));
    const part = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'new', UploadId, PartNumber: 1, Body: 'part' }));
    const complete = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: 'new', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, ...both,
    })));
    assert.equal(complete.$metadata.httpStatusCode, 501);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'new' })))).$metadata.httpStatusCode, 404);
    // The upload is still there to complete without the conflicting headers.
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'new', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] }, IfNoneMatch: '*' }));
    assert.equal((await getBytes({ Bucket: bucket, Key: 'new' })).toString(), 'part');
  });

  test('two concurrent If-None-Match: * PUTs: exactly one wins', async () => {
    const bucket = await newBucket('race');
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const bodies = ['A'.repeat(200_000), 'B'.repeat(200_000)];
      const results = await Promise.allSettled(bodies.map((Body) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body, IfNoneMatch: '*' }))));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: exactly one winner`);
      assert.equal(lost.length, 1);
      assert.equal((lost[0].reason as S3ServiceException).$metadata.httpStatusCode, 412);
      const winner = bodies[results.findIndex((r) => r.status === 'fulfilled')];
      assert.equal((await getBytes({ Bucket: bucket, Key: key })).toString(), winner);
    }
  });

  test('If-Match on PUT replaces only the expected version', async () => {
    const bucket = await newBucket('ifmatch');
    const first = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v2', IfMatch: first.ETag }));
    const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v3', IfMatch: first.ETag })));
    assert.equal(err.$metadata.httpStatusCode, 412);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'k' })).toString(), 'v2');
  });
});

describe('integrity checks on PUT', () => {
  test('a correct Content-MD5 is accepted; a wrong one is BadDigest and nothing changes', async () => {
    const bucket = await newBucket('md5');
    const body = Buffer.from('integrity matters');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: body, ContentMD5: createHash('md5').update(body).digest('base64') }));
    const err = await s3Error(
      ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: 'something else', ContentMD5: createHash('md5').update('not it').digest('base64') })),
    );
    assert.equal(err.name, 'BadDigest');
    assert.equal(err.$metadata.httpStatusCode, 400);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'm' })).toString(), 'integrity matters');
    const fresh = await s3Error(
      ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'never', Body: 'x', ContentMD5: createHash('md5').update('y').digest('base64') })),
    );
    assert.equal(fresh.name, 'BadDigest');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'never' })))).$metadata.httpStatusCode, 404);
  });

  const ALGS: ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
  for (const alg of ALGS) {
    test(`x-amz-checksum-${alg.toLowerCase()}: stored, returned with ChecksumMode ENABLED, not on ranges; a wrong value is BadDigest`, async () => {
      const bucket = await newBucket(`ck-${alg.toLowerCase()}`);
      const body = randomBytes(50_000);
      const expected = await checksumOf(alg, body);
      const field = `Checksum${alg}` as const;
      const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: body, ChecksumAlgorithm: alg }));
      assert.equal(put[field], expected);
      const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED' }));
      assert.equal(got[field], expected);
      assert.equal(got.ChecksumType, 'FULL_OBJECT');
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED' }));
      assert.equal(head[field], expected);
      const ranged = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED', Range: 'bytes=0-99' }));
      assert.equal(ranged[field], undefined, 'no whole-object checksum on a range');
      assert.equal((await ranged.Body!.transformToByteArray()).length, 100);

      // The same algorithm with a value computed over other bytes.
      const wrong = await checksumOf(alg, Buffer.from('other bytes'));
      const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: randomBytes(1000), [field]: wrong })));
      assert.equal(err.name, 'BadDigest');
      assert.equal(err.$metadata.httpStatusCode, 400);
      const still = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED' }));
      assert.equal(still[field], expected);
      assert.ok(Buffer.from(await still.Body!.transformToByteArray()).equals(body), 'the old object is intact');
    });
  }

  test('by default the SDK sends a CRC32 and the server stores it', async () => {
    const bucket = await newBucket('ck-default');
    const body = Buffer.from('default checksum');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'd', Body: body }));
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'd', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, await checksumOf('CRC32', body));
    await got.Body!.transformToString();
  });
});

describe('DeleteObjects', () => {
  test('verbose mode reports every key, including missing ones', async () => {
    const bucket = await newBucket('multi');
    const keys = ['a', 'b/c', 'd e', 'ü'];
    await Promise.all(keys.map((Key) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
    const res = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...keys, 'missing'].map((Key) => ({ Key })) } }));
    assert.deepEqual(res.Deleted!.map((d) => d.Key).sort(), [...keys, 'missing'].sort());
    assert.equal(res.Errors, undefined);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(list.KeyCount, 0);
  });

  test('quiet mode reports nothing on success and still deletes', async () => {
    const bucket = await newBucket('quiet');
    await Promise.all(['x', 'y', 'z'].map((Key) => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
    const res = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'x' }, { Key: 'y' }], Quiet: true } }));
    assert.equal(res.Deleted, undefined);
    assert.equal(res.Errors, undefined);
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents!.map((o) => o.Key), ['z']);
  });
});

describe('CopyObject', () => {
  let bucket: string;
  let srcEtag: string;
  let srcModified: Date;
  const SRC = 'dir/src file+%ü.txt';
  const copySource = (b: string, key: string) => `${b}/${encodeURIComponent(key)}`;

  before(async () => {
    bucket = await newBucket('copy');
    srcEtag = (
      await ctx.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: SRC,
          Body: 'copy me',
          ContentType: 'text/x-source',
          Metadata: { origin: 'source' },
          Tagging: 'team=blue',
        }),
      )
    ).ETag!;
    srcModified = (await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: SRC }))).LastModified!;
  });

  test('COPY directive (default) copies bytes, metadata and headers from a key with special characters', async () => {
    const res = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-1', CopySource: copySource(bucket, SRC) }));
    assert.equal(res.CopyObjectResult?.ETag, srcEtag);
    assert.ok(res.CopyObjectResult?.LastModified instanceof Date);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copy-1' }));
    assert.equal(await got.Body!.transformToString(), 'copy me');
    assert.equal(got.ContentType, 'text/x-source');
    assert.deepEqual(got.Metadata, { origin: 'source' });
    const tags = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'copy-1' }));
    assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'blue' }]);
  });

  test('REPLACE directive takes metadata and headers from the request', async () => {
    await ctx.s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'copy-2',
        CopySource: copySource(bucket, SRC),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-replaced',
        Metadata: { origin: 'replaced', extra: '1' },
      }),
    );
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copy-2' }));
    assert.equal(head.ContentType, 'text/x-replaced');
    assert.deepEqual(head.Metadata, { origin: 'replaced', extra: '1' });
  });

  test('copy into another bucket, with a leading slash in the source', async () => {
    const other = await newBucket('copy-dst');
    await ctx.s3.send(new CopyObjectCommand({ Bucket: other, Key: 'from-elsewhere', CopySource: `/${copySource(bucket, SRC)}` }));
    assert.equal((await getBytes({ Bucket: other, Key: 'from-elsewhere' })).toString(), 'copy me');
  });

  test('copy-source conditions that fail are 412; the ones that hold copy', async () => {
    const hour = 3600_000;
    const failing = [
      { CopySourceIfMatch: '"00000000000000000000000000000000"' },
      { CopySourceIfNoneMatch: srcEtag },
      { CopySourceIfModifiedSince: new Date(srcModified.getTime() + hour) },
      { CopySourceIfUnmodifiedSince: new Date(srcModified.getTime() - hour) },
    ];
    for (const cond of failing) {
      const err = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond-copy', CopySource: copySource(bucket, SRC), ...cond })));
      assert.equal(err.$metadata.httpStatusCode, 412, JSON.stringify(cond));
      assert.equal(err.name, 'PreconditionFailed');
    }
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond-copy' })))).$metadata.httpStatusCode, 404);
    const holding = [
      { CopySourceIfMatch: srcEtag },
      { CopySourceIfNoneMatch: '"00000000000000000000000000000000"' },
      { CopySourceIfModifiedSince: new Date(srcModified.getTime() - hour) },
      { CopySourceIfUnmodifiedSince: new Date(srcModified.getTime() + hour) },
    ];
    for (const cond of holding) {
      const res = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cond-copy', CopySource: copySource(bucket, SRC), ...cond }));
      assert.equal(res.CopyObjectResult?.ETag, srcEtag);
    }
  });

  test('copying an object onto itself needs REPLACE; with it the metadata changes', async () => {
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'self', Body: 'me', Metadata: { v: '1' } }));
    const err = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self', CopySource: copySource(bucket, 'self') })));
    assert.equal(err.name, 'InvalidRequest');
    assert.equal(err.$metadata.httpStatusCode, 400);
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self', CopySource: copySource(bucket, 'self'), MetadataDirective: 'REPLACE', Metadata: { v: '2' } }));
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'self' }));
    assert.deepEqual(got.Metadata, { v: '2' });
    assert.equal(await got.Body!.transformToString(), 'me');
  });

  test('a copy is STANDARD unless the request names a class; a self-copy with no class moves an object back to STANDARD', async () => {
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cold', Body: 'rarely read', StorageClass: 'STANDARD_IA' }));
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cold-copy', CopySource: copySource(bucket, 'cold') }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cold-copy' }))).StorageClass, undefined, 'STANDARD is not sent');
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cold-copy2', CopySource: copySource(bucket, 'cold'), StorageClass: 'ONEZONE_IA' }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cold-copy2' }))).StorageClass, 'ONEZONE_IA');
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'cold', CopySource: copySource(bucket, 'cold') }));
    const listed = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'cold' }));
    assert.deepEqual(listed.Contents?.map((o) => [o.Key, o.StorageClass]), [['cold', 'STANDARD'], ['cold-copy', 'STANDARD'], ['cold-copy2', 'ONEZONE_IA']]);
  });

  test('the whole source is decoded before it is split: bucket%2Fkey and %2Fbucket%2Fkey copy, for UploadPartCopy too; ?versionId stays a suffix, %3F is in the key', async () => {
    const key = 'dir/caf\u00e9 1+1?.txt';
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'encoded whole' }));
    const upload = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'enc-mp' }));
    try {
      for (const source of [encodeURIComponent(`${bucket}/${key}`), encodeURIComponent(`/${bucket}/${key}`), `${encodeURIComponent(`${bucket}/${key}`)}?versionId=null`]) {
        await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'enc-dst', CopySource: source }));
        assert.equal((await getBytes({ Bucket: bucket, Key: 'enc-dst' })).toString(), 'encoded whole', source);
        await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'enc-dst' }));
        const part = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'enc-mp', UploadId: upload.UploadId, PartNumber: 1, CopySource: source }));
        assert.equal(part.CopyPartResult?.ETag, `"${md5Hex('encoded whole')}"`, source);
      }
    } finally {
      await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'enc-mp', UploadId: upload.UploadId }));
    }
    // An encoded ?versionId= is part of the key, here a key that does not exist.
    const err = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'enc-dst', CopySource: encodeURIComponent(`${bucket}/${key}?versionId=null`) })));
    assert.equal(err.name, 'NoSuchKey');
  });

  test("'+' in the source is a space, %2B a plus; escapes that are not UTF-8 are InvalidURI", async () => {
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plus/caf\u00e9 1+1.txt', Body: 'space' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plus/caf\u00e9+1+1.txt', Body: 'plus' }));
    const copied = async (source: string) => {
      await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'plus-dst', CopySource: source }));
      return (await getBytes({ Bucket: bucket, Key: 'plus-dst' })).toString();
    };
    assert.equal(await copied(`${bucket}/plus/caf%C3%A9+1%2B1.txt`), 'space');
    assert.equal(await copied(`${bucket}/plus/caf%C3%A9%201%2B1.txt`), 'space');
    assert.equal(await copied(`${bucket}/plus/caf%C3%A9%2B1%2B1.txt`), 'plus');
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/plus-bad`, headers: { 'x-amz-copy-source': `${bucket}/plus/caf%E9+1%2B1.txt` } });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidURI');
  });

  test('copying a missing source is NoSuchKey', async () => {
    const err = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: copySource(bucket, 'no such source') })));
    assert.equal(err.name, 'NoSuchKey');
    assert.equal(err.$metadata.httpStatusCode, 404);
  });

  test('a copy keeps the source checksum algorithm and recomputes it', async () => {
    const body = randomBytes(10_000);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ck-src', Body: body, ChecksumAlgorithm: 'SHA256' }));
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'ck-dst', CopySource: copySource(bucket, 'ck-src') }));
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'ck-dst', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumSHA256, await checksumOf('SHA256', body));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  });

  test('x-amz-checksum-algorithm names the checksum the copy computes; one S3 does not know is 400', async () => {
    const body = randomBytes(10_000);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'alg-src', Body: body, ChecksumAlgorithm: 'CRC32' }));
    for (const [key, source] of [['alg-dst', 'alg-src'], ['alg-none-dst', SRC]] as const) {
      const copy = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: copySource(bucket, source), ChecksumAlgorithm: 'SHA256' }));
      const bytes = source === SRC ? Buffer.from('copy me') : body;
      assert.equal(copy.CopyObjectResult?.ChecksumSHA256, checksumOf('SHA256', bytes), source);
      assert.equal(copy.CopyObjectResult?.ChecksumCRC32, undefined, source);
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumSHA256, checksumOf('SHA256', bytes), source);
      assert.equal(head.ChecksumCRC32, undefined, source);
    }
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/alg-bogus`, headers: { 'x-amz-copy-source': `/${bucket}/alg-src`, 'x-amz-checksum-algorithm': 'BOGUS' } });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidRequest');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'alg-bogus' })))).name, 'NotFound', 'nothing copied');
  });
});

describe('object tagging', () => {
  test('put, get and delete a tag set; Tagging on PUT; x-amz-tagging-count', async () => {
    const bucket = await newBucket('tags');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 't', Body: 'x', Tagging: 'a=1&b=two%20words' }));
    const initial = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.deepEqual(initial.TagSet, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 'two words' }]);
    const head = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 't' }));
    assert.equal(head.TagCount, 2);
    await head.Body!.transformToString();

    await ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 't', Tagging: { TagSet: [{ Key: 'env', Value: 'prod' }, { Key: 'ü', Value: 'a+b=c @d:e/f_g.h-i' }] } }));
    const replaced = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.deepEqual(replaced.TagSet, [{ Key: 'env', Value: 'prod' }, { Key: 'ü', Value: 'a+b=c @d:e/f_g.h-i' }]);

    const del = await ctx.s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const cleared = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.deepEqual(cleared.TagSet ?? [], []);
    // The object itself is untouched.
    assert.equal((await getBytes({ Bucket: bucket, Key: 't' })).toString(), 'x');
  });

  test('tagging a missing key is NoSuchKey; invalid tag sets are InvalidTag', async () => {
    const bucket = await newBucket('tags2');
    const err = await s3Error(ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'none', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })));
    assert.equal(err.name, 'NoSuchKey');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const err2 = await s3Error(ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'k', Tagging: { TagSet: tooMany } })));
    assert.equal(err2.name, 'InvalidTag');
    const dup = await s3Error(ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'k', Tagging: { TagSet: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] } })));
    assert.equal(dup.name, 'InvalidTag');
  });
});

describe('object tag rules', () => {
  const tagSet = (Key: string, Value = 'v') => `<Tagging><TagSet><Tag><Key>${Key}</Key><Value>${Value}</Value></Tag></TagSet></Tagging>`;

  test('a key in the aws: namespace, in any case, is InvalidTag on every way of tagging an object', async () => {
    const bucket = await newBucket('awstags');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', Tagging: 'keep=1' }));
    for (const key of ['aws:cloudformation:stack-name', 'AWS:x', 'Aws:']) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { tagging: '' }, body: tagSet(key) });
      assert.equal(res.status, 400, key);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidTag', key);
      assert.equal(xmlField(res.text, 'Message'), 'Your TagKey cannot be prefixed with aws:');
    }
    const writes = [
      () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'put', Body: 'x', Tagging: 'aws:x=1' })),
      () => ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu', Tagging: 'aws:x=1' })),
      () => ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/k`, TaggingDirective: 'REPLACE', Tagging: 'aws:x=1' })),
    ];
    for (const write of writes) assert.equal((await s3Error(write())).name, 'InvalidTag');
    const form = await postForm(ctx.server.url, { bucket, key: 'form', credentials: ROOT_KEY, fields: { tagging: tagSet('aws:x') }, file: 'x' });
    assert.equal(form.status, 400);
    assert.equal(xmlField(await form.text(), 'Code'), 'InvalidTag');
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, [{ Key: 'keep', Value: '1' }]);
    const listed = (await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents?.map((o) => o.Key);
    assert.deepEqual(listed, ['k'], 'no object was written with such a tag');
  });

  test('keys and values of characters outside S3\'s set are InvalidTag; letters, numbers, spaces and + - = . _ : / @ are taken', async () => {
    const bucket = await newBucket('tagchars');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    for (const [key, value] of [['a#b', 'v'], ['a\tb', 'v'], ['k', 'x!'], ['k', '&lt;x&gt;'], ['k', 'a*b']]) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { tagging: '' }, body: tagSet(key, value) });
      assert.equal(xmlField(res.text, 'Code'), 'InvalidTag', `${key}=${value}`);
    }
    // A control character XML 1.0 does not allow is refused before it is read as a tag.
    const control = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { tagging: '' }, body: tagSet('k', 'a\u0001') });
    assert.equal(xmlField(control.text, 'Code'), 'MalformedXML');
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'h', Body: 'x', Tagging: 'k=a%23b' })))).name, 'InvalidTag');
    const fine = [{ Key: 'Ünïcödé 数字 ١٢', Value: 'a+b-c=d.e_f:g/h@i 42' }];
    await ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'k', Tagging: { TagSet: fine } }));
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, fine);
  });

  test('a TagSet, Tag, Key or Value given twice is MalformedXML and keeps the tags', async () => {
    const bucket = await newBucket('tagdup');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', Tagging: 'keep=1' }));
    const bodies = [
      '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet><TagSet><Tag><Key>b</Key><Value>1</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>a</Key><Key>b</Key><Value>1</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value><Value>2</Value></Tag></TagSet></Tagging>',
      '<Tagging><TagSet><Tag><Key>a<b>c</b></Key><Value>1</Value></Tag></TagSet></Tagging>',
      // S3's schema requires a Value (an empty one is a value).
      '<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>',
    ];
    for (const body of bodies) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { tagging: '' }, body });
      assert.equal(res.status, 400, body);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedXML', body);
    }
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, [{ Key: 'keep', Value: '1' }]);
    const empty = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { tagging: '' }, body: '<Tagging><TagSet><Tag><Key>a</Key><Value/></Tag></TagSet></Tagging>' });
    assert.equal(empty.status, 200, empty.text);
    assert.deepEqual((await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'k' }))).TagSet, [{ Key: 'a', Value: '' }]);
  });
});

describe('copies and error documents', () => {
  test('a CopyObject or UploadPartCopy that sends a body is InvalidRequest and copies nothing', async () => {
    const bucket = await newBucket('copybody');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'source' }));
    const copy = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/dst`, headers: { 'x-amz-copy-source': `/${bucket}/src` }, body: 'IGNORED-BODY' });
    assert.deepEqual([copy.status, xmlField(copy.text, 'Code')], [400, 'InvalidRequest'], copy.text);
    assert.match(xmlField(copy.text, 'Message') ?? '', /must not include a non-empty body/);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst' })))).$metadata.httpStatusCode, 404);
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp' }));
    const part = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/mp`, query: { partNumber: '1', uploadId: UploadId! }, headers: { 'x-amz-copy-source': `/${bucket}/src` }, body: 'IGNORED' });
    assert.deepEqual([part.status, xmlField(part.text, 'Code')], [400, 'InvalidRequest'], part.text);
    // Without a body both copy.
    const plain = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/dst`, headers: { 'x-amz-copy-source': `/${bucket}/src` } });
    assert.equal(plain.status, 200, plain.text);
  });

  test('an error that echoes a control character stays a well-formed document a client can read the code of', async () => {
    const bucket = await newBucket('ctlerr');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const bad = await raw(ctx.server, { method: 'GET', path: `/${bucket}/k`, query: { 'response-cache-control': 'a\u0001b' } });
    assert.equal(bad.status, 400);
    assert.doesNotMatch(bad.text, /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/, 'no character XML 1.0 forbids');
    assert.equal(xmlField(bad.text, 'ArgumentValue'), 'a%01b');
    // The SDK reads the code (it parses the document).
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: 'a\u0001b' })));
    assert.notEqual(err.name, 'Unknown');
    assert.match(err.name, /^(InvalidArgument|NoSuchVersion)$/);
  });
});

describe('version IDs on an unversioned bucket', () => {
  test('"null" is the only version: others are NoSuchVersion on read and delete nothing', async () => {
    const bucket = await newBucket('ver');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    assert.equal((await getBytes({ Bucket: bucket, Key: 'k', VersionId: 'null' })).toString(), 'v1');
    const other = 'Abc123Abc123Abc123Abc123Abc123Ab';
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: other })));
    assert.equal(err.name, 'NoSuchVersion');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', VersionId: other })))).$metadata.httpStatusCode, 404);
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: other }));
    const batch = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'k', VersionId: other }] } }));
    assert.deepEqual(batch.Deleted?.map((d) => [d.Key, d.VersionId]), [['k', other]]);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'k' })).toString(), 'v1', 'deleting another version kept the object');
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: 'null' }));
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })))).name, 'NoSuchKey');
  });
});

describe('version IDs of no form the server makes', () => {
  test('are 400 InvalidArgument on GET, HEAD, DELETE, tagging and copy sources, and a NoSuchVersion entry in DeleteObjects', async () => {
    const bucket = await newBucket('badver');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'kept' }));
    for (const [method, query] of [['GET', {}], ['DELETE', {}], ['GET', { tagging: '' }]] as const) {
      const res = await raw(ctx.server, { method, path: `/${bucket}/k`, query: { ...query, versionId: 'bogus' } });
      assert.equal(res.status, 400, `${method} ${JSON.stringify(query)}`);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
      assert.equal(xmlField(res.text, 'Message'), 'Invalid version id specified');
      assert.equal(xmlField(res.text, 'ArgumentName'), 'versionId');
    }
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', VersionId: 'bogus' })))).$metadata.httpStatusCode, 400);
    const copy = await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/k?versionId=bogus` })));
    assert.equal(copy.name, 'InvalidArgument');
    const batch = await ctx.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'k', VersionId: 'bogus' }] } }));
    assert.equal(batch.Deleted, undefined);
    assert.deepEqual(batch.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['k', 'bogus', 'NoSuchVersion']]);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'k' })).toString(), 'kept');
  });
});

describe('DeleteObjects conditions and shape', () => {
  test("an entry's ETag must match the object: a mismatch is a PreconditionFailed entry and the object stays", async () => {
    const bucket = await newBucket('delcond');
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep', Body: 'keep' }));
    const put2 = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'go', Body: 'go' }));
    const result = await ctx.s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: {
          Objects: [
            { Key: 'keep', ETag: '"0000000000000000000000000000dead"' },
            { Key: 'go', ETag: put2.ETag },
            { Key: 'absent', ETag: put.ETag },
          ],
        },
      }),
    );
    assert.deepEqual(result.Deleted?.map((d) => d.Key), ['go']);
    assert.deepEqual(result.Errors?.map((e) => [e.Key, e.Code]), [['keep', 'PreconditionFailed'], ['absent', 'NoSuchKey']]);
    assert.equal((await getBytes({ Bucket: bucket, Key: 'keep' })).toString(), 'keep');
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'go' })))).name, 'NoSuchKey');
  });

  test('a key whose bytes are not UTF-8 is MalformedXML and deletes nothing, not the key its U+FFFD decoding names', async () => {
    const bucket = await newBucket('delbadutf');
    const victims = ['a\uFFFDb', 'caf\uFFFD'];
    for (const Key of victims) await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'keep' }));
    for (const key of ['a\xFFb', 'a\xC0\xAFb', 'a\xED\xA0\x80b', 'caf\xE9']) {
      const body = Buffer.concat([Buffer.from('<Delete><Object><Key>'), Buffer.from(key, 'latin1'), Buffer.from('</Key></Object></Delete>')]);
      const res = await raw(ctx.server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
      assert.equal(res.status, 400, key);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedXML');
    }
    const list = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(list.Contents!.map((o) => o.Key).sort(), victims.sort());
  });

  test('a Delete naming no object is MalformedXML', async () => {
    const bucket = await newBucket('delempty');
    const body = '<Delete><Quiet>true</Quiet></Delete>';
    const res = await raw(ctx.server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'MalformedXML');
  });

  test('a Quiet that is no boolean is MalformedXML and deletes nothing; 1 is quiet', async () => {
    const bucket = await newBucket('delquiet');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const send = (quiet: string) => {
      const body = `<Delete><Quiet>${quiet}</Quiet><Object><Key>k</Key></Object></Delete>`;
      return raw(ctx.server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
    };
    const maybe = await send('maybe');
    assert.deepEqual([maybe.status, xmlField(maybe.text, 'Code')], [400, 'MalformedXML']);
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ContentLength, 1);
    const quiet = await send('1');
    assert.equal(quiet.status, 200, quiet.text);
    assert.doesNotMatch(quiet.text, /<Deleted>/, 'quiet: no entry for what went');
  });
});

describe('names that are also JavaScript object properties', () => {
  test('metadata and tags named constructor, toString or __proto__ are kept as sent', async () => {
    const bucket = await newBucket('protonames');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'm', Body: 'x', Metadata: Object.fromEntries([['constructor', 'c'], ['tostring', 't'], ['__proto__', 'p']]) }));
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'm' }));
    assert.equal(head.Metadata?.constructor, 'c');
    assert.equal(head.Metadata?.tostring, 't');
    const raws = await raw(ctx.server, { method: 'HEAD', path: `/${bucket}/m` });
    assert.equal(raws.headers['x-amz-meta-__proto__'], 'p');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 't', Body: 'x', Tagging: 'constructor=1&__proto__=2&toString=3' }));
    const tags = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.deepEqual(tags.TagSet?.map((t) => [t.Key, t.Value]), [['__proto__', '2'], ['constructor', '1'], ['toString', '3']]);
    await ctx.s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 't', Tagging: { TagSet: [{ Key: 'toString', Value: 'x' }, { Key: '__proto__', Value: 'y' }] } }));
    const again = await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 't' }));
    assert.deepEqual(again.TagSet?.map((t) => [t.Key, t.Value]), [['__proto__', 'y'], ['toString', 'x']]);
  });

  test('a tag key given twice in x-amz-tagging is InvalidArgument', async () => {
    const bucket = await newBucket('duptags');
    const err = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', Tagging: 'a=1&a=2' })));
    assert.equal(err.name, 'InvalidArgument');
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })))).name, 'NoSuchKey');
  });
});

describe('website redirect location', () => {
  test('is stored and returned, refused unless a path or a URL, not copied by a COPY directive unless given again', async () => {
    const bucket = await newBucket('redirect');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'page', Body: 'x', WebsiteRedirectLocation: '/elsewhere.html' }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'page' }))).WebsiteRedirectLocation, '/elsewhere.html');
    const bad = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: 'x', WebsiteRedirectLocation: 'elsewhere.html' })));
    assert.equal(bad.name, 'InvalidRedirectLocation');
    assert.equal(bad.$metadata.httpStatusCode, 400);
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/page` }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' }))).WebsiteRedirectLocation, undefined);
    // Onto itself, a new redirect location is a change S3 allows without REPLACE.
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'page', CopySource: `${bucket}/page`, WebsiteRedirectLocation: 'https://example.com/' }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'page' }))).WebsiteRedirectLocation, 'https://example.com/');
  });
});

describe('PUT without a declared length', () => {
  test('is 411 MissingContentLength and stores nothing', async () => {
    const bucket = await newBucket('nolength');
    const path = `/${bucket}/empty`;
    const headers = await signedHeaders(ctx.server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
    // Node's client would add a length; a socket sends the head exactly as written.
    const answer = await sendOnSocket(ctx.server, requestHead('PUT', path, { ...headers, connection: 'close' }));
    assert.match(answer, /^HTTP\/1\.1 411 /);
    assert.match(answer, /<Code>MissingContentLength<\/Code>/);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'empty' })))).$metadata.httpStatusCode, 404);
  });
});

/** A PUT whose x-amz-meta-u header carries `text` as UTF-8 bytes (signed over those bytes, as boto3 sends it). */
async function putUtf8Metadata(path: string, text: string) {
  const headers = await signedHeaders(ctx.server, { method: 'PUT', path, headers: { 'x-amz-meta-u': text }, body: 'x' });
  // Node.js sends each character of a header string as one byte: the UTF-8 bytes, read as Latin-1.
  headers['x-amz-meta-u'] = Buffer.from(text, 'utf8').toString('latin1');
  headers['content-length'] = '1';
  return send(ctx.server, 'PUT', path, headers, Buffer.from('x'));
}

describe('request details S3 reads precisely', () => {
  test('user metadata is measured in the UTF-8 bytes sent: 1,200 bytes of accented text fit in 2 KB', async () => {
    const bucket = await newBucket('metautf8');
    const res = await putUtf8Metadata(`/${bucket}/k`, 'é'.repeat(600));
    assert.equal(res.status, 200, res.text);
    const over = await putUtf8Metadata(`/${bucket}/k2`, 'é'.repeat(1024));
    assert.equal(xmlField(over.text, 'Code'), 'MetadataTooLarge');
    assert.equal(xmlField(over.text, 'Size'), String(1 + 2048));
  });

  test('an unsatisfiable range names the range requested', async () => {
    const bucket = await newBucket('rangereq');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'ten', Body: '0123456789' }));
    const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/ten`, headers: { range: 'bytes=20-30' } });
    assert.equal(res.status, 416);
    assert.equal(xmlField(res.text, 'RangeRequested'), 'bytes=20-30');
  });

  test('a date condition that is no HTTP-date is ignored, and the asctime form is read as GMT', async () => {
    const bucket = await newBucket('httpdate');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    for (const value of ['12', '2000', 'yesterday']) {
      const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/k`, headers: { 'if-unmodified-since': value } });
      assert.equal(res.status, 200, `If-Unmodified-Since: ${value}`);
    }
    const past = new Date(Date.now() - 3600_000);
    const asctime = past.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, (_, d, day, mon, year, time) => `${d} ${mon} ${String(Number(day)).padStart(2, ' ')} ${time} ${year}`);
    assert.equal((await raw(ctx.server, { method: 'GET', path: `/${bucket}/k`, headers: { 'if-unmodified-since': asctime } })).status, 412, asctime);
    assert.equal((await raw(ctx.server, { method: 'GET', path: `/${bucket}/k`, headers: { 'if-modified-since': asctime } })).status, 200, asctime);
  });
});
