import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type CompleteMultipartUploadCommandInput,
  type CompleteMultipartUploadCommandOutput,
  type CompletedPart,
  type CreateMultipartUploadCommandInput,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  type UploadPartCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { crc32c } from '@node-rs/crc32';
import { s3Error } from './helpers/s3.js';
import { useS3Server } from './helpers/server.js';
import { awsEncode, raw, xmlField } from './helpers/raw-s3.js';

// CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
// AbortMultipartUpload, ListParts, ListMultipartUploads; lib-storage's Upload; part GETs;
// multipart ETags and checksums (COMPOSITE and FULL_OBJECT).

const MiB = 1024 * 1024;
const PART = 5 * MiB;

const ctx = useS3Server('mpu');
const { newBucket } = ctx;

const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();

function split(body: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) parts.push(body.subarray(i, i + size));
  return parts;
}

/** S3's multipart ETag: md5 of the concatenated part MD5s, "-N". */
function multipartEtag(parts: Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;
}

/** A CompleteMultipartUpload body, for requests sent by hand. */
function completeXml(parts: { PartNumber: number; ETag?: string }[]): string {
  return `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

/** An upload of `key` with one small part: what a completion needs. */
async function onePartUpload(bucket: string, key: string, create: Partial<CreateMultipartUploadCommandInput> = {}, part: Partial<UploadPartCommandInput> = {}) {
  const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...create }));
  const { ETag } = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: 'hello', ...part }));
  return { UploadId: UploadId!, parts: [{ PartNumber: 1, ETag }] };
}

function rawDigest(alg: ChecksumAlgorithm, data: Buffer): Buffer {
  switch (alg) {
    case 'CRC32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(data) >>> 0);
      return out;
    }
    case 'CRC32C': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32c(data) >>> 0);
      return out;
    }
    case 'SHA1':
      return createHash('sha1').update(data).digest();
    case 'SHA256':
      return sha256(data);
    default:
      throw new Error(`no sync digest for ${alg}`);
  }
}

async function crc64nvme(data: Buffer): Promise<string> {
  const h = new Crc64Nvme();
  h.update(data);
  return Buffer.from(await h.digest()).toString('base64');
}

/** COMPOSITE checksum: the algorithm over the concatenated part digests, "-N". */
function compositeChecksum(alg: ChecksumAlgorithm, parts: Buffer[]): string {
  return `${rawDigest(alg, Buffer.concat(parts.map((p) => rawDigest(alg, p)))).toString('base64')}-${parts.length}`;
}

async function getBody(bucket: string, key: string, extra: Partial<GetObjectCommandInput> = {}): Promise<{ body: Buffer; res: GetObjectCommandOutput }> {
  const res = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  const body = Buffer.from(await res.Body!.transformToByteArray());
  return { body, res };
}

describe('lib-storage Upload (12 MiB in 5 MiB parts)', () => {
  const body = randomBytes(12 * MiB + 12345);
  const parts = split(body, PART);

  test('default settings: 3 parts, ETag md5-3, bytes intact, COMPOSITE CRC32', async () => {
    const bucket = await newBucket('lib');
    const upload = new Upload({ client: ctx.s3, params: { Bucket: bucket, Key: 'big.bin', Body: body, ContentType: 'application/x-big', Metadata: { kind: 'multipart' } }, partSize: PART, queueSize: 2 });
    const result = await upload.done();
    assert.equal(parts.length, 3);
    assert.equal(result.ETag, multipartEtag(parts));
    const { body: got, res } = await getBody(bucket, 'big.bin', { ChecksumMode: 'ENABLED' });
    assert.ok(got.equals(body), 'bytes intact');
    assert.equal(res.ETag, multipartEtag(parts));
    assert.equal(res.ContentLength, body.length);
    assert.equal(res.ContentType, 'application/x-big');
    assert.deepEqual(res.Metadata, { kind: 'multipart' });
    // lib-storage asks for CRC32 by default; S3 answers with the composite value.
    assert.equal(res.ChecksumCRC32, compositeChecksum('CRC32', parts));
    assert.equal(res.ChecksumType, 'COMPOSITE');
  });

  for (const alg of ['CRC32', 'SHA256', 'CRC64NVME', 'CRC32C', 'SHA1'] as const) {
    test(`ChecksumAlgorithm ${alg}: the object checksum is what S3 computes`, async () => {
      const bucket = await newBucket(`lib-${alg.toLowerCase()}`);
      const upload = new Upload({ client: ctx.s3, params: { Bucket: bucket, Key: 'obj', Body: body, ChecksumAlgorithm: alg }, partSize: PART, queueSize: 3 });
      const result = await upload.done();
      assert.equal(result.ETag, multipartEtag(parts));
      const field = `Checksum${alg}` as const;
      const expected = alg === 'CRC64NVME' ? await crc64nvme(body) : compositeChecksum(alg, parts);
      assert.equal(result[field], expected, 'CompleteMultipartUpload result');
      const { body: got, res } = await getBody(bucket, 'obj', { ChecksumMode: 'ENABLED' });
      assert.ok(got.equals(body));
      assert.equal(res[field], expected, 'GetObject');
      assert.equal(res.ChecksumType, alg === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
      const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'obj', ChecksumMode: 'ENABLED' }));
      assert.equal(head[field], expected, 'HeadObject');
    });
  }

  test('GetObjectAttributes: ETag without quotes, the checksum, the parts count, storage class and size', async () => {
    const bucket = await newBucket('attrs');
    await new Upload({ client: ctx.s3, params: { Bucket: bucket, Key: 'big.bin', Body: body, ChecksumAlgorithm: 'SHA256' }, partSize: PART }).done();
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small.txt', Body: 'small', ChecksumAlgorithm: 'CRC32', StorageClass: 'STANDARD_IA' }));
    const all = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
    const big = await ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'big.bin', ObjectAttributes: [...all] }));
    assert.equal(big.ETag, multipartEtag(parts).replace(/"/g, ''));
    // The composite value without HeadObject's "-3".
    assert.equal(big.Checksum?.ChecksumSHA256, compositeChecksum('SHA256', parts).replace(/-3$/, ''));
    assert.equal(big.Checksum?.ChecksumType, 'COMPOSITE');
    assert.equal(big.ObjectParts?.TotalPartsCount, 3);
    assert.equal(big.StorageClass, 'STANDARD');
    assert.equal(big.ObjectSize, body.length);
    assert.ok(big.LastModified instanceof Date);
    const small = await ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'small.txt', ObjectAttributes: [...all] }));
    assert.equal(small.ETag, md5(Buffer.from('small')).toString('hex'));
    assert.equal(small.Checksum?.ChecksumCRC32, rawDigest('CRC32', Buffer.from('small')).toString('base64'));
    assert.equal(small.Checksum?.ChecksumType, 'FULL_OBJECT');
    assert.equal(small.ObjectParts, undefined, 'not a multipart object');
    assert.equal(small.StorageClass, 'STANDARD_IA');
    assert.equal(small.ObjectSize, 5);
    // Only what was asked for.
    const sizeOnly = await ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'small.txt', ObjectAttributes: ['ObjectSize'] }));
    assert.deepEqual([sizeOnly.ObjectSize, sizeOnly.ETag, sizeOnly.Checksum, sizeOnly.StorageClass], [5, undefined, undefined, undefined]);
    assert.equal((await s3Error(ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'missing', ObjectAttributes: ['ETag'] })))).name, 'NoSuchKey');
    // A version by its ID, and the current one, in a versioned bucket.
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const first = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v.txt', Body: 'one' }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'v.txt', Body: 'three' }));
    const old = await ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'v.txt', VersionId: first.VersionId, ObjectAttributes: ['ObjectSize'] }));
    assert.deepEqual([old.ObjectSize, old.VersionId], [3, first.VersionId]);
    assert.equal((await ctx.s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'v.txt', ObjectAttributes: ['ObjectSize'] }))).ObjectSize, 5);
    for (const [value, status, code] of [[undefined, 400, 'InvalidRequest'], ['', 400, 'InvalidRequest'], ['ETag,Colour', 400, 'InvalidArgument']] as const) {
      const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/small.txt`, query: { attributes: '' }, headers: value === undefined ? {} : { 'x-amz-object-attributes': value } });
      assert.equal(res.status, status, String(value));
      assert.equal(xmlField(res.text, 'Code'), code, String(value));
    }
  });

  test('GET ?partNumber=N returns that part with the parts count', async () => {
    const bucket = await newBucket('partget');
    await new Upload({ client: ctx.s3, params: { Bucket: bucket, Key: 'p', Body: body }, partSize: PART }).done();
    let offset = 0;
    for (let i = 0; i < parts.length; i++) {
      const { body: got, res } = await getBody(bucket, 'p', { PartNumber: i + 1 });
      assert.equal(res.$metadata.httpStatusCode, 206);
      assert.ok(got.equals(parts[i]), `part ${i + 1}`);
      assert.equal(res.PartsCount, 3);
      assert.equal(res.ContentRange, `bytes ${offset}-${offset + parts[i].length - 1}/${body.length}`);
      assert.equal(res.ContentLength, parts[i].length);
      offset += parts[i].length;
    }
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'p', PartNumber: 2 }));
    assert.equal(head.ContentLength, parts[1].length);
    assert.equal(head.PartsCount, 3);
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'p', PartNumber: 4 })));
    assert.equal(err.$metadata.httpStatusCode, 416);
    assert.equal(err.name, 'InvalidPartNumber');
    // A range across part boundaries.
    const { body: cross } = await getBody(bucket, 'p', { Range: `bytes=${PART - 10}-${PART + 9}` });
    assert.ok(cross.equals(body.subarray(PART - 10, PART + 10)));
  });

  test('GET and HEAD ?partNumber=N of an empty part: 200, no Content-Range, the parts count', async () => {
    const bucket = await newBucket('emptypart');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'e' }));
    const first = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'e', UploadId, PartNumber: 1, Body: parts[0] }));
    const last = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'e', UploadId, PartNumber: 2, Body: Buffer.alloc(0) }));
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'e', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.ETag }, { PartNumber: 2, ETag: last.ETag }] } }));
    const { body: got, res } = await getBody(bucket, 'e', { PartNumber: 2 });
    assert.deepEqual([res.$metadata.httpStatusCode, res.ContentRange, res.ContentLength, res.PartsCount, got.length], [200, undefined, 0, 2, 0]);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'e', PartNumber: 2 }));
    assert.deepEqual([head.$metadata.httpStatusCode, head.ContentRange, head.ContentLength, head.PartsCount], [200, undefined, 0, 2]);
  });

  test('Range together with partNumber is 400 InvalidRequest on GET and HEAD', async () => {
    const bucket = await newBucket('partrange');
    await new Upload({ client: ctx.s3, params: { Bucket: bucket, Key: 'p', Body: body }, partSize: PART }).done();
    const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/p`, query: { partNumber: '1' }, headers: { range: 'bytes=0-9' } });
    assert.equal(res.status, 400, res.text);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidRequest');
    assert.equal(xmlField(res.text, 'Message'), 'Cannot specify both Range header and partNumber query parameter');
    assert.equal(xmlField(res.text, 'Resource'), `/${bucket}/p`);
    assert.ok(xmlField(res.text, 'RequestId'));
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'p', PartNumber: 2, Range: 'bytes=0-9' })));
    assert.equal(err.name, 'InvalidRequest');
    const head = await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'p', PartNumber: 1, Range: 'bytes=0-9' })));
    assert.equal(head.$metadata.httpStatusCode, 400);
  });
});

describe('multipart API by hand', () => {
  test('Create, UploadPart, UploadPartCopy with CopySourceRange, ListParts, Complete', async () => {
    const bucket = await newBucket('manual');
    const source = randomBytes(6 * MiB);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'source', Body: source }));
    const tail = randomBytes(1000);
    const create = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'assembled', ContentType: 'text/x-assembled' }));
    const uploadId = create.UploadId!;
    assert.equal(create.Key, 'assembled');
    assert.equal(create.Bucket, bucket);

    const p1 = await ctx.s3.send(
      new UploadPartCopyCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId, PartNumber: 1, CopySource: `${bucket}/source`, CopySourceRange: `bytes=0-${PART - 1}` }),
    );
    assert.equal(p1.CopyPartResult?.ETag, `"${md5(source.subarray(0, PART)).toString('hex')}"`);
    const middle = randomBytes(PART);
    const p2 = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId, PartNumber: 2, Body: middle }));
    const p3 = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId, PartNumber: 3, Body: tail }));
    assert.equal(p3.ETag, `"${md5(tail).toString('hex')}"`);

    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]), [
      [1, PART, p1.CopyPartResult?.ETag],
      [2, PART, p2.ETag],
      [3, 1000, p3.ETag],
    ]);
    const paged = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId, MaxParts: 2 }));
    assert.equal(paged.IsTruncated, true);
    assert.equal(paged.Parts?.length, 2);
    const rest = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId, PartNumberMarker: paged.NextPartNumberMarker }));
    assert.deepEqual(rest.Parts?.map((p) => p.PartNumber), [3]);
    assert.equal(rest.IsTruncated, false);

    const done = await ctx.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'assembled',
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult!.ETag }, { PartNumber: 2, ETag: p2.ETag }, { PartNumber: 3, ETag: p3.ETag }] },
      }),
    );
    const expected = Buffer.concat([source.subarray(0, PART), middle, tail]);
    assert.equal(done.ETag, multipartEtag([source.subarray(0, PART), middle, tail]));
    assert.equal(done.Key, 'assembled');
    const { body: got, res } = await getBody(bucket, 'assembled');
    assert.ok(got.equals(expected));
    assert.equal(res.ContentType, 'text/x-assembled');
    // The upload is gone once completed.
    const err = await s3Error(ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'assembled', UploadId: uploadId })));
    assert.equal(err.name, 'NoSuchUpload');
  });

  test('UploadPartCopy of a whole object, and a CopySourceRange past the end is 400 InvalidArgument', async () => {
    const bucket = await newBucket('pcopy');
    const first = randomBytes(PART);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: first }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b', Body: 'tail end' }));
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'joined' }));
    const c1 = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'joined', UploadId, PartNumber: 1, CopySource: `${bucket}/a` }));
    const c2 = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'joined', UploadId, PartNumber: 2, CopySource: `${bucket}/b`, CopySourceRange: 'bytes=5-7' }));
    // One byte past the end ('tail end' is 8 bytes): S3 refuses the argument, not with 416 as a GET would.
    const bad = await s3Error(ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'joined', UploadId, PartNumber: 3, CopySource: `${bucket}/b`, CopySourceRange: 'bytes=0-8' })));
    assert.equal(bad.name, 'InvalidArgument');
    assert.equal(bad.$metadata.httpStatusCode, 400);
    assert.equal(bad.message, 'Range specified is not valid for source object of size: 8');
    await ctx.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'joined',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: c1.CopyPartResult!.ETag }, { PartNumber: 2, ETag: c2.CopyPartResult!.ETag }] },
      }),
    );
    const { body } = await getBody(bucket, 'joined');
    assert.ok(body.equals(Buffer.concat([first, Buffer.from('end')])));
  });

  test('SHA256 COMPOSITE by hand: part checksums listed, object checksum composite', async () => {
    const bucket = await newBucket('sha');
    const parts = [randomBytes(PART), randomBytes(200)];
    const { UploadId, ChecksumAlgorithm } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 's', ChecksumAlgorithm: 'SHA256' }));
    assert.equal(ChecksumAlgorithm, 'SHA256');
    const uploaded = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 's', UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'SHA256' }));
      assert.equal(r.ChecksumSHA256, sha256(parts[i]).toString('base64'));
      uploaded.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumSHA256: r.ChecksumSHA256 });
    }
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 's', UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => p.ChecksumSHA256), uploaded.map((u) => u.ChecksumSHA256));
    // A part checksum that does not match the uploaded part is refused.
    const wrong = await s3Error(
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 's', UploadId, MultipartUpload: { Parts: [uploaded[0], { ...uploaded[1], ChecksumSHA256: uploaded[0].ChecksumSHA256 }] } })),
    );
    assert.equal(wrong.name, 'InvalidPart');
    const done = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 's', UploadId, MultipartUpload: { Parts: uploaded } }));
    assert.equal(done.ChecksumSHA256, compositeChecksum('SHA256', parts));
    assert.equal(done.ChecksumType, 'COMPOSITE');
  });

  test('a COMPOSITE completion may name the object checksum with its part count, as S3 answers it', async () => {
    const bucket = await newBucket('ckcomposite');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'c', ChecksumAlgorithm: 'CRC32' }));
    const body = Buffer.from('one part, composite');
    const part = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'c', UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'CRC32' }));
    const composite = `${rawDigest('CRC32', rawDigest('CRC32', body)).toString('base64')}-1`;
    const done = await ctx.s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'c', UploadId, ChecksumCRC32: composite, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] } }),
    );
    assert.equal(done.ChecksumCRC32, composite);
  });

  test('a COMPOSITE completion naming a checksum the parts do not make is BadDigest, and the upload stays', async () => {
    const bucket = await newBucket('ckcomposite-bad');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'c', ChecksumAlgorithm: 'CRC32' }));
    const body = Buffer.from('one part, composite');
    const part = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'c', UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'CRC32' }));
    const parts = { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] };
    const composite = rawDigest('CRC32', rawDigest('CRC32', body)).toString('base64');
    for (const wrong of ['AAAAAA==-1', 'AAAAAA==', `${composite}-2`]) {
      const err = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'c', UploadId, ChecksumCRC32: wrong, MultipartUpload: parts })));
      assert.deepEqual([err.$metadata.httpStatusCode, err.name], [400, 'BadDigest'], wrong);
    }
    // Named without its part count, the right value completes.
    const done = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'c', UploadId, ChecksumCRC32: composite, MultipartUpload: parts }));
    assert.equal(done.ChecksumCRC32, `${composite}-1`);
  });

  test('a checksum type its algorithm cannot have is InvalidRequest in S3\'s words', async () => {
    const bucket = await newBucket('cktype');
    for (const [alg, type, message] of [
      ['SHA256', 'FULL_OBJECT', 'The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.'],
      ['SHA1', 'FULL_OBJECT', 'The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.'],
      ['CRC64NVME', 'COMPOSITE', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.'],
    ] as const) {
      const err = await s3Error(ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ChecksumAlgorithm: alg, ChecksumType: type })));
      assert.deepEqual([err.$metadata.httpStatusCode, err.name, err.message], [400, 'InvalidRequest', message]);
    }
  });

  test('CRC32C FULL_OBJECT by hand: the whole-object CRC, checked against the one the client sends', async () => {
    const bucket = await newBucket('full');
    const parts = [randomBytes(PART), randomBytes(PART), randomBytes(777)];
    const whole = Buffer.concat(parts);
    const { UploadId, ChecksumType } = await ctx.s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'f', ChecksumAlgorithm: 'CRC32C', ChecksumType: 'FULL_OBJECT' }),
    );
    assert.equal(ChecksumType, 'FULL_OBJECT');
    const uploaded = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'f', UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'CRC32C' }));
      uploaded.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32C: r.ChecksumCRC32C });
    }
    const expected = rawDigest('CRC32C', whole).toString('base64');
    const mismatch = await s3Error(
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'f', UploadId, ChecksumCRC32C: rawDigest('CRC32C', parts[0]).toString('base64'), ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: uploaded } })),
    );
    assert.equal(mismatch.name, 'BadDigest');
    // A value that is no CRC32C at all: refused as PutObject refuses it, and the upload stays.
    for (const bogus of ['zz', 'AAAA']) {
      const malformed = await s3Error(
        ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'f', UploadId, ChecksumCRC32C: bogus, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: uploaded } })),
      );
      assert.deepEqual([malformed.name, malformed.message], ['InvalidRequest', 'Value for x-amz-checksum-crc32c header is invalid.'], bogus);
    }
    const done = await ctx.s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'f', UploadId, ChecksumCRC32C: expected, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: uploaded } }),
    );
    assert.equal(done.ChecksumCRC32C, expected);
    assert.equal(done.ChecksumType, 'FULL_OBJECT');
    const { body, res } = await getBody(bucket, 'f', { ChecksumMode: 'ENABLED' });
    assert.ok(body.equals(whole));
    assert.equal(res.ChecksumCRC32C, expected);
  });

  test('re-uploading a part replaces it', async () => {
    const bucket = await newBucket('reup');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'r' }));
    await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'r', UploadId, PartNumber: 1, Body: 'first try' }));
    const second = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'r', UploadId, PartNumber: 1, Body: 'second try' }));
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'r', UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, second.ETag, 10]]);
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'r', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: second.ETag }] } }));
    assert.equal((await getBody(bucket, 'r')).body.toString(), 'second try');
  });
});

describe('multipart errors', () => {
  async function twoParts(bucket: string, key: string, firstSize = PART) {
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const a = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(firstSize) }));
    const b = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: randomBytes(100) }));
    return { UploadId: UploadId!, parts: [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 2, ETag: b.ETag }] };
  }

  test('InvalidPart for a wrong ETag or an unknown part; the upload survives', async () => {
    const bucket = await newBucket('invpart');
    const { UploadId, parts } = await twoParts(bucket, 'k');
    const wrongEtag = await s3Error(
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: [parts[0], { PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' }] } })),
    );
    assert.equal(wrongEtag.name, 'InvalidPart');
    assert.equal(wrongEtag.$metadata.httpStatusCode, 400);
    const unknown = await s3Error(
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: [...parts, { PartNumber: 3, ETag: parts[1].ETag }] } })),
    );
    assert.equal(unknown.name, 'InvalidPart');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).$metadata.httpStatusCode, 404);
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: parts } }));
    await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
  });

  test('InvalidPartOrder when parts are not ascending', async () => {
    const bucket = await newBucket('order');
    const { UploadId, parts } = await twoParts(bucket, 'k');
    const err = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: [parts[1], parts[0]] } })));
    assert.equal(err.name, 'InvalidPartOrder');
    assert.equal(err.$metadata.httpStatusCode, 400);
  });

  test('EntityTooSmall when a part other than the last is under 5 MiB', async () => {
    const bucket = await newBucket('small');
    const { UploadId, parts } = await twoParts(bucket, 'k', 1000);
    const err = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: parts } })));
    assert.equal(err.name, 'EntityTooSmall');
    assert.equal(err.$metadata.httpStatusCode, 400);
  });

  test('NoSuchUpload after AbortMultipartUpload (UploadPart, ListParts, Complete, Abort)', async () => {
    const bucket = await newBucket('abort');
    const { UploadId, parts } = await twoParts(bucket, 'k');
    const aborted = await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId }));
    assert.equal(aborted.$metadata.httpStatusCode, 204);
    const attempts: (() => Promise<unknown>)[] = [
      () => ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 3, Body: 'late' })),
      () => ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId })),
      () => ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: parts } })),
      () => ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId })),
    ];
    for (const attempt of attempts) {
      const err = await s3Error(attempt());
      assert.equal(err.name, 'NoSuchUpload');
      assert.equal(err.$metadata.httpStatusCode, 404);
    }
    const uploads = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.equal(uploads.Uploads, undefined);
  });

  test('an upload ID used with another key is NoSuchUpload; a bad part number is InvalidArgument', async () => {
    const bucket = await newBucket('wrongkey');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'right' }));
    const err = await s3Error(ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'wrong', UploadId, PartNumber: 1, Body: 'x' })));
    assert.equal(err.name, 'NoSuchUpload');
    const bad = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/right`, query: { partNumber: '10001', uploadId: UploadId! }, body: 'x' });
    assert.equal(bad.status, 400);
    assert.equal(xmlField(bad.text, 'Code'), 'InvalidArgument');
  });

  test('a part whose body fails Content-MD5 or its x-amz-checksum is BadDigest and not stored', async () => {
    const bucket = await newBucket('badpart');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ChecksumAlgorithm: 'SHA256' }));
    const good = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'good part', ChecksumAlgorithm: 'SHA256' }));
    const md5Err = await s3Error(
      ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'replacement', ChecksumAlgorithm: 'SHA256', ContentMD5: md5(Buffer.from('other')).toString('base64') })),
    );
    assert.equal(md5Err.name, 'BadDigest');
    const shaErr = await s3Error(
      ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'replacement', ChecksumSHA256: sha256(Buffer.from('other')).toString('base64') })),
    );
    assert.equal(shaErr.name, 'BadDigest');
    // A part checksummed with another algorithm than the upload's is refused.
    const otherAlg = await s3Error(ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'replacement', ChecksumAlgorithm: 'CRC32' })));
    assert.equal(otherAlg.name, 'InvalidRequest');
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, good.ETag, 9]], 'the first part is still the one stored');
  });

  test('UploadPart with a versionId is 400 InvalidArgument', async () => {
    const bucket = await newBucket('partver');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
    const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, query: { partNumber: '1', uploadId: UploadId!, versionId: 'abc' }, body: 'x' });
    assert.equal(res.status, 400);
    assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
    assert.equal(xmlField(res.text, 'Message'), 'This operation does not accept a version-id.');
    const listed = await ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId }));
    assert.equal(listed.Parts, undefined, 'no part was stored');
  });

  test('x-amz-mp-object-size must be the sum of the listed parts: else 400 InvalidRequest', async () => {
    const bucket = await newBucket('mpsize');
    const { UploadId, parts } = await twoParts(bucket, 'k');
    const wrong = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MpuObjectSize: PART, MultipartUpload: { Parts: parts } })));
    assert.equal(wrong.name, 'InvalidRequest');
    assert.equal(wrong.$metadata.httpStatusCode, 400);
    assert.match(wrong.message, new RegExp(`x-amz-mp-object-size' header value ${PART} does not match what was computed: ${PART + 100}`));
    for (const value of ['big', '-1']) {
      const res = await raw(ctx.server, { method: 'POST', path: `/${bucket}/k`, query: { uploadId: UploadId }, headers: { 'x-amz-mp-object-size': value }, body: completeXml(parts) });
      assert.equal(res.status, 400, value);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidRequest', value);
    }
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MpuObjectSize: PART + 100, MultipartUpload: { Parts: parts } }));
    assert.equal((await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }))).ContentLength, PART + 100);
  });

  test('a completion that names another checksum mode or algorithm than the upload has is 400 InvalidRequest', async () => {
    const bucket = await newBucket('cksmode');
    const { UploadId, parts } = await onePartUpload(bucket, 'k', { ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }, { ChecksumAlgorithm: 'CRC32' });
    const mode = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, ChecksumType: 'COMPOSITE', MultipartUpload: { Parts: parts } })));
    assert.equal(mode.name, 'InvalidRequest');
    assert.equal(mode.$metadata.httpStatusCode, 400);
    assert.equal(mode.message, 'The upload was created using the FULL_OBJECT checksum mode. The complete request must use the same checksum mode.');
    const bogus = await raw(ctx.server, { method: 'POST', path: `/${bucket}/k`, query: { uploadId: UploadId }, headers: { 'x-amz-checksum-type': 'PARTIAL' }, body: completeXml(parts) });
    assert.equal(bogus.status, 400);
    assert.equal(xmlField(bogus.text, 'Code'), 'InvalidRequest');
    // A whole-object checksum of another algorithm cannot be checked: refused, not ignored.
    const otherAlg = await s3Error(
      ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, ChecksumSHA256: sha256(Buffer.from('hello')).toString('base64'), MultipartUpload: { Parts: parts } })),
    );
    assert.equal(otherAlg.name, 'InvalidRequest');
    assert.equal(otherAlg.$metadata.httpStatusCode, 400);
    const crc = rawDigest('CRC32', Buffer.from('hello')).toString('base64');
    const done = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, ChecksumType: 'FULL_OBJECT', ChecksumCRC32: crc, MultipartUpload: { Parts: parts } }));
    assert.equal(done.ChecksumCRC32, crc);
  });

  test('CompleteMultipartUpload with no parts is MalformedXML', async () => {
    const bucket = await newBucket('noparts');
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
    const err = await s3Error(ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: [] } })));
    assert.equal(err.name, 'MalformedXML');
  });
});

describe('ListMultipartUploads', () => {
  test('lists in-progress uploads with prefix, delimiter and key-marker/upload-id-marker paging', async () => {
    const bucket = await newBucket('listup');
    const keys = ['a/1', 'a/2', 'b', 'b', 'c/d/e'];
    const ids: string[] = [];
    for (const Key of keys) ids.push((await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }))).UploadId!);
    const all = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(all.Uploads?.map((u) => u.Key), keys);
    assert.deepEqual(new Set(all.Uploads?.map((u) => u.UploadId)), new Set(ids));
    for (const u of all.Uploads!) {
      assert.ok(u.Initiated instanceof Date);
      assert.equal(u.StorageClass, 'STANDARD');
    }
    const prefixed = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'a/' }));
    assert.deepEqual(prefixed.Uploads?.map((u) => u.Key), ['a/1', 'a/2']);
    const grouped = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/' }));
    assert.deepEqual(grouped.Uploads?.map((u) => u.Key), ['b', 'b']);
    assert.deepEqual(grouped.CommonPrefixes?.map((p) => p.Prefix), ['a/', 'c/']);

    const seen: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, MaxUploads: 2, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const u of res.Uploads ?? []) seen.push(u.UploadId!);
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    assert.equal(seen.length, keys.length);
    assert.deepEqual(new Set(seen), new Set(ids));
  });

  test('a common prefix is one entry, on one page; NextKeyMarker after it resumes past all of it', async () => {
    const bucket = await newBucket('listcp');
    for (const Key of ['p/1', 'p/2', 'p/3', 'q']) await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const pages: [string[], string[], string | undefined, string | undefined][] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (let n = 0; n < 6; n++) {
      const res = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/', MaxUploads: 1, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      pages.push([res.Uploads?.map((u) => u.Key!) ?? [], res.CommonPrefixes?.map((p) => p.Prefix!) ?? [], res.NextKeyMarker, res.NextUploadIdMarker]);
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    assert.deepEqual(pages, [[[], ['p/'], 'p/', undefined], [['q'], [], undefined, undefined]]);
    const both = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/', MaxUploads: 2 }));
    assert.deepEqual([both.CommonPrefixes?.map((p) => p.Prefix), both.Uploads?.map((u) => u.Key), both.IsTruncated], [['p/'], ['q'], false]);
  });

  test('encoding-type=url encodes keys, prefixes, delimiter and markers; another value is InvalidArgument', async () => {
    const bucket = await newBucket('listenc');
    for (const Key of ['sp ace+\u00e9', 'sp ace/x', 'sp ace/y']) await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const query = { uploads: '', 'encoding-type': 'url', prefix: 'sp ', delimiter: '/', 'key-marker': 'sp a', 'max-uploads': '1' };
    const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query });
    assert.equal(res.status, 200);
    assert.equal(xmlField(res.text, 'EncodingType'), 'url');
    assert.equal(xmlField(res.text, 'Prefix'), 'sp%20');
    // The same encoding as ListObjects' ('/' kept).
    assert.equal(xmlField(res.text, 'Delimiter'), '/');
    assert.equal(xmlField(res.text, 'KeyMarker'), 'sp%20a');
    assert.equal(xmlField(res.text, 'Key'), 'sp%20ace%2B%C3%A9');
    assert.equal(xmlField(res.text, 'NextKeyMarker'), 'sp%20ace%2B%C3%A9');
    const next = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { ...query, 'key-marker': 'sp ace+\u00e9', 'max-uploads': '5' } });
    assert.match(next.text, /<CommonPrefixes><Prefix>sp%20ace\/<\/Prefix><\/CommonPrefixes>/);
    const bad = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { uploads: '', 'encoding-type': 'base64' } });
    assert.equal(bad.status, 400);
    assert.equal(xmlField(bad.text, 'Code'), 'InvalidArgument');
    const plain = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { uploads: '', prefix: 'sp ace+' } });
    assert.equal(xmlField(plain.text, 'Key'), 'sp ace+\u00e9');
    assert.equal(xmlField(plain.text, 'EncodingType'), undefined);
  });
});

describe('CompleteMultipartUploadResult', () => {
  test('Location is the absolute URL of the object, path-style or virtual-hosted as the request was', async () => {
    const bucket = await newBucket('loc');
    const key = 'dir/a b+c';
    // S3 form-encodes the key here: '/' as %2F and ' ' as '+'.
    const encodedKey = 'dir%2Fa+b%2Bc';
    const path = await onePartUpload(bucket, key);
    const done = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: path.UploadId, MultipartUpload: { Parts: path.parts } }));
    assert.equal(done.Location, `http://127.0.0.1:${ctx.server.port}/${bucket}/${encodedKey}`);
    const vhost = await onePartUpload(bucket, key);
    const host = `${bucket}.s3.localhost:${ctx.server.port}`;
    const res = await raw(ctx.server, { method: 'POST', host, path: `/${awsEncode(key, true)}`, query: { uploadId: vhost.UploadId }, body: completeXml(vhost.parts) });
    assert.equal(res.status, 200);
    assert.equal(xmlField(res.text, 'Location'), `http://${host}/${encodedKey}`);
  });
});

describe('a retried CompleteMultipartUpload', () => {
  const complete = (bucket: string, key: string, UploadId: string, Parts: CompletedPart[], extra: Partial<CompleteMultipartUploadCommandInput> = {}) =>
    ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts }, ...extra }));
  /** What a completion answers, in the SDK's terms. */
  const answer = (o: CompleteMultipartUploadCommandOutput) => ({
    status: o.$metadata.httpStatusCode,
    Location: o.Location,
    Bucket: o.Bucket,
    Key: o.Key,
    ETag: o.ETag,
    VersionId: o.VersionId,
    ChecksumCRC32: o.ChecksumCRC32,
    ChecksumType: o.ChecksumType,
    ServerSideEncryption: o.ServerSideEncryption,
  });

  /** A versioned bucket's encrypted upload of two parts with CRC32 checksums. */
  async function twoPartUpload(tag: string, key: string) {
    const bucket = await newBucket(tag);
    await ctx.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32', ServerSideEncryption: 'AES256' }));
    const bodies = [randomBytes(PART), randomBytes(300)];
    const parts: CompletedPart[] = [];
    for (const [i, Body] of bodies.entries()) {
      const r = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: 'CRC32' }));
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
    }
    return { bucket, UploadId: UploadId!, parts, body: Buffer.concat(bodies) };
  }

  test('with the same part list: 200 and the same Location, ETag, version, checksum and encryption, one version committed', async () => {
    const { bucket, UploadId, parts, body } = await twoPartUpload('retry', 'dir/r.bin');
    const first = answer(await complete(bucket, 'dir/r.bin', UploadId, parts));
    assert.equal(first.status, 200);
    assert.match(first.VersionId ?? '', /.+/);
    assert.equal(first.ChecksumType, 'COMPOSITE');
    assert.equal(first.ServerSideEncryption, 'AES256');
    assert.deepEqual(answer(await complete(bucket, 'dir/r.bin', UploadId, parts)), first);
    // Without the part checksums, and with If-None-Match: * (the object exists now): the
    // conditions held when the object was committed and are not evaluated again.
    const bare = parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    assert.deepEqual(answer(await complete(bucket, 'dir/r.bin', UploadId, bare, { IfNoneMatch: '*' })), first);
    // By hand: ETags without their quotes name the same parts; the headers are the first answer's.
    const res = await raw(ctx.server, {
      method: 'POST',
      path: `/${bucket}/dir/r.bin`,
      query: { uploadId: UploadId },
      body: completeXml(parts.map((p) => ({ PartNumber: p.PartNumber!, ETag: p.ETag!.replaceAll('"', '') }))),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-amz-version-id'], first.VersionId);
    assert.equal(res.headers['x-amz-server-side-encryption'], 'AES256');
    assert.equal(xmlField(res.text, 'ETag')?.replaceAll('&quot;', '"'), first.ETag);
    const versions = await ctx.s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(versions.Versions?.map((v) => [v.Key, v.VersionId]), [['dir/r.bin', first.VersionId]]);
    assert.ok((await getBody(bucket, 'dir/r.bin')).body.equals(body));
  });

  test('another part list is NoSuchUpload, and so are the size and checksum claims the object does not meet', async () => {
    const { bucket, UploadId, parts } = await twoPartUpload('other', 'k');
    await complete(bucket, 'k', UploadId, parts);
    const attempts: CompletedPart[][] = [
      [parts[0]],
      [parts[0], { ...parts[1], PartNumber: 3 }],
      [parts[0], { PartNumber: 2, ETag: parts[0].ETag }],
      [...parts, { PartNumber: 3, ETag: parts[1].ETag }],
    ];
    for (const attempt of attempts) {
      const err = await s3Error(complete(bucket, 'k', UploadId, attempt));
      assert.equal(err.name, 'NoSuchUpload', JSON.stringify(attempt));
      assert.equal(err.$metadata.httpStatusCode, 404);
    }
    const wrongSize = await s3Error(complete(bucket, 'k', UploadId, parts, { MpuObjectSize: 1 }));
    assert.equal(wrongSize.name, 'InvalidRequest');
    // Under another key, the upload ID names no upload.
    assert.equal((await s3Error(complete(bucket, 'other', UploadId, parts))).name, 'NoSuchUpload');
  });

  test('answers the same after the object was overwritten or deleted: it is the request\'s answer', async () => {
    const bucket = await newBucket('since');
    const first = await onePartUpload(bucket, 'k');
    const done = answer(await complete(bucket, 'k', first.UploadId, first.parts));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'newer' }));
    assert.deepEqual(answer(await complete(bucket, 'k', first.UploadId, first.parts)), done);
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.deepEqual(answer(await complete(bucket, 'k', first.UploadId, first.parts)), done);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).$metadata.httpStatusCode, 404, 'and changes nothing');
  });

  test('a completed upload is listed nowhere, takes no parts and cannot be aborted; its bucket can be deleted', async () => {
    const bucket = await newBucket('gone');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'copy me' }));
    const { UploadId, parts } = await onePartUpload(bucket, 'k');
    const open = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
    const done = answer(await complete(bucket, 'k', UploadId, parts));
    const listed = await ctx.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(listed.Uploads?.map((u) => u.UploadId), [open.UploadId]);
    const refused: [string, () => Promise<unknown>][] = [
      ['ListParts', () => ctx.s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'k', UploadId }))],
      ['UploadPart', () => ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 2, Body: 'late' }))],
      ['UploadPartCopy', () => ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 2, CopySource: `${bucket}/src` }))],
      ['AbortMultipartUpload', () => ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId }))],
    ];
    for (const [what, attempt] of refused) {
      const err = await s3Error(attempt());
      assert.equal(err.name, 'NoSuchUpload', what);
      assert.equal(err.$metadata.httpStatusCode, 404, what);
    }
    assert.deepEqual(answer(await complete(bucket, 'k', UploadId, parts)), done, 'the refusals changed nothing');
    assert.equal((await getBody(bucket, 'k')).body.toString(), 'hello');

    await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId: open.UploadId }));
    for (const Key of ['k', 'src']) await ctx.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    const deleted = await ctx.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
  });

  test('a day after the completion its row is swept, and a retry is NoSuchUpload', async () => {
    const bucket = await newBucket('swept');
    const { UploadId, parts } = await onePartUpload(bucket, 'k');
    await complete(bucket, 'k', UploadId, parts);
    const { multipart } = ctx.server.services;
    ctx.server.shiftClock(23 * 3600_000);
    try {
      await multipart.pruneCompleted();
      assert.equal((await complete(bucket, 'k', UploadId, parts)).$metadata.httpStatusCode, 200, 'kept for a day');
      ctx.server.shiftClock(3600_000 + 1000);
      assert.ok((await multipart.pruneCompleted()) >= 1);
    } finally {
      ctx.server.shiftClock(-(24 * 3600_000 + 1000));
    }
    assert.equal((await s3Error(complete(bucket, 'k', UploadId, parts))).name, 'NoSuchUpload');
    assert.equal((await getBody(bucket, 'k')).body.toString(), 'hello', 'the object stays');
  });
});
