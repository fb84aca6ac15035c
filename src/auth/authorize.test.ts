import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OPERATIONS, UNSUPPORTED_OPERATIONS, type OperationName, type UnsupportedOperationName } from '../s3/endpoint.js';
import { authorize, inScope, REQUIRED_RIGHT } from './authorize.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS, type PermissionLevel, type Principal } from './principal.js';

// The authorizer against the spec's table, written out by hand (not derived from LEVEL_RIGHTS):
//   Admin Read & Write:  create, list, delete buckets; read, write, list, delete objects
//   Admin Read only:     list buckets; view bucket config; read and list objects
//   Object Read & Write: read, write, list, delete objects in scoped buckets
//   Object Read only:    read and list objects in scoped buckets
// Every level may HeadBucket / GetBucketLocation its scoped buckets and call ListBuckets.

const ALL: PermissionLevel[] = ['admin-rw', 'admin-ro', 'object-rw', 'object-ro'];
const RW: PermissionLevel[] = ['admin-rw', 'object-rw'];
const ADMINS: PermissionLevel[] = ['admin-rw', 'admin-ro'];

const ALLOWED: Record<OperationName, PermissionLevel[]> = {
  ListBuckets: ALL,
  CreateBucket: ['admin-rw'],
  DeleteBucket: ['admin-rw'],
  HeadBucket: ALL,
  GetBucketLocation: ALL,
  GetBucketVersioning: ADMINS,
  GetBucketAcl: ADMINS,
  ListObjects: ALL,
  ListObjectsV2: ALL,
  ListObjectVersions: ALL,
  ListMultipartUploads: ALL,
  ListParts: ALL,
  GetObject: ALL,
  HeadObject: ALL,
  GetObjectAcl: ALL,
  GetObjectTagging: ALL,
  PutObject: RW,
  CopyObject: RW,
  PutObjectTagging: RW,
  DeleteObjectTagging: RW,
  CreateMultipartUpload: RW,
  UploadPart: RW,
  UploadPartCopy: RW,
  CompleteMultipartUpload: RW,
  AbortMultipartUpload: RW,
  DeleteObject: RW,
  DeleteObjects: RW,
  // Bucket configuration: read by admins, changed by admin-rw only.
  PutBucketVersioning: ['admin-rw'],
  GetBucketLifecycleConfiguration: ADMINS,
  PutBucketLifecycleConfiguration: ['admin-rw'],
  DeleteBucketLifecycle: ['admin-rw'],
  GetBucketEncryption: ADMINS,
  PutBucketEncryption: ['admin-rw'],
  DeleteBucketEncryption: ['admin-rw'],
  GetObjectLockConfiguration: ADMINS,
  PutObjectLockConfiguration: ['admin-rw'],
  // A version's retention and legal hold: read with the object, set by those who write objects.
  GetObjectRetention: ALL,
  GetObjectLegalHold: ALL,
  PutObjectRetention: RW,
  PutObjectLegalHold: RW,
};

function principal(permission: PermissionLevel, bucketScope: string[] | null): Principal {
  return { accessKeyId: 'SKTEST', projectId: 'p', tokenId: 't', permission, bucketScope, billing: false };
}

describe('authorize', () => {
  test('the four levels, with their labels', () => {
    assert.deepEqual([...PERMISSION_LEVELS], ALL);
    assert.deepEqual(PERMISSION_LABELS, {
      'admin-rw': 'Admin Read & Write',
      'admin-ro': 'Admin Read only',
      'object-rw': 'Object Read & Write',
      'object-ro': 'Object Read only',
    });
  });

  test('every S3 operation needs a right, and the table covers every operation', () => {
    assert.deepEqual(Object.keys(REQUIRED_RIGHT).sort(), [...OPERATIONS, ...UNSUPPORTED_OPERATIONS].sort());
    assert.deepEqual(Object.keys(ALLOWED).sort(), [...OPERATIONS].sort());
  });

  test('unsupported requests are allowed to exactly the levels that could perform that access', () => {
    const allowed: Record<UnsupportedOperationName, PermissionLevel[]> = {
      PostObject: RW,
      UnsupportedBucketRead: ADMINS,
      UnsupportedBucketWrite: ['admin-rw'],
      UnsupportedObjectRead: ALL,
      UnsupportedObjectWrite: RW,
    };
    for (const op of UNSUPPORTED_OPERATIONS) {
      for (const level of ALL) {
        assert.equal(authorize(principal(level, null), REQUIRED_RIGHT[op], 'b').allow, allowed[op].includes(level), `${level} ${op}`);
      }
    }
  });

  for (const level of ALL) {
    test(`${level}: exactly the operations the spec lists, on any bucket in scope`, () => {
      for (const scope of [null, ['b']]) {
        for (const op of OPERATIONS) {
          const bucket = op === 'ListBuckets' ? null : 'b';
          const d = authorize(principal(level, scope), REQUIRED_RIGHT[op], bucket);
          assert.equal(d.allow, ALLOWED[op].includes(level), `${level} ${op} scope=${JSON.stringify(scope)}`);
        }
      }
    });

    test(`${level}: nothing on a bucket outside a named scope`, () => {
      for (const op of OPERATIONS) {
        if (op === 'ListBuckets') continue;
        for (const bucket of ['other', 'B', 'b2', 'b ', '']) {
          const d = authorize(principal(level, ['b']), REQUIRED_RIGHT[op], bucket);
          assert.equal(d.allow, false, `${level} ${op} on "${bucket}"`);
          if (!d.allow) assert.ok(d.reason.length > 0);
        }
      }
    });
  }

  test('only admin-rw may bypass GOVERNANCE retention, and only on buckets in its scope', () => {
    for (const level of ALL) {
      assert.equal(authorize(principal(level, null), 'BypassGovernanceRetention', 'b').allow, level === 'admin-rw', level);
    }
    assert.equal(authorize(principal('admin-rw', ['b']), 'BypassGovernanceRetention', 'other').allow, false);
  });

  test('anonymous requests are denied', () => {
    for (const op of OPERATIONS) assert.equal(authorize(null, REQUIRED_RIGHT[op], op === 'ListBuckets' ? null : 'b').allow, false);
  });

  test('inScope: null is every bucket (including ones created later); a list matches names exactly', () => {
    assert.ok(inScope(principal('object-ro', null), 'anything-at-all'));
    const p = principal('object-ro', ['logs', 'photos']);
    assert.ok(inScope(p, 'logs') && inScope(p, 'photos'));
    for (const name of ['log', 'logs2', 'Logs', 'photos/', '']) assert.ok(!inScope(p, name), name);
  });
});
