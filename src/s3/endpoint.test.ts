import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isUnsupported, parseEndpoint, type ParsedOperationName } from './endpoint.js';
import { S3Error } from './errors.js';

// The endpoint parser as a table: (method, bucket-relative path, query) -> operation, checked in
// path style and in virtual-hosted style.

const DOMAINS = ['s3.localhost'];

function parse(method: string, bucket: string | null, rest: string, query = '', vhost = false, copy = false) {
  const q = query ? `?${query}` : '';
  if (vhost && bucket !== null) {
    return parseEndpoint({ method, host: `${bucket}.s3.localhost:9000`, url: `/${rest}${q}`, baseDomains: DOMAINS, hasCopySource: copy });
  }
  const path = bucket === null ? '/' : `/${bucket}${rest ? `/${rest}` : ''}`;
  return parseEndpoint({ method, host: '127.0.0.1:9000', url: `${path}${q}`, baseDomains: DOMAINS, hasCopySource: copy });
}

// [method, key ('' for the bucket), query, copy source?, operation, sub-resource of an unsupported one]
const TABLE: [string, string, string, boolean, ParsedOperationName, (string | null)?][] = [
  ['PUT', '', '', false, 'CreateBucket'],
  ['GET', '', 'list-type=2', false, 'ListObjectsV2'],
  ['GET', '', 'versioning', false, 'GetBucketVersioning'],
  ['POST', '', 'delete', false, 'DeleteObjects'],
  ['POST', '', '', false, 'PostObject'],
  ['DELETE', '', 'policy', false, 'DeleteBucketPolicy'],
  ['GET', '', 'cors', false, 'GetBucketCors'],
  ['PUT', '', 'cors', false, 'PutBucketCors'],
  ['GET', '', 'policyStatus', false, 'GetBucketPolicyStatus'],
  ['PUT', '', 'publicAccessBlock', false, 'PutPublicAccessBlock'],
  ['DELETE', '', 'ownershipControls', false, 'DeleteBucketOwnershipControls'],
  ['PUT', '', 'acl', false, 'PutBucketAcl'],
  ['GET', '', 'logging', false, 'GetBucketLogging'],
  ['PUT', '', 'logging', false, 'UnsupportedBucketWrite', 'logging'],
  ['GET', '', 'requestPayment', false, 'GetBucketRequestPayment'],
  ['PUT', '', 'requestPayment', false, 'UnsupportedBucketWrite', 'requestPayment'],
  ['GET', '', 'accelerate', false, 'GetBucketAccelerateConfiguration'],
  ['DELETE', '', 'accelerate', false, 'UnsupportedBucketWrite', 'accelerate'],
  ['PUT', '', 'versioning', false, 'PutBucketVersioning'],
  ['GET', '', 'versions', false, 'ListObjectVersions'],
  ['GET', '', 'lifecycle', false, 'GetBucketLifecycleConfiguration'],
  ['PUT', '', 'lifecycle', false, 'PutBucketLifecycleConfiguration'],
  ['DELETE', '', 'lifecycle', false, 'DeleteBucketLifecycle'],
  ['GET', '', 'encryption', false, 'GetBucketEncryption'],
  ['PUT', '', 'encryption', false, 'PutBucketEncryption'],
  ['DELETE', '', 'encryption', false, 'DeleteBucketEncryption'],
  ['GET', '', 'object-lock', false, 'GetObjectLockConfiguration'],
  ['PUT', '', 'object-lock', false, 'PutObjectLockConfiguration'],
  ['GET', 'k', 'retention', false, 'GetObjectRetention'],
  ['PUT', 'k', 'retention', false, 'PutObjectRetention'],
  ['GET', 'k', 'legal-hold', false, 'GetObjectLegalHold'],
  ['PUT', 'k', 'legal-hold', false, 'PutObjectLegalHold'],
  ['GET', 'k', 'versionId=abc', false, 'GetObject'],
  ['DELETE', 'k', 'versionId=abc', false, 'DeleteObject'],
  ['PUT', '', 'replication', false, 'UnsupportedBucketWrite', 'replication'],
  ['GET', '', 'tagging', false, 'GetBucketTagging'],
  ['PUT', '', 'tagging', false, 'PutBucketTagging'],
  ['DELETE', '', 'tagging', false, 'DeleteBucketTagging'],
  ['GET', '', 'inventory', false, 'UnsupportedBucketRead', 'inventory'],
  ['PUT', 'k', '', false, 'PutObject'],
  ['PUT', 'k', '', true, 'CopyObject'],
  ['PUT', 'k', 'x-id=PutObject', false, 'PutObject'],
  ['PUT', 'k', 'partNumber=1&uploadId=u', true, 'UploadPartCopy'],
  ['GET', 'k', 'acl', false, 'GetObjectAcl'],
  ['PUT', 'k', 'acl', false, 'PutObjectAcl'],
  ['GET', 'k', 'attributes', false, 'GetObjectAttributes'],
  ['GET', 'k', 'torrent', false, 'UnsupportedObjectRead', 'torrent'],
  ['POST', 'k', 'select&select-type=2', false, 'UnsupportedObjectRead', 'select'],
  ['POST', 'k', 'restore', false, 'UnsupportedObjectWrite', 'restore'],
  ['PUT', 'api/v1/x', '', false, 'PutObject'],
];

describe('parseEndpoint', () => {
  for (const vhost of [false, true]) {
    for (const [method, key, query, copy, op, sub] of TABLE) {
      test(`${vhost ? 'virtual-hosted' : 'path style'}: ${method} ${key || '(bucket)'}${query ? `?${query}` : ''} -> ${op}`, () => {
        const parsed = parse(method, 'bkt', key, query, vhost, copy);
        assert.equal(parsed.op, op);
        assert.equal(parsed.bucket, 'bkt');
        assert.equal(parsed.key, key || null);
        if (sub !== undefined) {
          assert.ok(isUnsupported(parsed));
          assert.deepEqual(parsed.unsupported, { method, subresource: sub });
        } else {
          assert.ok(!isUnsupported(parsed));
        }
      });
    }
  }

  test('a project domain names a project, and a bucket in it; other names under it name nothing', () => {
    const pid = '0f6d3c1e-2a4b-4c5d-8e9f-0123456789ab';
    const at = (host: string, url: string) => parseEndpoint({ method: 'GET', host, url, baseDomains: DOMAINS, projectDomains: ['blob.example.com'], hasCopySource: false });
    assert.deepEqual([at(`${pid}.blob.example.com`, '/bkt/k').project, at(`${pid}.blob.example.com`, '/bkt/k').bucket], [pid, 'bkt']);
    const vhost = at(`bkt.${pid}.blob.example.com:9000`, '/k');
    assert.deepEqual([vhost.project, vhost.bucket, vhost.key], [pid, 'bkt', 'k']);
    const other = at('notaproject.blob.example.com', '/bkt/k');
    assert.deepEqual([other.project, other.bucket], [null, 'bkt']);
  });

  test('under a base domain a UUID-shaped label is a bucket name, not a project', () => {
    const pid = '0f6d3c1e-2a4b-4c5d-8e9f-0123456789ab';
    for (const bucket of [pid, `logs.${pid}`]) {
      const parsed = parseEndpoint({ method: 'GET', host: `${bucket}.s3.localhost`, url: '/k', baseDomains: DOMAINS, projectDomains: ['blob.example.com'], hasCopySource: false });
      assert.deepEqual([parsed.project, parsed.bucket, parsed.key], [null, bucket, 'k']);
    }
  });

  test('configuration sub-resources refuse the methods S3 does not define for them', () => {
    assert.throws(() => parse('DELETE', 'bkt', '', 'policyStatus'), (err: unknown) => err instanceof S3Error && err.code === 'MethodNotAllowed');
  });

  test('unknown methods are MethodNotAllowed, not NotImplemented', () => {
    for (const key of ['', 'k']) {
      assert.throws(() => parse('PATCH', 'bkt', key), (err: unknown) => err instanceof S3Error && err.code === 'MethodNotAllowed');
    }
  });
});

// Every operation of S3's service model (test/fixtures/s3-operations.json, taken from botocore) is
// parsed as itself or as NotImplemented, never as another operation: a sub-resource the parser
// did not know made DeleteBucketMetadataConfiguration a DeleteBucket and UpdateObjectEncryption
// a PutObject.

interface ModelOperation {
  name: string;
  method: string;
  requestUri: string;
  requiredQuery: string[];
  requiredHeaders: string[];
}

const MODEL: ModelOperation[] = (
  JSON.parse(readFileSync(new URL('../../test/fixtures/s3-operations.json', import.meta.url), 'utf8')) as { operations: [string, string, string, string[], string[]][] }
).operations.map(([name, method, requestUri, requiredQuery, requiredHeaders]) => ({ name, method, requestUri, requiredQuery, requiredHeaders }));

/** Operations S3 keeps under two names for one request, and the name skep gives it. */
const SAME_REQUEST: Record<string, ParsedOperationName> = {
  GetBucketLifecycle: 'GetBucketLifecycleConfiguration',
  PutBucketLifecycle: 'PutBucketLifecycleConfiguration',
  // Directory buckets are S3 Express's; skep's buckets are all general purpose ones.
  ListDirectoryBuckets: 'ListBuckets',
};

/** Sent to S3 Object Lambda's own host (the model's hostPrefix), never to a bucket. */
const NOT_BUCKET_REQUESTS = new Set(['WriteGetObjectResponse']);

/** The model's request, as its path under the bucket and its query with required parameters filled in. */
function modelRequest(operation: ModelOperation): { rest: string; query: string } {
  const [path, query = ''] = operation.requestUri.split('?');
  const rest = path.replace(/^\/\{Bucket\}\/?/, '').replace('{Key+}', 'k');
  const params = [query, ...operation.requiredQuery.map((name) => `${name}=1`)].filter(Boolean);
  return { rest, query: params.join('&') };
}

describe("parseEndpoint on S3's service model", () => {
  test('the model is complete enough to be worth checking', () => {
    assert.ok(MODEL.length >= 100);
    assert.ok(MODEL.some((operation) => operation.name === 'DeleteBucketMetadataConfiguration'));
  });

  for (const vhost of [false, true]) {
    for (const operation of MODEL) {
      if (NOT_BUCKET_REQUESTS.has(operation.name)) continue;
      const { rest, query } = modelRequest(operation);
      const bucket = operation.requestUri === '/' ? null : 'bkt';
      test(`${vhost ? 'virtual-hosted' : 'path style'}: ${operation.name} (${operation.method} ${operation.requestUri})`, () => {
        const parsed = parse(operation.method, bucket, rest, query, vhost, operation.requiredHeaders.includes('x-amz-copy-source'));
        if (isUnsupported(parsed)) {
          // Named by a sub-resource of the request itself.
          assert.ok(new URLSearchParams(query).has(parsed.unsupported.subresource), `${parsed.op}(${parsed.unsupported.subresource})`);
        } else {
          assert.equal(parsed.op, SAME_REQUEST[operation.name] ?? operation.name);
        }
      });
    }
  }
});
