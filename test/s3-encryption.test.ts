import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { captureLog, startTestServer, useS3Server, type TestServer } from './helpers/server.js';
import { s3Error } from './helpers/s3.js';
import { call, rootBearer } from './helpers/api.js';
import { blobBytes, blobFiles, raw, xmlField, type RawRequest } from './helpers/raw-s3.js';
import { CHUNK_SIZE, HEADER_SIZE, sealedSize } from '../src/objects/chunked-cipher.js';
import { INLINE_FILE } from '../src/storage/blob/inline-blob-store.js';
import { sqliteDriver } from '../src/storage/metadata/sqlite-driver.js';

// Encryption at rest through the AWS SDK: SSE-S3 (per request and as a bucket default), SSE-C
// with the customer's key checked and never stored, multipart and copies between encryptions,
// SSE-KMS refused clearly; the blob files on disk and the metadata database hold no plaintext
// and no key, and a ranged GET opens only the chunks it needs.

const ctx = useS3Server('sse');
const MiB = 1024 * 1024;

function customerKey() {
  const key = randomBytes(32);
  return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(key).digest('base64'), raw: key };
}
type CustomerKey = ReturnType<typeof customerKey>;
const sseC = (k: CustomerKey) => ({ SSECustomerAlgorithm: k.SSECustomerAlgorithm, SSECustomerKey: k.SSECustomerKey, SSECustomerKeyMD5: k.SSECustomerKeyMD5 });
const copySseC = (k: CustomerKey) => ({ CopySourceSSECustomerAlgorithm: k.SSECustomerAlgorithm, CopySourceSSECustomerKey: k.SSECustomerKey, CopySourceSSECustomerKeyMD5: k.SSECustomerKeyMD5 });

/** A body that is easy to find on disk: a marker sentence repeated. */
function recognisable(tag: string, size: number): Buffer {
  const unit = Buffer.from(`PLAINTEXT-${tag}-must-never-reach-the-disk. `);
  return Buffer.concat(Array.from({ length: Math.ceil(size / unit.length) }, () => unit)).subarray(0, size);
}

async function bytes(out: { Body?: { transformToByteArray(): Promise<Uint8Array> } }): Promise<Buffer> {
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Every blob's stored bytes (files and inline rows), read whole. */
async function blobContents(): Promise<Buffer[]> {
  return blobBytes(ctx.server, await blobFiles(ctx.server));
}

/** The metadata database and its write-ahead log. */
async function metadataFiles(): Promise<Buffer> {
  const names = (await readdir(ctx.server.dataDir)).filter((n) => n.startsWith('metadata.sqlite'));
  return Buffer.concat(await Promise.all(names.map((n) => readFile(join(ctx.server.dataDir, n)))));
}

async function blobFileOf(needle: (b: Buffer) => boolean): Promise<string> {
  const root = join(ctx.server.dataDir, 'blobs');
  // Files only: the blobs these tests damage are larger than the inline ones.
  for (const f of await blobFiles(ctx.server)) if (!f.startsWith('inline/') && needle(await readFile(join(root, f)))) return join(root, f);
  throw new Error('blob not found');
}

describe('SSE-S3', () => {
  test('a PUT with AES256 is encrypted on disk, reported on PUT, HEAD and GET, and reads back whole', async () => {
    const bucket = await ctx.newBucket('s3');
    const data = recognisable('sse-s3', 300_000);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data, ServerSideEncryption: 'AES256' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    assert.equal(put.ETag, `"${createHash('md5').update(data).digest('hex')}"`, 'the ETag of SSE-S3 is the MD5 of the plaintext');
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.deepEqual([head.ServerSideEncryption, head.ContentLength], ['AES256', data.length]);
    const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(got.ServerSideEncryption, 'AES256');
    assert.deepEqual(await bytes(got), data);
    for (const blob of await blobContents()) assert.equal(blob.includes(Buffer.from('PLAINTEXT-sse-s3')), false, 'no plaintext in any blob file');
  });

  test('bucket default encryption: set, read, applied to new objects; removed, new objects are plain again', async () => {
    const bucket = await ctx.newBucket('default');
    assert.equal((await s3Error(ctx.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })))).name, 'ServerSideEncryptionConfigurationNotFoundError');
    await ctx.s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
    const conf = await ctx.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    assert.equal(conf.ServerSideEncryptionConfiguration?.Rules?.[0].ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
    const data = recognisable('default-enc', 100_000);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    for (const blob of await blobContents()) assert.equal(blob.includes(Buffer.from('PLAINTEXT-default-enc')), false);
    await ctx.s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    const plain = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'in clear' }));
    assert.equal(plain.ServerSideEncryption, undefined);
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }))), data);
  });

  test('SSE-KMS is answered NotImplemented, on a PUT and as a bucket default; an unknown algorithm is InvalidArgument in a header, MalformedXML in a bucket default', async () => {
    const bucket = await ctx.newBucket('kms');
    const put = await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ServerSideEncryption: 'aws:kms' })));
    assert.deepEqual([put.name, put.$metadata.httpStatusCode], ['NotImplemented', 501]);
    assert.match(put.message, /key management service/);
    const conf = await s3Error(ctx.s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } })));
    assert.equal(conf.name, 'NotImplemented');
    // Outside the schema's enumeration (AES256, aws:kms, aws:kms:dsse), the document itself is malformed.
    for (const algorithm of ['AES128', 'SSE-KMS', '']) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, body: `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>${algorithm}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>` });
      assert.deepEqual([res.status, xmlField(res.text, 'Code')], [400, 'MalformedXML'], JSON.stringify(algorithm));
    }
    const odd = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers: { 'x-amz-server-side-encryption': 'rot13' }, body: 'x' });
    assert.equal(xmlField(odd.text, 'Code'), 'InvalidArgument');
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).$metadata.httpStatusCode, 404, 'nothing was stored');
    // A KMS key ID or context without aws:kms is a bad request; with it, KMS is what is not implemented.
    for (const [headers, code] of [
      [{ 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/k' }, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-context': 'e30=' }, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/k' }, 'NotImplemented'],
    ] as const) {
      const res = await raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers, body: 'x' });
      assert.equal(xmlField(res.text, 'Code'), code, JSON.stringify(headers));
    }
  });

  test('BlockedEncryptionTypes SSE-C refuses SSE-C writes (PUT, copy, multipart) with 403, keeps existing SSE-C objects readable, and reads back', async () => {
    const bucket = await ctx.newBucket('block-c');
    const key = customerKey();
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'before', Body: 'sealed before', ...sseC(key) }));
    const config = (types: string) =>
      `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>${types}</Rule></ServerSideEncryptionConfiguration>`;
    const put = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, body: config('<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>') });
    assert.equal(put.status, 200, put.text);
    const got = await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { encryption: '' } });
    assert.match(got.text, /<BlockedEncryptionTypes><EncryptionType>SSE-C<\/EncryptionType><\/BlockedEncryptionTypes>/);
    for (const refused of [
      () => ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'x', ...sseC(key) })),
      () => ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/before`, ...copySseC(key), ...sseC(key) })),
      () => ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ...sseC(key) })),
    ]) {
      const err = await s3Error(refused());
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], ['AccessDenied', 403]);
    }
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'before', ...sseC(key) }))).Body!.transformToString(), 'sealed before');
    // Setting the default through the REST API keeps the block it does not name.
    const rest = await call(ctx.server, 'PUT', `/projects/${ctx.server.bootstrap.projectId}/buckets/${bucket}/settings/encryption`, { as: rootBearer(ctx.server), json: { algorithm: 'AES256' } });
    assert.equal(rest.status, 200, rest.text);
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'x', ...sseC(key) })))).name, 'AccessDenied');
    // Other writes go on, under the default; NONE lifts the block, a value S3 does not know is refused.
    assert.equal((await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'x' }))).ServerSideEncryption, 'AES256');
    const bad = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, body: config('<BlockedEncryptionTypes><EncryptionType>SSE-X</EncryptionType></BlockedEncryptionTypes>') });
    assert.equal(xmlField(bad.text, 'Code'), 'MalformedXML');
    // A misspelt element is refused, not read as absent (which would lift the block).
    const typo = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, body: config('<BlockedEncryptionType><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionType>') });
    assert.equal(xmlField(typo.text, 'Code'), 'MalformedXML');
    assert.equal((await s3Error(ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'x', ...sseC(key) })))).name, 'AccessDenied', 'still blocked');
    await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { encryption: '' }, body: config('<BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>') });
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new', Body: 'x', ...sseC(key) }));
  });

  test('an SSE-C multipart upload begun before BlockedEncryptionTypes SSE-C is refused its parts, part copies and completion (403) until the block is lifted', async () => {
    const bucket = await ctx.newBucket('block-mp');
    const key = customerKey();
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'copied part' }));
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ...sseC(key) }));
    const first = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: 'first part', ...sseC(key) }));
    const parts = { Parts: [{ PartNumber: 1, ETag: first.ETag }] };
    const block = (type: 'SSE-C' | 'NONE') =>
      ctx.s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BlockedEncryptionTypes: { EncryptionType: [type] } }] } }));
    await block('SSE-C');
    for (const refused of [
      () => ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: 'second part', ...sseC(key) })),
      () => ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, CopySource: `${bucket}/src`, ...sseC(key) })),
      () => ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: parts, ...sseC(key) })),
      () => ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: parts })),
    ]) {
      const err = await s3Error(refused());
      assert.deepEqual([err.name, err.$metadata.httpStatusCode], ['AccessDenied', 403]);
      assert.match(err.message, /blocks writes encrypted with customer-provided keys/);
    }
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp', ...sseC(key) })))).$metadata.httpStatusCode, 404, 'nothing was committed');
    // The upload is kept: once SSE-C is allowed again it completes.
    await block('NONE');
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: parts, ...sseC(key) }));
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp', ...sseC(key) }))).Body!.transformToString(), 'first part');
  });
});

describe('SSE request headers where S3 takes none', () => {
  test('x-amz-server-side-encryption on a read, a part, a completion or a tagging call is 400 InvalidArgument; on a write it is honoured', async () => {
    const bucket = await ctx.newBucket('misplaced');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ServerSideEncryption: 'AES256' }));
    const upload = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ServerSideEncryption: 'AES256' }));
    const misplaced: RawRequest[] = [
      { method: 'GET', path: `/${bucket}/k` },
      { method: 'HEAD', path: `/${bucket}/k` },
      { method: 'PUT', path: `/${bucket}/mp`, query: { partNumber: '1', uploadId: upload.UploadId! }, body: 'part' },
      { method: 'GET', path: `/${bucket}/k`, query: { tagging: '' } },
      { method: 'GET', path: `/${bucket}` },
    ];
    for (const name of ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id']) {
      for (const req of misplaced) {
        const res = await raw(ctx.server, { ...req, headers: { [name]: 'AES256' } });
        assert.equal(res.status, 400, `${name} on ${req.method} ${JSON.stringify(req.query ?? {})}`);
        if (req.method !== 'HEAD') assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument');
      }
    }
    const get = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(get.ServerSideEncryption, 'AES256');
    assert.equal(await get.Body!.transformToString(), 'x');
  });
});

describe('SSE-C', () => {
  test('PUT, GET and HEAD with the key; without it 400, with another key 403; the key is never stored', async () => {
    const bucket = await ctx.newBucket('c');
    const key = customerKey();
    const data = recognisable('sse-c', 200_000);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data, ...sseC(key) }));
    assert.deepEqual([put.SSECustomerAlgorithm, put.SSECustomerKeyMD5], ['AES256', key.SSECustomerKeyMD5]);
    assert.notEqual(put.ETag, `"${createHash('md5').update(data).digest('hex')}"`, 'the ETag does not give away the plaintext MD5');
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }))), data);
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }));
    assert.deepEqual([head.SSECustomerAlgorithm, head.SSECustomerKeyMD5, head.ContentLength], ['AES256', key.SSECustomerKeyMD5, data.length]);

    const none = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })));
    assert.deepEqual([none.name, none.$metadata.httpStatusCode], ['InvalidRequest', 400]);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' })))).$metadata.httpStatusCode, 400);
    const wrong = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(customerKey()) })));
    assert.deepEqual([wrong.name, wrong.$metadata.httpStatusCode], ['AccessDenied', 403]);
    // HEAD checks the key on a path of its own (it reads no bytes): another key is refused there too.
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(customerKey()) })))).$metadata.httpStatusCode, 403);

    for (const blob of await blobContents()) assert.equal(blob.includes(Buffer.from('PLAINTEXT-sse-c')), false);
    const db = await metadataFiles();
    for (const form of [key.raw, Buffer.from(key.SSECustomerKey), Buffer.from(key.raw.toString('hex'))]) assert.equal(db.includes(form), false, 'the key is nowhere in the metadata');
  });

  test('malformed SSE-C headers get S3\'s errors and store nothing', async () => {
    const bucket = await ctx.newBucket('c-bad');
    const key = customerKey();
    const send = (headers: Record<string, string>) => raw(ctx.server, { method: 'PUT', path: `/${bucket}/k`, headers, body: 'x' });
    const base = { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': key.SSECustomerKey, 'x-amz-server-side-encryption-customer-key-md5': key.SSECustomerKeyMD5 };
    const cases: [Record<string, string>, string][] = [
      [{ ...base, 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('other').digest('base64') }, 'InvalidArgument'],
      [{ ...base, 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }, 'InvalidEncryptionAlgorithmError'],
      [{ ...base, 'x-amz-server-side-encryption-customer-key': randomBytes(16).toString('base64') }, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }, 'InvalidArgument'],
      [{ ...base, 'x-amz-server-side-encryption': 'AES256' }, 'InvalidArgument'],
    ];
    for (const [headers, code] of cases) {
      const res = await send(headers);
      assert.equal(res.status, 400, JSON.stringify(headers));
      assert.equal(xmlField(res.text, 'Code'), code, JSON.stringify(headers));
    }
    assert.equal((await raw(ctx.server, { method: 'HEAD', path: `/${bucket}/k` })).status, 404);
  });

  test('multipart with SSE-C: every part needs the key; the object reads back whole and in ranges across parts', async () => {
    const bucket = await ctx.newBucket('c-mp');
    const key = customerKey();
    const parts = [randomBytes(5 * MiB + 123), randomBytes(777_777)];
    const { UploadId, SSECustomerKeyMD5 } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }));
    assert.equal(SSECustomerKeyMD5, key.SSECustomerKeyMD5);
    const missing = await s3Error(ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: parts[0] })));
    assert.equal(missing.name, 'InvalidRequest');
    const other = await s3Error(ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: parts[0], ...sseC(customerKey()) })));
    assert.equal(other.name, 'AccessDenied');
    const etags = [];
    for (const [i, p] of parts.entries()) etags.push((await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: i + 1, Body: p, ...sseC(key) }))).ETag);
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
    const all = Buffer.concat(parts);
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }))), all);
    const start = parts[0].length - 1000;
    const ranged = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', Range: `bytes=${start}-${start + 1999}`, ...sseC(key) }));
    assert.deepEqual(await bytes(ranged), all.subarray(start, start + 2000));
  });

  test('a completion that sends SSE-C key headers must send the upload\'s key: another is 403, a malformed one 400, and only the upload\'s key MD5 is answered', async () => {
    const bucket = await ctx.newBucket('c-complete');
    const key = customerKey();
    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }));
    const part = await ctx.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'only part', ...sseC(key) }));
    const complete = (headers: Record<string, string>) =>
      raw(ctx.server, { method: 'POST', path: `/${bucket}/k`, query: { uploadId: UploadId! }, headers, body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.ETag}</ETag></Part></CompleteMultipartUpload>` });
    const headersOf = (k: CustomerKey) => ({ 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': k.SSECustomerKey, 'x-amz-server-side-encryption-customer-key-md5': k.SSECustomerKeyMD5 });
    const other = await complete(headersOf(customerKey()));
    assert.deepEqual([other.status, xmlField(other.text, 'Code')], [403, 'AccessDenied']);
    const malformed = await complete({ ...headersOf(key), 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('other').digest('base64') });
    assert.deepEqual([malformed.status, xmlField(malformed.text, 'Code')], [400, 'InvalidArgument']);
    assert.equal((await s3Error(ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(key) })))).$metadata.httpStatusCode, 404, 'nothing was committed');
    const done = await complete(headersOf(key));
    assert.equal(done.status, 200, done.text);
    assert.equal(done.headers['x-amz-server-side-encryption-customer-key-md5'], key.SSECustomerKeyMD5);
    // A retried completion is checked the same way.
    assert.equal((await complete(headersOf(customerKey()))).status, 403);
    assert.equal(await (await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ...sseC(key) }))).Body!.transformToString(), 'only part');
  });

  test('copies decrypt with the source key and encrypt as the target asks: SSE-C to SSE-S3, re-keyed in place, and UploadPartCopy into SSE-S3', async () => {
    const bucket = await ctx.newBucket('c-copy');
    const a = customerKey();
    const b = customerKey();
    const data = recognisable('copy', 50_000);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: data, ...sseC(a) }));
    assert.equal((await s3Error(ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src` })))).name, 'InvalidRequest', 'the source needs its key');
    const toS3 = await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src`, ...copySseC(a), ServerSideEncryption: 'AES256' }));
    assert.equal(toS3.ServerSideEncryption, 'AES256');
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dst' }))), data);
    // Re-keyed onto itself: the same object under another customer key.
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'src', CopySource: `${bucket}/src`, ...copySseC(a), ...sseC(b) }));
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'src', ...sseC(b) }))), data);
    assert.equal((await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'src', ...sseC(a) })))).name, 'AccessDenied');
    // Decrypted in place: copied onto itself with only its key, it is stored plain (a change of encryption, not a no-op).
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sealed', Body: 'once sealed', ...sseC(a) }));
    await ctx.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'sealed', CopySource: `${bucket}/sealed`, ...copySseC(a) }));
    const plain = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sealed' }));
    assert.equal(await plain.Body!.transformToString(), 'once sealed');
    assert.equal(plain.SSECustomerAlgorithm, undefined);

    const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', ServerSideEncryption: 'AES256' }));
    const part = await ctx.s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, CopySource: `${bucket}/src`, CopySourceRange: 'bytes=100-999', ...copySseC(b) }));
    await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] } }));
    assert.deepEqual(await bytes(await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp' }))), data.subarray(100, 1000));
    for (const blob of await blobContents()) assert.equal(blob.includes(Buffer.from('PLAINTEXT-copy')), false);
  });
});

describe('SSE-C behind a trusted proxy (--trusted-proxy): the proxy says whether the key crossed the network in clear', () => {
  const key = customerKey();
  const keyHeaders = { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': key.SSECustomerKey, 'x-amz-server-side-encryption-customer-key-md5': key.SSECustomerKeyMD5 };
  /** An SSE-C PUT as the proxy forwards it, with the X-Forwarded-Proto it sends (if any); its status and error code. */
  const put = async (server: TestServer, proto: string | undefined, address?: string) => {
    const res = await raw(server, { method: 'PUT', path: '/proxied/k', address, headers: { ...keyHeaders, 'x-forwarded-for': '203.0.113.9', ...(proto ? { 'x-forwarded-proto': proto } : {}) }, body: 'x' });
    return [res.status, xmlField(res.text, 'Code') ?? ''];
  };
  // An address of this machine that is not loopback, for a proxy that is not on the loopback interface.
  const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

  test('from a proxy on this machine, http is refused (the client sent the key in clear); https, or no word, is accepted', async () => {
    const server = await startTestServer({ trustedProxies: ['127.0.0.1'] });
    try {
      await raw(server, { method: 'PUT', path: '/proxied' });
      assert.deepEqual(await put(server, 'http'), [400, 'InvalidRequest']);
      assert.deepEqual(await put(server, 'https'), [200, '']);
      assert.deepEqual(await put(server, undefined), [200, '']);
    } finally {
      await server.stop();
    }
  });

  test('from a proxy on another address, https is accepted; http, or no word, is refused', { skip: !external && 'this machine has no non-loopback IPv4 address' }, async () => {
    const server = await startTestServer({ host: external!, trustedProxies: [external!] });
    try {
      await raw(server, { method: 'PUT', path: '/proxied', address: external });
      assert.deepEqual(await put(server, 'https', external), [200, '']);
      assert.deepEqual(await put(server, 'http', external), [400, 'InvalidRequest']);
      assert.deepEqual(await put(server, undefined, external), [400, 'InvalidRequest']);
    } finally {
      await server.stop();
    }
  });
});

describe('small encrypted objects (kept inline, opened at once on GET)', () => {
  test('SSE-S3 and SSE-C read back whole and in ranges; another key is refused; no plaintext is stored', async () => {
    const bucket = await ctx.newBucket('small');
    const data = recognisable('small', 5000);
    for (const [name, extra] of [['s3', { ServerSideEncryption: 'AES256' as const }], ['c', sseC(customerKey())]] as const) {
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: data, ...extra }));
      const got = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: name, ...extra }));
      assert.equal(got.ContentLength, data.length);
      assert.deepEqual(await bytes(got), data, `${name}: whole`);
      for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=100-4099', 100, 4099], ['bytes=-7', 4993, 4999], ['bytes=4990-', 4990, 4999]] as const) {
        const part = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: name, Range: range, ...extra }));
        assert.equal(part.ContentRange, `bytes ${start}-${end}/${data.length}`);
        assert.deepEqual(await bytes(part), data.subarray(start, end + 1), `${name}: ${range}`);
      }
    }
    const wrong = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'c', ...sseC(customerKey()) })));
    assert.equal(wrong.$metadata.httpStatusCode, 403);
    const inline = (await blobFiles(ctx.server)).filter((f) => f.startsWith('inline/'));
    const sealed = (await blobBytes(ctx.server, inline)).filter((b) => b.length === sealedSize(data.length));
    assert.equal(sealed.length, 2, 'both objects are kept inline, sealed');
    for (const blob of sealed) assert.equal(blob.includes(Buffer.from('PLAINTEXT-small')), false, 'no plaintext inline');
  });

  test('a damaged inline blob fails the GET with an error, never with other bytes', async () => {
    const bucket = await ctx.newBucket('small-damaged');
    const data = randomBytes(3000);
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data, ServerSideEncryption: 'AES256' }));
    const db = new (sqliteDriver())(join(ctx.server.dataDir, 'blobs', INLINE_FILE));
    try {
      const rows = db.prepare('select ref, data from blobs').all() as Array<{ ref: string; data: Buffer }>;
      const mine = rows.filter((r) => r.data.length === sealedSize(data.length));
      assert.equal(mine.length, 1);
      const damaged = Buffer.from(mine[0].data);
      damaged[HEADER_SIZE + 100] ^= 1;
      db.prepare('update blobs set data = ? where ref = ?').run(damaged, mine[0].ref);
    } finally {
      db.close();
    }
    const err = await s3Error(ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })).then(bytes));
    assert.equal(err.$metadata.httpStatusCode, 500);
  });
});

describe('ranged reads of encrypted objects', () => {
  test('a range opens only its chunks: with the first chunk destroyed on disk, a late range still reads, the whole object does not', async () => {
    const bucket = await ctx.newBucket('range');
    const data = randomBytes(20 * CHUNK_SIZE + 5);
    for (const [key, extra] of [['s3', { ServerSideEncryption: 'AES256' as const }], ['c', sseC(customerKey())]] as const) {
      await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ...extra }));
      const size = 20 * CHUNK_SIZE + 5;
      // The one blob of this size that is not yet damaged: ours.
      const file = await blobFileOf((b) => b.length === HEADER_SIZE + size + 21 * 16 && b[HEADER_SIZE + 10] !== 0x5a);
      const blob = await readFile(file);
      blob.fill(0x5a, HEADER_SIZE, HEADER_SIZE + 1000); // the first chunk is garbage now
      await writeFile(file, blob);
      const start = 15 * CHUNK_SIZE + 17;
      const ranged = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${start + 99_999}`, ...extra }));
      assert.deepEqual(await bytes(ranged), data.subarray(start, start + 100_000), `${key}: the range decrypts without chunk 0`);
      const tail = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=-10', ...extra }));
      assert.deepEqual(await bytes(tail), data.subarray(data.length - 10));
      await assert.rejects(
        ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra })).then(bytes),
        `${key}: the whole object fails to read, so the ranges above did not go through chunk 0`,
      );
    }
  });
});

describe('a body that fails after its head was sent', () => {
  test('is cut, and logged at error level with its request ID', async () => {
    const captured = captureLog('warn');
    const server = await startTestServer({}, { log: captured.logger });
    try {
      const s3 = server.client({ maxAttempts: 1 });
      const bucket = `sse-log-${process.pid}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const data = randomBytes(8 * CHUNK_SIZE);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: data, ServerSideEncryption: 'AES256' }));
      const [file] = (await blobFiles(server)).filter((f) => !f.startsWith('inline/'));
      const path = join(server.dataDir, 'blobs', file!);
      const blob = await readFile(path);
      blob.fill(0x5a, HEADER_SIZE + 6 * CHUNK_SIZE, HEADER_SIZE + 6 * CHUNK_SIZE + 100); // a late chunk: the head is sent first
      await writeFile(path, blob);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));
      await assert.rejects(bytes(got));
      const requestId = got.$metadata.requestId;
      const deadline = Date.now() + 5000;
      while (!captured.lines.some((l) => l.level >= 50 && l.requestId === requestId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const line = captured.lines.find((l) => l.level >= 50 && l.requestId === requestId);
      assert.ok(line, JSON.stringify(captured.lines));
      assert.equal(line.op, 'GetObject');
    } finally {
      await server.stop();
    }
  });
});
