import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { requestHead, signedHeaders, sleep, tmpFiles } from './helpers/raw-s3.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { skep, skepJson } from './helpers/tokens.js';
import type { IssuedCredentials, TokenView } from '../src/credentials/token-service.js';

// `skep bucket create|list|delete --project P`: what a new operator needs before a bucket-scoped
// token can be made. The README's command list, run as written on a fresh data folder, works.

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());
const data = () => ['--data', server.dataDir];

describe('skep bucket', () => {
  test("the README's operator commands work in their order on a new project, and the token reaches its bucket", async () => {
    const readme = await readFile(join(process.cwd(), 'README.md'), 'utf8');
    // The commands as the README lists them (the block under "Operators manage projects ...").
    const block = /```sh\n(node bin\/skep\.js project create web[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'the README lists the operator commands');
    const commands = block
      .split('\n')
      // Without comments and shell redirections (the output is read here instead).
      .map((l) => l.replace(/#.*$/, '').replace(/\s*>.*$/, '').trim())
      .filter((l) => l.startsWith('node bin/skep.js ') && !/ user create /.test(l))
      .map((l) => l.slice('node bin/skep.js '.length).split(/\s+/));
    const order = commands.map((c) => `${c[0]} ${c[1]}`);
    assert.ok(order.indexOf('bucket create') >= 0 && order.indexOf('bucket create') < order.indexOf('token create'), order.join(' | '));
    let issued: { token: TokenView; credentials: IssuedCredentials } | undefined;
    for (const argv of commands) {
      const r = await skep([...argv, ...data(), ...(argv[0] === 'token' && argv[1] === 'create' ? ['--json'] : [])]);
      assert.equal(r.code, 0, `skep ${argv.join(' ')}: ${r.stderr}`);
      if (argv[0] === 'token' && argv[1] === 'create' && argv.includes('--bucket')) issued = JSON.parse(r.stdout);
    }
    assert.ok(issued, 'a bucket-scoped token was created');
    assert.deepEqual(issued.token.bucketScope, ['assets']);
    const s3 = new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: issued.credentials, maxAttempts: 1 });
    try {
      await s3.send(new PutObjectCommand({ Bucket: 'assets', Key: 'logo.svg', Body: '<svg/>' }));
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'assets' }))).KeyCount, 1);
    } finally {
      s3.destroy();
    }
  });

  test('create, list (with counts) and delete; --force empties first; each audited as the CLI', async () => {
    await skep(['project', 'create', 'shelf', ...data()]);
    const made = await skep(['bucket', 'create', 'books', '--project', 'shelf', ...data()]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^created bucket books in project shelf \(.+\), region us-east-1\n$/);
    const project = (await server.services.projects.resolve('shelf')).id;
    const { credentials } = await server.tokens.create({ projectId: project, name: 'writer', permission: 'object-rw', bucketScope: null, createdBy: 'cli:test' });
    const s3 = new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: 'books', Key: 'a.txt', Body: 'abc' }));
    s3.destroy();
    const list = await skepJson<{ name: string; objects: number; bytes: number }[]>(['bucket', 'list', '--project', 'shelf', ...data()]);
    assert.deepEqual(list.map((b) => [b.name, b.objects, b.bytes]), [['books', 1, 3]]);
    assert.match((await skep(['bucket', 'list', '--project', 'shelf', ...data()])).stdout, /NAME\s+OBJECTS\s+BYTES\s+REGION\s+CREATED\nbooks\s+1\s+3\s+us-east-1/);
    const notEmpty = await skep(['bucket', 'delete', 'books', '--project', 'shelf', ...data()]);
    assert.notEqual(notEmpty.code, 0);
    assert.match(notEmpty.stderr, /not empty/);
    const forced = await skep(['bucket', 'delete', 'books', '--project', 'shelf', '--force', ...data()]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /deleted bucket books with 1 object\(s\) and 0 unfinished upload\(s\)/);
    assert.deepEqual(await skepJson(['bucket', 'list', '--project', 'shelf', ...data()]), []);
    const audit = (await server.services.audit.list({ projectId: project, bucket: 'books', limit: 10 })).reverse();
    assert.deepEqual(audit.map((a) => [a.action, a.actor.startsWith('cli:'), a.source?.startsWith('local:')]), [
      ['bucket.created', true, true],
      ['bucket.deleted', true, true],
    ]);
    assert.match(audit[1].detail!, /^force: 1 object/);
    // The same events from `skep audit`: filtered by bucket, as CSV, and one page at a time.
    const csv = await skep(['audit', '--project', 'shelf', '--bucket', 'books', '--format', 'csv', ...data()]);
    const lines = csv.stdout.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,at,action,actor,tokenId,projectId,bucket,source,detail');
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[2]), ['bucket.deleted', 'bucket.created']);
    const page = await skep(['audit', '--project', 'shelf', '--action', 'bucket.created,bucket.deleted', '--limit', '1', ...data()]);
    const cursor = /more: --cursor (\S+)/.exec(page.stdout)?.[1];
    assert.ok(cursor, page.stdout);
    const next = await skepJson<{ action: string }[]>(['audit', '--project', 'shelf', '--action', 'bucket.created,bucket.deleted', '--limit', '1', '--cursor', cursor, ...data()]);
    assert.deepEqual(next.map((r) => r.action), ['bucket.created']);
  });

  test('clear errors: no project, no name, bad name, unknown subcommand', async () => {
    const cases: [string[], RegExp][] = [
      [['bucket', 'create', 'x1x'], /--project is required/],
      [['bucket', 'create', '--project', 'shelf'], /needs a bucket name/],
      [['bucket', 'create', 'UPPER', '--project', 'shelf'], /bucket name|not valid/i],
      [['bucket', 'frob', '--project', 'shelf'], /usage:\s+skep bucket create/],
      [['bucket', 'delete', 'nope', '--project', 'shelf'], /does not exist/],
    ];
    for (const [argv, message] of cases) {
      const r = await skep([...argv, ...data()]);
      assert.notEqual(r.code, 0, argv.join(' '));
      assert.match(r.stderr, message, `${argv.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });
});

describe('a --data that is not a data folder', () => {
  test('every command but serve refuses it in one line, exits 1 and creates nothing (a missing folder, an empty one)', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'skep-typo-'));
    try {
      const missing = join(parent, 'typo');
      const empty = join(parent, 'empty');
      await mkdir(empty);
      const commands = [
        ['project', 'list'],
        ['audit'],
        ['token', 'list', '--project', 'default'],
        ['bucket', 'list', '--project', 'default'],
        ['user', 'create', '--email', 'a@example.com', '--password', 'a-long-enough-password'],
        ['migrate', '--to-data', join(parent, 'target')],
      ];
      for (const dir of [missing, empty]) {
        for (const argv of commands) {
          const r = await skep([...argv, '--data', dir]);
          assert.equal(r.code, 1, `skep ${argv.join(' ')}: ${r.stdout}`);
          assert.equal(r.stdout, '');
          assert.equal(r.stderr, `${dir} is not a skep data folder (no metadata.sqlite in it): check --data or SKEP_DATA, or set SKEP_METADATA_URL for metadata in PostgreSQL.\n`);
        }
      }
      // An empty --data is refused; SKEP_DATA set to nothing is unset (./data), not the working directory.
      const emptyFlag = await skep(['project', 'list', '--data', '']);
      assert.equal(emptyFlag.code, 1);
      assert.match(emptyFlag.stderr, /--data was given an empty value/);
      const cwd = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
      for (const argv of [['project', 'list'], ['migrate', '--to-data', join(parent, 'target')]]) {
        const emptyEnv = await skep(argv, { SKEP_DATA: ' ' });
        assert.ok(emptyEnv.code === 0 || emptyEnv.stderr.startsWith(`${join(cwd, 'data')} is not a skep data folder`), `${argv[0]}: ${emptyEnv.stderr}`);
      }
      // A mistyped subcommand is told its usage first, whatever the folder.
      for (const command of ['project', 'token', 'bucket']) {
        const r = await skep([command, 'frobnicate', '--data', missing]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^usage:\\n {2}skep ${command} create`));
      }
      assert.deepEqual((await readdir(parent)).sort(), ['empty']);
      assert.deepEqual(await readdir(empty), []);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

describe('an operator command beside a working server', () => {
  test("leaves the server's uploads in progress alone: a PUT half sent when `skep project list` runs completes", async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 7); // a blob file of its own, written through tmp/
    const path = '/cli-beside/half-sent';
    await server.client().send(new CreateBucketCommand({ Bucket: 'cli-beside' }));
    const headers = await signedHeaders(server, { method: 'PUT', path, payloadHash: 'UNSIGNED-PAYLOAD' });
    headers['content-length'] = String(body.length);
    const socket = connect(server.port, '127.0.0.1');
    const answer = new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        if (Buffer.concat(chunks).includes('\r\n\r\n')) resolve(Buffer.concat(chunks).toString('latin1'));
      });
      socket.on('error', reject);
    });
    socket.write(requestHead('PUT', path, headers));
    socket.write(body.subarray(0, body.length / 2));
    // The first half is in a temp file before the command opens the folder.
    for (let i = 0; i < 50 && (await tmpFiles(server)).length === 0; i++) await sleep(20);
    assert.equal((await tmpFiles(server)).length, 1, 'the upload is under way');
    const listed = await skep(['project', 'list', ...data()]);
    assert.equal(listed.code, 0, listed.stderr);
    socket.write(body.subarray(body.length / 2));
    assert.match(await answer, /^HTTP\/1\.1 200 /);
    socket.destroy();
    const got = await server.client().send(new GetObjectCommand({ Bucket: 'cli-beside', Key: 'half-sent' }));
    assert.equal(Buffer.compare(Buffer.from(await got.Body!.transformToByteArray()), body), 0);
  });
});
