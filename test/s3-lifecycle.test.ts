import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { s3Error } from './helpers/s3.js';
import { raw, xmlField } from './helpers/raw-s3.js';
import { waitFor } from './helpers/tokens.js';
import { call, rootBearer } from './helpers/api.js';
import { LifecycleWorker } from '../src/lifecycle/lifecycle-worker.js';

// Lifecycle rules through the AWS SDK: the grammar and AWS's validation errors, and the worker
// applying them. This server's lifecycle "day" lasts one second and a pass starts every quarter
// second, so the tests watch expirations happen instead of waiting days.

const DAY_MS = 1000;
let server: TestServer;
let s3: S3Client;
let n = 0;
before(async () => {
  server = await startTestServer({ lifecycleIntervalMs: 250, lifecycleDayMs: DAY_MS, lifecycleBatch: 3 });
  s3 = server.client();
});
after(() => server.stop());

async function bucket(tag: string, versioning?: 'Enabled'): Promise<string> {
  const name = `lc-${tag}-${process.pid}-${++n}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  if (versioning) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: versioning } }));
  return name;
}

const setRules = (b: string, Rules: LifecycleRule[]) => s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: b, LifecycleConfiguration: { Rules } }));
const keys = async (b: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: b }))).Contents ?? []).map((o) => o.Key);
const versions = async (b: string) => {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
  return [...(out.Versions ?? []).map((v) => `${v.Key}:v${v.IsLatest ? '*' : ''}`), ...(out.DeleteMarkers ?? []).map((m) => `${m.Key}:dm${m.IsLatest ? '*' : ''}`)].sort();
};

async function auditDetails(bucketName: string): Promise<string[]> {
  const r = await call(server, 'GET', `/projects/${server.bootstrap.projectId}/audit?limit=500`, { as: rootBearer(server) });
  return r.body.items.filter((e: { action: string; bucket: string }) => e.action.startsWith('lifecycle.') && e.bucket === bucketName).map((e: { detail: string }) => e.detail);
}

describe('lifecycle configuration', () => {
  test('PUT, GET and DELETE round-trip the rules, filters and actions as written', async () => {
    const b = await bucket('conf');
    assert.equal((await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b })))).name, 'NoSuchLifecycleConfiguration');
    const rules: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      { ID: 'tagged', Status: 'Disabled', Filter: { And: { Prefix: 'tmp/', Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] } }, Expiration: { Date: new Date('2099-01-01T00:00:00Z') } },
      { ID: 'big', Status: 'Enabled', Filter: { ObjectSizeGreaterThan: 1000 }, NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 } },
      { ID: 'markers', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { ExpiredObjectDeleteMarker: true }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } },
    ];
    await setRules(b, rules);
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }));
    assert.deepEqual(got.Rules, rules);
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: b }));
    assert.equal((await s3Error(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b })))).name, 'NoSuchLifecycleConfiguration');
  });

  test('a Filter written as And around one predicate comes back as And; one written bare comes back bare', async () => {
    const b = await bucket('and');
    const rules: LifecycleRule[] = [
      { ID: 'and-prefix', Status: 'Enabled', Filter: { And: { Prefix: 'logs/' } }, Expiration: { Days: 30 } },
      { ID: 'and-tag', Status: 'Enabled', Filter: { And: { Tags: [{ Key: 'a', Value: '1' }] } }, Expiration: { Days: 30 } },
      { ID: 'and-size', Status: 'Enabled', Filter: { And: { ObjectSizeGreaterThan: 10 } }, Expiration: { Days: 30 } },
      { ID: 'and-two', Status: 'Enabled', Filter: { And: { Prefix: 'x/', ObjectSizeLessThan: 10 } }, Expiration: { Days: 30 } },
      { ID: 'tag', Status: 'Enabled', Filter: { Tag: { Key: 'a', Value: '1' } }, Expiration: { Days: 30 } },
    ];
    await setRules(b, rules);
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules, rules);
    // Rules without the mark (stored before it, or through the REST API) read as before: And around several predicates only.
    const api = await call(server, 'PUT', `/projects/${server.bootstrap.projectId}/buckets/${b}/settings/lifecycle`, {
      as: rootBearer(server),
      json: { rules: [{ id: 'one', filter: { prefix: 'p/' }, expiration: { days: 1 } }, { id: 'two', filter: { prefix: 'p/', tags: { a: '1' } }, expiration: { days: 1 } }] },
    });
    assert.equal(api.status, 200);
    assert.deepEqual(
      (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules?.map((r) => r.Filter),
      [{ Prefix: 'p/' }, { And: { Prefix: 'p/', Tags: [{ Key: 'a', Value: '1' }] } }],
    );
  });

  test('rules read through the REST API in their S3 form can be written back as read (the console re-saves every rule)', async () => {
    const b = await bucket('resave');
    const path = `/projects/${server.bootstrap.projectId}/buckets/${b}/settings/lifecycle`;
    const xml =
      '<LifecycleConfiguration><Rule><ID>old</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>' +
      '<Rule><ID>and</ID><Filter><And><Prefix>tmp/</Prefix></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>';
    const put = await raw(server, { method: 'PUT', path: `/${b}`, query: { lifecycle: '' }, body: xml, headers: { 'content-md5': createHash('md5').update(xml).digest('base64') } });
    assert.equal(put.status, 200, put.text);
    const before = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules;
    const read = await call(server, 'GET', `/projects/${server.bootstrap.projectId}/buckets/${b}/settings`, { as: rootBearer(server) });
    assert.equal(read.status, 200);
    const again = await call(server, 'PUT', path, { as: rootBearer(server), json: { rules: read.body.lifecycle.rules } });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules, before);
    assert.deepEqual(before?.map((r) => [r.Prefix, r.Filter]), [['logs/', undefined], [undefined, { And: { Prefix: 'tmp/' } }]]);
  });

  test('invalid rules get AWS\'s error codes and change nothing', async () => {
    const b = await bucket('invalid');
    await setRules(b, [{ ID: 'keep', Status: 'Enabled', Filter: { Prefix: 'k/' }, Expiration: { Days: 1 } }]);
    const bad: [string, string][] = [
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>', 'MalformedXML'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>', 'InvalidArgument'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Date>2099-01-01T12:00:00Z</Date></Expiration></Rule>', 'InvalidArgument'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>', 'MalformedXML'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status></Rule>', 'InvalidRequest'],
      ['<Rule><ID>d</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>d</ID><Filter><Prefix>b</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>', 'InvalidArgument'],
      [`<Rule><ID>${'x'.repeat(256)}</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, 'InvalidArgument'],
      ['<Rule><ID>x</ID><Prefix>a</Prefix><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>', 'MalformedXML'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>', 'MalformedXML'],
      ['<Rule><ID>x</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>', 'InvalidRequest'],
      ['<Rule><ID>x</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>', 'NotImplemented'],
      ['', 'MalformedXML'],
    ];
    for (const [rules, code] of bad) {
      const res = await raw(server, { method: 'PUT', path: `/${b}`, query: { lifecycle: '' }, body: `<LifecycleConfiguration>${rules}</LifecycleConfiguration>` });
      assert.equal(xmlField(res.text, 'Code'), code, rules.slice(0, 120));
    }
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules?.map((r) => r.ID), ['keep']);
  });

  test('an element repeated where one belongs, holding elements where text belongs, or not in the schema, is MalformedXML, never a rule for every key', async () => {
    const b = await bucket('repeated');
    await setRules(b, [{ ID: 'keep', Status: 'Enabled', Filter: { Prefix: 'k/' }, Expiration: { Days: 1 } }]);
    const rule = (inner: string) => `<Rule><ID>x</ID>${inner}<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`;
    const bad = [
      rule('<Filter><Prefix>logs/</Prefix><Prefix>tmp/</Prefix></Filter>'),
      rule('<Filter><Prefix>logs/</Prefix></Filter><Filter><Prefix>tmp/</Prefix></Filter>'),
      rule('<Filter><And><Prefix>logs/</Prefix><Prefix>tmp/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>'),
      rule('<Prefix>logs/</Prefix><Prefix>tmp/</Prefix>'),
      rule('<Filter><Prefix>logs/<Sub>x</Sub></Prefix></Filter>'),
      rule('<Filter>logs/</Filter>'),
      '<Rule><ID>x</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days><Days>2</Days></Expiration></Rule>',
      '<Rule><ID>x</ID><ID>y</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>',
      // An element the schema does not name (a misspelt one, read as absent, made the rule cover every key).
      rule('<Filter><Prefixx>logs/</Prefixx></Filter>'),
      rule('<Filter><prefix>logs/</prefix></Filter>'),
      rule('<Filter><Tags><Key>k</Key><Value>v</Value></Tags></Filter>'),
      rule('<Filter><And><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></And></Filter>'),
      rule('<Filter><ObjectSizeGreaterThen>10</ObjectSizeGreaterThen></Filter>'),
      rule('<Filter><Tag><Key>k</Key><Value>v</Value><Other>x</Other></Tag></Filter>'),
      rule('<Filter><Prefix>logs/</Prefix></Filter><Unknown>1</Unknown>'),
      '<Rule><ID>x</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Dayz>1</Dayz></Expiration></Rule>',
    ];
    for (const rules of bad) {
      const res = await raw(server, { method: 'PUT', path: `/${b}`, query: { lifecycle: '' }, body: `<LifecycleConfiguration>${rules}</LifecycleConfiguration>` });
      assert.equal(res.status, 400, rules);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedXML', rules);
    }
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules?.map((r) => [r.ID, r.Filter?.Prefix]), [['keep', 'k/']]);
  });

  test('more than 1000 rules is MalformedXML, as S3 answers', async () => {
    const b = await bucket('many');
    const rules = Array.from({ length: 1001 }, (_, i) => `<Rule><ID>r${i}</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`).join('');
    const res = await raw(server, { method: 'PUT', path: `/${b}`, query: { lifecycle: '' }, body: `<LifecycleConfiguration>${rules}</LifecycleConfiguration>` });
    assert.equal(xmlField(res.text, 'Code'), 'MalformedXML');
  });

  test('an expiration Date without a UTC offset is UTC, whatever the server\'s time zone', async () => {
    const b = await bucket('date-utc');
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const xml = '<LifecycleConfiguration><Rule><ID>d</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Date>2099-01-01T00:00:00</Date></Expiration></Rule></LifecycleConfiguration>';
      const put = await raw(server, { method: 'PUT', path: `/${b}`, query: { lifecycle: '' }, body: xml, headers: { 'content-md5': createHash('md5').update(xml).digest('base64') } });
      assert.equal(put.status, 200, put.text);
      const got = await raw(server, { method: 'GET', path: `/${b}`, query: { lifecycle: '' } });
      assert.equal(xmlField(got.text, 'Date'), '2099-01-01T00:00:00.000Z');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('what a rule tells the objects it will expire', () => {
  // S3's x-amz-expiration: expiry-date="<HTTP date>", rule-id="<URL-encoded ID>", the earliest a
  // rule sets; x-amz-abort-date / x-amz-abort-rule-id on an upload an abort rule will end. Days are
  // this server's one-second days, so Days: 1000 is far enough off for nothing to expire here.
  const expiryOf = (header: string | undefined) => {
    const m = /^expiry-date="([^"]+)", rule-id="([^"]+)"$/.exec(header ?? '');
    assert.ok(m, `x-amz-expiration: ${header}`);
    return { at: Date.parse(m[1]!), rule: m[2]! };
  };
  const due = (from: Date, days: number) => Math.ceil((from.getTime() + days * DAY_MS) / DAY_MS) * DAY_MS;

  test('PUT, GET, HEAD, copy and multipart completion carry x-amz-expiration; CreateMultipartUpload the abort date', async () => {
    const b = await bucket('headers', 'Enabled');
    await setRules(b, [
      { ID: 'logs rule', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 1000 } },
      { ID: 'doomed', Status: 'Enabled', Filter: { Tag: { Key: 'doomed', Value: 'yes' } }, Expiration: { Days: 500 } },
      { ID: 'fixed', Status: 'Enabled', Filter: { Prefix: 'old/' }, Expiration: { Date: new Date('2100-01-01T00:00:00Z') } },
      { ID: 'off', Status: 'Disabled', Filter: { Prefix: 'other/' }, Expiration: { Days: 1000 } },
      { ID: 'uploads', Status: 'Enabled', Filter: { Prefix: 'up/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2000 } },
    ]);
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'logs/a', Body: 'a' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'logs/a' }));
    // Last-Modified has whole seconds; the stored time may have milliseconds, which round up a (one-second) day.
    const expiry = expiryOf(put.Expiration);
    assert.ok([0, DAY_MS].includes(expiry.at - due(head.LastModified!, 1000)), `${expiry.at} for ${head.LastModified!.toISOString()}`);
    assert.equal(expiry.rule, 'logs%20rule');
    assert.deepEqual(expiryOf(head.Expiration), expiry);
    assert.deepEqual(expiryOf((await s3.send(new GetObjectCommand({ Bucket: b, Key: 'logs/a' }))).Expiration), expiry);
    // The earliest of the rules that match.
    const tagged = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'logs/t', Body: 't', Tagging: 'doomed=yes' }));
    assert.equal(expiryOf(tagged.Expiration).rule, 'doomed');
    assert.deepEqual(expiryOf((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'old/x', Body: 'x' }))).Expiration), { at: Date.parse('2100-01-01T00:00:00Z'), rule: 'fixed' });
    assert.equal((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'other/x', Body: 'x' }))).Expiration, undefined, 'a disabled rule says nothing');
    const copy = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'logs/copy', CopySource: `${b}/other/x` }));
    assert.equal(expiryOf(copy.Expiration).rule, 'logs%20rule');
    // An old version is not what Expiration acts on.
    const first = (await s3.send(new PutObjectCommand({ Bucket: b, Key: 'logs/v', Body: '1' }))).VersionId!;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'logs/v', Body: '2' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'logs/v', VersionId: first }))).Expiration, undefined);

    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'up/big' }));
    assert.equal(created.AbortRuleId, 'uploads');
    assert.ok(created.AbortDate && Math.abs(created.AbortDate.getTime() - (Date.now() + 2000 * DAY_MS)) < 5 * DAY_MS, String(created.AbortDate));
    const plain = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'logs/mp' }));
    assert.equal(plain.AbortRuleId, undefined);
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'logs/mp', UploadId: plain.UploadId, PartNumber: 1, Body: 'p' }));
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'logs/mp', UploadId: plain.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.equal(expiryOf(done.Expiration).rule, 'logs%20rule');
  });

  test('ListParts tells when a rule will abort the upload, as CreateMultipartUpload does', async () => {
    const b = await bucket('listparts');
    await setRules(b, [{ ID: 'uploads', Status: 'Enabled', Filter: { Prefix: 'up/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2000 } }]);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'up/big' }));
    const parts = await s3.send(new ListPartsCommand({ Bucket: b, Key: 'up/big', UploadId: created.UploadId }));
    assert.equal(parts.AbortRuleId, 'uploads');
    assert.equal(parts.AbortDate?.getTime(), created.AbortDate?.getTime());
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'other' }));
    const none = await s3.send(new ListPartsCommand({ Bucket: b, Key: 'other', UploadId: other.UploadId }));
    assert.equal(none.AbortRuleId, undefined);
    assert.equal(none.AbortDate, undefined);
  });

  test('a rule ID no header can hold as it is (non-Latin-1, a newline) goes URL-encoded, and the write it answers succeeds once', async () => {
    for (const id of ['規則-1', 'x\ny']) {
      const b = await bucket('rule-id');
      await setRules(b, [{ ID: id, Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1000 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1000 } }]);
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'mp' }));
      assert.equal(created.AbortRuleId, encodeURIComponent(id));
      assert.equal((await s3.send(new ListPartsCommand({ Bucket: b, Key: 'mp', UploadId: created.UploadId }))).AbortRuleId, encodeURIComponent(id));
      // The one upload created, none left behind by a failed answer.
      assert.deepEqual((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.map((u) => u.UploadId), [created.UploadId]);
      assert.equal(expiryOf((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'o', Body: 'o' }))).Expiration).rule, encodeURIComponent(id));
    }
  });
});

describe('the lifecycle worker', () => {
  test('expires current objects that match, leaves the rest, and audits each expiration', async () => {
    const b = await bucket('expire');
    for (const k of ['logs/a', 'logs/b', 'logs/c', 'logs/d', 'keep/x']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'logs/tagged-small', Body: 'x', Tagging: 'keep=yes' }));
    await setRules(b, [
      { ID: 'logs', Status: 'Enabled', Filter: { And: { Prefix: 'logs/', ObjectSizeGreaterThan: 2 } }, Expiration: { Days: 1 } },
      { ID: 'never', Status: 'Disabled', Filter: { Prefix: 'keep/' }, Expiration: { Days: 1 } },
    ]);
    await waitFor('logs/ to expire', async () => (await keys(b)).every((k) => !k?.startsWith('logs/') || k === 'logs/tagged-small'), 15_000);
    assert.deepEqual(await keys(b), ['keep/x', 'logs/tagged-small']);
    const audited = await auditDetails(b);
    assert.deepEqual(audited.map((d) => d.split(' ')[0]).sort(), ['logs/a', 'logs/b', 'logs/c', 'logs/d']);
    assert.ok(audited.every((d) => d.includes('(rule logs)')));
  });

  test('in a versioned bucket: current versions go behind delete markers, noncurrent versions and lone markers are removed in time', async () => {
    const b = await bucket('versioned', 'Enabled');
    for (let i = 0; i < 3; i++) await s3.send(new PutObjectCommand({ Bucket: b, Key: 'doc', Body: `v${i}` }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'other', Body: 'x' }));
    await setRules(b, [
      { ID: 'all', Status: 'Enabled', Filter: { Prefix: 'doc' }, Expiration: { Days: 4 } },
      { ID: 'old', Status: 'Enabled', Filter: { Prefix: 'doc' }, NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 1 } },
    ]);
    // Noncurrent versions beyond the newest one go; the newest noncurrent one stays while younger than its days.
    await waitFor('the oldest version to go', async () => (await versions(b)).length === 3, 15_000);
    assert.deepEqual(await versions(b), ['doc:v', 'doc:v*', 'other:v*']);
    await waitFor('the current version to expire behind a marker', async () => (await versions(b)).includes('doc:dm*'), 15_000);
    await setRules(b, [{ ID: 'cleanup', Status: 'Enabled', Filter: { Prefix: 'doc' }, Expiration: { ExpiredObjectDeleteMarker: true }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
    await waitFor('every version and the lone marker of doc to go', async () => (await versions(b)).join() === 'other:v*', 15_000);
  });

  test('a rule that expires current objects by Days also removes a delete marker once it is all that is left of its key', async () => {
    const b = await bucket('days-marker', 'Enabled');
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'ghost' }));
    // A marker over a version is not an expired object delete marker: it stays.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'hidden', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'hidden' }));
    await setRules(b, [{ ID: 'days', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }]);
    await waitFor('the lone marker to go', async () => !(await versions(b)).includes('ghost:dm*'), 15_000);
    // Several more passes (one every quarter second), well past the rule's day.
    await new Promise((r) => setTimeout(r, 3 * DAY_MS));
    assert.deepEqual(await versions(b), ['hidden:dm*', 'hidden:v']);
    const audited = await auditDetails(b);
    assert.equal(audited.length, 1, audited.join('\n'));
    assert.match(audited[0]!, /^ghost version .*: expired delete marker removed \(rule days\)$/);
  });

  test('never removes a version under Object Lock', async () => {
    const b = `lc-locked-${process.pid}-${++n}`;
    await s3.send(new CreateBucketCommand({ Bucket: b, ObjectLockEnabledForBucket: true }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'held', Body: 'x', ObjectLockLegalHoldStatus: 'ON' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'retained', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'free', Body: 'x' }));
    for (const k of ['held', 'retained', 'free']) await s3.send(new DeleteObjectCommand({ Bucket: b, Key: k }));
    await setRules(b, [{ ID: 'purge', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
    await waitFor('the unlocked version to go', async () => !(await versions(b)).includes('free:v'), 15_000);
    // Several more passes (one every quarter second): the locked ones stay.
    await new Promise((r) => setTimeout(r, 3 * DAY_MS));
    assert.deepEqual(await versions(b), ['free:dm*', 'held:dm*', 'held:v', 'retained:dm*', 'retained:v']);
  });

  test('aborts multipart uploads left unfinished, and leaves completed ones alone', async () => {
    const b = await bucket('uploads');
    const { UploadId: stale } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'tmp/stale' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'keep/open' }));
    // Completed under the rule's prefix: its row stays, for a retry of its completion.
    const { UploadId: done } = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'tmp/done' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: b, Key: 'tmp/done', UploadId: done, PartNumber: 1, Body: 'done' }));
    const complete = () => s3.send(new CompleteMultipartUploadCommand({ Bucket: b, Key: 'tmp/done', UploadId: done, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const first = await complete();
    await setRules(b, [{ ID: 'abort', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }]);
    await waitFor('the stale upload to be aborted', async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads ?? []).length === 1, 15_000);
    assert.deepEqual((await s3.send(new ListMultipartUploadsCommand({ Bucket: b }))).Uploads?.map((u) => u.Key), ['keep/open']);
    // Several more passes (one every quarter second), well past the rule's day.
    await new Promise((r) => setTimeout(r, 3 * DAY_MS));
    const details = await auditDetails(b);
    assert.ok(details.some((d) => d.includes(`upload ${stale} aborted`)));
    assert.ok(!details.some((d) => d.includes(done!)), details.join('\n'));
    assert.equal((await complete()).ETag, first.ETag);
  });

  test('two workers on one store never both apply a rule: one holds the lease, every expiration happens once', async () => {
    const b = await bucket('lease');
    await server.lifecycle.stop(); // this test drives passes itself
    try {
      for (let i = 0; i < 10; i++) await s3.send(new PutObjectCommand({ Bucket: b, Key: `x/${i}`, Body: 'x' }));
      await setRules(b, [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: 'x/' }, Expiration: { Days: 1 } }]);
      await new Promise((r) => setTimeout(r, 2 * DAY_MS + 100));
      const opts = { meta: server.meta, objects: server.objects, audit: server.services.audit, log: server.log, intervalMs: 1, dayMs: DAY_MS, batch: 2 };
      const [a, c] = [new LifecycleWorker(opts), new LifecycleWorker(opts)];
      const reports = await Promise.all([a.runOnce(), c.runOnce()]);
      assert.equal(reports.filter((r) => r === null).length, 1, 'one of them found the lease taken');
      await a.stop();
      await c.stop();
      // Whichever ran, the rest of the pass (a later run) finishes it.
      for (let i = 0; i < 5 && (await keys(b)).length > 0; i++) await new LifecycleWorker(opts).runOnce();
      assert.deepEqual(await keys(b), []);
      assert.equal((await auditDetails(b)).length, 10, 'each object expired exactly once');
    } finally {
      server.lifecycle.start();
    }
  });
});
