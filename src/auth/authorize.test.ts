import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OPERATIONS, UNSUPPORTED_OPERATIONS, type OperationName, type UnsupportedOperationName } from '../s3/endpoint.js';
import { authorize, inScope, REQUIRED_RIGHT } from './authorize.js';
import { PERMISSION_LABELS, PERMISSION_LEVELS, type PermissionLevel, type Principal } from './principal.js';
import { companionActions, DEFAULT_BUCKET_ACCESS, DEFAULT_PUBLIC_ACCESS_BLOCK, POLICY_ACTION, policyActionFor, type BucketAccess } from './bucket-access.js';
import { parseBucketPolicy } from './bucket-policy.js';
import { S3_ACTIONS } from './s3-actions.js';

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
  PutBucketAcl: ['admin-rw'],
  GetBucketCors: ADMINS,
  PutBucketCors: ['admin-rw'],
  DeleteBucketCors: ['admin-rw'],
  GetBucketPolicy: ADMINS,
  PutBucketPolicy: ['admin-rw'],
  DeleteBucketPolicy: ['admin-rw'],
  GetBucketPolicyStatus: ADMINS,
  GetPublicAccessBlock: ADMINS,
  PutPublicAccessBlock: ['admin-rw'],
  DeletePublicAccessBlock: ['admin-rw'],
  GetBucketOwnershipControls: ADMINS,
  PutBucketOwnershipControls: ['admin-rw'],
  DeleteBucketOwnershipControls: ['admin-rw'],
  PostObject: RW,
  PutObjectAcl: RW,
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
  GetBucketTagging: ADMINS,
  PutBucketTagging: ['admin-rw'],
  DeleteBucketTagging: ['admin-rw'],
  GetObjectLockConfiguration: ADMINS,
  PutObjectLockConfiguration: ['admin-rw'],
  GetBucketRequestPayment: ADMINS,
  GetBucketAccelerateConfiguration: ADMINS,
  GetBucketLogging: ADMINS,
  // A version's retention and legal hold: read with the object, set by those who write objects.
  GetObjectRetention: ALL,
  GetObjectLegalHold: ALL,
  GetObjectAttributes: ALL,
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

  test('anonymous requests are denied without a bucket that grants them anything', () => {
    for (const op of OPERATIONS) {
      assert.equal(authorize(null, REQUIRED_RIGHT[op], op === 'ListBuckets' ? null : 'b').allow, false);
      if (op === 'ListBuckets') continue;
      const s3 = { action: POLICY_ACTION[op], key: 'k', access: DEFAULT_BUCKET_ACCESS, facts: {} };
      assert.equal(authorize(null, REQUIRED_RIGHT[op], 'b', s3).allow, false, op);
    }
  });

  test('a public policy opens what it names to anonymous callers once the public access block is lifted', () => {
    const policy = parseBucketPolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/public/*' }] }), 'b');
    const open = { ...DEFAULT_BUCKET_ACCESS, policy, publicAccessBlock: null };
    const ask = (access: BucketAccess, op: 'GetObject' | 'PutObject' | 'ListObjectsV2', key: string | null) =>
      authorize(null, REQUIRED_RIGHT[op], 'b', { action: POLICY_ACTION[op], key, access, facts: {} }).allow;
    assert.equal(ask(open, 'GetObject', 'public/a.txt'), true);
    assert.equal(ask(open, 'GetObject', 'private/a.txt'), false);
    assert.equal(ask(open, 'PutObject', 'public/a.txt'), false);
    assert.equal(ask(open, 'ListObjectsV2', null), false);
    // RestrictPublicBuckets (the default block) keeps a public policy from opening anything.
    assert.equal(ask({ ...open, publicAccessBlock: DEFAULT_PUBLIC_ACCESS_BLOCK }, 'GetObject', 'public/a.txt'), false);
  });

  test('canned ACLs open reads (and writes) only with ACLs enabled and public ACLs not ignored', () => {
    const ask = (access: BucketAccess, op: 'GetObject' | 'PutObject' | 'ListObjectsV2') =>
      authorize(null, REQUIRED_RIGHT[op], 'b', { action: POLICY_ACTION[op], key: op === 'ListObjectsV2' ? null : 'k', access, facts: {} }).allow;
    const acls = { ...DEFAULT_BUCKET_ACCESS, ownership: 'ObjectWriter' as const, publicAccessBlock: null };
    assert.equal(ask({ ...acls, acl: 'public-read' }, 'ListObjectsV2'), true);
    assert.equal(ask({ ...acls, acl: 'public-read' }, 'PutObject'), false);
    assert.equal(ask({ ...acls, acl: 'public-read-write' }, 'PutObject'), true);
    assert.equal(ask({ ...acls, objectAcl: 'public-read' }, 'GetObject'), true);
    assert.equal(ask({ ...acls, acl: 'authenticated-read' }, 'ListObjectsV2'), false);
    assert.equal(ask({ ...acls, acl: 'public-read', ownership: 'BucketOwnerEnforced' }, 'ListObjectsV2'), false);
    assert.equal(ask({ ...acls, acl: 'public-read', publicAccessBlock: DEFAULT_PUBLIC_ACCESS_BLOCK }, 'ListObjectsV2'), false);
  });

  test('a policy never widens a token, and its Deny narrows one (but not on the policy itself)', () => {
    const policy = parseBucketPolicy(JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'] },
        { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::p:user/SKTEST' }, Action: ['s3:DeleteObject', 's3:PutBucketPolicy'], Resource: 'arn:aws:s3:::b/*' },
        { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::b/*', Condition: { Bool: { 'aws:SecureTransport': 'false' }, StringEquals: { 's3:x-amz-acl': 'public-read' } } },
      ],
    }), 'b');
    const access = { ...DEFAULT_BUCKET_ACCESS, policy, publicAccessBlock: null };
    const s3 = (op: OperationName, facts = {}) => ({ action: POLICY_ACTION[op], key: 'k', access, facts });
    assert.equal(authorize(principal('object-ro', null), REQUIRED_RIGHT.PutObject, 'b', s3('PutObject')).allow, false, 'no widening');
    assert.equal(authorize(principal('object-rw', null), REQUIRED_RIGHT.DeleteObject, 'b', s3('DeleteObject')).allow, false, 'denied by name');
    assert.equal(authorize(principal('object-rw', null), REQUIRED_RIGHT.PutObject, 'b', s3('PutObject')).allow, true);
    assert.equal(authorize(principal('object-rw', null), REQUIRED_RIGHT.PutObject, 'b', s3('PutObject', { 'aws:securetransport': 'false', 's3:x-amz-acl': 'public-read' })).allow, false, 'conditional deny');
    assert.equal(authorize(principal('admin-rw', null), REQUIRED_RIGHT.PutBucketPolicy, 'b', s3('PutBucketPolicy')).allow, true, 'no lock-out');
  });

  test('a request naming a version is the version action; other operations keep their own', () => {
    const pairs: [OperationName, string][] = [
      ['GetObject', 's3:GetObjectVersion'], ['HeadObject', 's3:GetObjectVersion'], ['DeleteObject', 's3:DeleteObjectVersion'],
      ['DeleteObjects', 's3:DeleteObjectVersion'], ['GetObjectTagging', 's3:GetObjectVersionTagging'],
      ['PutObjectTagging', 's3:PutObjectVersionTagging'], ['DeleteObjectTagging', 's3:DeleteObjectVersionTagging'],
      ['GetObjectAcl', 's3:GetObjectVersionAcl'], ['PutObjectAcl', 's3:PutObjectVersionAcl'], ['GetObjectAttributes', 's3:GetObjectVersionAttributes'],
    ];
    for (const [op, action] of pairs) {
      assert.equal(policyActionFor(op, 'v1'), action, op);
      assert.equal(policyActionFor(op, 'null'), action, `${op} of the null version`);
      assert.equal(policyActionFor(op, undefined), POLICY_ACTION[op], op);
    }
    assert.equal(policyActionFor('GetObjectRetention', 'v1'), 's3:GetObjectRetention');
    assert.deepEqual(companionActions('GetObjectAttributes', undefined), ['s3:GetObject']);
    assert.deepEqual(companionActions('GetObjectAttributes', 'v1'), ['s3:GetObjectVersion']);
    assert.deepEqual(companionActions('DeleteObject', 'v1', { bypassGovernance: true }), ['s3:BypassGovernanceRetention']);
    assert.deepEqual(companionActions('GetObject', undefined, { bypassGovernance: true, setsAcl: true, setsTags: true }), [], 'the headers mean nothing to a read');
    for (const op of ['PutObject', 'CopyObject', 'CreateMultipartUpload', 'PostObject'] as const) {
      assert.deepEqual(companionActions(op, undefined, { setsAcl: true, setsTags: true }), ['s3:PutObjectAcl', 's3:PutObjectTagging'], op);
    }
  });

  test('every action skep asks a policy about is one of S3\'s, so a policy may name it', () => {
    for (const op of Object.keys(POLICY_ACTION) as (keyof typeof POLICY_ACTION)[]) {
      const asked = [policyActionFor(op, undefined), policyActionFor(op, 'v1'), ...companionActions(op, 'v1', { bypassGovernance: true, setsAcl: true, setsTags: true })];
      for (const action of asked) if (action !== null) assert.ok(S3_ACTIONS.has(action), `${op}: ${action}`);
    }
  });

  test('every action of a request is judged: one Deny denies, anonymous callers need each allowed', () => {
    const policy = parseBucketPolicy(JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:GetObjectAttributes'], Resource: 'arn:aws:s3:::b/open/*' },
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObjectAttributes', Resource: 'arn:aws:s3:::b/attrs-only/*' },
        { Effect: 'Deny', Principal: '*', Action: 's3:DeleteObjectVersion', Resource: 'arn:aws:s3:::b/*' },
      ],
    }), 'b');
    const access = { ...DEFAULT_BUCKET_ACCESS, policy, publicAccessBlock: null };
    const attrs = (key: string) => ({ action: 's3:GetObjectAttributes', alsoActions: ['s3:GetObject'], key, access, facts: {} });
    assert.equal(authorize(null, 'ReadObject', 'b', attrs('open/k')).allow, true);
    assert.equal(authorize(null, 'ReadObject', 'b', attrs('attrs-only/k')).allow, false);
    const del = (action: string) => ({ action, key: 'k', access, facts: {} });
    assert.equal(authorize(principal('object-rw', null), 'DeleteObject', 'b', del('s3:DeleteObject')).allow, true);
    assert.equal(authorize(principal('object-rw', null), 'DeleteObject', 'b', del('s3:DeleteObjectVersion')).allow, false);
    assert.equal(authorize(principal('object-rw', null), 'DeleteObject', 'b', { ...del('s3:DeleteObject'), alsoActions: ['s3:DeleteObjectVersion'] }).allow, false);
  });

  test('anonymous callers: the policy operations are MethodNotAllowed once granted; configuration writes and DeleteBucket never', () => {
    const policy = parseBucketPolicy(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'] }] }), 'b');
    const open = { ...DEFAULT_BUCKET_ACCESS, policy, publicAccessBlock: null };
    const ask = (op: OperationName, access: BucketAccess = open) =>
      authorize(null, REQUIRED_RIGHT[op], 'b', { action: POLICY_ACTION[op], key: null, access, facts: {} });
    for (const op of ['GetBucketPolicy', 'PutBucketPolicy', 'DeleteBucketPolicy'] as const) {
      assert.deepEqual(ask(op), { allow: false, reason: "only the bucket's project manages its policy", error: 'MethodNotAllowed' }, op);
      const closed = ask(op, DEFAULT_BUCKET_ACCESS);
      assert.equal(!closed.allow && closed.error, undefined, `${op}: AccessDenied without a grant`);
    }
    for (const op of OPERATIONS.filter((o) => REQUIRED_RIGHT[o] === 'WriteBucketConfig' || o === 'DeleteBucket')) {
      if (POLICY_ACTION[op] === 's3:PutBucketPolicy' || POLICY_ACTION[op] === 's3:DeleteBucketPolicy') continue;
      const d = ask(op);
      assert.equal(d.allow, false, op);
      assert.equal(!d.allow && d.error, undefined, op);
    }
    assert.equal(ask('GetBucketVersioning').allow, true, 'reads stay as the policy says');
    assert.equal(ask('ListObjectsV2').allow, true);
  });

  test('temporary credentials are matched as their token: by its access key ID or its ID', () => {
    const policy = parseBucketPolicy(JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::p:user/SKTEST' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }), 'b');
    const s3 = { action: 's3:GetObject', key: 'k', access: { ...DEFAULT_BUCKET_ACCESS, policy }, facts: {} };
    const session: Principal = { ...principal('object-ro', null), accessKeyId: 'STSESSION', temporaryId: 't1', tokenAccessKeyId: 'SKTEST' };
    assert.equal(authorize(session, 'ReadObject', 'b', s3).allow, false);
    assert.equal(authorize({ ...session, tokenAccessKeyId: 'SKOTHER' }, 'ReadObject', 'b', s3).allow, true);
  });

  test('inScope: null is every bucket (including ones created later); a list matches names exactly', () => {
    assert.ok(inScope(principal('object-ro', null), 'anything-at-all'));
    const p = principal('object-ro', ['logs', 'photos']);
    assert.ok(inScope(p, 'logs') && inScope(p, 'photos'));
    for (const name of ['log', 'logs2', 'Logs', 'photos/', '']) assert.ok(!inScope(p, name), name);
  });
});
