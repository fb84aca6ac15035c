import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { availability, awsEnv, boto3Version, findExecutable, rcloneEnv, run, systemExecutable, tempDir, versionOf } from './helpers/clients.js';

// Data protection through the real clients: the AWS CLI's s3api versioning, Object Lock and
// lifecycle commands (both CLI generations), boto3's SSE-C put / get / copy and multipart
// transfers (both generations), and rclone against a versioned bucket (old versions listed and
// read back, a delete that only hides).

const DEBIAN_AWS = '/usr/bin/aws';
const DEBIAN_PYTHON = '/usr/bin/python3';
const AWS_CONFIG = '[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n';

const awsGenerations = [
  { id: 'pyenv', path: findExecutable('aws', [DEBIAN_AWS]), hint: "pyenv's aws on PATH or in $PYENV_ROOT/shims" },
  { id: 'debian', path: systemExecutable(DEBIAN_AWS), hint: 'apt-get install awscli' },
];
const pythons = [
  { id: 'pyenv', python: findExecutable('python3', [DEBIAN_PYTHON]), hint: "pyenv's python3 with boto3" },
  { id: 'debian', python: systemExecutable(DEBIAN_PYTHON), hint: 'apt-get install python3-boto3' },
].map((g) => ({ ...g, version: g.python ? boto3Version(g.python) : undefined }));
const rclonePath = findExecutable('rclone');

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.stop();
});

const inDays = (n: number) => new Date(Math.ceil((Date.now() + n * 86_400_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');

for (const generation of awsGenerations) {
  const avail = availability(`aws (${generation.id})`, generation.path, generation.hint);
  const version = generation.path ? versionOf(generation.path) : undefined;

  describe(`AWS CLI ${generation.id} s3api data protection: ${version ?? 'not installed'}`, { skip: avail.skip, timeout: 600_000 }, () => {
    const tag = `${generation.id}-${Date.now().toString(36)}`;
    let work: Awaited<ReturnType<typeof tempDir>>;
    let env: NodeJS.ProcessEnv;
    const s3api = async (...args: string[]) => {
      const { stdout } = await run(avail.require(), ['--endpoint-url', server.url, '--output', 'json', 's3api', ...args], { env, cwd: work.path });
      return stdout.trim() ? (JSON.parse(stdout) as Record<string, any>) : {};
    };
    const fails = async (...args: string[]) => {
      const res = await run(avail.require(), ['--endpoint-url', server.url, 's3api', ...args], { env, cwd: work.path, allowFailure: true });
      assert.notEqual(res.code, 0, `aws s3api ${args.join(' ')} should fail`);
      return res.stderr;
    };

    before(async () => {
      work = await tempDir(`awscli-dp-${generation.id}`);
      const home = join(work.path, 'home');
      await mkdir(join(home, '.aws'), { recursive: true });
      await writeFile(join(home, '.aws', 'config'), AWS_CONFIG);
      env = awsEnv(home);
      await writeFile(join(work.path, 'one.txt'), 'version one\n');
      await writeFile(join(work.path, 'two.txt'), 'version two\n');
    });
    after(async () => {
      await work?.remove();
    });

    it('versioning: put-bucket-versioning, version IDs on put-object, list-object-versions, get-object by version, delete markers', async () => {
      const bucket = `cli-ver-${tag}`;
      await s3api('create-bucket', '--bucket', bucket);
      assert.equal((await s3api('get-bucket-versioning', '--bucket', bucket)).Status, undefined);
      await s3api('put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled');
      assert.equal((await s3api('get-bucket-versioning', '--bucket', bucket)).Status, 'Enabled');
      const v1 = (await s3api('put-object', '--bucket', bucket, '--key', 'doc.txt', '--body', 'one.txt')).VersionId;
      const v2 = (await s3api('put-object', '--bucket', bucket, '--key', 'doc.txt', '--body', 'two.txt')).VersionId;
      assert.ok(v1 && v2 && v1 !== v2);
      const listed = await s3api('list-object-versions', '--bucket', bucket);
      assert.deepEqual(listed.Versions.map((v: any) => [v.VersionId, v.IsLatest]), [[v2, true], [v1, false]]);
      await s3api('get-object', '--bucket', bucket, '--key', 'doc.txt', '--version-id', v1, 'old.txt');
      assert.equal(await readFile(join(work.path, 'old.txt'), 'utf8'), 'version one\n');
      const del = await s3api('delete-object', '--bucket', bucket, '--key', 'doc.txt');
      assert.equal(del.DeleteMarker, true);
      const after = await s3api('list-object-versions', '--bucket', bucket);
      assert.deepEqual(after.DeleteMarkers.map((m: any) => [m.VersionId, m.IsLatest]), [[del.VersionId, true]]);
      assert.equal(after.Versions.length, 2);
      await s3api('delete-object', '--bucket', bucket, '--key', 'doc.txt', '--version-id', del.VersionId);
      await s3api('get-object', '--bucket', bucket, '--key', 'doc.txt', 'current.txt');
      assert.equal(await readFile(join(work.path, 'current.txt'), 'utf8'), 'version two\n');
    });

    it('object lock: create-bucket --object-lock-enabled-for-bucket, default retention, retention, legal hold, bypass', async () => {
      const bucket = `cli-lock-${tag}`;
      await s3api('create-bucket', '--bucket', bucket, '--object-lock-enabled-for-bucket');
      await s3api('put-object-lock-configuration', '--bucket', bucket, '--object-lock-configuration', '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}');
      const conf = await s3api('get-object-lock-configuration', '--bucket', bucket);
      assert.deepEqual(conf.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } });
      const v1 = (await s3api('put-object', '--bucket', bucket, '--key', 'k', '--body', 'one.txt')).VersionId;
      const until = inDays(3);
      await s3api('put-object-retention', '--bucket', bucket, '--key', 'k', '--version-id', v1, '--retention', `Mode=GOVERNANCE,RetainUntilDate=${until}`);
      const retention = await s3api('get-object-retention', '--bucket', bucket, '--key', 'k', '--version-id', v1);
      assert.equal(retention.Retention.Mode, 'GOVERNANCE');
      assert.equal(Date.parse(retention.Retention.RetainUntilDate), Date.parse(until));
      await s3api('put-object-legal-hold', '--bucket', bucket, '--key', 'k', '--legal-hold', 'Status=ON');
      assert.equal((await s3api('get-object-legal-hold', '--bucket', bucket, '--key', 'k')).LegalHold.Status, 'ON');
      assert.match(await fails('delete-object', '--bucket', bucket, '--key', 'k', '--version-id', v1, '--bypass-governance-retention'), /AccessDenied/);
      await s3api('put-object-legal-hold', '--bucket', bucket, '--key', 'k', '--legal-hold', 'Status=OFF');
      assert.match(await fails('delete-object', '--bucket', bucket, '--key', 'k', '--version-id', v1), /AccessDenied/);
      await s3api('delete-object', '--bucket', bucket, '--key', 'k', '--version-id', v1, '--bypass-governance-retention');
      assert.equal((await s3api('list-object-versions', '--bucket', bucket)).Versions, undefined);
    });

    it('lifecycle: put, get and delete a configuration; an invalid one is refused', async () => {
      const bucket = `cli-lc-${tag}`;
      await s3api('create-bucket', '--bucket', bucket);
      const config = {
        Rules: [
          { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } },
          { ID: 'uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } },
        ],
      };
      await writeFile(join(work.path, 'lc.json'), JSON.stringify(config));
      await s3api('put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', 'file://lc.json');
      assert.deepEqual((await s3api('get-bucket-lifecycle-configuration', '--bucket', bucket)).Rules, config.Rules);
      await writeFile(join(work.path, 'bad.json'), JSON.stringify({ Rules: [{ ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 0 } }] }));
      assert.match(await fails('put-bucket-lifecycle-configuration', '--bucket', bucket, '--lifecycle-configuration', 'file://bad.json'), /InvalidArgument/);
      await s3api('delete-bucket-lifecycle', '--bucket', bucket);
      assert.match(await fails('get-bucket-lifecycle-configuration', '--bucket', bucket), /NoSuchLifecycleConfiguration/);
    });

    it('default encryption: put-bucket-encryption applies AES256 to new objects', async () => {
      const bucket = `cli-enc-${tag}`;
      await s3api('create-bucket', '--bucket', bucket);
      await s3api('put-bucket-encryption', '--bucket', bucket, '--server-side-encryption-configuration', '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}');
      assert.equal((await s3api('get-bucket-encryption', '--bucket', bucket)).ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
      assert.equal((await s3api('put-object', '--bucket', bucket, '--key', 'k', '--body', 'one.txt')).ServerSideEncryption, 'AES256');
      assert.equal((await s3api('head-object', '--bucket', bucket, '--key', 'k')).ServerSideEncryption, 'AES256');
    });
  });
}

const BOTO3_SCRIPT = String.raw`
import hashlib, json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, bucket, big_path, down_path = sys.argv[1:5]
MiB = 1024 * 1024
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
out = {}
key = os.urandom(32)
other = os.urandom(32)
sse = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}

def code(fn):
    try:
        fn()
        return None
    except ClientError as e:
        return [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]

s3.create_bucket(Bucket=bucket)
body = b"secret bytes for SSE-C " * 5000
put = s3.put_object(Bucket=bucket, Key="secret.bin", Body=body, **sse)
out["put"] = {"alg": put.get("SSECustomerAlgorithm"), "md5": put.get("SSECustomerKeyMD5")}
got = s3.get_object(Bucket=bucket, Key="secret.bin", **sse)
out["get"] = hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(body).hexdigest()
out["range"] = s3.get_object(Bucket=bucket, Key="secret.bin", Range="bytes=30-45", **sse)["Body"].read().decode()
out["noKey"] = code(lambda: s3.get_object(Bucket=bucket, Key="secret.bin"))
out["wrongKey"] = code(lambda: s3.head_object(Bucket=bucket, Key="secret.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=other))
s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "secret.bin"},
               CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key,
               SSECustomerAlgorithm="AES256", SSECustomerKey=other)
out["copy"] = s3.get_object(Bucket=bucket, Key="copy.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=other)["Body"].read() == body
out["copyOldKey"] = code(lambda: s3.get_object(Bucket=bucket, Key="copy.bin", **sse))
transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)
s3.upload_file(big_path, bucket, "big.bin", ExtraArgs=sse, Config=transfer)
s3.download_file(bucket, "big.bin", down_path, ExtraArgs=sse, Config=transfer)
out["bigParts"] = s3.head_object(Bucket=bucket, Key="big.bin", **sse)["ETag"]
print(json.dumps(out))
`;

for (const generation of pythons) {
  const avail = availability(`python3 with boto3 (${generation.id})`, generation.version ? generation.python : undefined, generation.hint);

  describe(`boto3 ${generation.id} SSE-C: ${generation.version ?? 'not installed'}`, { skip: avail.skip, timeout: 300_000 }, () => {
    const bucket = `boto3-ssec-${generation.id}-${Date.now().toString(36)}`;
    let work: Awaited<ReturnType<typeof tempDir>>;
    let out: Record<string, any>;
    let big: Buffer;

    before(async () => {
      work = await tempDir(`boto3-ssec-${generation.id}`);
      const home = join(work.path, 'home');
      await mkdir(home);
      big = randomBytes(11 * 1024 * 1024 + 5);
      await writeFile(join(work.path, 'big.bin'), big);
      const { stdout } = await run(avail.require(), ['-c', BOTO3_SCRIPT, server.url, bucket, join(work.path, 'big.bin'), join(work.path, 'down.bin')], { env: awsEnv(home), cwd: work.path });
      out = JSON.parse(stdout.trim().split('\n').pop() ?? '');
    });
    after(async () => {
      await work?.remove();
    });

    it('put_object / get_object with the customer key; a range; no key is 400 and another key 403', () => {
      assert.equal(out.put.alg, 'AES256');
      assert.ok(out.put.md5);
      assert.equal(out.get, true);
      assert.equal(out.range, "bytes for SSE-C ");
      assert.deepEqual(out.noKey, ['InvalidRequest', 400]);
      assert.equal(out.wrongKey[1], 403);
    });

    it('copy_object re-encrypts under another customer key', () => {
      assert.equal(out.copy, true);
      assert.equal(out.copyOldKey[1], 403);
    });

    it('upload_file / download_file move an SSE-C multipart object intact', async () => {
      assert.match(out.bigParts, /-3"$/);
      assert.deepEqual(await readFile(join(work.path, 'down.bin')), big);
      // Without the key the SDK gets nothing.
      await assert.rejects(server.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' })));
    });
  });
}

const rclone = availability('rclone', rclonePath, 'apt-get install rclone');
describe(`rclone against a versioned bucket: ${rclonePath ? versionOf(rclonePath, ['version']) : 'not installed'}`, { skip: rclone.skip, timeout: 300_000 }, () => {
  const bucket = `rclone-ver-${Date.now().toString(36)}`;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let env: NodeJS.ProcessEnv;
  const rc = async (...args: string[]) => {
    const res = await run(rclone.require(), [...args, '--retries', '1', '--low-level-retries', '1'], { env, cwd: work.path, allowFailure: true });
    if (res.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
  };

  before(async () => {
    work = await tempDir('rclone-ver');
    env = await rcloneEnv(work.path, server.url);
  });
  after(async () => {
    await work?.remove();
  });

  it('backend versioning turns it on; overwrites keep old versions that --s3-versions lists and --s3-version-at reads; delete only hides', async () => {
    await rc('mkdir', `skep:${bucket}`);
    assert.match(await rc('backend', 'versioning', `skep:${bucket}`), /Unversioned|Suspended|^$/m);
    assert.match(await rc('backend', 'versioning', `skep:${bucket}`, 'Enabled'), /Enabled/);
    const src = join(work.path, 'notes.txt');
    await writeFile(src, 'first draft\n');
    await rc('copyto', src, `skep:${bucket}/notes.txt`);
    await new Promise((r) => setTimeout(r, 1100)); // --s3-version-at has one-second precision
    const between = new Date().toISOString().replace('T', ' ').slice(0, 19);
    await new Promise((r) => setTimeout(r, 1100));
    await writeFile(src, 'second draft, longer\n');
    await rc('copyto', src, `skep:${bucket}/notes.txt`);

    const current = (await rc('ls', `skep:${bucket}`)).trim().split('\n');
    assert.equal(current.length, 1, current.join('\n'));
    const all = (await rc('ls', '--s3-versions', `skep:${bucket}`)).trim().split('\n').map((l) => l.trim().split(/\s+/));
    assert.equal(all.length, 2, JSON.stringify(all));
    assert.ok(all.some(([size, name]) => size === '12' && /^notes-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$/.test(name)), JSON.stringify(all));

    await rc('copyto', '--s3-version-at', between, `skep:${bucket}/notes.txt`, join(work.path, 'restored.txt'));
    assert.equal(await readFile(join(work.path, 'restored.txt'), 'utf8'), 'first draft\n');

    await rc('delete', `skep:${bucket}/notes.txt`);
    assert.equal((await rc('ls', `skep:${bucket}`)).trim(), '');
    const versions = await server.client().send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.equal(versions.Versions?.length, 2, 'the delete kept both versions');
    assert.equal(versions.DeleteMarkers?.length, 1);
    assert.equal((await rc('ls', '--s3-versions', `skep:${bucket}`)).trim().split('\n').length, 2);
  });

  it('sync into a bucket with versioning enabled through S3 keeps what it overwrites', async () => {
    const other = `${bucket}-sync`;
    await server.client().send(new PutObjectCommand({ Bucket: bucket, Key: 'marker', Body: 'x' }));
    await rc('mkdir', `skep:${other}`);
    await server.client().send(new PutBucketVersioningCommand({ Bucket: other, VersioningConfiguration: { Status: 'Enabled' } }));
    const dir = join(work.path, 'tree');
    await mkdir(dir, { recursive: true });
    for (const [name, text] of [['a.txt', 'a1'], ['b.txt', 'b1']]) await writeFile(join(dir, name), text);
    await rc('sync', dir, `skep:${other}`);
    await writeFile(join(dir, 'a.txt'), 'a2 changed');
    await rc('sync', dir, `skep:${other}`);
    const versions = await server.client().send(new ListObjectVersionsCommand({ Bucket: other }));
    assert.deepEqual(versions.Versions?.map((v) => [v.Key, v.IsLatest]), [['a.txt', true], ['a.txt', false], ['b.txt', true]]);
    await rc('check', dir, `skep:${other}`);
  });
});
