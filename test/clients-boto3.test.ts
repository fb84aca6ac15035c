import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { MiB, availability, awsEnv, boto3Version, findExecutable, md5Hex, run, sha256File, systemExecutable, tempDir, writeRandomFile } from './helpers/clients.js';

// boto3, two generations, driven through a real Python interpreter against a real skep server:
// the pyenv python3 (boto3 1.4x: CRC32 checksums by default) and Debian's /usr/bin/python3 with
// python3-boto3 (1.26, before those defaults). The script prints JSON; the test checks it and
// the server's state.

const DEBIAN_PYTHON = '/usr/bin/python3';

/** [major, minor] of a version like 1.26.27. */
function majorMinor(version: string): [number, number] {
  const [major, minor] = version.split('.').map(Number);
  return [major, minor];
}

// Each generation states the boto3 versions it must be, so one installation cannot stand in for both.
const GENERATIONS = [
  {
    id: 'pyenv',
    python: findExecutable('python3', [DEBIAN_PYTHON]),
    hint: "pyenv's python3 with boto3",
    expected: 'boto3 >= 1.36 (CRC32 checksums by default)',
    matches: (v: string) => majorMinor(v)[0] === 1 && majorMinor(v)[1] >= 36,
  },
  {
    id: 'debian',
    python: systemExecutable(DEBIAN_PYTHON),
    hint: 'apt-get install python3-boto3',
    expected: 'boto3 1.26.x (Debian, before the checksum defaults)',
    matches: (v: string) => /^1\.26\./.test(v),
  },
].map((g) => {
  const version = g.python ? boto3Version(g.python) : undefined;
  // An interpreter without boto3 counts as a missing client.
  return { ...g, version, usable: version ? g.python : undefined };
});

const SCRIPT = String.raw`
import hashlib, json, sys, urllib.error, urllib.request
import boto3, botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, bucket, big_path, down_path = sys.argv[1:5]
MiB = 1024 * 1024
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
out = {"boto3": boto3.__version__, "botocore": botocore.__version__}

s3.create_bucket(Bucket=bucket)
out["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
# ListBuckets pages (MaxBuckets, ContinuationToken) where botocore knows them (1.35 on).
if s3.can_paginate("list_buckets"):
    s3.create_bucket(Bucket=bucket + "-b")
    out["bucketPages"] = [[b["Name"] for b in page["Buckets"]] for page in
                          s3.get_paginator("list_buckets").paginate(Prefix=bucket, PaginationConfig={"PageSize": 1})]
    s3.delete_bucket(Bucket=bucket + "-b")

# Multipart both ways: 5 MiB threshold and chunks.
transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
s3.upload_file(big_path, bucket, "data/big.bin", Config=transfer)
head = s3.head_object(Bucket=bucket, Key="data/big.bin")
out["big"] = {"etag": head["ETag"], "size": head["ContentLength"]}
s3.download_file(bucket, "data/big.bin", down_path, Config=transfer)

body = b"hello from boto3\n"
put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain",
                    Metadata={"color": "green"})
got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
out["hello"] = {"putEtag": put["ETag"], "etag": got["ETag"], "body": got["Body"].read().decode(),
                "type": got["ContentType"], "meta": got["Metadata"]}
# boto3 >= 1.36 sends a CRC32 by default; the server stores it and returns it on request.
out["crc32"] = {"put": put.get("ChecksumCRC32"),
                "head": s3.head_object(Bucket=bucket, Key="docs/hello.txt", ChecksumMode="ENABLED").get("ChecksumCRC32")}
ranged = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=6-9")
out["range"] = ranged["Body"].read().decode()

for i in range(7):
    s3.put_object(Bucket=bucket, Key="many/item-%02d.txt" % i, Body=("item %d" % i).encode())
pages = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/", PaginationConfig={"PageSize": 3}):
    pages.append([o["Key"] for o in page.get("Contents", [])])
out["pages"] = pages

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"}, ExpiresIn=300)
with urllib.request.urlopen(url) as resp:
    out["presignedGet"] = {"status": resp.status, "body": resp.read().decode()}
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "docs/uploaded.txt"}, ExpiresIn=300)
req = urllib.request.Request(put_url, data=b"sent through a presigned PUT", method="PUT")
with urllib.request.urlopen(req) as resp:
    out["presignedPut"] = resp.status
out["uploaded"] = s3.get_object(Bucket=bucket, Key="docs/uploaded.txt")["Body"].read().decode()
bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
try:
    urllib.request.urlopen(bad)
    out["tampered"] = 200
except urllib.error.HTTPError as e:
    out["tampered"] = e.code

# A download link naming its file: ISO-8859-1 comes back byte for byte, on GET as on HEAD.
named = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt",
                                  "ResponseContentDisposition": 'attachment; filename="r\u00e9sum\u00e9.txt"'}, ExpiresIn=300)
with urllib.request.urlopen(named) as resp:
    out["namedDownload"] = resp.headers["Content-Disposition"].encode("latin-1").hex()

s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "data"}, {"Key": "cost", "Value": "42"}]})
out["bucketTags"] = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
s3.delete_bucket_tagging(Bucket=bucket)
try:
    s3.get_bucket_tagging(Bucket=bucket)
    out["bucketTagsAfterDelete"] = "present"
except botocore.exceptions.ClientError as e:
    out["bucketTagsAfterDelete"] = e.response["Error"]["Code"]
attrs = s3.get_object_attributes(Bucket=bucket, Key="data/big.bin", ObjectAttributes=["ETag", "ObjectParts", "ObjectSize", "StorageClass"])
out["attributes"] = {"etag": attrs["ETag"], "parts": attrs["ObjectParts"]["TotalPartsCount"], "size": attrs["ObjectSize"],
                     "storageClass": attrs["StorageClass"]}

deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "many/item-%02d.txt" % i} for i in range(0, 7, 2)]})
out["deleted"] = sorted(d["Key"] for d in deleted.get("Deleted", []))
out["remaining"] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="many/").get("Contents", [])]
print(json.dumps(out))
`;

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.stop();
});

for (const generation of GENERATIONS) {
  const avail = availability(`python3 with boto3 (${generation.id})`, generation.usable, generation.hint);

  describe(`boto3 ${generation.id}: ${generation.version ?? 'not installed'} (${generation.python ?? 'no python3'})`, { skip: avail.skip }, () => {
    const bucket = `boto3-${generation.id}-${Date.now().toString(36)}`;
    const BIG = 12 * MiB + 99;
    let work: Awaited<ReturnType<typeof tempDir>>;
    let out: Record<string, any>;
    let bigDigest: string;

    before(async () => {
      work = await tempDir(`boto3-${generation.id}`);
      const home = join(work.path, 'home');
      await mkdir(home);
      bigDigest = await writeRandomFile(join(work.path, 'big.bin'), BIG);
      const { stdout } = await run(
        avail.require(),
        ['-c', SCRIPT, server.url, bucket, join(work.path, 'big.bin'), join(work.path, 'down.bin')],
        // The script uploads and downloads BIG twice each (single and multipart).
        { env: awsEnv(home), cwd: work.path, bytes: 4 * BIG },
      );
      out = JSON.parse(stdout.trim().split('\n').pop() ?? '');
    });
    after(async () => {
      await work?.remove();
    });

    it(`runs the boto3 generation it claims: ${generation.expected}`, () => {
      assert.equal(out.boto3, generation.version);
      assert.ok(generation.matches(String(out.boto3)), `${generation.python} has boto3 ${out.boto3}`);
      assert.ok(out.buckets.includes(bucket));
    });

    it('the list_buckets paginator pages by MaxBuckets (where botocore has it)', () => {
      if (generation.id === 'pyenv') assert.ok(out.bucketPages, 'boto3 >= 1.36 pages ListBuckets');
      if (out.bucketPages !== undefined) assert.deepEqual(out.bucketPages, [[bucket], [`${bucket}-b`]]);
    });

    it('upload_file / download_file move a multipart object intact', async () => {
      // 12 MiB in 5 MiB chunks: three parts.
      assert.match(out.big.etag, /^"[0-9a-f]{32}-3"$/);
      assert.equal(out.big.size, BIG);
      assert.equal(await sha256File(join(work.path, 'down.bin')), bigDigest);
      const head = await server.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'data/big.bin' }));
      assert.equal(head.ETag, out.big.etag);
    });

    it('put_object / get_object keep body, type, metadata and ranges', () => {
      const etag = `"${md5Hex('hello from boto3\n')}"`;
      assert.deepEqual(out.hello, { putEtag: etag, etag, body: 'hello from boto3\n', type: 'text/plain', meta: { color: 'green' } });
      assert.equal(out.range, 'from');
    });

    it('default request checksums are verified and kept (CRC32 in boto3 >= 1.36)', () => {
      const modern = Number(out.botocore.split('.')[1]) >= 36;
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32('hello from boto3\n'));
      const expected = modern ? crc.toString('base64') : null;
      assert.deepEqual(out.crc32, { put: expected, head: expected });
    });

    it('the list_objects_v2 paginator walks every page', () => {
      assert.deepEqual(out.pages, [
        ['many/item-00.txt', 'many/item-01.txt', 'many/item-02.txt'],
        ['many/item-03.txt', 'many/item-04.txt', 'many/item-05.txt'],
        ['many/item-06.txt'],
      ]);
    });

    it('generate_presigned_url works for GET and PUT through urllib; a tampered one is refused', () => {
      assert.deepEqual(out.presignedGet, { status: 200, body: 'hello from boto3\n' });
      assert.equal(out.presignedPut, 200);
      assert.equal(out.uploaded, 'sent through a presigned PUT');
      assert.equal(out.tampered, 403);
    });

    it('a presigned download naming an ISO-8859-1 filename sends it byte for byte', () => {
      assert.equal(out.namedDownload, Buffer.from('attachment; filename="résumé.txt"', 'latin1').toString('hex'));
    });

    it('bucket tags: put, get and delete; get_object_attributes of the multipart object', () => {
      assert.deepEqual(out.bucketTags, [{ Key: 'cost', Value: '42' }, { Key: 'team', Value: 'data' }]);
      assert.equal(out.bucketTagsAfterDelete, 'NoSuchTagSet');
      assert.deepEqual(out.attributes, { etag: out.big.etag.replace(/"/g, ''), parts: 3, size: BIG, storageClass: 'STANDARD' });
    });

    it('delete_objects removes the batch and nothing else', async () => {
      assert.deepEqual(out.deleted, ['many/item-00.txt', 'many/item-02.txt', 'many/item-04.txt', 'many/item-06.txt']);
      assert.deepEqual(out.remaining, ['many/item-01.txt', 'many/item-03.txt', 'many/item-05.txt']);
      const listed = await server.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'many/' }));
      assert.deepEqual((listed.Contents ?? []).map((o) => o.Key), out.remaining);
    });
  });
}
