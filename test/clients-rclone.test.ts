import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { MiB, availability, findExecutable, rcloneEnv, run, tempDir, treeDigest, versionOf, writeSampleTree } from './helpers/clients.js';

// rclone driven as a real child process against a real skep server: sync a tree up (with a
// multipart file), check it, sync it back down, list, delete and purge.

const rclonePath = findExecutable('rclone');
const rclone = availability('rclone', rclonePath, 'apt-get install rclone');
const version = rclonePath ? versionOf(rclonePath, ['version']) : undefined;

const BIG = 21 * MiB + 777;

describe(`rclone: ${version ?? 'not installed'}`, { skip: rclone.skip }, () => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let env: NodeJS.ProcessEnv;
  let expected: Record<string, string>;
  const bucket = `rclone-${Date.now().toString(36)}`;
  const remote = (path = '') => `skep:${bucket}${path ? `/${path}` : ''}`;

  const rc = async (...args: string[]) => {
    const res = await run(rclone.require(), [...args, '--retries', '1', '--low-level-retries', '1'], { env, cwd: work.path, allowFailure: true });
    if (res.code !== 0) throw new Error(`rclone ${args.join(' ')} exited ${res.code}\n${res.stdout}\n${res.stderr}`);
    return res;
  };

  before(async () => {
    server = await startTestServer();
    work = await tempDir('rclone');
    env = await rcloneEnv(work.path, server.url);
  });
  after(async () => {
    await server?.stop();
    await work?.remove();
  });

  it('mkdir creates the bucket', async () => {
    await rc('mkdir', remote());
    const { stdout } = await rc('lsf', 'skep:');
    assert.ok(stdout.split('\n').includes(`${bucket}/`), stdout);
  });

  it('sync uploads a nested tree, the large file as a multipart upload', async () => {
    const src = join(work.path, 'src');
    expected = await writeSampleTree(src, BIG);
    await rc('sync', src, remote(), '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M');

    const client = server.client();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).sort(), Object.keys(expected).sort());
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'media/big.bin' }));
    assert.equal(head.ContentLength, BIG);
    // 21 MiB in 5 MiB chunks: five parts.
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-5"$/);
  });

  it('check finds no differences between the tree and the bucket', async () => {
    const { stderr } = await rc('check', join(work.path, 'src'), remote());
    assert.match(stderr, /0 differences found/);
    assert.match(stderr, new RegExp(`${Object.keys(expected).length} matching files`));
  });

  it('sync back down reproduces every byte', async () => {
    const dest = join(work.path, 'dest');
    await rc('sync', remote(), dest);
    assert.deepEqual(await treeDigest(dest), expected);
  });

  it('lsf lists files and folders', async () => {
    const top = (await rc('lsf', remote())).stdout.trim().split('\n').sort();
    assert.deepEqual(top, ['docs/', 'media/', 'top.txt']);
    const all = (await rc('lsf', '-R', '--files-only', remote())).stdout.trim().split('\n').sort();
    assert.deepEqual(all, Object.keys(expected).sort());
    const sized = (await rc('lsf', '--format', 'ps', '--files-only', remote('media'))).stdout.trim().split('\n').sort();
    assert.ok(sized.includes(`big.bin;${BIG}`), sized.join('\n'));
  });

  it('a changed file is detected by check and fixed by sync', async () => {
    const src = join(work.path, 'src');
    await writeFile(join(src, 'docs/readme.md'), '# read me, edited\n');
    const differs = await run(rclone.require(), ['check', src, remote()], { env, cwd: work.path, allowFailure: true });
    assert.notEqual(differs.code, 0);
    assert.match(differs.stderr, /1 differences found/);
    await rc('sync', src, remote(), '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M');
    const { stderr } = await rc('check', src, remote());
    assert.match(stderr, /0 differences found/);
    expected = await treeDigest(src);
  });

  it('delete removes the matching files only', async () => {
    await rc('delete', remote(), '--include', '*.txt');
    const left = (await rc('lsf', '-R', '--files-only', remote())).stdout.trim().split('\n').sort();
    assert.deepEqual(left, ['docs/readme.md', 'media/big.bin']);
  });

  it('purge removes the bucket and everything in it', async () => {
    await rc('purge', remote());
    const { stdout } = await rc('lsf', 'skep:');
    assert.ok(!stdout.includes(bucket), stdout);
    const listing = await run(rclone.require(), ['lsf', remote()], { env, cwd: work.path, allowFailure: true });
    assert.notEqual(listing.code, 0);
  });
});
