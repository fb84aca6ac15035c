import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import {
  MiB,
  availability,
  awsEnv,
  baseEnv,
  findExecutable,
  md5Hex,
  run,
  sha256File,
  systemExecutable,
  tempDir,
  treeDigest,
  versionOf,
  writeRandomFile,
  writeSampleTree,
} from './helpers/clients.js';

// The AWS CLI, both generations, driven as a real child process against a real skep server:
// the pyenv `aws` (v1 on a 2025 botocore: CRC32/CRC64NVME checksums by default) and Debian's
// /usr/bin/aws (v2.9, before those defaults). The same scenario runs against each.

const DEBIAN_AWS = '/usr/bin/aws';

/** Minor version of botocore 1.x in an `aws --version` line (v1 prints it; v2 does not). */
function botocoreMinor(versionLine: string): number | undefined {
  const m = /\bbotocore\/1\.(\d+)\./.exec(versionLine);
  return m ? Number(m[1]) : undefined;
}

// Each generation states the versions it must be, so one installation cannot stand in for both.
const GENERATIONS = [
  {
    id: 'pyenv',
    path: findExecutable('aws', [DEBIAN_AWS]),
    hint: "pyenv's aws on PATH or in $PYENV_ROOT/shims",
    expected: 'aws-cli/1.x on botocore >= 1.36 (CRC checksums by default)',
    matches: (v: string) => /^aws-cli\/1\./.test(v) && (botocoreMinor(v) ?? 0) >= 36,
  },
  {
    id: 'debian',
    path: systemExecutable(DEBIAN_AWS),
    hint: 'apt-get install awscli',
    expected: 'aws-cli/2.x (Debian, before the checksum defaults)',
    matches: (v: string) => /^aws-cli\/2\./.test(v),
  },
];
const AWS_CONFIG = '[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n';
const curlPath = findExecutable('curl');
const curl = availability('curl', curlPath, 'apt-get install curl');

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.stop();
});

for (const generation of GENERATIONS) {
  const avail = availability(`aws (${generation.id})`, generation.path, generation.hint);
  const version = generation.path ? versionOf(generation.path) : undefined;

  describe(`AWS CLI ${generation.id}: ${version ?? 'not installed'}`, { skip: avail.skip }, () => {
    const bucket = `awscli-${generation.id}-${Date.now().toString(36)}`;
    let work: Awaited<ReturnType<typeof tempDir>>;
    let env: NodeJS.ProcessEnv;

    const aws = async (...args: string[]) => {
      const { stdout } = await run(avail.require(), ['--endpoint-url', server.url, ...args], { env, cwd: work.path });
      return stdout;
    };
    const awsJson = async (...args: string[]) => {
      const out = await aws(...args, '--output', 'json');
      try {
        return JSON.parse(out) as Record<string, any>;
      } catch {
        throw new Error(`aws ${args.join(' ')} printed no JSON: ${JSON.stringify(out)}`);
      }
    };
    const awsFails = async (...args: string[]) =>
      run(avail.require(), ['--endpoint-url', server.url, ...args], { env, cwd: work.path, allowFailure: true });

    before(async () => {
      work = await tempDir(`awscli-${generation.id}`);
      const home = join(work.path, 'home');
      await mkdir(join(home, '.aws'), { recursive: true });
      // AWS CLI v1 presigns with SigV2 unless told otherwise; skep speaks SigV4 only.
      await writeFile(join(home, '.aws', 'config'), AWS_CONFIG);
      env = awsEnv(home);
    });
    after(async () => {
      await work?.remove();
    });

    it(`is the generation it stands for: ${generation.expected}`, () => {
      avail.require();
      assert.ok(version && generation.matches(version), `${generation.path} reports "${version}"`);
    });

    it('s3 mb creates a bucket that s3 ls lists', async () => {
      assert.match(await aws('s3', 'mb', `s3://${bucket}`), new RegExp(`make_bucket: ${bucket}`));
      const listing = await aws('s3', 'ls');
      assert.ok(listing.split('\n').some((line) => line.trim().endsWith(` ${bucket}`)), listing);
    });

    it('s3 cp uploads and downloads a small file byte for byte', async () => {
      const local = join(work.path, 'hello.txt');
      await writeFile(local, 'hello from the AWS CLI\n');
      await aws('s3', 'cp', local, `s3://${bucket}/small/hello.txt`, '--no-progress');
      const back = join(work.path, 'out', 'hello.txt');
      await aws('s3', 'cp', `s3://${bucket}/small/hello.txt`, back, '--no-progress');
      assert.equal(await readFile(back, 'utf8'), 'hello from the AWS CLI\n');
    });

    it('a Content-Disposition with a non-ASCII filename comes back byte for byte, from get-object as from head-object', async () => {
      // The CLI sends the header as UTF-8 and shows what comes back as ISO-8859-1 text, so the
      // bytes are compared. A small GET's headers went through Node.js's own Content-Disposition
      // re-decoding and came back as different bytes than the ones sent; HEAD was always right.
      const local = join(work.path, 'cd.txt');
      await writeFile(local, 'disposition\n');
      const disposition = 'attachment; filename="résumé.txt"';
      await aws('s3', 'cp', local, `s3://${bucket}/cd/cd.txt`, '--no-progress', '--content-disposition', disposition);
      const sentBack = (shown: string) => Buffer.from(shown, 'latin1').toString('utf8');
      try {
        const head = await awsJson('s3api', 'head-object', '--bucket', bucket, '--key', 'cd/cd.txt');
        assert.equal(sentBack(head.ContentDisposition), disposition);
        const got = await awsJson('s3api', 'get-object', '--bucket', bucket, '--key', 'cd/cd.txt', join(work.path, 'cd-back.txt'));
        assert.equal(sentBack(got.ContentDisposition), disposition);
        assert.equal(await readFile(join(work.path, 'cd-back.txt'), 'utf8'), 'disposition\n');
      } finally {
        await aws('s3', 'rm', `s3://${bucket}/cd/cd.txt`); // the listing tests below count this bucket's keys
      }
    });

    it('s3 cp moves a 20 MiB file as a multipart upload and back intact', async () => {
      const local = join(work.path, 'big.bin');
      const digest = await writeRandomFile(local, 20 * MiB + 12345);
      await aws('s3', 'cp', local, `s3://${bucket}/big/big.bin`, '--no-progress');
      // The CLI's default 8 MiB threshold and chunk size make this a 3-part upload.
      const head = await server.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/big.bin' }));
      assert.equal(head.ContentLength, 20 * MiB + 12345);
      assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-3"$/);
      const back = join(work.path, 'out', 'big.bin');
      await aws('s3', 'cp', `s3://${bucket}/big/big.bin`, back, '--no-progress');
      assert.equal(await sha256File(back), digest);
    });

    it('s3api get-object-attributes reports the multipart object\'s parts, size and ETag', async () => {
      const attrs = await awsJson('s3api', 'get-object-attributes', '--bucket', bucket, '--key', 'big/big.bin', '--object-attributes', 'ETag', 'ObjectParts', 'ObjectSize', 'StorageClass');
      assert.equal(attrs.ObjectSize, 20 * MiB + 12345);
      assert.equal(attrs.ObjectParts?.TotalPartsCount, 3);
      assert.match(attrs.ETag, /^[0-9a-f]{32}-3$/);
      assert.equal(attrs.StorageClass, 'STANDARD');
    });

    it('s3 ls lists recursively and by prefix', async () => {
      const all = await aws('s3', 'ls', '--recursive', `s3://${bucket}`);
      const entries = all
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .map((parts) => ({ size: Number(parts[2]), key: parts.slice(3).join(' ') }));
      assert.deepEqual(entries.map((e) => e.key).sort(), ['big/big.bin', 'small/hello.txt']);
      assert.equal(entries.find((e) => e.key === 'big/big.bin')?.size, 20 * MiB + 12345);
      assert.equal(entries.find((e) => e.key === 'small/hello.txt')?.size, 'hello from the AWS CLI\n'.length);

      const underSmall = await aws('s3', 'ls', `s3://${bucket}/small/`);
      assert.match(underSmall, /\s23 hello\.txt\n/);
      assert.doesNotMatch(underSmall, /big/);
      // A partial prefix at the root shows the matching "folder" only.
      const partial = await aws('s3', 'ls', `s3://${bucket}/sm`);
      assert.equal(partial.trim(), 'PRE small/');
    });

    it('s3 sync uploads a tree, skips unchanged files, and syncs it back down', async () => {
      const src = join(work.path, 'tree');
      const expected = await writeSampleTree(src, 6 * MiB);
      const up = await aws('s3', 'sync', src, `s3://${bucket}/tree/`, '--no-progress');
      assert.equal(up.split('\n').filter((l) => l.startsWith('upload:')).length, Object.keys(expected).length, up);
      const again = await aws('s3', 'sync', src, `s3://${bucket}/tree/`, '--no-progress');
      assert.equal(again.trim(), '', 'a second sync of an unchanged tree transfers nothing');

      const dest = join(work.path, 'tree-down');
      await aws('s3', 'sync', `s3://${bucket}/tree/`, dest, '--no-progress');
      assert.deepEqual(await treeDigest(dest), expected);
    });

    it('s3api put-object, head-object and get-object keep body, type and metadata', async () => {
      const body = JSON.stringify({ hello: 'world', n: 42 });
      const local = join(work.path, 'obj.json');
      await writeFile(local, body);
      const put = await awsJson(
        's3api', 'put-object', '--bucket', bucket, '--key', 'api/obj.json', '--body', local,
        '--content-type', 'application/json', '--metadata', 'color=blue,owner=tests',
      );
      assert.equal(put.ETag, `"${md5Hex(body)}"`);

      const head = await awsJson('s3api', 'head-object', '--bucket', bucket, '--key', 'api/obj.json');
      assert.equal(head.ContentLength, Buffer.byteLength(body));
      assert.equal(head.ContentType, 'application/json');
      assert.deepEqual(head.Metadata, { color: 'blue', owner: 'tests' });
      assert.equal(head.ETag, put.ETag);

      const out = join(work.path, 'out', 'obj.json');
      const got = await awsJson('s3api', 'get-object', '--bucket', bucket, '--key', 'api/obj.json', out);
      assert.equal(got.ContentLength, Buffer.byteLength(body));
      assert.equal(await readFile(out, 'utf8'), body);
    });

    it('s3api copy-object copies bytes and metadata', async () => {
      const copy = await awsJson(
        's3api', 'copy-object', '--bucket', bucket, '--key', 'api/copy.json', '--copy-source', `${bucket}/api/obj.json`,
      );
      assert.match(copy.CopyObjectResult?.ETag ?? '', /^"[0-9a-f]{32}"$/);
      const out = join(work.path, 'out', 'copy.json');
      const got = await awsJson('s3api', 'get-object', '--bucket', bucket, '--key', 'api/copy.json', out);
      assert.deepEqual(got.Metadata, { color: 'blue', owner: 'tests' });
      assert.equal(await readFile(out, 'utf8'), await readFile(join(work.path, 'obj.json'), 'utf8'));
    });

    it('s3api list-objects-v2 pages through a prefix and groups by delimiter', async () => {
      // --page-size 2 makes the CLI follow continuation tokens across several requests.
      const paged = await awsJson('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'tree/', '--page-size', '2');
      const keys = (paged.Contents as { Key: string }[]).map((o) => o.Key);
      assert.deepEqual(keys, [
        'tree/docs/notes/2024/feb.txt',
        'tree/docs/notes/2024/jan.txt',
        'tree/docs/readme.md',
        'tree/media/big.bin',
        'tree/media/hello world é.txt',
        'tree/top.txt',
      ]);
      const root = await awsJson('s3api', 'list-objects-v2', '--bucket', bucket, '--delimiter', '/');
      assert.deepEqual(
        (root.CommonPrefixes as { Prefix: string }[]).map((p) => p.Prefix),
        ['api/', 'big/', 'small/', 'tree/'],
      );
      assert.equal(root.Contents, undefined);
    });

    it('s3api delete-objects removes a batch of keys', async () => {
      const batch = JSON.stringify({ Objects: [{ Key: 'api/obj.json' }, { Key: 'api/copy.json' }], Quiet: false });
      const res = await awsJson('s3api', 'delete-objects', '--bucket', bucket, '--delete', batch);
      assert.deepEqual((res.Deleted as { Key: string }[]).map((d) => d.Key).sort(), ['api/copy.json', 'api/obj.json']);
      assert.equal(res.Errors, undefined);
      // --no-paginate: a paginated empty listing prints nothing at all in v2 and drops KeyCount in v1.
      const left = await awsJson('s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'api/', '--no-paginate');
      assert.equal(left.KeyCount, 0);
    });

    it('s3 presign gives a URL curl can fetch, until it expires', async () => {
      const curlBin = curl.require();
      const target = `s3://${bucket}/small/hello.txt`;
      const fetchUrl = async (url: string, out: string) => {
        const { stdout } = await run(curlBin, ['-sS', '-o', out, '-w', '%{http_code}', url], { env: baseEnv(work.path) });
        return Number(stdout);
      };

      const url = (await aws('s3', 'presign', target)).trim();
      assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
      const body = join(work.path, 'presigned.txt');
      assert.equal(await fetchUrl(url, body), 200);
      assert.equal(await readFile(body, 'utf8'), 'hello from the AWS CLI\n');

      const shortUrl = (await aws('s3', 'presign', target, '--expires-in', '1')).trim();
      assert.match(shortUrl, /X-Amz-Expires=1(&|$)/);
      server.shiftClock(120_000);
      try {
        const denied = join(work.path, 'denied.xml');
        assert.equal(await fetchUrl(shortUrl, denied), 403);
        assert.match(await readFile(denied, 'utf8'), /<Code>AccessDenied<\/Code>/);
        // The long-lived URL still works at the moved clock: expiry, not the clock, denied it.
        assert.equal(await fetchUrl(url, body), 200);
      } finally {
        server.shiftClock(-120_000);
      }
    });

    it('s3api complete-multipart-upload sent again answers as the first time; the upload is then gone for everything else', async () => {
      const key = 'retry/once.bin';
      const local = join(work.path, 'part.bin');
      await writeRandomFile(local, 1000);
      const { UploadId } = await awsJson('s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key);
      const { ETag } = await awsJson('s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', UploadId, '--part-number', '1', '--body', local);
      const parts = JSON.stringify({ Parts: [{ ETag, PartNumber: 1 }] });
      const complete = () => awsJson('s3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', UploadId, '--multipart-upload', parts);
      const first = await complete();
      assert.match(first.ETag, /^"[0-9a-f]{32}-1"$/);
      assert.deepEqual(await complete(), first);
      const listed = await awsJson('s3api', 'list-multipart-uploads', '--bucket', bucket, '--no-paginate');
      assert.equal(listed.Uploads, undefined);
      const abort = await awsFails('s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', UploadId);
      assert.notEqual(abort.code, 0);
      assert.match(abort.stderr, /NoSuchUpload/);
      await aws('s3', 'rm', `s3://${bucket}/${key}`); // the bucket's delete below counts its keys; the completed upload stays
    });

    it('s3 rm --recursive empties the bucket and s3 rb removes it', async () => {
      const removed = await aws('s3', 'rm', '--recursive', `s3://${bucket}`);
      assert.equal(removed.split('\n').filter((l) => l.startsWith('delete:')).length, 8, removed);
      assert.equal((await aws('s3', 'ls', '--recursive', `s3://${bucket}`)).trim(), '');
      assert.match(await aws('s3', 'rb', `s3://${bucket}`), new RegExp(`remove_bucket: ${bucket}`));
      assert.ok(!(await aws('s3', 'ls')).includes(bucket));
      const gone = await awsFails('s3', 'ls', `s3://${bucket}`);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /NoSuchBucket/);
    });
  });
}
