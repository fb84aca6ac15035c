import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ROOT_KEY, startTestServer, type TestServer } from './helpers/server.js';
import {
  MiB,
  availability,
  baseEnv,
  findExecutable,
  md5Hex,
  run,
  sha256File,
  tempDir,
  treeDigest,
  versionOf,
  writeRandomFile,
  writeSampleTree,
} from './helpers/clients.js';

// s3cmd driven as a real child process against a real skep server, configured by a config file
// of its own (path-style, plain http, SigV4).

const s3cmdPath = findExecutable('s3cmd');
const s3cmd = availability('s3cmd', s3cmdPath, 'apt-get install s3cmd');
const version = s3cmdPath ? versionOf(s3cmdPath) : undefined;

const BIG = 20 * MiB + 4321;

describe(`s3cmd: ${version ?? 'not installed'}`, { skip: s3cmd.skip }, () => {
  let server: TestServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let env: NodeJS.ProcessEnv;
  let config: string;
  let bigDigest: string;
  const bucket = `s3cmd-${Date.now().toString(36)}`;

  const cmd = async (...args: string[]) => (await run(s3cmd.require(), ['-c', config, '--no-progress', ...args], { env, cwd: work.path })).stdout;

  before(async () => {
    server = await startTestServer();
    work = await tempDir('s3cmd');
    const home = join(work.path, 'home');
    await mkdir(home);
    env = baseEnv(home);
    const hostPort = new URL(server.url).host;
    config = join(work.path, 's3cfg');
    await writeFile(
      config,
      [
        '[default]',
        `access_key = ${ROOT_KEY.accessKeyId}`,
        `secret_key = ${ROOT_KEY.secretAccessKey}`,
        `host_base = ${hostPort}`,
        `host_bucket = ${hostPort}`,
        'bucket_location = us-east-1',
        'use_https = False',
        'signature_v2 = False',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await server?.stop();
    await work?.remove();
  });

  it('mb creates a bucket', async () => {
    assert.match(await cmd('mb', `s3://${bucket}`), new RegExp(`Bucket 's3://${bucket}/' created`));
    assert.match(await cmd('ls'), new RegExp(`s3://${bucket}\\n`));
  });

  it('put stores a small file and a 20 MiB multipart file', async () => {
    const small = join(work.path, 'note.txt');
    await writeFile(small, 'a note from s3cmd\n');
    await cmd('put', small, `s3://${bucket}/notes/note.txt`);
    const big = join(work.path, 'big.bin');
    bigDigest = await writeRandomFile(big, BIG);
    await cmd('put', '--multipart-chunk-size-mb=5', big, `s3://${bucket}/big.bin`);

    const client = server.client();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    assert.equal(head.ContentLength, BIG);
    // 20 MiB + a little in 5 MiB parts: five parts.
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-5"$/);
    const note = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'notes/note.txt' }));
    assert.equal(note.ETag, `"${md5Hex('a note from s3cmd\n')}"`);
  });

  it('ls and la list what was written', async () => {
    const root = await cmd('ls', `s3://${bucket}`);
    assert.match(root, new RegExp(`DIR\\s+s3://${bucket}/notes/`));
    assert.match(root, new RegExp(`\\s${BIG}\\s+s3://${bucket}/big.bin`));
    const recursive = await cmd('ls', '-r', `s3://${bucket}`);
    assert.match(recursive, new RegExp(`\\s18\\s+s3://${bucket}/notes/note.txt`));
    const all = await cmd('la');
    assert.match(all, new RegExp(`s3://${bucket}/big.bin`));
    assert.match(all, new RegExp(`s3://${bucket}/notes/`));
  });

  it('get downloads both files intact', async () => {
    const big = join(work.path, 'got', 'big.bin');
    await mkdir(join(work.path, 'got'));
    await cmd('get', `s3://${bucket}/big.bin`, big);
    assert.equal(await sha256File(big), bigDigest);
    const note = join(work.path, 'got', 'note.txt');
    await cmd('get', `s3://${bucket}/notes/note.txt`, note);
    assert.equal(await readFile(note, 'utf8'), 'a note from s3cmd\n');
  });

  it('info reports size, type and MD5', async () => {
    const info = await cmd('info', `s3://${bucket}/notes/note.txt`);
    assert.match(info, /File size:\s+18\n/);
    assert.match(info, new RegExp(`MD5 sum:\\s+${md5Hex('a note from s3cmd\n')}`));
    assert.match(info, /MIME type:\s+text\/plain/);
  });

  it('info on the bucket reports its settings: the payer is the bucket owner', async () => {
    const info = await cmd('info', `s3://${bucket}`);
    assert.match(info, /Payer:\s+BucketOwner\n/);
    assert.match(info, /Expiration Rule: none/);
    assert.match(info, /CORS:\s+none/);
  });

  it('del removes one object', async () => {
    assert.match(await cmd('del', `s3://${bucket}/notes/note.txt`), /delete: 's3:\/\/.*\/notes\/note.txt'/);
    const recursive = await cmd('ls', '-r', `s3://${bucket}`);
    assert.doesNotMatch(recursive, /note\.txt/);
  });

  it('sync uploads a tree, skips it when unchanged, and syncs it back down', async () => {
    const src = join(work.path, 'tree');
    const expected = await writeSampleTree(src);
    const up = await cmd('sync', `${src}/`, `s3://${bucket}/tree/`);
    assert.equal(up.split('\n').filter((l) => l.startsWith('upload:')).length, Object.keys(expected).length, up);
    const again = await cmd('sync', `${src}/`, `s3://${bucket}/tree/`);
    assert.equal(again.split('\n').filter((l) => l.startsWith('upload:')).length, 0, again);

    const dest = join(work.path, 'tree-down');
    await cmd('sync', `s3://${bucket}/tree/`, `${dest}/`);
    assert.deepEqual(await treeDigest(dest), expected);
  });

  it('rb refuses a non-empty bucket, then removes it once emptied', async () => {
    const refused = await run(s3cmd.require(), ['-c', config, 'rb', `s3://${bucket}`], { env, cwd: work.path, allowFailure: true });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /BucketNotEmpty/);
    await cmd('del', '--recursive', '--force', `s3://${bucket}`);
    assert.match(await cmd('rb', `s3://${bucket}`), new RegExp(`Bucket 's3://${bucket}/' removed`));
    assert.doesNotMatch(await cmd('ls'), new RegExp(bucket));
  });
});
