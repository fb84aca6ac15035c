import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { captureLog, startTestServer, type CapturedLog, type TestServer } from './helpers/server.js';
import { fetchOutcome, isDenied, issue, outcome, shiftServerAndClients, type Issued } from './helpers/tokens.js';
import { availability, awsEnv, findExecutable, run, systemExecutable, tempDir } from './helpers/clients.js';
import { call, isProblem, problemText } from './helpers/api.js';

// Temporary credentials: a token turned into an access key, a secret and a session token, by the
// REST API or by STS AssumeRole / GetSessionToken on the S3 endpoint. Used by the JS SDK, boto3
// and the AWS CLI with session credentials (header signatures, SigV4 and SigV2 presigned URLs,
// POST forms); the session token is required on every request; they are never wider nor longer
// lived than their token, and revoking or disabling the token ends them at once.

const BUCKET = 'tmp-data';
let server: TestServer;
let log: CapturedLog;
let parent: Issued;
const secrets: string[] = [];

interface Temp {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

function sessionClient(t: Temp, o: { sessionToken?: string | null } = {}): S3Client {
  const credentials = { accessKeyId: t.accessKeyId, secretAccessKey: t.secretAccessKey, ...(o.sessionToken === null ? {} : { sessionToken: o.sessionToken ?? t.sessionToken }) };
  return server.client({ credentials, maxAttempts: 1 });
}

async function issueTemporary(tokenBearer: string, tokenId: string, body: Record<string, unknown> = {}) {
  const r = await call(server, 'POST', `/projects/${server.bootstrap.projectId}/tokens/${tokenId}/temporary-credentials`, { as: { bearer: tokenBearer }, json: body });
  if (r.status === 201) secrets.push(r.body.credentials.secretAccessKey, r.body.credentials.sessionToken);
  return r;
}

before(async () => {
  log = captureLog('debug');
  server = await startTestServer({}, { log: log.logger });
  const root = server.client();
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'logs/app.log', Body: 'log line' }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'private.txt', Body: 'secret stuff' }));
  parent = await issue(server, { permission: 'object-rw', bucketScope: null, expiresInDays: 30 });
});
after(() => server.stop());

describe('issued through the REST API, used by the JS SDK', () => {
  let temp: Temp;

  test('201 with the key, secret and session token once, an expiry, and snippets that carry the session token', async () => {
    const r = await issueTemporary(parent.credentials.bearerToken, parent.token.id, { name: 'ci-job', durationSeconds: 1800 });
    assert.equal(r.status, 201, r.text);
    temp = r.body.credentials;
    assert.match(temp.accessKeyId, /^ST[A-Z2-7]{18}$/);
    assert.ok(temp.sessionToken.length > 40);
    const lifetime = Date.parse(temp.expiration) - Date.now();
    assert.ok(lifetime > 1790_000 && lifetime <= 1800_000, `expires in ${lifetime} ms`);
    assert.equal(r.body.credential.permission, 'object-rw');
    assert.equal(r.body.credential.status, 'active');
    assert.match(r.body.snippets.boto3, new RegExp(`aws_session_token="${temp.sessionToken}"`));
    assert.match(r.body.snippets.jsSdk, /sessionToken:/);
    assert.match(r.body.snippets.awsCli, /aws_session_token = /);
    // Listed without any secret.
    const list = await call(server, 'GET', `/projects/${server.bootstrap.projectId}/tokens/${parent.token.id}/temporary-credentials`, { as: { bearer: parent.credentials.bearerToken } });
    assert.equal(list.status, 200);
    assert.equal(list.body.items[0].accessKeyId, temp.accessKeyId);
    assert.ok(!list.text.includes(temp.secretAccessKey) && !list.text.includes(temp.sessionToken));
  });

  test('the SDK with session credentials reads, writes and lists; presigned URLs carry the token and work', async () => {
    const s3 = sessionClient(temp);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt', Body: 'hello' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hello');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.ok((listed.Contents ?? []).some((o) => o.Key === 'from-session.txt'));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' }), { expiresIn: 600 });
    assert.match(url, /X-Amz-Security-Token=/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello');
    const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-put.txt' }), { expiresIn: 600 });
    assert.equal((await fetch(put, { method: 'PUT', body: 'via url' })).status, 200);
  });

  test('a session key without its token is unknown, a wrong token is InvalidToken, and a token key takes none', async () => {
    const missing = await outcome(sessionClient(temp, { sessionToken: null }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' })));
    assert.deepEqual([missing.status, !missing.ok && missing.code], [403, 'InvalidAccessKeyId']);
    const wrong = await outcome(sessionClient(temp, { sessionToken: `${temp.sessionToken.slice(0, -4)}AAAA` }).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' })));
    assert.deepEqual([wrong.status, !wrong.ok && wrong.code], [400, 'InvalidToken']);
    // A presigned URL with the token removed is refused as well.
    const url = await getSignedUrl(sessionClient(temp), new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' }), { expiresIn: 600 });
    const stripped = new URL(url);
    stripped.searchParams.delete('X-Amz-Security-Token');
    assert.equal((await fetchOutcome(await fetch(stripped))).status, 403);
    const tokenKeyWithSession = server.client({ credentials: { ...parent.credentials, sessionToken: temp.sessionToken }, maxAttempts: 1 });
    const extra = await outcome(tokenKeyWithSession.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-session.txt' })));
    assert.deepEqual([extra.status, !extra.ok && extra.code], [400, 'InvalidToken']);
  });

  test('a narrower level and a prefix scope hold', async () => {
    const r = await issueTemporary(parent.credentials.bearerToken, parent.token.id, { permission: 'object-ro', bucketScope: [`${BUCKET}/logs/`] });
    assert.equal(r.status, 201, r.text);
    const s3 = sessionClient(r.body.credentials);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'logs/app.log' }));
    assert.equal(await got.Body!.transformToString(), 'log line');
    assert.ok(isDenied(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'private.txt' })))));
    assert.ok(isDenied(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'logs/new.log', Body: 'x' })))));
  });

  test('bad input is a 400 naming the field, and nothing is created', async () => {
    const short = await issue(server, { permission: 'object-ro', bucketScope: [BUCKET], expiresInDays: 1 });
    // The token has an hour left: a session of two hours would outlive it.
    await server.meta.updateToken(short.token.id, { expiresAt: new Date(Date.now() + 3600_000) });
    const b = short.credentials.bearerToken;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ durationSeconds: 7200 }, 'durationSeconds', /remaining life/],
      [{ durationSeconds: 899 }, 'durationSeconds', /900/],
      [{ durationSeconds: 43_201 }, 'durationSeconds', /43200/],
      [{ permission: 'object-rw' }, 'permission', /more rights/],
      [{ bucketScope: [`${BUCKET}/x/`, 'tmp-elsewhere/'] }, 'bucketScope', /empty prefix/],
      [{ bucketScope: null }, 'bucketScope', /no further than their token/],
      [{ name: 'x' }, 'name', /2-64/],
    ];
    for (const [body, field, pattern] of cases) {
      const r = await issueTemporary(b, short.token.id, body);
      assert.ok(isProblem(r, 400, 'validation', field), `${JSON.stringify(body)}: ${problemText(r)}`);
      assert.match(r.body.detail, pattern);
    }
    assert.deepEqual(await server.meta.listTemporaryCredentials(short.token.id), [], 'nothing was created');
    // Without a duration, the default is capped at the token's remaining life.
    const capped = await issueTemporary(b, short.token.id);
    assert.equal(capped.status, 201, capped.text);
    assert.ok(Date.parse(capped.body.credentials.expiration) <= Date.now() + 3600_000);
  });

  test("another token's temporary credentials need the right to manage it", async () => {
    const other = await issue(server, { permission: 'object-rw', bucketScope: null });
    const r = await issueTemporary(other.credentials.bearerToken, parent.token.id);
    assert.ok(isProblem(r, 403, 'forbidden'), problemText(r));
  });
});

describe('they end with their token', () => {
  test('disabling the token revokes them for good (presigned URLs too): enabling it again does not bring them back; revoking the token ends new ones', async () => {
    const t = await issue(server, { permission: 'object-rw', bucketScope: null });
    const r = await issueTemporary(t.credentials.bearerToken, t.token.id);
    const s3 = sessionClient(r.body.credentials);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt', Body: 'x' }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt' }), { expiresIn: 600 });
    assert.equal((await fetch(url)).status, 200);
    await server.tokens.disable(t.token.id, { actor: 'test' });
    const disabled = await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt' })));
    assert.deepEqual([disabled.status, !disabled.ok && disabled.code], [403, 'InvalidAccessKeyId']);
    assert.equal((await fetch(url)).status, 403);
    await server.tokens.enable(t.token.id, { actor: 'test' });
    assert.equal((await fetch(url)).status, 403, 'still revoked once the token is enabled');
    const again = await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt' })));
    assert.ok(!again.ok && again.code === 'InvalidAccessKeyId' && /revoked/.test(again.message), JSON.stringify(again));
    const listed = await call(server, 'GET', `/projects/${server.bootstrap.projectId}/tokens/${t.token.id}/temporary-credentials`, { as: { bearer: t.credentials.bearerToken } });
    assert.deepEqual(listed.body.items.map((c: { status: string; revokedAt: string | null }) => [c.status, c.revokedAt !== null]), [['revoked', true]]);
    const events = await server.services.audit.list({ tokenId: t.token.id, actions: ['token.disabled', 'token.temporary-revoked'], limit: 10 });
    assert.deepEqual(events.map((e) => [e.action, e.actor]).sort(), [['token.disabled', 'test'], ['token.temporary-revoked', 'test']]);
    // The token works again, and so do temporary credentials issued after it was enabled.
    const fresh = sessionClient((await issueTemporary(t.credentials.bearerToken, t.token.id)).body.credentials);
    assert.equal((await outcome(fresh.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt' })))).ok, true);
    await server.tokens.revoke(t.token.id, { actor: 'test' });
    const revoked = await outcome(fresh.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'before-revoke.txt' })));
    assert.ok(!revoked.ok && revoked.code === 'InvalidAccessKeyId' && /revoked/.test(revoked.message), JSON.stringify(revoked));
  });

  test('revoking one set of temporary credentials ends it alone', async () => {
    const t = await issue(server, { permission: 'object-ro', bucketScope: null });
    const a = (await issueTemporary(t.credentials.bearerToken, t.token.id)).body;
    const b = (await issueTemporary(t.credentials.bearerToken, t.token.id)).body;
    const r = await call(server, 'POST', `/projects/${server.bootstrap.projectId}/tokens/${t.token.id}/temporary-credentials/${a.credential.id}/revoke`, { as: { bearer: t.credentials.bearerToken } });
    assert.equal(r.body.status, 'revoked');
    assert.equal((await outcome(sessionClient(a.credentials).send(new ListObjectsV2Command({ Bucket: BUCKET })))).status, 403);
    assert.ok((await outcome(sessionClient(b.credentials).send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
    assert.ok((await outcome(t.s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
  });
});

describe('STS on the S3 endpoint', () => {
  test('the JS SDK: AssumeRole with a session policy, GetCallerIdentity, and what temporary credentials may not do', async () => {
    const sts = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: parent.credentials, maxAttempts: 1 });
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}));
      assert.equal(me.Account, server.bootstrap.projectId);
      assert.equal(me.Arn, `arn:aws:iam::${server.bootstrap.projectId}:user/${parent.credentials.accessKeyId}`);
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${BUCKET}/logs/*`] }] });
      const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/anything', RoleSessionName: 'js-sdk', DurationSeconds: 900, Policy: policy }));
      const c = assumed.Credentials!;
      secrets.push(c.SecretAccessKey!, c.SessionToken!);
      assert.ok(c.Expiration instanceof Date && c.Expiration.getTime() - Date.now() <= 900_000);
      assert.equal(assumed.AssumedRoleUser?.AssumedRoleId, `${parent.token.id}:js-sdk`);
      const s3 = sessionClient({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken!, expiration: '' });
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'logs/app.log' }));
      assert.equal(await got.Body!.transformToString(), 'log line');
      // The policy read-only and under logs/: the session is object-ro on that prefix.
      assert.ok(isDenied(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'logs/x', Body: 'x' })))));
      assert.ok(isDenied(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'private.txt' })))));
      // Temporary credentials cannot make more.
      const chained = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! }, maxAttempts: 1 });
      await assert.rejects(chained.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 'again' })), (err: unknown) => err instanceof STSServiceException && err.name === 'AccessDenied');
      chained.destroy();
      // Longer than 12 hours: ValidationError naming DurationSeconds; a broken policy: MalformedPolicyDocument.
      await assert.rejects(
        sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 'long', DurationSeconds: 43_201 })),
        (err: unknown) => err instanceof STSServiceException && err.name === 'ValidationError' && /DurationSeconds/.test(err.message) && err.$metadata.httpStatusCode === 400,
      );
      // A session longer than the signing token's remaining life: ValidationError naming DurationSeconds, nothing made.
      const short = await issue(server, { permission: 'object-ro', bucketScope: null, expiresInDays: 1 });
      await server.meta.updateToken(short.token.id, { expiresAt: new Date(Date.now() + 3600_000) });
      const shortSts = new STSClient({ endpoint: server.url, region: 'us-east-1', credentials: short.credentials, maxAttempts: 1 });
      await assert.rejects(
        shortSts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 'too-long', DurationSeconds: 7200 })),
        (err: unknown) => err instanceof STSServiceException && err.name === 'ValidationError' && /DurationSeconds 7200 is longer than the token's remaining life/.test(err.message),
      );
      shortSts.destroy();
      assert.deepEqual(await server.meta.listTemporaryCredentials(short.token.id), []);
      await assert.rejects(
        sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 'bad', Policy: '{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}' })),
        (err: unknown) => err instanceof STSServiceException && err.name === 'MalformedPolicyDocumentException' && /Allow statements only/.test(err.message),
      );
      // Listing the bucket and writing under a prefix is no one level on one scope: refused, not
      // read as writing the whole bucket; nor is one object read as every key it starts.
      const before = (await server.meta.listTemporaryCredentials(parent.token.id)).length;
      for (const [statements, reason] of [
        [
          [
            { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
            { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${BUCKET}/logs/*` },
          ],
          /one permission level on one scope.*WriteObject, DeleteObject on tmp-data,/,
        ],
        [[{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/logs/app.log` }], /names one object/],
      ] as const) {
        await assert.rejects(
          sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/x', RoleSessionName: 'wide', Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) })),
          (err: unknown) => err instanceof STSServiceException && err.name === 'MalformedPolicyDocumentException' && err.$metadata.httpStatusCode === 400 && reason.test(err.message),
        );
      }
      assert.equal((await server.meta.listTemporaryCredentials(parent.token.id)).length, before, 'nothing made');
    } finally {
      sts.destroy();
    }
  });

  const python = findExecutable('python3');
  const py = availability('python3 with boto3', python, 'pyenv python3 with boto3');
  test('boto3: AssumeRole and GetSessionToken, then session credentials for objects, SigV2 and SigV4 URLs and a POST form', { skip: py.skip }, async () => {
    const script = String.raw`
import json, sys, urllib.request, urllib.error
import boto3, requests
from botocore.config import Config
endpoint, key_id, secret, bucket = sys.argv[1:5]
out = {}
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret)
assumed = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/boto3", RoleSessionName="boto3-session", DurationSeconds=1200)["Credentials"]
session = sts.get_session_token(DurationSeconds=900)["Credentials"]
out["secrets"] = [assumed["SecretAccessKey"], assumed["SessionToken"], session["SecretAccessKey"], session["SessionToken"]]
for name, c in (("assumed", assumed), ("session", session)):
    for sig in ("s3v4", "s3"):
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=c["AccessKeyId"],
                          aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"],
                          config=Config(signature_version=sig, s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        key = "boto3/%s-%s.txt" % (name, sig)
        s3.put_object(Bucket=bucket, Key=key, Body=b"from boto3")
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        try:
            status = urllib.request.urlopen(url).status
        except urllib.error.HTTPError as e:
            status = e.code
        out["%s-%s" % (name, sig)] = [got, status, "ecurity-token=" in url.lower() or "x-amz-security-token" in url.lower()]
    post = s3.generate_presigned_post(bucket, "boto3/form-%s.txt" % name, ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.txt", b"posted")})
    out["post-" + name] = [r.status_code, "x-amz-security-token" in post["fields"]]
print(json.dumps(out))
`;
    const home = await tempDir('tmp-boto3');
    try {
      const r = await run(py.require(), ['-c', script, server.url, parent.credentials.accessKeyId, parent.credentials.secretAccessKey, BUCKET], { env: awsEnv(home.path) });
      const out = JSON.parse(r.stdout);
      secrets.push(...out.secrets);
      for (const name of ['assumed', 'session']) {
        for (const sig of ['s3v4', 's3']) assert.deepEqual(out[`${name}-${sig}`], ['from boto3', 200, true], `${name} ${sig}`);
        assert.deepEqual(out[`post-${name}`], [204, true], `POST form with ${name} credentials`);
      }
    } finally {
      await home.remove();
    }
  });

  const aws = systemExecutable('/usr/bin/aws') ?? findExecutable('aws');
  const cli = availability('AWS CLI', aws, 'apt-get install awscli');
  test('AWS CLI: sts get-session-token, then s3 with AWS_SESSION_TOKEN', { skip: cli.skip }, async () => {
    const home = await tempDir('tmp-cli');
    try {
      const env = awsEnv(home.path, { AWS_ACCESS_KEY_ID: parent.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: parent.credentials.secretAccessKey });
      const r = await run(cli.require(), ['--endpoint-url', server.url, 'sts', 'get-session-token', '--duration-seconds', '900', '--output', 'json'], { env });
      const c = JSON.parse(r.stdout).Credentials;
      secrets.push(c.SecretAccessKey, c.SessionToken);
      const sessionEnv = awsEnv(home.path, { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken });
      const ls = await run(cli.require(), ['--endpoint-url', server.url, 's3', 'ls', `s3://${BUCKET}/logs/`], { env: sessionEnv });
      assert.match(ls.stdout, /app\.log/);
      const identity = JSON.parse((await run(cli.require(), ['--endpoint-url', server.url, 'sts', 'get-caller-identity', '--output', 'json'], { env: sessionEnv })).stdout);
      assert.equal(identity.UserId, parent.token.id);
      const tooLong = await run(cli.require(), ['--endpoint-url', server.url, 'sts', 'assume-role', '--role-arn', 'arn:aws:iam::000000000000:role/x', '--role-session-name', 'cli', '--duration-seconds', '50000'], { env, allowFailure: true });
      assert.notEqual(tooLong.code, 0);
      assert.match(tooLong.stderr, /ValidationError/);
    } finally {
      await home.remove();
    }
  });
});

describe('expiry, audit and logs', () => {
  test('expired temporary credentials answer ExpiredToken', async () => {
    const r = await issueTemporary(parent.credentials.bearerToken, parent.token.id, { durationSeconds: 900 });
    const s3 = sessionClient(r.body.credentials);
    assert.ok((await outcome(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })))).ok);
    shiftServerAndClients(server, 901_000, [s3]);
    const o = await outcome(s3.send(new ListObjectsV2Command({ Bucket: BUCKET })));
    assert.deepEqual([o.status, !o.ok && o.code], [400, 'ExpiredToken']);
    shiftServerAndClients(server, -901_000, [s3]);
  });

  test('issuing is audited; no secret or session token ever reaches a log line or the audit log', async () => {
    const events = await server.services.audit.list({ projectId: server.bootstrap.projectId, actions: ['token.temporary-issued'], limit: 100 });
    assert.ok(events.length >= 5, `${events.length} events`);
    assert.ok(events.some((e) => e.actor === `token:${parent.token.id}` && /js-sdk/.test(e.detail ?? '')));
    const logged = JSON.stringify(log.lines) + JSON.stringify(events);
    assert.ok(secrets.length >= 10);
    for (const s of secrets) assert.ok(!logged.includes(s), 'a secret was logged');
  });
});
