import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, CreateMultipartUploadCommand, ListBucketsCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ROOT_KEY, startTestServer, type TestServer } from './helpers/server.js';
import { raw, send, signedHeaders, signer, tmpFiles, xmlField, type RawRequest, type RawResponse } from './helpers/raw-s3.js';
import { issue, type Issued } from './helpers/tokens.js';

// The shape of S3 error responses: XML with Code, Message, Resource and RequestId, the
// x-amz-request-id header, no body on HEAD, 501 for what skep does not implement, MalformedXML,
// and requests Node rejects before any handler (oversized headers).

let server: TestServer;
let s3: S3Client;
let n = 0;
const bucketName = (tag: string) => `err-${tag}-${process.pid}-${++n}`;
let bucket: string;

before(async () => {
  server = await startTestServer();
  s3 = server.client();
  bucket = bucketName('main');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'exists', Body: 'here' }));
});
after(() => server.stop());

/** Asserts the S3 error document and headers; returns the parsed fields. */
function assertS3Error(res: RawResponse, status: number, code: string, resource?: string): void {
  assert.equal(res.status, status, `${code}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /application\/xml/);
  assert.ok(res.text.startsWith('<?xml'), 'an XML document');
  assert.match(res.text, /<Error>[\s\S]*<\/Error>/);
  assert.equal(xmlField(res.text, 'Code'), code);
  assert.ok((xmlField(res.text, 'Message') ?? '').length > 0, 'a message');
  const requestId = xmlField(res.text, 'RequestId');
  assert.ok(requestId, 'a RequestId element');
  assert.equal(res.headers['x-amz-request-id'], requestId, 'the header carries the same request id');
  const resourceText = xmlField(res.text, 'Resource');
  assert.ok(resourceText !== undefined, 'a Resource element');
  if (resource !== undefined) assert.equal(resourceText, resource);
  assert.equal(Number(res.headers['content-length']), res.body.length);
}

describe('error documents', () => {
  const cases: [string, () => RawRequest, number, string, (() => string)?][] = [
    ['NoSuchBucket', () => ({ method: 'GET', path: `/${bucketName('none')}` }), 404, 'NoSuchBucket'],
    ['NoSuchKey', () => ({ method: 'GET', path: `/${bucket}/missing-key` }), 404, 'NoSuchKey', () => `/${bucket}/missing-key`],
    ['InvalidBucketName', () => ({ method: 'PUT', path: '/Bad_Name' }), 400, 'InvalidBucketName'],
    ['NoSuchBucketPolicy', () => ({ method: 'GET', path: `/${bucket}`, query: { policy: '' } }), 404, 'NoSuchBucketPolicy', () => `/${bucket}`],
    ['InvalidRange', () => ({ method: 'GET', path: `/${bucket}/exists`, headers: { range: 'bytes=100-' } }), 416, 'InvalidRange'],
    ['PreconditionFailed', () => ({ method: 'GET', path: `/${bucket}/exists`, headers: { 'if-match': '"nope"' } }), 412, 'PreconditionFailed'],
    ['InvalidArgument (max-keys)', () => ({ method: 'GET', path: `/${bucket}`, query: { 'max-keys': 'lots' } }), 400, 'InvalidArgument'],
    ['InvalidArgument (max-keys beyond 32 bits)', () => ({ method: 'GET', path: `/${bucket}`, query: { 'max-keys': '99999999999' } }), 400, 'InvalidArgument'],
    ['AccessDenied (anonymous, private bucket)', () => ({ method: 'GET', path: `/${bucket}/exists`, sign: false }), 403, 'AccessDenied'],
    ['NoSuchBucket (anonymous, missing bucket)', () => ({ method: 'GET', path: `/${bucketName('nobody')}/k`, sign: false }), 404, 'NoSuchBucket'],
    ['SignatureDoesNotMatch', () => ({ method: 'GET', path: `/${bucket}/exists`, sign: { accessKeyId: 'SKTESTROOTKEY0000001', secretAccessKey: 'wrong' } }), 403, 'SignatureDoesNotMatch'],
    ['InvalidAccessKeyId', () => ({ method: 'GET', path: '/', sign: { accessKeyId: 'NOBODY', secretAccessKey: 'x' } }), 403, 'InvalidAccessKeyId'],
    ['MethodNotAllowed', () => ({ method: 'PATCH', path: `/${bucket}/exists` }), 405, 'MethodNotAllowed'],
    ['NoSuchUpload', () => ({ method: 'GET', path: `/${bucket}/k`, query: { uploadId: 'no-such-upload' } }), 404, 'NoSuchUpload'],
  ];
  for (const [name, request, status, code, resource] of cases) {
    test(`${name}: ${status} with Code, Message, Resource, RequestId and x-amz-request-id`, async () => {
      const res = await raw(server, request());
      assertS3Error(res, status, code, resource?.());
    });
  }

  test('every request id is distinct', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await raw(server, { method: 'GET', path: `/${bucket}/missing-${i}` });
      ids.add(String(res.headers['x-amz-request-id']));
    }
    assert.equal(ids.size, 5);
  });

  test('successful responses carry x-amz-request-id too', async () => {
    const res = await raw(server, { method: 'GET', path: `/${bucket}/exists` });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-amz-request-id']), /^[0-9A-F]{16}$/);
  });

  test('the SDK surfaces the code, status and request id', async () => {
    const err = await s3.send(new PutObjectCommand({ Bucket: bucketName('absent'), Key: 'k', Body: 'x' })).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e as S3ServiceException,
    );
    assert.equal(err.name, 'NoSuchBucket');
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.match(err.$metadata.requestId ?? '', /^[0-9A-F]{16}$/);
  });
});

describe('HEAD errors', () => {
  for (const [what, path, status] of [
    ['missing key', () => `/${bucket}/missing`, 404],
    ['missing bucket', () => `/${bucketName('nohead')}`, 404],
    ['anonymous', () => `/${bucket}/exists`, 403],
  ] as const) {
    test(`HEAD (${what}) answers ${status} with no body and the request id header`, async () => {
      const res = await raw(server, { method: 'HEAD', path: path(), sign: what === 'anonymous' ? false : undefined });
      assert.equal(res.status, status);
      assert.equal(res.body.length, 0);
      assert.ok(res.headers['x-amz-request-id']);
    });
  }
});

describe('not implemented', () => {
  for (const [method, sub, onObject] of [
    ['GET', 'inventory', false],
    ['PUT', 'replication', false],
    ['GET', 'website', false],
    ['PUT', 'notification', false],
    ['GET', 'torrent', true],
    ['POST', 'restore', true],
  ] as const) {
    test(`${method} ?${sub} is 501 NotImplemented with S3 XML`, async () => {
      const path = onObject ? `/${bucket}/exists` : `/${bucket}`;
      const res = await raw(server, { method, path, query: { [sub]: '' }, body: method === 'GET' ? undefined : '<x/>' });
      assertS3Error(res, 501, 'NotImplemented');
    });
  }

  test('the bucket and object are untouched by an unimplemented PUT', async () => {
    const res = await raw(server, { method: 'PUT', path: `/${bucket}`, query: { logging: '' }, body: '<BucketLoggingStatus/>' });
    assert.equal(res.status, 501);
    const get = await raw(server, { method: 'GET', path: `/${bucket}/exists` });
    assert.equal(get.text, 'here');
  });

  test('DeleteBucketMetadataConfiguration leaves an empty bucket, UpdateObjectEncryption leaves the object', async () => {
    const empty = bucketName('metaconf');
    await s3.send(new CreateBucketCommand({ Bucket: empty }));
    assertS3Error(await raw(server, { method: 'DELETE', path: `/${empty}`, query: { metadataConfiguration: '' } }), 501, 'NotImplemented');
    assert.equal((await raw(server, { method: 'HEAD', path: `/${empty}` })).status, 200);
    const update = '<ObjectEncryption><SSES3/></ObjectEncryption>';
    assertS3Error(await raw(server, { method: 'PUT', path: `/${bucket}/exists`, query: { encryption: '' }, body: update }), 501, 'NotImplemented');
    assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/exists` })).text, 'here');
  });
});

describe('unsupported requests are authorized before they are answered 501', () => {
  const tokens: Partial<Record<string, Issued>> = {};
  const as = (level: string) => {
    const t = tokens[level]!;
    return { accessKeyId: t.credentials.accessKeyId, secretAccessKey: t.credentials.secretAccessKey };
  };
  before(async () => {
    for (const level of ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']) tokens[level] = await issue(server, { permission: level });
  });

  // [method, sub-resource, on an object, levels answered 501; the others are AccessDenied]
  const cases: [string, string, boolean, string[]][] = [
    ['PUT', 'replication', false, ['admin-rw']],
    ['PUT', 'logging', false, ['admin-rw']],
    ['DELETE', 'website', false, ['admin-rw']],
    ['PUT', 'notification', false, ['admin-rw']],
    ['GET', 'website', false, ['admin-rw', 'admin-ro']],
    ['GET', 'replication', false, ['admin-rw', 'admin-ro']],
    ['POST', 'restore', true, ['admin-rw', 'object-rw']],
    ['GET', 'torrent', true, ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']],
  ];
  for (const [method, sub, onObject, notImplementedFor] of cases) {
    test(`${method} ?${sub}${onObject ? ' on an object' : ''}: 501 for ${notImplementedFor.join(', ')}; AccessDenied for the others`, async () => {
      for (const level of ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']) {
        const res = await raw(server, {
          method,
          path: onObject ? `/${bucket}/exists` : `/${bucket}`,
          query: { [sub]: '' },
          body: method === 'GET' || method === 'DELETE' ? undefined : '<x/>',
          sign: as(level),
        });
        if (notImplementedFor.includes(level)) assertS3Error(res, 501, 'NotImplemented');
        else assertS3Error(res, 403, 'AccessDenied');
      }
    });
  }

  test('a token scoped to another bucket is AccessDenied even for what would be 501', async () => {
    const other = bucketName('scope');
    await s3.send(new CreateBucketCommand({ Bucket: other }));
    const scoped = await issue(server, { permission: 'admin-rw', bucketScope: [other] });
    const res = await raw(server, { method: 'PUT', path: `/${bucket}`, query: { replication: '' }, body: '<x/>', sign: { accessKeyId: scoped.credentials.accessKeyId, secretAccessKey: scoped.credentials.secretAccessKey } });
    assertS3Error(res, 403, 'AccessDenied');
  });
});

describe('MalformedXML', () => {
  // 1000 nested elements: the parser gives up on depth, which is the body's fault (not a 500).
  const DEEP = `<Delete><Object><Key>k</Key></Object>${'<X>'.repeat(1000)}${'</X>'.repeat(1000)}</Delete>`;
  const BAD = [DEEP, 'not xml at all', '<Delete><Object><Key>k</Key></Object>', '<Wrong><Object><Key>k</Key></Object></Wrong>', '', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>'];

  for (const body of BAD) {
    test(`DeleteObjects with ${JSON.stringify(body.slice(0, 40))} is MalformedXML and deletes nothing`, async () => {
      const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body });
      assertS3Error(res, 400, 'MalformedXML');
      assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/exists` })).status, 200);
    });
  }

  test('a second top-level element, even a self-closing one, is MalformedXML and deletes nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'root-bystander', Body: 'x' }));
    const entry = '<Delete><Object><Key>root-bystander</Key></Object></Delete>';
    for (const body of [`${entry}<Evil/>`, `<Evil/>${entry}`, `${entry}<Delete/>`, `<?xml version="1.0"?>${entry}<Evil></Evil>`]) {
      const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body });
      assertS3Error(res, 400, 'MalformedXML');
    }
    assert.equal((await raw(server, { method: 'HEAD', path: `/${bucket}/root-bystander` })).status, 200);
  });

  test('CompleteMultipartUpload with malformed XML is MalformedXML and the upload survives', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mpu' }));
    for (const body of ['<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>', 'garbage', '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>']) {
      const res = await raw(server, { method: 'POST', path: `/${bucket}/mpu`, query: { uploadId: UploadId! }, body });
      assertS3Error(res, 400, 'MalformedXML');
    }
    const parts = await raw(server, { method: 'GET', path: `/${bucket}/mpu`, query: { uploadId: UploadId! } });
    assert.equal(parts.status, 200);
  });

  test('PutObjectTagging and CreateBucket with malformed XML are MalformedXML', async () => {
    const tagging = await raw(server, { method: 'PUT', path: `/${bucket}/exists`, query: { tagging: '' }, body: '<Tagging><TagSet>' });
    assertS3Error(tagging, 400, 'MalformedXML');
    const deepTagging = await raw(server, { method: 'PUT', path: `/${bucket}/exists`, query: { tagging: '' }, body: `<Tagging>${'<TagSet>'.repeat(1000)}${'</TagSet>'.repeat(1000)}</Tagging>` });
    assertS3Error(deepTagging, 400, 'MalformedXML');
    const name = bucketName('badcfg');
    const create = await raw(server, { method: 'PUT', path: `/${name}`, body: '<CreateBucketConfiguration><LocationConstraint>' });
    assertS3Error(create, 400, 'MalformedXML');
    assert.equal((await raw(server, { method: 'HEAD', path: `/${name}` })).status, 404);
  });
});

describe('characters and references XML 1.0 does not allow', () => {
  // Each would have named another key: the parser dropped &#1; (a&#1;b deleted "ab"), kept
  // &#xFFFE;, decoded HTML names and read an undefined entity as its own text.
  const REFUSED = ['&#1;', '&#0;', '&#xD800;', '&#xFFFE;', '&#x110000;', '&#99999999999;', '&nbsp;', '&copy;', '&unknown;', '&', '\u0001', '\uFFFE'];
  const BYSTANDERS = ['ab', 'a\u00a0b', 'a\u00a9b', 'a&unknown;b', 'a&b', 'a\uFFFEb'];

  test('are MalformedXML in DeleteObjects and PutObjectTagging, and change nothing', async () => {
    for (const key of BYSTANDERS) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    for (const ref of REFUSED) {
      const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body: `<Delete><Object><Key>a${ref}b</Key></Object></Delete>` });
      assertS3Error(res, 400, 'MalformedXML');
      const tagging = await raw(server, { method: 'PUT', path: `/${bucket}/ab`, query: { tagging: '' }, body: `<Tagging><TagSet><Tag><Key>a${ref}b</Key><Value>v</Value></Tag></TagSet></Tagging>` });
      assertS3Error(tagging, 400, 'MalformedXML');
    }
    for (const key of BYSTANDERS) assert.equal((await raw(server, { method: 'HEAD', path: `/${bucket}/${encodeURIComponent(key)}` })).status, 200, key);
    const tags = await raw(server, { method: 'GET', path: `/${bucket}/ab`, query: { tagging: '' } });
    assert.doesNotMatch(tags.text, /<Tag>/);
  });

  test('the five entities, character references to characters (as Go writes quotes) and CDATA still read as before', async () => {
    const keys = ['e"x&\'<>\t\u{1F600}', 'c&d<'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><!-- a & b -->'
      + '<Object><Key>e&#34;x&amp;&#x27;&lt;&gt;&#9;&#x1F600;</Key></Object><Object><Key><![CDATA[c&d<]]></Key></Object><Quiet>true</Quiet></Delete>';
    const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
    assert.equal(res.status, 200, res.text);
    assert.doesNotMatch(res.text, /<Error>/);
    for (const key of keys) assert.equal((await raw(server, { method: 'HEAD', path: `/${bucket}/${encodeURIComponent(key)}` })).status, 404, key);
  });
});

describe('lists longer than S3 takes are refused before they are parsed', () => {
  const md5 = (body: string) => ({ 'content-md5': createHash('md5').update(body).digest('base64') });
  const deleteBody = (entries: string[], prefix = 's3:') =>
    `<${prefix}Delete xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">${entries.map((e) => `<${prefix}Object>${e}</${prefix}Object>`).join('')}</${prefix}Delete>`;
  const del = (body: string) => raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: md5(body) });

  test('DeleteObjects: more than 1000 Object elements anywhere (prefixed or nested), or more elements than 1000 entries hold, is MalformedXML and deletes nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'list-bystander', Body: 'x' }));
    const keys = Array.from({ length: 1001 }, (_, i) => `<Key>list-bystander${i === 0 ? '' : i}</Key>`);
    assertS3Error(await del(deleteBody(keys)), 400, 'MalformedXML');
    // Nested where the handler never looks: the parser's count is not the body's.
    const nested = `<Delete><Object><Key>list-bystander</Key><Junk>${'<Object/>'.repeat(1000)}</Junk></Object></Delete>`;
    assertS3Error(await del(nested), 400, 'MalformedXML');
    // Or elements of other names: they cost the parser as much.
    const junk = `<Delete><Object><Key>list-bystander</Key>${'<J/>'.repeat(10_000)}</Object></Delete>`;
    assertS3Error(await del(junk), 400, 'MalformedXML');
    assert.equal((await raw(server, { method: 'HEAD', path: `/${bucket}/list-bystander` })).status, 200);
  });

  test('DeleteObjects: 1000 keys of 1024 bytes with escapes, version IDs and ETags fit; a larger body is EntityTooLarge', async () => {
    const key = (i: number) => `gone/${String(i).padStart(4, '0')}/${'k&amp;'.repeat(100)}${'k'.repeat(814)}`;
    const entry = (i: number) => `\n    <s3:Key>${key(i)}</s3:Key>\n    <s3:VersionId>null</s3:VersionId>\n    <s3:ETag>&#34;0123456789abcdef0123456789abcdef&#34;</s3:ETag>\n  `;
    const full = deleteBody(Array.from({ length: 1000 }, (_, i) => entry(i)));
    const fits = await del(full);
    assert.equal(fits.status, 200, fits.text.slice(0, 300));
    // Read whole: an entry for each key (an error where its ETag does not match, as here).
    assert.equal(fits.text.match(/<Deleted>|<Error>/g)?.length, 1000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'list-bystander', Body: 'x' }));
    const padded = deleteBody(['<Key>list-bystander</Key>']).replace('</s3:Delete>', `${' '.repeat(3 * 1024 * 1024)}</s3:Delete>`);
    assertS3Error(await del(padded), 400, 'EntityTooLarge');
    assert.equal((await raw(server, { method: 'HEAD', path: `/${bucket}/list-bystander` })).status, 200);
  });

  test('CompleteMultipartUpload: more than 10,000 Part elements is MalformedXML; 10,000 with checksums fit; a larger body is EntityTooLarge', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'many-parts' }));
    const complete = (parts: number, pad = '') => {
      const part = (n: number) => `\n  <s3:Part>\n    <s3:ETag>&#34;0123456789abcdef0123456789abcdef&#34;</s3:ETag>\n    <s3:ChecksumSHA256>${'A'.repeat(43)}=</s3:ChecksumSHA256>\n    <s3:PartNumber>${n}</s3:PartNumber>\n  </s3:Part>`;
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<s3:CompleteMultipartUpload xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">${Array.from({ length: parts }, (_, i) => part(i + 1)).join('')}${pad}\n</s3:CompleteMultipartUpload>`;
      return raw(server, { method: 'POST', path: `/${bucket}/many-parts`, query: { uploadId: UploadId! }, body, headers: md5(body) });
    };
    assertS3Error(await complete(10_001), 400, 'MalformedXML');
    assertS3Error(await complete(1, '<J/>'.repeat(100_100)), 400, 'MalformedXML');
    // Within the limits the parts are looked up: none was uploaded.
    assertS3Error(await complete(10_000), 400, 'InvalidPart');
    assertS3Error(await complete(1, ' '.repeat(3_200_000)), 400, 'EntityTooLarge');
    assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/many-parts`, query: { uploadId: UploadId! } })).status, 200, 'the upload survives');
  });
});

describe('an element given twice where S3 takes one', () => {
  // Read as '' (or as the first), a doubled element changed what a request did instead of refusing it.
  const md5 = (body: string) => ({ 'content-md5': createHash('md5').update(body).digest('base64') });
  const put = (path: string, query: Record<string, string>, body: string, method = 'PUT') => raw(server, { method, path, query, body, headers: md5(body) });

  test('is MalformedXML in DeleteObjects, CompleteMultipartUpload, PutBucketCors and CreateBucket, and changes nothing', async () => {
    const del = await put(`/${bucket}`, { delete: '' }, '<Delete><Object><Key>exists</Key><Key>other</Key></Object></Delete>', 'POST');
    assertS3Error(del, 400, 'MalformedXML');
    assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/exists` })).status, 200);

    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'twice' }));
    const etag = (await raw(server, { method: 'PUT', path: `/${bucket}/twice`, query: { partNumber: '1', uploadId: UploadId! }, body: 'part' })).headers.etag;
    const complete = await put(`/${bucket}/twice`, { uploadId: UploadId! }, `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`, 'POST');
    assertS3Error(complete, 400, 'MalformedXML');

    const cors = await put(`/${bucket}`, { cors: '' }, '<CORSConfiguration><CORSRule><ID>a</ID><ID>b</ID><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>');
    assertS3Error(cors, 400, 'MalformedXML');
    assert.equal((await raw(server, { method: 'GET', path: `/${bucket}`, query: { cors: '' } })).status, 404);

    const name = bucketName('twice');
    const create = await put(`/${name}`, {}, '<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>');
    assertS3Error(create, 400, 'MalformedXML');
    assert.equal((await raw(server, { method: 'HEAD', path: `/${name}` })).status, 404);
  });

  test('is MalformedACLError in an AccessControlPolicy', async () => {
    const owner = server.bootstrap.projectId;
    const grantee = `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${owner}</ID></Grantee>`;
    const doc = `<AccessControlPolicy><Owner><ID>${owner}</ID></Owner><AccessControlList><Grant>${grantee}${grantee}<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`;
    assertS3Error(await put(`/${bucket}`, { acl: '' }, doc), 400, 'MalformedACLError');
  });
});

describe('requests rejected before parsing', () => {
  /** Sends raw bytes on a socket and returns what comes back until the server closes. */
  function rawSocket(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', (err) => (chunks.length ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(err)));
      socket.write(text);
    });
  }

  test('a 20 KB request header is a 400 with S3 XML, and the server keeps serving', async () => {
    const reply = await rawSocket(`GET /${bucket}/exists HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    const [head, body] = reply.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /content-type: application\/xml/i);
    const requestId = /x-amz-request-id: (\S+)/i.exec(head)?.[1];
    assert.ok(requestId);
    assert.equal(xmlField(body, 'Code'), 'RequestHeaderSectionTooLarge');
    assert.equal(xmlField(body, 'RequestId'), requestId);
    assert.ok(xmlField(body, 'Message'));
    assert.ok(xmlField(body, 'Resource') !== undefined, 'a Resource element');
    // Still serving.
    const list = await s3.send(new ListBucketsCommand({}));
    assert.ok(list.Buckets?.some((b) => b.Name === bucket));
  });

  test('a garbled request line is a 400 with S3 XML, and the server keeps serving', async () => {
    const reply = await rawSocket('THIS IS NOT HTTP\r\n\r\n');
    const [head, body] = reply.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.ok(xmlField(body, 'Code'));
    assert.ok(xmlField(body, 'RequestId'));
    const res = await raw(server, { method: 'GET', path: `/${bucket}/exists` });
    assert.equal(res.text, 'here');
  });
});

describe('error codes over HTTP', () => {
  test('AuthorizationHeaderMalformed: a credential scope naming another region, with the Region expected', async () => {
    const path = `/${bucket}/exists`;
    const host = `127.0.0.1:${server.port}`;
    const signed = await signer(ROOT_KEY, 'eu-west-9').sign(
      { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: server.port, path, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { signingDate: new Date() },
    );
    const res = await send(server, 'GET', path, signed.headers as Record<string, string>);
    assertS3Error(res, 400, 'AuthorizationHeaderMalformed', path);
    assert.equal(xmlField(res.text, 'Region'), 'us-east-1');
    const message = (xmlField(res.text, 'Message') ?? '').replace(/&apos;/g, "'");
    assert.match(message, /region 'eu-west-9' is wrong; expecting 'us-east-1'/);
  });

  test('EntityTooLarge: a declared Content-Length over 5 GiB is refused without reading the body', async () => {
    const path = `/${bucket}/huge`;
    const size = 6 * 1024 ** 3;
    const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(size) } });
    const started = Date.now();
    // Only the head goes out: the server must answer without waiting for 6 GiB.
    const head = `PUT ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.setTimeout(10_000, () => reject(new Error('no answer within 10 s')));
      socket.on('data', (c) => {
        chunks.push(c);
        // The whole response is in once the XML document has closed.
        if (Buffer.concat(chunks).toString('utf8').includes('</Error>')) {
          resolve(Buffer.concat(chunks).toString('utf8'));
          socket.destroy();
        }
      });
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
      socket.write(head);
    });
    assert.ok(Date.now() - started < 5000, 'answered at once');
    const [statusLine, ...rest] = reply.split('\r\n');
    assert.match(statusLine, /^HTTP\/1\.1 400 /);
    assert.match(rest.join('\n'), /connection: close/i);
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
    assert.equal(xmlField(body, 'Code'), 'EntityTooLarge');
    assert.ok(xmlField(body, 'Message'));
    assert.equal(xmlField(body, 'ProposedSize'), String(size));
    assert.equal(xmlField(body, 'MaxSizeAllowed'), String(5 * 1024 ** 3));
    assert.equal(xmlField(body, 'Resource'), path);
    assert.ok(xmlField(body, 'RequestId'));
    assert.deepEqual(await tmpFiles(server), [], 'no temp file');
    assert.equal((await raw(server, { method: 'HEAD', path })).status, 404);
  });

  test('InvalidStorageClass: an unknown x-amz-storage-class stores nothing', async () => {
    const path = `/${bucket}/cold`;
    const res = await raw(server, { method: 'PUT', path, headers: { 'x-amz-storage-class': 'FROZEN' }, body: 'x' });
    assertS3Error(res, 400, 'InvalidStorageClass', path);
    assert.equal(xmlField(res.text, 'StorageClassRequested'), 'FROZEN');
    assert.equal((await raw(server, { method: 'HEAD', path })).status, 404);
  });

  describe('DeleteObjects with a body that fails its checksum deletes nothing', () => {
    const doc = (key: string) => `<Delete><Object><Key>${key}</Key></Object></Delete>`;
    const put = (key: string) => raw(server, { method: 'PUT', path: `/${bucket}/${key}`, body: 'keep me' });

    test('a wrong Content-MD5 is BadDigest', async () => {
      await put('del-md5');
      const wrongMd5 = createHash('md5').update('something else').digest('base64');
      const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, headers: { 'content-md5': wrongMd5 }, body: doc('del-md5') });
      assertS3Error(res, 400, 'BadDigest', `/${bucket}`);
      assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/del-md5` })).text, 'keep me');
    });

    test('a wrong x-amz-checksum-crc32 is BadDigest', async () => {
      await put('del-crc');
      const wrongCrc = Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64');
      const res = await raw(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, headers: { 'x-amz-checksum-crc32': wrongCrc }, body: doc('del-crc') });
      assertS3Error(res, 400, 'BadDigest', `/${bucket}`);
      assert.match(xmlField(res.text, 'Message') ?? '', /CRC32/);
      assert.equal((await raw(server, { method: 'GET', path: `/${bucket}/del-crc` })).text, 'keep me');
    });
  });

  test('UploadPartCopy with a failing x-amz-copy-source-if-match is PreconditionFailed and adds no part', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'copy-target' }));
    const path = `/${bucket}/copy-target`;
    const res = await raw(server, {
      method: 'PUT',
      path,
      query: { partNumber: '1', uploadId: UploadId! },
      headers: { 'x-amz-copy-source': `/${bucket}/exists`, 'x-amz-copy-source-if-match': '"0123456789abcdef0123456789abcdef"' },
    });
    assertS3Error(res, 412, 'PreconditionFailed', path);
    assert.equal(xmlField(res.text, 'Condition'), 'x-amz-copy-source-If-Match');
    const parts = await raw(server, { method: 'GET', path, query: { uploadId: UploadId! } });
    assert.equal(xmlField(parts.text, 'Part'), undefined, 'no part was added');
  });

  describe('ListObjectVersions', () => {
    test('encoding-type=url percent-encodes the keys', async () => {
      const key = 'ver sions/ü+%&<x>';
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v' }));
      const res = await raw(server, { method: 'GET', path: `/${bucket}`, query: { versions: '', prefix: 'ver sions/', 'encoding-type': 'url' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(xmlField(res.text, 'EncodingType'), 'url');
      assert.equal(xmlField(res.text, 'Prefix'), 'ver%20sions/');
      assert.equal(xmlField(res.text, 'Key'), 'ver%20sions/%C3%BC%2B%25%26%3Cx%3E');
      assert.equal(xmlField(res.text, 'VersionId'), 'null');
    });

    test('an invalid version-id-marker is InvalidArgument', async () => {
      const res = await raw(server, { method: 'GET', path: `/${bucket}`, query: { versions: '', 'key-marker': 'exists', 'version-id-marker': 'not-a-version' } });
      assertS3Error(res, 400, 'InvalidArgument', `/${bucket}`);
      assert.equal(xmlField(res.text, 'ArgumentName'), 'version-id-marker');
      assert.equal(xmlField(res.text, 'ArgumentValue'), 'not-a-version');
    });
  });

  test('response-content-type on HEAD overrides the stored Content-Type', async () => {
    const res = await raw(server, { method: 'HEAD', path: `/${bucket}/exists`, query: { 'response-content-type': 'text/x-override' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/x-override');
    assert.equal(res.body.length, 0);
  });

  test('?partNumber=1 on a single-part object is the whole object as part 1; partNumber=2 is 416 InvalidPartNumber', async () => {
    const path = `/${bucket}/exists`;
    const one = await raw(server, { method: 'GET', path, query: { partNumber: '1' } });
    assert.equal(one.status, 206);
    assert.equal(one.text, 'here');
    assert.equal(one.headers['content-range'], 'bytes 0-3/4');
    assert.equal(one.headers['x-amz-mp-parts-count'], undefined);
    const two = await raw(server, { method: 'GET', path, query: { partNumber: '2' } });
    assertS3Error(two, 416, 'InvalidPartNumber', path);
    const head = await raw(server, { method: 'HEAD', path, query: { partNumber: '2' } });
    assert.equal(head.status, 416);
  });

  test('x-id=PutObject in the query (as SDKs send it) is handled as a plain PutObject', async () => {
    const path = `/${bucket}/with-x-id`;
    const put = await raw(server, { method: 'PUT', path, query: { 'x-id': 'PutObject' }, body: 'tagged by the sdk' });
    assert.equal(put.status, 200, put.text);
    const got = await raw(server, { method: 'GET', path, query: { 'x-id': 'GetObject' } });
    assert.equal(got.status, 200);
    assert.equal(got.text, 'tagged by the sdk');
  });
});
