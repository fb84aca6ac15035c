// The bucket policy grammar and evaluator: what parses (and what is MalformedPolicy), and how
// Effect, Principal, Action/NotAction, Resource/NotResource and Condition operators decide.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy, isPublicPolicy, parseBucketPolicy, PolicyError, wildcardMatch, type PolicyCaller } from './bucket-policy.js';

const ANON: PolicyCaller = { anonymous: true };
const TOKEN: PolicyCaller = { anonymous: false, projectId: 'proj-1', accessKeyId: 'SKABC', tokenId: 'tok-1' };

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

const readPublic = { Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::site/*'] };

describe('parseBucketPolicy', () => {
  test('a typical public-read policy parses, keeping its text', () => {
    const text = policy({ Sid: 'PublicRead', ...readPublic });
    const p = parseBucketPolicy(text, 'site');
    assert.equal(p.text, text);
    assert.equal(p.statements.length, 1);
    assert.deepEqual(p.statements[0].principal, { anyone: true });
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', 'not json', /first byte must be '\{'/],
    ['broken JSON', '{"Statement": [', /invalid Json/],
    ['no Statement', '{"Version":"2012-10-17"}', /Missing required field Statement/],
    ['bad version', JSON.stringify({ Version: '2020-01-01', Statement: [readPublic] }), /version/],
    ['bad effect', policy({ ...readPublic, Effect: 'Maybe' }), /Invalid effect/],
    ['no principal', policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/*' }), /Principal/],
    ['no action', policy({ Effect: 'Allow', Principal: '*', Resource: 'arn:aws:s3:::site/*' }), /Action/],
    ['non-S3 action', policy({ ...readPublic, Action: 'ec2:RunInstances' }), /invalid action/],
    ['another bucket', policy({ ...readPublic, Resource: 'arn:aws:s3:::other/*' }), /invalid resource/],
    ['not an S3 ARN', policy({ ...readPublic, Resource: 'arn:aws:sqs:::site' }), /invalid resource/],
    ['foreign principal', policy({ ...readPublic, Principal: { Service: 'cloudfront.amazonaws.com' } }), /Invalid principal/],
    ['unknown condition', policy({ ...readPublic, Condition: { StringSounds: { 'aws:Referer': 'x' } } }), /Invalid Condition type/],
    ['bad CIDR', policy({ ...readPublic, Condition: { IpAddress: { 'aws:SourceIp': '300.1.1.1/8' } } }), /Invalid IP/],
    ['unknown field', policy({ ...readPublic, Extra: 1 }), /Unknown field/],
    ['a condition key skep never sets', policy({ ...readPublic, Condition: { StringEquals: { 's3:ExistingObjectTag/classification': 'secret' } } }), /invalid condition key/],
    ['an unknown aws: key', policy({ ...readPublic, Condition: { Null: { 'aws:SourceVpce': 'true' } } }), /invalid condition key/],
    ['an empty operator block', policy({ ...readPublic, Condition: { StringEquals: {} } }), /must name a condition key/],
    ['a set qualifier on an unknown operator', policy({ ...readPublic, Condition: { 'ForAnyValue:StringSounds': { 's3:prefix': 'a' } } }), /Invalid Condition type/],
    ['a non-number for Numeric*', policy({ ...readPublic, Condition: { NumericLessThan: { 's3:max-keys': 'ten' } } }), /Invalid value/],
    ['a non-date for Date*', policy({ ...readPublic, Condition: { DateLessThan: { 'aws:CurrentTime': 'soon' } } }), /Invalid value/],
    ['a non-boolean for Bool', policy({ ...readPublic, Condition: { Bool: { 'aws:SecureTransport': 'yes' } } }), /Invalid value/],
    ['a non-boolean for Null', policy({ ...readPublic, Condition: { Null: { 'aws:Referer': 'maybe' } } }), /Invalid value/],
    ['a non-address for NotIpAddress', policy({ ...readPublic, Condition: { NotIpAddress: { 'aws:SourceIp': 'localhost' } } }), /Invalid IP/],
    ['too large', policy({ ...readPublic, Sid: 'x'.repeat(21 * 1024) }), /size/],
  ];
  for (const [name, text, message] of bad) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseBucketPolicy(text, 'site'), (err: unknown) => err instanceof PolicyError && message.test(err.message));
    });
  }

  test('principals: "*", {"AWS":"*"}, the project (root ARN or bare id) and its tokens', () => {
    const p = parseBucketPolicy(policy(
      { ...readPublic, Principal: { AWS: '*' } },
      { ...readPublic, Principal: { AWS: ['arn:aws:iam::proj-1:root', 'arn:aws:iam::proj-2:user/SKXYZ', '0f6d3c1e-2a4b-4c5d-8e9f-0123456789ab'] } },
    ), 'site');
    assert.deepEqual(p.statements[0].principal, { anyone: true });
    assert.deepEqual(p.statements[1].principal, { anyone: false, projectIds: ['proj-1', '0f6d3c1e-2a4b-4c5d-8e9f-0123456789ab'], keys: ['SKXYZ'] });
  });

  test('a bare principal must be a project ID: an access key or a word would match nobody', () => {
    for (const name of ['SKABCDEFGHIJKLMNOPQR', 'nonsense', 'tok-1']) {
      assert.throws(() => parseBucketPolicy(policy({ ...readPublic, Principal: { AWS: name } }), 'site'), /Invalid principal/, name);
      // Beside "*" too, in either order.
      assert.throws(() => parseBucketPolicy(policy({ ...readPublic, Principal: { AWS: ['*', name] } }), 'site'), /Invalid principal/, name);
    }
    // One stored by an earlier version still loads, and still matches nobody.
    const stored = parseBucketPolicy(policy({ ...readPublic, Principal: { AWS: 'tok-1' } }), 'site', { stored: true });
    assert.equal(evaluatePolicy(stored, TOKEN, 's3:GetObject', 'arn:aws:s3:::site/x', {}), 'None');
  });

  test('a stored policy from a laxer version still loads; its unevaluable conditions fail closed', () => {
    const text = policy(
      { ...readPublic, Condition: { StringEquals: { 's3:ExistingObjectTag/team': 'web' } } },
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/secret/*', Condition: { StringEquals: { 's3:ExistingObjectTag/classification': 'secret' } } },
      { ...readPublic, Resource: 'arn:aws:s3:::site/open/*', Condition: { StringEquals: {}, NumericLessThanIfExists: { 's3:max-keys': 'x' } } },
      { ...readPublic, Resource: 'arn:aws:s3:::site/secret/*' },
    );
    assert.throws(() => parseBucketPolicy(text, 'site'), PolicyError);
    const p = parseBucketPolicy(text, 'site', { stored: true });
    assert.equal(evaluatePolicy(p, ANON, 's3:GetObject', 'arn:aws:s3:::site/a', {}), 'None', 'an Allow on an unevaluated key grants nothing');
    assert.equal(evaluatePolicy(p, ANON, 's3:GetObject', 'arn:aws:s3:::site/open/a', {}), 'Allow');
    assert.equal(evaluatePolicy(p, ANON, 's3:GetObject', 'arn:aws:s3:::site/secret/a', {}), 'Deny', 'a Deny on an unevaluated key applies');
  });

  test('statement IDs must be unique; a stored policy that repeats one still loads', () => {
    const text = policy({ ...readPublic, Sid: 'A' }, { ...readPublic, Sid: 'A', Resource: 'arn:aws:s3:::site/b/*' });
    assert.throws(() => parseBucketPolicy(text, 'site'), (err: unknown) => err instanceof PolicyError && /unique/.test(err.message));
    assert.equal(parseBucketPolicy(text, 'site', { stored: true }).statements.length, 2);
    assert.doesNotThrow(() => parseBucketPolicy(policy({ ...readPublic, Sid: 'A' }, { ...readPublic, Sid: 'B' }, readPublic, readPublic), 'site'));
  });

  test('a stored address range its operator can no longer read fails closed, in a Deny as in an Allow', () => {
    const deny = { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/*' };
    for (const operator of ['IpAddress', 'NotIpAddress']) {
      const text = policy(readPublic, { ...deny, Condition: { [operator]: { 'aws:SourceIp': '10.0.0.0/' } } });
      assert.throws(() => parseBucketPolicy(text, 'site'), PolicyError);
      const p = parseBucketPolicy(text, 'site', { stored: true });
      assert.equal(evaluatePolicy(p, ANON, 's3:GetObject', 'arn:aws:s3:::site/a', { 'aws:sourceip': '192.0.2.1' }), 'Deny', operator);
    }
    const allow = parseBucketPolicy(policy({ ...readPublic, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/' } } }), 'site', { stored: true });
    assert.equal(evaluatePolicy(allow, ANON, 's3:GetObject', 'arn:aws:s3:::site/a', { 'aws:sourceip': '10.0.0.1' }), 'None');
  });

  test('the action\'s service prefix is case-insensitive; typed operator values of their type parse', () => {
    assert.doesNotThrow(() => parseBucketPolicy(policy({ ...readPublic, Action: ['S3:getobject', 'S3:List*'] }), 'site'));
    assert.doesNotThrow(() => parseBucketPolicy(policy({ ...readPublic, Condition: {
      NumericLessThan: { 's3:max-keys': ['10', 2.5] }, DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z', 'aws:EpochTime': '1600000000' },
      Bool: { 'aws:SecureTransport': true }, Null: { 'aws:Referer': 'False' }, 'ForAllValues:StringLike': { 's3:prefix': 'a/*' },
    } }), 'site'));
  });
  test('an action must be one of S3\'s, by name or by a pattern matching one; S3 refuses any other', () => {
    const site = 'arn:aws:s3:::site';
    for (const action of ['s3:DeleteObjects', 's3:ListObjects', 's3:GetObjectFoo', 's3:Frobnicate*', 's3:G?tNothing']) {
      assert.throws(() => parseBucketPolicy(policy({ ...readPublic, Action: action }), 'site'),
        (err: unknown) => err instanceof PolicyError && err.message === 'Policy has invalid action', action);
      assert.throws(() => parseBucketPolicy(policy({ Effect: 'Deny', Principal: '*', NotAction: action, Resource: `${site}/*` }), 'site'), /invalid action/, action);
    }
    // Real actions skep does not implement, any case, and wildcards matching at least one action.
    const ok: [string | string[], string][] = [
      ['s3:PutReplicationConfiguration', site], ['s3:PauseReplication', site], ['s3:GetObjectVersionForReplication', `${site}/*`], ['s3:putBucketCors', site],
      [['s3:RestoreObject', 's3:ReplicateObject'], `${site}/*`], ['s3:Get*', site], ['s3:*Object', `${site}/*`],
      ['s3:G?tObject', `${site}/*`], ['s3:*', site], ['*', `${site}/*`],
    ];
    for (const [action, resource] of ok) {
      assert.doesNotThrow(() => parseBucketPolicy(policy({ ...readPublic, Action: action, Resource: resource }), 'site'), String(action));
    }
    // One stored by an earlier version still loads, and its unknown name matches no request.
    const stored = parseBucketPolicy(policy(readPublic, { Effect: 'Deny', Principal: '*', Action: 's3:GetObjectFoo', Resource: `${site}/*` }), 'site', { stored: true });
    assert.equal(evaluatePolicy(stored, ANON, 's3:GetObject', `${site}/a`, {}), 'Allow');
  });

  test('some action must apply to some resource of its statement: object actions to bucket/key, bucket actions to the bucket', () => {
    const site = 'arn:aws:s3:::site';
    const misfits: [string | string[], string | string[]][] = [
      ['s3:GetObject', site], ['s3:PutObject', [site, 'arn:aws:s3:::sit?']], ['s3:*Object', site], ['s3:ListBucket', `${site}/*`],
      [['s3:PutBucketPolicy', 's3:GetBucket*'], `${site}/a/b`], ['s3:ListAllMyBuckets', site], ['s3:CreateJob', '*'],
      ['s3:GetAccessPoint', `${site}/*`], ['s3:PutStorageLensConfiguration', site],
    ];
    for (const [action, resource] of misfits) {
      assert.throws(() => parseBucketPolicy(policy({ Effect: 'Deny', Principal: '*', Action: action, Resource: resource }), 'site'),
        (err: unknown) => err instanceof PolicyError && err.message === 'Action does not apply to any resource(s) in statement', `${action} on ${resource}`);
    }
    const fits: [string | string[], string | string[]][] = [
      ['s3:GetObject', `${site}/*`], ['s3:GetObject', 'arn:aws:s3:::site*'], ['s3:GetObject', '*'], ['s3:GetObject', 'arn:aws:s3:::s*e'],
      ['s3:ListBucket', site], ['s3:ListBucket', 'arn:aws:s3:::si?e'], ['s3:ListBucket', '*'], [['s3:ListBucket', 's3:GetObject'], site],
      ['s3:PutObject', [site, `${site}/up/*`]], ['s3:Get*', site], ['s3:Get*', `${site}/k`], ['s3:*', site], ['*', `${site}/x`],
      ['s3:TagResource', site],
    ];
    for (const [action, resource] of fits) {
      assert.doesNotThrow(() => parseBucketPolicy(policy({ Effect: 'Deny', Principal: '*', Action: action, Resource: resource }), 'site'), `${action} on ${resource}`);
    }
    // NotAction and NotResource statements name what they leave out: nothing to fit.
    assert.doesNotThrow(() => parseBucketPolicy(policy({ Effect: 'Deny', Principal: '*', NotAction: 's3:GetObject', Resource: site }), 'site'));
    assert.doesNotThrow(() => parseBucketPolicy(policy({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', NotResource: site }), 'site'));
    // A stored policy from before still loads; its misfit statement matches no request, as it always did.
    const stored = parseBucketPolicy(policy(readPublic, { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: site }), 'site', { stored: true });
    assert.equal(evaluatePolicy(stored, ANON, 's3:GetObject', `${site}/a`, {}), 'Allow');
  });
});

describe('evaluatePolicy', () => {
  const eval1 = (statements: object[], caller: PolicyCaller, action: string, resource: string, facts = {}) =>
    evaluatePolicy(parseBucketPolicy(policy(...statements), 'site'), caller, action, resource, facts);

  test('Allow matches action and resource wildcards; everything else is None', () => {
    assert.equal(eval1([readPublic], ANON, 's3:GetObject', 'arn:aws:s3:::site/a/b.png'), 'Allow');
    assert.equal(eval1([readPublic], ANON, 's3:PutObject', 'arn:aws:s3:::site/a/b.png'), 'None');
    assert.equal(eval1([readPublic], ANON, 's3:GetObject', 'arn:aws:s3:::site'), 'None');
    assert.equal(eval1([{ ...readPublic, Action: 's3:Get*' }], ANON, 's3:getobject', 'arn:aws:s3:::site/x'), 'Allow', 'actions are case-insensitive');
  });

  test('an explicit Deny wins over any Allow', () => {
    const deny = { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::site/secret/*' };
    assert.equal(eval1([readPublic, deny], ANON, 's3:GetObject', 'arn:aws:s3:::site/secret/x'), 'Deny');
    assert.equal(eval1([readPublic, deny], ANON, 's3:GetObject', 'arn:aws:s3:::site/open/x'), 'Allow');
  });

  test('NotAction and NotResource invert their lists', () => {
    const s = { Effect: 'Deny', Principal: '*', NotAction: 's3:GetObject', NotResource: 'arn:aws:s3:::site/public/*' };
    assert.equal(eval1([s], ANON, 's3:PutObject', 'arn:aws:s3:::site/private/x'), 'Deny');
    assert.equal(eval1([s], ANON, 's3:GetObject', 'arn:aws:s3:::site/private/x'), 'None');
    assert.equal(eval1([s], ANON, 's3:PutObject', 'arn:aws:s3:::site/public/x'), 'None');
  });

  test('named principals match the project\'s tokens by access key or token id, never anonymous callers', () => {
    const s = { ...readPublic, Principal: { AWS: 'arn:aws:iam::proj-1:user/SKABC' } };
    assert.equal(eval1([s], TOKEN, 's3:GetObject', 'arn:aws:s3:::site/x'), 'Allow');
    assert.equal(eval1([s], ANON, 's3:GetObject', 'arn:aws:s3:::site/x'), 'None');
    assert.equal(eval1([{ ...readPublic, Principal: { AWS: 'arn:aws:iam::x:user/tok-1' } }], TOKEN, 's3:GetObject', 'arn:aws:s3:::site/x'), 'Allow');
  });

  const cond = (Condition: object) => [{ ...readPublic, Condition }];
  const cases: [string, object, Record<string, string>, 'Allow' | 'None'][] = [
    ['IpAddress in range', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, { 'aws:sourceip': '127.0.0.1' }, 'Allow'],
    ['IpAddress outside', { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.168.0.0/16'] } }, { 'aws:sourceip': '127.0.0.1' }, 'None'],
    ['IPv4 through an IPv6 socket', { IpAddress: { 'aws:SourceIp': '127.0.0.1/32' } }, { 'aws:sourceip': '::ffff:127.0.0.1' }, 'Allow'],
    ['IPv6 range', { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }, { 'aws:sourceip': '2001:db8::1' }, 'Allow'],
    ['NotIpAddress', { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:sourceip': '127.0.0.1' }, 'Allow'],
    ['StringLike referer', { StringLike: { 'aws:Referer': 'https://example.com/*' } }, { 'aws:referer': 'https://example.com/page' }, 'Allow'],
    ['StringLike referer miss', { StringLike: { 'aws:Referer': 'https://example.com/*' } }, { 'aws:referer': 'https://evil.test/' }, 'None'],
    ['StringEquals on a missing key', { StringEquals: { 'aws:Referer': 'x' } }, {}, 'None'],
    ['StringNotEquals on a missing key', { StringNotEquals: { 'aws:Referer': 'x' } }, {}, 'Allow'],
    ['StringEqualsIfExists on a missing key', { StringEqualsIfExists: { 'aws:Referer': 'x' } }, {}, 'Allow'],
    ['StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { 's3:x-amz-acl': 'PUBLIC-READ' } }, { 's3:x-amz-acl': 'public-read' }, 'Allow'],
    ['Bool', { Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:securetransport': 'false' }, 'None'],
    ['Null', { Null: { 'aws:Referer': 'true' } }, {}, 'Allow'],
    ['NumericLessThanEquals', { NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '5' }, 'Allow'],
    ['NumericGreaterThan', { NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '5' }, 'None'],
    ['DateLessThan', { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:currenttime': '2026-01-01T00:00:00.000Z' }, 'Allow'],
    ['DateGreaterThan with epoch', { DateGreaterThan: { 'aws:EpochTime': '2000000000' } }, { 'aws:epochtime': '1900000000' }, 'None'],
    ['ForAnyValue: prefix', { 'ForAnyValue:StringLike': { 's3:prefix': ['home/*'] } }, { 's3:prefix': 'home/alice' }, 'Allow'],
    ['ForAllValues: on a missing key holds', { 'ForAllValues:StringEquals': { 's3:prefix': 'home/' } }, {}, 'Allow'],
    ['ForAnyValue: on a missing key fails', { 'ForAnyValue:StringEquals': { 's3:prefix': 'home/' } }, {}, 'None'],
    ['ForAnyValue:StringNotEquals on a missing key fails', { 'ForAnyValue:StringNotEquals': { 's3:prefix': 'home/' } }, {}, 'None'],
    ['ForAllValues: on a present key is the plain operator', { 'ForAllValues:StringEquals': { 's3:prefix': 'home/' } }, { 's3:prefix': 'other/' }, 'None'],
    ['all conditions must hold', { StringEquals: { 's3:prefix': 'a' }, Bool: { 'aws:SecureTransport': 'true' } }, { 's3:prefix': 'a', 'aws:securetransport': 'false' }, 'None'],
  ];
  for (const [name, c, facts, expected] of cases) {
    test(`Condition: ${name} -> ${expected}`, () => {
      assert.equal(eval1(cond(c), ANON, 's3:GetObject', 'arn:aws:s3:::site/x', facts), expected);
    });
  }
});

describe('policy variables (Version 2012-10-17)', () => {
  const home = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::proj-1:root' }, Action: 's3:*', Resource: 'arn:aws:s3:::site/home/${aws:userid}/*' };
  const run = (statements: object[], resource: string, facts: Record<string, string>, version = '2012-10-17', caller: PolicyCaller = TOKEN) =>
    evaluatePolicy(parseBucketPolicy(JSON.stringify({ Version: version, Statement: statements }), 'site'), caller, 's3:GetObject', resource, facts);
  const me = { 'aws:userid': 'tok-1' };

  test('a variable in a Resource takes the request\'s value: each token its own home', () => {
    assert.equal(run([home], 'arn:aws:s3:::site/home/tok-1/a', me), 'Allow');
    assert.equal(run([home], 'arn:aws:s3:::site/home/tok-2/a', me), 'None');
    assert.equal(run([home], 'arn:aws:s3:::site/home/${aws:userid}/a', me), 'None', 'the variable is not literal text');
  });

  test('a variable in a string condition; keys are case-insensitive', () => {
    const list = { ...home, Resource: 'arn:aws:s3:::site', Condition: { StringLike: { 's3:prefix': '${AWS:UserId}/*' } } };
    assert.equal(run([list], 'arn:aws:s3:::site', { ...me, 's3:prefix': 'tok-1/x' }), 'Allow');
    assert.equal(run([list], 'arn:aws:s3:::site', { ...me, 's3:prefix': 'tok-2/x' }), 'None');
    const equal = { ...home, Resource: 'arn:aws:s3:::site/*', Condition: { StringEquals: { 'aws:Referer': 'https://${aws:userid}.example/' } } };
    assert.equal(run([equal], 'arn:aws:s3:::site/a', { ...me, 'aws:referer': 'https://tok-1.example/' }), 'Allow');
  });

  test('a variable the request has no value for makes the statement not apply; a default fills it', () => {
    const deny = { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/${s3:prefix}*' };
    assert.equal(run([readPublic, deny], 'arn:aws:s3:::site/a', {}), 'Allow');
    const withDefault = { ...deny, Resource: "arn:aws:s3:::site/${s3:prefix, 'it''s'}*" };
    assert.equal(run([readPublic, withDefault], "arn:aws:s3:::site/it's-here", {}), 'Deny');
    assert.equal(run([readPublic, withDefault], 'arn:aws:s3:::site/other', {}), 'Allow');
  });

  test('${*} ${?} ${$} are those characters, and a value put in is literal: it widens nothing', () => {
    const star = { ...readPublic, Resource: 'arn:aws:s3:::site/a${*}b${?}${$}' };
    assert.equal(run([star], 'arn:aws:s3:::site/a*b?$', {}), 'Allow');
    assert.equal(run([star], 'arn:aws:s3:::site/axbyz', {}), 'None');
    assert.equal(run([star], 'arn:aws:s3:::site/axb?$', {}), 'None');
    const agent = { ...readPublic, Resource: 'arn:aws:s3:::site/${aws:UserAgent}' };
    assert.equal(run([agent], 'arn:aws:s3:::site/*', { 'aws:useragent': '*' }), 'Allow');
    assert.equal(run([agent], 'arn:aws:s3:::site/anything', { 'aws:useragent': '*' }), 'None');
  });

  test('before Version 2012-10-17 (or without one) ${...} is plain text', () => {
    assert.equal(run([home], 'arn:aws:s3:::site/home/${aws:userid}/a', me, '2008-10-17'), 'Allow');
    assert.equal(run([home], 'arn:aws:s3:::site/home/tok-1/a', me, '2008-10-17'), 'None');
    assert.doesNotThrow(() => parseBucketPolicy(JSON.stringify({ Statement: [{ ...home, Resource: 'arn:aws:s3:::site/${aws:username}/*' }] }), 'site'));
  });

  const refused: [string, object][] = [
    ['a key skep does not evaluate', { ...home, Resource: 'arn:aws:s3:::site/${aws:username}/*' }],
    ['an unclosed variable', { ...home, Resource: 'arn:aws:s3:::site/${aws:userid/*' }],
    ['a default without quotes', { ...home, Resource: 'arn:aws:s3:::site/${aws:userid, home}/*' }],
    ['an empty variable', { ...home, Resource: 'arn:aws:s3:::site/${}/*' }],
    ['one in a condition value', { ...readPublic, Condition: { StringEquals: { 'aws:Referer': '${aws:PrincipalTag/team}' } } }],
  ];
  for (const [name, statement] of refused) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseBucketPolicy(policy(statement), 'site'), (err: unknown) => err instanceof PolicyError && /invalid variable/.test(err.message));
    });
  }

  test('a stored policy with a variable skep cannot fill fails closed: its Deny applies, its Allow grants nothing', () => {
    const text = policy(
      { ...readPublic, Resource: 'arn:aws:s3:::site/${aws:username}/*' },
      { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::site/secret/${aws:username}' },
    );
    const p = parseBucketPolicy(text, 'site', { stored: true });
    assert.equal(evaluatePolicy(p, ANON, 's3:GetObject', 'arn:aws:s3:::site/x/y', {}), 'Deny');
    const allowOnly = parseBucketPolicy(policy({ ...readPublic, Resource: 'arn:aws:s3:::site/${aws:username}/*' }), 'site', { stored: true });
    assert.equal(evaluatePolicy(allowOnly, ANON, 's3:GetObject', 'arn:aws:s3:::site/x/y', {}), 'None');
  });

  test('aws:userid pins callers (not public) unless it admits "anonymous"', () => {
    const publicWith = (values: string[]) => isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Condition: { StringEquals: { 'aws:userid': values } } }), 'site'));
    assert.equal(publicWith(['tok-1']), false);
    assert.equal(publicWith(['tok-1', 'Anonymous']), true);
    assert.equal(run([{ ...readPublic, Condition: { StringEquals: { 'aws:userid': 'anonymous' } } }], 'arn:aws:s3:::site/a', { 'aws:userid': 'anonymous' }, '2012-10-17', ANON), 'Allow');
  });
});

describe('isPublicPolicy and wildcards', () => {
  const publicWith = (Condition: object) => isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Condition }), 'site'));
  const bypasses: [string, object][] = [
    ['NotIpAddress (everyone but one address)', { NotIpAddress: { 'aws:SourceIp': '192.0.2.1/32' } }],
    ['IpAddress 0.0.0.0/0', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }],
    ['IpAddress 0.0.0.0/1 + 128.0.0.0/1', { IpAddress: { 'aws:SourceIp': ['0.0.0.0/1', '128.0.0.0/1'] } }],
    ['a narrow range next to a wide one', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '0.0.0.0/4'] } }],
    ['IpAddress ::/0', { IpAddress: { 'aws:SourceIp': '::/0' } }],
    ['IPv6 ::/64, which holds every IPv4-mapped address', { IpAddress: { 'aws:SourceIp': '::/64' } }],
    ['IPv4-mapped ::ffff:128.0.0.0/97', { IpAddress: { 'aws:SourceIp': '::ffff:128.0.0.0/97' } }],
    ['IpAddressIfExists', { IpAddressIfExists: { 'aws:SourceIp': '203.0.113.0/24' } }],
    ['ForAllValues:IpAddress (holds without the key)', { 'ForAllValues:IpAddress': { 'aws:SourceIp': '203.0.113.0/24' } }],
  ];
  for (const [name, c] of bypasses) {
    test(`public despite ${name}`, () => assert.equal(publicWith(c), true));
  }

  test('restricting keys skep does not evaluate: pinned by a positive operator with fixed values only', () => {
    // skep refuses these keys in a policy; the rule is AWS's all the same, judged on parsed statements.
    const judged = (c: { operator: string; key: string; values: string[]; set?: 'ForAllValues' | 'ForAnyValue' }) => {
      const p = parseBucketPolicy(policy(readPublic), 'site');
      return isPublicPolicy({ ...p, statements: [{ ...p.statements[0], conditions: [{ set: null, ...c }] }] });
    };
    assert.equal(judged({ operator: 'StringNotEquals', key: 'aws:sourcevpce', values: ['vpce-1'] }), true);
    assert.equal(judged({ operator: 'Null', key: 'aws:sourcevpce', values: ['true'] }), true);
    assert.equal(judged({ operator: 'StringEqualsIfExists', key: 'aws:sourcevpce', values: ['vpce-1'] }), true);
    assert.equal(judged({ operator: 'StringLike', key: 'aws:sourcevpce', values: ['vpce-*'] }), true);
    assert.equal(judged({ operator: 'StringEquals', key: 'aws:sourcevpce', values: ['vpce-1'], set: 'ForAllValues' }), true);
    assert.equal(judged({ operator: 'StringEquals', key: 'aws:sourcevpce', values: ['vpce-1'] }), false);
    assert.equal(judged({ operator: 'ArnEquals', key: 'aws:sourcearn', values: ['arn:aws:cloudfront::1:distribution/X'] }), false);
  });

  test('not public: a fixed, narrow aws:SourceIp set', () => {
    assert.equal(publicWith({ IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }), false);
    assert.equal(publicWith({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32', '::ffff:203.0.113.0/120'] } }), false);
    assert.equal(publicWith({ 'ForAnyValue:IpAddress': { 'aws:SourceIp': '203.0.113.0/24' }, Bool: { 'aws:SecureTransport': 'true' } }), false);
  });

  test('public: Allow to "*" without a condition that pins who the caller is', () => {
    assert.equal(isPublicPolicy(parseBucketPolicy(policy(readPublic), 'site')), true);
    assert.equal(isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }), 'site')), false);
    assert.equal(isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Condition: { StringLike: { 'aws:Referer': '*' } } }), 'site')), true, 'a referer can be forged');
    assert.equal(isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Effect: 'Deny' }), 'site')), false);
    assert.equal(isPublicPolicy(parseBucketPolicy(policy({ ...readPublic, Principal: { AWS: 'arn:aws:iam::proj-1:root' } }), 'site')), false);
  });

  test('* and ? wildcards, regex characters taken literally', () => {
    assert.ok(wildcardMatch('a*c', 'abbbc'));
    assert.ok(wildcardMatch('a?c', 'abc'));
    assert.ok(!wildcardMatch('a?c', 'abbc'));
    assert.ok(wildcardMatch('arn:aws:s3:::b/(x)+.txt', 'arn:aws:s3:::b/(x)+.txt'));
    assert.ok(!wildcardMatch('a.c', 'abc'));
    assert.ok(wildcardMatch('*', ''));
    assert.ok(wildcardMatch('a**', 'a'));
    assert.ok(!wildcardMatch('a?', 'a'));
    assert.ok(wildcardMatch('*b*b', 'abxbb'));
    assert.ok(!wildcardMatch('*b*b', 'abxba'));
    assert.ok(wildcardMatch('a*', 'a\nb'), 'a star spans line breaks');
    assert.ok(wildcardMatch('S3:Get*', 's3:getobject', true));
    assert.ok(!wildcardMatch('S3:Get*', 's3:getobject'));
  });

  test('many stars against a long near-miss finish (no backtracking blow-up)', () => {
    // A RegExp built from this pattern backtracks through every way of splitting the slashes
    // (minutes of CPU for one request); the matcher here only ever retries the last star.
    const pattern = 'arn:aws:s3:::b/' + '*/'.repeat(12) + '*.jpg';
    const key = 'arn:aws:s3:::b/' + 'a/'.repeat(3000) + 'x.png';
    assert.equal(wildcardMatch(pattern, key), false);
    assert.equal(wildcardMatch(pattern, key.replace(/png$/, 'jpg')), true);
    assert.equal(wildcardMatch('?*'.repeat(20) + 'z', 'a'.repeat(5000)), false);
  });
});
