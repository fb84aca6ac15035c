import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { accessFromSettings } from './bucket-config-service.js';
import { anonymousAllowed, tokenDenied } from '../auth/bucket-access.js';
import { EVALUATED_CONDITION_KEYS } from '../auth/bucket-policy.js';
import { requestFacts } from '../s3/admission.js';
import type { S3Operation } from '../s3/endpoint.js';

const caller = { anonymous: false as const, projectId: 'p', accessKeyId: 'AK', tokenId: 't' };

test('a stored policy naming a condition key skep no longer accepts still loads, and that condition fails closed', () => {
  // Stored before PutBucketPolicy refused such keys: the bucket must keep answering.
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*', Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'secret' } } },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/open/*', Condition: { StringEquals: { 's3:ExistingObjectTag/class': 'public' } } },
    ],
  });
  const { access } = accessFromSettings('b', { policy: JSON.stringify(policy), 'public-access-block': JSON.stringify({ blockPublicAcls: false, ignorePublicAcls: false, blockPublicPolicy: false, restrictPublicBuckets: false }) });
  assert.ok(access.policy);
  assert.equal(tokenDenied(access, caller, 's3:GetObject', 'b', 'doc', {}), true, 'the Deny applies');
  assert.equal(anonymousAllowed(access, 's3:GetObject', 'b', 'open/x', {}), false, 'the Allow grants nothing');
});

test('the condition keys a policy may name are exactly those a request supplies', () => {
  const req = { headers: {}, socket: {} } as unknown as IncomingMessage;
  const list = { op: 'ListObjectsV2', query: new Map([['prefix', 'p/'], ['delimiter', '/'], ['max-keys', '5']]) } as unknown as S3Operation;
  assert.deepEqual(new Set(Object.keys(requestFacts(req, list, null, new Date(), '127.0.0.1'))), EVALUATED_CONDITION_KEYS);
});
