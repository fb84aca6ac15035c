import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  PutBucketOwnershipControlsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { ROOT_KEY, startTestServer, type TestServer } from './helpers/server.js';
import { availability, awsEnv, baseEnv, boto3Version, findExecutable, run, systemExecutable, tempDir } from './helpers/clients.js';
import { issue, type Issued } from './helpers/tokens.js';
import { formData } from './helpers/post-form.js';

// The clients whose defaults speak SigV2 or upload through forms, driven for real: boto3 (both
// generations) default generate_presigned_url / generate_presigned_post + an HTTP form POST,
// AWS CLI v1's default `s3 presign`, `s3cmd signurl`; then the token is revoked and every URL and
// form it signed stops working. Also `aws s3api put-bucket-policy` / `get-bucket-policy-status`
// (both CLI generations) and anonymous curl GETs through the per-project host.

const DEBIAN_PYTHON = '/usr/bin/python3';
const DEBIAN_AWS = '/usr/bin/aws';
const PROJECT_DOMAIN = 'blob.test';

const pythons = [
  { id: 'pyenv', python: findExecutable('python3', [DEBIAN_PYTHON]), hint: "pyenv's python3 with boto3" },
  { id: 'debian', python: systemExecutable(DEBIAN_PYTHON), hint: 'apt-get install python3-boto3' },
].map((g) => ({ ...g, version: g.python ? boto3Version(g.python) : undefined }));
const awsV1 = findExecutable('aws', [DEBIAN_AWS]);
const awsV2 = systemExecutable(DEBIAN_AWS);
const s3cmdPath = findExecutable('s3cmd');
const curlPath = findExecutable('curl');

const SCRIPT = String.raw`
import json, sys, uuid, urllib.error, urllib.request
import boto3

endpoint, bucket = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
out = {}

def fetch(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def post_form(url, fields, filename, data):
    boundary = "----skep" + uuid.uuid4().hex
    body = b""
    for k, v in fields.items():
        body += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)).encode()
    body += ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: text/plain\r\n\r\n' % (boundary, filename)).encode() + data + b"\r\n"
    body += ("--%s--\r\n" % boundary).encode()
    return fetch(url, "POST", body, {"Content-Type": "multipart/form-data; boundary=" + boundary})

get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=300)
out["getUrl"] = get_url
out["get"] = fetch(get_url)
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-presigned-put.txt"}, ExpiresIn=300)
# No Content-Type: SigV2 signs it, and the URL was signed without one (urllib would add its own).
out["put"] = fetch(put_url, "PUT", b"put through a default presigned URL", {"Content-Type": ""})

post = s3.generate_presigned_post(bucket, "uploads/${'$'}{filename}", Fields={"success_action_status": "201"},
                                  Conditions=[{"success_action_status": "201"}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 100]],
                                  ExpiresIn=300)
out["postUrl"] = post["url"]
out["postFields"] = post["fields"]
out["post"] = post_form(post["url"], post["fields"], "hello.txt", b"posted from boto3")
out["postTooBig"] = post_form(post["url"], post["fields"], "big.txt", b"x" * 101)
bad = dict(post["fields"]); bad["key"] = "elsewhere/${'$'}{filename}"
out["postWrongKey"] = post_form(post["url"], bad, "hello.txt", b"nope")
print(json.dumps(out))
`;

let server: TestServer;
let bucket: string;
let token: Issued;
let work: Awaited<ReturnType<typeof tempDir>>;

/** Signed URLs and forms collected from the clients, fetched again once the token is revoked. */
const signedUrls: { who: string; url: string }[] = [];
const signedForms: { who: string; url: string; fields: Record<string, string> }[] = [];

before(async () => {
  server = await startTestServer({ projectDomain: PROJECT_DOMAIN });
  bucket = `sigv2-${Date.now().toString(36)}`;
  const s3 = server.client();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared.txt', Body: 'shared by a presigned URL' }));
  token = await issue(server, { permission: 'object-rw', bucketScope: [bucket] });
  work = await tempDir('sigv2');
  await mkdir(join(work.path, 'home', '.aws'), { recursive: true });
});
after(async () => {
  await server?.stop();
  await work?.remove();
});

function tokenEnv(): NodeJS.ProcessEnv {
  return awsEnv(join(work.path, 'home'), { AWS_ACCESS_KEY_ID: token.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: token.credentials.secretAccessKey });
}

async function text(key: string): Promise<string> {
  const got = await server.client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return got.Body!.transformToString();
}

describe('presigned URLs and forms from the clients\' defaults, then revocation', { timeout: 120_000 }, () => {
  for (const g of pythons) {
    const avail = availability(`python3 with boto3 (${g.id})`, g.version ? g.python : undefined, g.hint);
    it(`boto3 ${g.version ?? ''} (${g.id}): default generate_presigned_url (GET, PUT) and generate_presigned_post + a form POST`, { skip: avail.skip }, async () => {
      const { stdout } = await run(avail.require(), ['-c', SCRIPT, server.url, bucket], { env: tokenEnv(), cwd: work.path });
      const out = JSON.parse(stdout.trim().split('\n').pop()!);
      assert.match(out.getUrl, /[?&]AWSAccessKeyId=/, 'boto3 presigns with SigV2 by default');
      assert.deepEqual(out.get, [200, 'shared by a presigned URL']);
      assert.equal(out.put[0], 200, out.put[1]);
      assert.equal(await text('from-presigned-put.txt'), 'put through a default presigned URL');
      assert.equal(out.post[0], 201, out.post[1]);
      assert.match(out.post[1], /<Key>uploads\/hello\.txt<\/Key>/);
      assert.equal(await text('uploads/hello.txt'), 'posted from boto3');
      assert.equal(out.postTooBig[0], 400);
      assert.match(out.postTooBig[1], /<Code>EntityTooLarge<\/Code>/);
      assert.equal(out.postWrongKey[0], 403);
      assert.match(out.postWrongKey[1].replace(/&quot;/g, '"'), /Policy Condition failed: \["starts-with","\$key","uploads\/"\]/);
      signedUrls.push({ who: `boto3 ${g.id}`, url: out.getUrl });
      signedForms.push({ who: `boto3 ${g.id}`, url: out.postUrl, fields: out.postFields });
    });
  }

  // Header-signed SigV2 (signature_version="s3"): botocore signs a bucket's requests (list, ACL,
  // delete) as "/bucket/" while it sends "/bucket". Only the current generation: botocore 1.29
  // (Debian's) signs them as "/bucket?acl?acl", which no server could accept.
  const current = pythons[0];
  const currentAvail = availability(`python3 with boto3 (${current.id})`, current.version ? current.python : undefined, current.hint);
  it(`boto3 ${current.version ?? ''} (${current.id}) with SigV2 header signatures lists, reads and deletes`, { skip: currentAvail.skip }, async () => {
    const script = String.raw`
import json, sys, boto3
from botocore.config import Config
endpoint, bucket = sys.argv[1:3]
v2 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
out = {"list": sorted(o["Key"] for o in v2.list_objects_v2(Bucket=bucket).get("Contents", []))}
v2.head_bucket(Bucket=bucket)
out["acl"] = len(v2.get_bucket_acl(Bucket=bucket)["Grants"])
out["deleted"] = [d["Key"] for d in v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "never-there"}]}).get("Deleted", [])]
out["get"] = v2.get_object(Bucket=bucket, Key="shared.txt")["Body"].read().decode()
# Sub-resources of later APIs, which botocore leaves out of the string it signs.
v2.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
out["pab"] = v2.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
v2.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
out["sse"] = v2.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
v2.delete_bucket_encryption(Bucket=bucket)
out["ownership"] = v2.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
print(json.dumps(out))
`;
    const admin = await issue(server, { permission: 'admin-rw', bucketScope: [bucket] });
    const env = awsEnv(join(work.path, 'home'), { AWS_ACCESS_KEY_ID: admin.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: admin.credentials.secretAccessKey });
    const { stdout } = await run(currentAvail.require(), ['-c', script, server.url, bucket], { env, cwd: work.path });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.ok(out.list.includes('shared.txt'), 'SigV2 header auth lists the bucket');
    assert.ok(out.acl >= 1);
    assert.deepEqual(out.deleted, ['never-there']);
    assert.equal(out.get, 'shared by a presigned URL');
    assert.equal(out.pab, true);
    assert.equal(out.sse, 'AES256');
    assert.equal(typeof out.ownership, 'string');
  });

  // botocore's SigV2 presigner moves signed x-amz-* headers (the copy source, metadata) into the
  // query: the URL alone is the request, whether or not the client sends those headers again.
  it(`boto3 ${current.version ?? ''} (${current.id}) SigV2 presigned copy and metadata URLs do what they were signed for`, { skip: currentAvail.skip }, async () => {
    const script = String.raw`
import json, sys, urllib.error, urllib.request, boto3
from botocore.config import Config
endpoint, bucket = sys.argv[1:3]
v2 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 0}))
def fetch(url, headers=None):
    # An empty Content-Type, as signed (urllib would add a form type of its own).
    req = urllib.request.Request(url, data=b"", method="PUT", headers={"Content-Type": "", **(headers or {})})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
out = {}
v2.put_object(Bucket=bucket, Key="v2src/a b+c.txt", Body=b"source bytes")
copy = v2.generate_presigned_url("copy_object", Params={"Bucket": bucket, "Key": "v2dst/plain.txt", "CopySource": {"Bucket": bucket, "Key": "v2src/a b+c.txt"}}, ExpiresIn=300)
out["copyQuery"] = "x-amz-copy-source=" in copy
out["copy"] = fetch(copy)
out["copied"] = v2.get_object(Bucket=bucket, Key="v2dst/plain.txt")["Body"].read().decode()
out["copyAgain"] = fetch(copy, {"x-amz-copy-source": "/%s/v2src/a%%20b%%2Bc.txt" % bucket})
meta = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2dst/meta.txt", "Metadata": {"colour": "blue"}}, ExpiresIn=300)
out["meta"] = fetch(meta)
out["metaStored"] = v2.head_object(Bucket=bucket, Key="v2dst/meta.txt")["Metadata"]
out["metaAgain"] = fetch(meta, {"x-amz-meta-colour": "blue"})
print(json.dumps(out))
`;
    const admin = await issue(server, { permission: 'admin-rw', bucketScope: [bucket] });
    const env = awsEnv(join(work.path, 'home'), { AWS_ACCESS_KEY_ID: admin.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: admin.credentials.secretAccessKey });
    const { stdout } = await run(currentAvail.require(), ['-c', script, server.url, bucket], { env, cwd: work.path });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.copyQuery, true, 'botocore put the copy source in the query');
    assert.equal(out.copy, 200);
    assert.equal(out.copied, 'source bytes', 'the URL copied the source, not an empty body');
    assert.equal(out.copyAgain, 200, 'the same header sent again is set aside');
    assert.equal(out.meta, 200);
    assert.deepEqual(out.metaStored, { colour: 'blue' });
    assert.equal(out.metaAgain, 200);
  });

  const v1 = availability('aws (v1, pyenv)', awsV1, "pyenv's aws");
  it('AWS CLI v1: default `s3 presign` (SigV2) is fetched', { skip: v1.skip }, async () => {
    const { stdout } = await run(v1.require(), ['--endpoint-url', server.url, 's3', 'presign', `s3://${bucket}/shared.txt`, '--expires-in', '300'], { env: tokenEnv() });
    const url = stdout.trim();
    assert.match(url, /[?&]AWSAccessKeyId=/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'shared by a presigned URL');
    signedUrls.push({ who: 'aws v1 s3 presign', url });
  });

  const s3cmd = availability('s3cmd', s3cmdPath, 'apt-get install s3cmd');
  it('s3cmd signurl is fetched', { skip: s3cmd.skip }, async () => {
    const config = join(work.path, 's3cfg');
    const hostPort = new URL(server.url).host;
    await writeFile(config, [
      '[default]',
      `access_key = ${token.credentials.accessKeyId}`,
      `secret_key = ${token.credentials.secretAccessKey}`,
      `host_base = ${hostPort}`,
      `host_bucket = ${hostPort}`,
      'use_https = False',
      '',
    ].join('\n'));
    const { stdout } = await run(s3cmd.require(), ['-c', config, 'signurl', `s3://${bucket}/shared.txt`, '+300'], { env: baseEnv(join(work.path, 'home')) });
    const url = stdout.trim().split('\n').pop()!;
    assert.match(url, /[?&]AWSAccessKeyId=/);
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(await res.text(), 'shared by a presigned URL');
    signedUrls.push({ who: 's3cmd signurl', url });
  });

  it('revoking the token ends every SigV2 URL and POST policy it signed', async () => {
    assert.ok(signedUrls.length > 0 || !process.env.CI, 'at least one client produced a URL');
    await server.tokens.revoke(token.token.id, { actor: 'test' });
    for (const { who, url } of signedUrls) {
      const res = await fetch(url);
      assert.equal(res.status, 403, who);
      assert.match(await res.text(), /<Code>InvalidAccessKeyId<\/Code>/, who);
    }
    for (const { who, url, fields } of signedForms) {
      const res = await fetch(url, { method: 'POST', body: formData(fields, 'after revocation', 'late.txt') });
      assert.equal(res.status, 403, who);
      assert.match(await res.text(), /<Code>InvalidAccessKeyId<\/Code>/, who);
    }
    const late = await server.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'uploads/late.txt' })).then(() => true, () => false);
    assert.equal(late, false, 'nothing stored after revocation');
  });
});

describe('a public bucket through the AWS CLI and anonymous curl on the project host', { timeout: 120_000 }, () => {
  const curl = availability('curl', curlPath, 'apt-get install curl');
  const projectHost = () => `${server.bootstrap.projectId}.${PROJECT_DOMAIN}`;
  const anonymous = async (url: string, host: string) => {
    // --connect-to: the project host name resolves to the test server, no DNS needed.
    const { stdout } = await run(curl.require(), ['-s', '-o', '-', '-w', '\n%{http_code}', '--connect-to', `${host}:${server.port}:127.0.0.1:${server.port}`, url], { env: baseEnv(work.path) });
    const lines = stdout.split('\n');
    return { status: Number(lines.pop()), body: lines.join('\n') };
  };

  for (const [id, path] of [['v1', awsV1], ['v2', awsV2]] as const) {
    const avail = availability(`aws (${id})`, path, id === 'v1' ? "pyenv's aws" : 'apt-get install awscli');
    it(`aws ${id} s3api put-bucket-policy / get-bucket-policy-status, then anonymous curl reads through the project host`, { skip: avail.skip || curl.skip }, async () => {
      const site = `site-${id}-${Date.now().toString(36)}`;
      const s3 = server.client();
      await s3.send(new CreateBucketCommand({ Bucket: site }));
      await s3.send(new PutObjectCommand({ Bucket: site, Key: 'index.html', Body: '<h1>hello</h1>', ContentType: 'text/html' }));
      const env = awsEnv(join(work.path, 'home'), { AWS_ACCESS_KEY_ID: ROOT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: ROOT_KEY.secretAccessKey });
      const aws = (...args: string[]) => run(avail.require(), ['--endpoint-url', server.url, ...args], { env, allowFailure: true });
      const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${site}/*` }] });

      // The default public access block refuses a public policy.
      const blocked = await aws('s3api', 'put-bucket-policy', '--bucket', site, '--policy', policy);
      assert.notEqual(blocked.code, 0);
      assert.match(blocked.stderr, /AccessDenied/);
      assert.equal((await anonymous(`http://${projectHost()}:${server.port}/${site}/index.html`, projectHost())).status, 403);

      assert.equal((await aws('s3api', 'delete-public-access-block', '--bucket', site)).code, 0);
      const malformed = await aws('s3api', 'put-bucket-policy', '--bucket', site, '--policy', '{"Statement": [');
      assert.match(malformed.stderr, /MalformedPolicy/);
      const put = await aws('s3api', 'put-bucket-policy', '--bucket', site, '--policy', policy);
      assert.equal(put.code, 0, put.stderr);
      const status = await aws('s3api', 'get-bucket-policy-status', '--bucket', site, '--output', 'json');
      assert.equal(JSON.parse(status.stdout).PolicyStatus.IsPublic, true);
      const got = await aws('s3api', 'get-bucket-policy', '--bucket', site, '--output', 'json');
      assert.deepEqual(JSON.parse(JSON.parse(got.stdout).Policy), JSON.parse(policy));

      // Path style on <project-id>.<domain>, and virtual-hosted <bucket>.<project-id>.<domain>.
      const pathStyle = await anonymous(`http://${projectHost()}:${server.port}/${site}/index.html`, projectHost());
      assert.deepEqual(pathStyle, { status: 200, body: '<h1>hello</h1>' });
      const vhost = `${site}.${projectHost()}`;
      assert.deepEqual(await anonymous(`http://${vhost}:${server.port}/index.html`, vhost), { status: 200, body: '<h1>hello</h1>' });
      // What the policy does not open stays closed: no listing, so a missing key is 403 too, and writes are refused.
      assert.equal((await anonymous(`http://${projectHost()}:${server.port}/${site}`, projectHost())).status, 403);
      assert.equal((await anonymous(`http://${projectHost()}:${server.port}/${site}/missing.html`, projectHost())).status, 403);
      assert.equal((await anonymous(`http://${projectHost()}:${server.port}/no-such-bucket-${id}/x`, projectHost())).status, 404);
      assert.equal((await aws('s3api', 'delete-bucket-policy', '--bucket', site)).code, 0);
      assert.equal((await anonymous(`http://${projectHost()}:${server.port}/${site}/index.html`, projectHost())).status, 403);
    });
  }

  it('a public-read object ACL, read anonymously with curl through the project host', { skip: curl.skip }, async () => {
    const s3 = server.client();
    const name = `acl-${Date.now().toString(36)}`;
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: name }));
    await s3.send(new PutBucketOwnershipControlsCommand({ Bucket: name, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'public.txt', Body: 'for everyone', ACL: 'public-read' }));
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'private.txt', Body: 'not for you' }));
    const url = (key: string) => `http://${projectHost()}:${server.port}/${name}/${key}`;
    assert.deepEqual(await anonymous(url('public.txt'), projectHost()), { status: 200, body: 'for everyone' });
    const denied = await anonymous(url('private.txt'), projectHost());
    assert.equal(denied.status, 403);
    assert.ok(!denied.body.includes('not for you'));
  });
});
