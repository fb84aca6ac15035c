// test-engines: postgres
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { engine, freshDatabase, freshSchemaUrl } from './helpers/engines.js';
import { raw, sleep, xmlField, type RawRequest } from './helpers/raw-s3.js';
import { formData, postPolicyFields } from './helpers/post-form.js';
import { ROOT_KEY, startTestServer, TEST_MASTER_KEY, type TestServer } from './helpers/server.js';
import { openPostgresStore } from '../src/storage/metadata/postgres-store.js';
import { UsageService } from '../src/usage/usage-service.js';

// A NUL (%00) in a bucket name, an upload ID or an access key ID names nothing: the same 404 or
// 403 on either metadata store. PostgreSQL text cannot hold NUL, and such a name reaching a query
// there was a 500 (SQLSTATE 22021), even for anonymous callers; and a request counted under such
// a name stopped every later usage flush of the node.

const postgres = engine('postgres');
const BUCKET = 'nulnames';

function presignedV4(accessKeyId: string): RawRequest {
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const query = {
    'list-type': '2',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${accessKeyId}/${date.slice(0, 8)}/us-east-1/s3/aws4_request`,
    'X-Amz-Date': date,
    'X-Amz-Expires': '300',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': '0'.repeat(64),
  };
  return { method: 'GET', path: `/${BUCKET}`, query, sign: false };
}

/** What each request answers: its status and error code (none for a HEAD). */
const CASES: [string, () => RawRequest, number, string | undefined][] = [
  ['anonymous ListObjectsV2 of /nul%00names', () => ({ method: 'GET', path: '/nul%00names', query: { 'list-type': '2' }, sign: false }), 404, 'NoSuchBucket'],
  ['anonymous GetObject of /x%00/k', () => ({ method: 'GET', path: '/x%00/k', sign: false }), 404, 'NoSuchBucket'],
  ['signed ListObjectsV2 of a name ending in %00', () => ({ method: 'GET', path: `/${BUCKET}%00`, query: { 'list-type': '2' } }), 404, 'NoSuchBucket'],
  ['signed HeadBucket of a name ending in %00', () => ({ method: 'HEAD', path: `/${BUCKET}%00` }), 404, undefined],
  ['CopyObject from /<bucket>%00/a', () => ({ method: 'PUT', path: `/${BUCKET}/copied`, headers: { 'x-amz-copy-source': `/${BUCKET}%00/a` } }), 404, 'NoSuchBucket'],
  ['ListParts, uploadId x%00', () => ({ method: 'GET', path: `/${BUCKET}/mp`, query: { uploadId: 'x\u0000' } }), 404, 'NoSuchUpload'],
  ['AbortMultipartUpload, uploadId %00', () => ({ method: 'DELETE', path: `/${BUCKET}/mp`, query: { uploadId: '\u0000' } }), 404, 'NoSuchUpload'],
  ['UploadPart, uploadId x%00', () => ({ method: 'PUT', path: `/${BUCKET}/mp`, query: { partNumber: '1', uploadId: 'x\u0000' }, body: 'data' }), 404, 'NoSuchUpload'],
  [
    'UploadPartCopy, uploadId x%00',
    () => ({ method: 'PUT', path: `/${BUCKET}/mp`, query: { partNumber: '1', uploadId: 'x\u0000' }, headers: { 'x-amz-copy-source': `/${BUCKET}/a` } }),
    404,
    'NoSuchUpload',
  ],
  [
    'CompleteMultipartUpload, uploadId x%00',
    () => ({ method: 'POST', path: `/${BUCKET}/mp`, query: { uploadId: 'x\u0000' }, body: '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>' }),
    404,
    'NoSuchUpload',
  ],
  ['presigned V4, access key AKIA%00', () => presignedV4('AKIA\u0000'), 403, 'InvalidAccessKeyId'],
  ['presigned V4, the root access key and %00', () => presignedV4(`${ROOT_KEY.accessKeyId}\u0000`), 403, 'InvalidAccessKeyId'],
  ['presigned V2, AWSAccessKeyId=AKIA%00', () => ({ method: 'GET', path: `/${BUCKET}`, query: { AWSAccessKeyId: 'AKIA\u0000', Expires: '9999999999', Signature: 'abc' }, sign: false }), 403, 'InvalidAccessKeyId'],
];

for (const store of ['embedded', 'postgres'] as const) {
  describe(`S3: names and IDs with NUL name nothing (${store} metadata)`, { skip: store === 'postgres' && postgres.skip }, () => {
    let server: TestServer;
    before(async () => {
      if (store === 'postgres') postgres.require();
      server = await startTestServer(store === 'postgres' ? { storage: { metadataUrl: await freshDatabase(), metadataPoolSize: 4 }, masterKey: TEST_MASTER_KEY } : {});
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'a' }));
      await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp' }));
    });
    after(() => server?.stop());

    for (const [what, request, status, code] of CASES) {
      test(what, async () => {
        const r = await raw(server, request());
        assert.equal(r.status, status, `${what}: ${r.text}`);
        assert.equal(xmlField(r.text, 'Code'), code, r.text);
      });
    }

    for (const version of ['v4', 'v2'] as const) {
      test(`a POST form signed (${version}) with access key AK%00X`, async () => {
        const fields = postPolicyFields({ bucket: BUCKET, key: 'posted', credentials: { accessKeyId: 'AK\u0000X', secretAccessKey: 'secret' }, version });
        const r = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: formData(fields, 'data') });
        const text = await r.text();
        assert.equal(r.status, 403, text);
        assert.equal(xmlField(text, 'Code'), 'InvalidAccessKeyId', text);
      });
    }

    test('a POST form whose key holds a NUL is refused as a path would be, and stores nothing', async () => {
      const fields = postPolicyFields({ bucket: BUCKET, key: 'pk\u0000z', credentials: ROOT_KEY });
      const r = await fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: formData(fields, 'data') });
      const text = await r.text();
      assert.equal(r.status, 400, text);
      assert.equal(xmlField(text, 'Code'), 'InvalidURI', text);
      const listed = await server.client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'pk' }));
      assert.equal(listed.KeyCount, 0);
    });

    test('a failed signature with access key AKIA%00 is audited, the claim escaped', async () => {
      await raw(server, presignedV4('AKIA\u0000'));
      const claimed = (r: { action: string; detail: string | null }) => r.action === 'auth.failed' && !!r.detail?.endsWith('claimed key AKIA\\u{0}');
      // The failure is audited after the answer, in the background.
      for (let i = 0; i < 50 && !(await server.services.audit.list({ limit: 1000 })).some(claimed); i++) await sleep(20);
      assert.ok((await server.services.audit.list({ limit: 1000 })).some(claimed));
    });

    test('a request to a bucket that does not exist is counted under no bucket, not under its name', async () => {
      const p = server.bootstrap.projectId;
      const requests = async (bucket: string) =>
        (await server.meta.usageByDay({ projectId: p, from: '2000-01-01', to: '2999-12-31', bucket })).reduce((n, d) => n + d.requestsList + d.requestsRead, 0);
      await server.services.usage.flush();
      const before = await requests('');
      assert.equal((await raw(server, { method: 'GET', path: '/no-such-bucket-here', query: { 'list-type': '2' } })).status, 404);
      assert.equal((await raw(server, { method: 'GET', path: '/no-such-bucket-here/k', sign: false })).status, 404);
      await server.services.usage.flush();
      assert.equal(await requests('no-such-bucket-here'), 0);
      assert.equal(await requests(''), before + 2);
    });

    test('a request to a name with NUL leaves usage counting as it was', async () => {
      const s3 = server.client();
      const p = server.bootstrap.projectId;
      const lists = async () => (await server.meta.usageByDay({ projectId: p, from: '2000-01-01', to: '2999-12-31', bucket: BUCKET })).reduce((n, d) => n + d.requestsList, 0);
      await server.services.usage.flush();
      const before = await lists();
      assert.equal((await raw(server, { method: 'GET', path: '/x%00', query: { 'list-type': '2' }, sign: false })).status, 404);
      for (let i = 0; i < 3; i++) await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      await server.services.usage.flush();
      assert.equal(await lists(), before + 3);
    });
  });
}

describe('usage counters: a row the store refuses', { skip: postgres.skip }, () => {
  test('is dropped, and the other rows of its batch and later ones are written (PostgreSQL)', async () => {
    postgres.require();
    const meta = await openPostgresStore(await freshSchemaUrl(), { poolSize: 2 });
    try {
      const usage = new UsageService(meta, () => new Date('2026-03-10T12:00:00Z'));
      const list = (bucket: string) => usage.record({ projectId: 'prj', bucket, tokenId: null, kind: 'list', bytesIn: 0, bytesOut: 0 });
      const lists = async (bucket: string) => (await meta.usageByDay({ projectId: 'prj', from: '2026-03-10', to: '2026-03-10', bucket }))[0]?.requestsList ?? 0;
      // PostgreSQL text cannot hold NUL: this row fails whatever batch it is in.
      list('bad\u0000');
      list('good');
      await usage.flush();
      assert.equal(await lists('good'), 1);
      list('good');
      await usage.flush();
      assert.equal(await lists('good'), 2, 'the next flush is not held up by the refused row');
    } finally {
      await meta.close();
    }
  });
});
