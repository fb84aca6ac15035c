import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeletePublicAccessBlockCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ROOT_KEY, useS3Server } from './helpers/server.js';
import { raw, xmlField } from './helpers/raw-s3.js';
import { formData, postPolicyFields } from './helpers/post-form.js';
import { signV2 } from '../src/sigv4/sigv2.js';

// Every date a request carries is read the same on any host: ISO 8601 as S3 and IAM take it, a
// time without a zone as UTC, HTTP dates as GMT, and a string that is no date refused rather than
// guessed at. This process runs at UTC+14, where reading a zone-less time locally is 14 hours off.
process.env.TZ = 'Pacific/Kiritimati';

const ctx = useS3Server('dates');
/** `now + ms` written without a zone (2026-12-07T13:00:00, meant as UTC). */
const zoneless = (ms: number) => new Date(Date.now() + ms).toISOString().slice(0, 19);

const lifecycle = (date: string, days = '') =>
  `<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration>${days ? `<Days>${days}</Days>` : `<Date>${date}</Date>`}</Expiration></Rule></LifecycleConfiguration>`;
const putLifecycle = (bucket: string, body: string) => raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { lifecycle: '' }, body, headers: { 'content-type': 'application/xml' } });

describe('dates in bucket settings', () => {
  test('a lifecycle Date that is not ISO 8601 is MalformedXML and stores nothing, so a typo cannot expire a bucket', async () => {
    const bucket = await ctx.newBucket('lcdate');
    for (const key of ['logs/a', 'logs/b']) await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'keep' }));
    // Each of these parses in JavaScript, most of them to a day long past ("12" is 1 December 2001).
    for (const date of ['12', '1', '2030/01/01', 'Jan 1 2030', '2030-1-1', '+010000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '2030-02-30T00:00:00Z']) {
      const res = await putLifecycle(bucket, lifecycle(date));
      assert.equal(res.status, 400, date);
      assert.equal(xmlField(res.text, 'Code'), 'MalformedXML', date);
    }
    assert.equal(xmlField((await raw(ctx.server, { method: 'GET', path: `/${bucket}`, query: { lifecycle: '' } })).text, 'Code'), 'NoSuchLifecycleConfiguration');
    // ISO 8601 at midnight UTC, with or without the time or its zone, is taken and reads back.
    for (const date of ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00', '2030-01-01', '2030-01-01T02:00:00+02:00']) {
      assert.equal((await putLifecycle(bucket, lifecycle(date))).status, 200, date);
      const rules = (await ctx.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
      assert.equal(rules[0]?.Expiration?.Date?.toISOString(), '2030-01-01T00:00:00.000Z', date);
    }
    const left = (await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
    assert.deepEqual(left.map((o) => o.Key), ['logs/a', 'logs/b']);
  });

  test('a rule counting more days than any client can read back as a date is InvalidArgument', async () => {
    const bucket = await ctx.newBucket('lcdays');
    for (const days of ['100000000', '2147483647']) {
      const res = await putLifecycle(bucket, lifecycle('', days));
      assert.equal(res.status, 400, days);
      assert.equal(xmlField(res.text, 'Code'), 'InvalidArgument', days);
      assert.equal(xmlField(res.text, 'ArgumentName'), 'Days');
    }
    const abort = `<LifecycleConfiguration><Rule><ID>a</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2932897</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>`;
    assert.equal(xmlField((await putLifecycle(bucket, abort)).text, 'Code'), 'InvalidArgument');
    // The largest count allowed still answers a date the SDK parses.
    assert.equal((await putLifecycle(bucket, lifecycle('', '1000000'))).status, 200);
    const put = await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/k', Body: 'x' }));
    assert.match(put.Expiration ?? '', /expiry-date="\w{3}, \d{2} \w{3} \d{4} 00:00:00 GMT"/);
  });

  test('a bucket policy date condition without a zone is UTC', async () => {
    const bucket = await ctx.newBucket('poldate');
    await ctx.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'public until later' }));
    const policy = (until: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { DateLessThan: { 'aws:CurrentTime': until } } }] });
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(zoneless(3_600_000)) }));
    assert.equal((await fetch(`${ctx.server.url}/${bucket}/k`)).status, 200, 'an hour from now (UTC) has not come yet');
    await ctx.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy(zoneless(-3_600_000)) }));
    assert.equal((await fetch(`${ctx.server.url}/${bucket}/k`)).status, 403, 'an hour ago has passed');
    const bad = await raw(ctx.server, { method: 'PUT', path: `/${bucket}`, query: { policy: '' }, body: policy('Jan 1 2030') });
    assert.equal(xmlField(bad.text, 'Code'), 'MalformedPolicy', 'a date that is not ISO 8601 is refused');
  });
});

describe('dates in requests', () => {
  test('a POST form whose policy expiration has no zone expires at that time in UTC', async () => {
    const bucket = await ctx.newBucket('postexp');
    const send = (expiration: string, key: string) => fetch(`${ctx.server.url}/${bucket}`, { method: 'POST', body: formData(postPolicyFields({ bucket, key, credentials: ROOT_KEY, expiration }), 'form body') });
    assert.equal((await send(zoneless(3_600_000), 'later')).status, 204, 'an hour from now has not come yet');
    const past = await send(zoneless(-3_600_000), 'earlier');
    assert.equal(past.status, 403);
    assert.match(await past.text(), /expired/i);
    const junk = await send('12', 'junk');
    assert.equal(junk.status, 400, 'a policy expiration that is no ISO 8601 date is refused');
  });

  test('an asctime Date on a SigV2 request is GMT; a SigV4 date that is not one is refused, not guessed', async () => {
    const bucket = await ctx.newBucket('reqdate');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const now = new Date();
    const p2 = (n: number) => String(n).padStart(2, '0');
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const asctime = `${days[now.getUTCDay()]} ${months[now.getUTCMonth()]} ${String(now.getUTCDate()).padStart(2, ' ')} ${p2(now.getUTCHours())}:${p2(now.getUTCMinutes())}:${p2(now.getUTCSeconds())} ${now.getUTCFullYear()}`;
    const numeric = now.toUTCString().replace('GMT', '+0000');
    // Go's time.RFC1123 (rclone's SigV2) writes UTC as the zone.
    const goStyle = now.toUTCString().replace('GMT', 'UTC');
    for (const date of [asctime, numeric, goStyle]) {
      const auth = `AWS ${ROOT_KEY.accessKeyId}:${signV2(ROOT_KEY.secretAccessKey, `GET\n\n\n${date}\n/${bucket}/k`)}`;
      const res = await fetch(`${ctx.server.url}/${bucket}/k`, { headers: { Date: date, Authorization: auth } });
      assert.equal(res.status, 200, `${date}: ${await res.clone().text()}`);
    }
    // x-amz-date "12" was read as 1 December 2001 (RequestTimeTooSkewed), and a time with minute 60 rolled over.
    for (const amzDate of ['12', `${now.toISOString().slice(0, 10).replace(/-/g, '')}T256000Z`]) {
      const res = await raw(ctx.server, { method: 'GET', path: `/${bucket}/k`, headers: { 'x-amz-date': amzDate }, sign: false });
      assert.equal(res.status, 403, amzDate);
      assert.equal(xmlField(res.text, 'Code'), 'AccessDenied', amzDate);
    }
  });

  test('a presigned X-Amz-Date whose fields roll over (minute 60) is AuthorizationQueryParametersError', async () => {
    const bucket = await ctx.newBucket('rolled');
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(ctx.s3, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 300 });
    const rolled = await fetch(url.replace(/X-Amz-Date=(\d{8})T\d{6}Z/, 'X-Amz-Date=$1T256000Z'));
    assert.equal(rolled.status, 400);
    assert.equal(xmlField(await rolled.text(), 'Code'), 'AuthorizationQueryParametersError');
  });
});
