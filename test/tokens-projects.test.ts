import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ROOT_KEY, startTestServer, type TestServer } from './helpers/server.js';
import { fetchOutcome, hostClient, isDenied, issue, outcome, type Issued } from './helpers/tokens.js';
import { formData, postForm, postPolicyFields } from './helpers/post-form.js';

// Project isolation: a request signed with a project's key sees that project's buckets only.
// Bucket names are unique per project, so two projects may each have a bucket of the same name.
// A project host name (<project-id>.<domain>) admits only that project's keys.

let server: TestServer;
let a: S3Client; // project A (the default project), root key: Admin Read & Write, all buckets
let b: Issued; // project B, Admin Read & Write, all buckets
let projectA: string;
let projectB: string;
const SHARED = 'shared-name';

async function text(client: S3Client, bucket: string, key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToString();
}

async function bucketNames(client: S3Client): Promise<string[]> {
  return ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map((x) => x.Name!).sort();
}

before(async () => {
  server = await startTestServer({ projectDomain: 'p.localhost' });
  a = server.client({ maxAttempts: 1 });
  projectA = server.bootstrap.projectId;
  projectB = (await server.services.projects.create('project-b')).id;
  b = await issue(server, { permission: 'admin-rw', projectId: projectB });

  await a.send(new CreateBucketCommand({ Bucket: SHARED }));
  await a.send(new PutObjectCommand({ Bucket: SHARED, Key: 'who', Body: 'project A' }));
  await a.send(new CreateBucketCommand({ Bucket: 'a-only' }));
  await b.s3.send(new CreateBucketCommand({ Bucket: SHARED }));
  await b.s3.send(new PutObjectCommand({ Bucket: SHARED, Key: 'who', Body: 'project B' }));
  await b.s3.send(new CreateBucketCommand({ Bucket: 'b-only' }));
  await b.s3.send(new PutObjectCommand({ Bucket: 'b-only', Key: 'secret-plan', Body: 'B data' }));
});
after(() => server.stop());

describe('project isolation', () => {
  test('two projects each have a bucket "shared-name" with their own contents', async () => {
    assert.equal(await text(a, SHARED, 'who'), 'project A');
    assert.equal(await text(b.s3, SHARED, 'who'), 'project B');
    const listA = await a.send(new ListObjectsV2Command({ Bucket: SHARED }));
    assert.deepEqual(listA.Contents?.map((o) => o.Size), [9]);
    // A delete in one leaves the other alone.
    await a.send(new PutObjectCommand({ Bucket: SHARED, Key: 'temp', Body: 'A temp' }));
    await b.s3.send(new PutObjectCommand({ Bucket: SHARED, Key: 'temp', Body: 'B temp' }));
    await a.send(new DeleteObjectCommand({ Bucket: SHARED, Key: 'temp' }));
    assert.equal(await text(b.s3, SHARED, 'temp'), 'B temp');
  });

  test('ListBuckets shows each project its own buckets only', async () => {
    const namesA = await bucketNames(a);
    const namesB = await bucketNames(b.s3);
    assert.ok(namesA.includes(SHARED) && namesA.includes('a-only'));
    assert.ok(!namesA.includes('b-only'), 'A does not see B\'s bucket');
    assert.deepEqual(namesB, ['b-only', SHARED]);
  });

  test('project A cannot read, write, list or copy from project B\'s bucket: it does not exist for A', async () => {
    for (const o of [
      await outcome(a.send(new GetObjectCommand({ Bucket: 'b-only', Key: 'secret-plan' }))),
      await outcome(a.send(new ListObjectsV2Command({ Bucket: 'b-only' }))),
      await outcome(a.send(new PutObjectCommand({ Bucket: 'b-only', Key: 'intruder', Body: 'x' }))),
      await outcome(a.send(new DeleteObjectCommand({ Bucket: 'b-only', Key: 'secret-plan' }))),
      await outcome(a.send(new CopyObjectCommand({ Bucket: 'a-only', Key: 'stolen', CopySource: 'b-only/secret-plan' }))),
    ]) {
      assert.ok(!o.ok && o.code === 'NoSuchBucket' && o.status === 404, JSON.stringify(o));
    }
    const head = await outcome(a.send(new HeadBucketCommand({ Bucket: 'b-only' })));
    assert.ok(!head.ok && head.status === 404);
    // A scoped token of A is refused outright (out of scope), never told whether the bucket exists.
    const scoped = await issue(server, { permission: 'object-rw', bucketScope: [SHARED] });
    for (const bucket of ['b-only', 'a-only']) {
      assert.ok(isDenied(await outcome(scoped.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret-plan' })))));
    }
    // Nothing of B's changed.
    assert.equal(await text(b.s3, 'b-only', 'secret-plan'), 'B data');
    assert.deepEqual((await b.s3.send(new ListObjectsV2Command({ Bucket: 'b-only' }))).Contents?.map((o) => o.Key), ['secret-plan']);
  });

  test("a browser form acts in its signer's project: into its own buckets, never another project's", async () => {
    for (const version of ['v4', 'v2'] as const) {
      const own = await postForm(server.url, { bucket: 'b-only', key: `form-${version}`, credentials: b.credentials, file: `B ${version}`, version });
      assert.equal(own.status, 204, await own.text());
      assert.equal(await text(b.s3, 'b-only', `form-${version}`), `B ${version}`);
      // A bucket of that name in each project: the signer's gets the file.
      const shared = await postForm(server.url, { bucket: SHARED, key: `form-${version}`, credentials: b.credentials, file: 'from B', version });
      assert.equal(shared.status, 204, await shared.text());
      assert.equal(await text(b.s3, SHARED, `form-${version}`), 'from B');
      assert.equal((await outcome(a.send(new GetObjectCommand({ Bucket: SHARED, Key: `form-${version}` })))).ok, false, "nothing reached A's bucket");
      const intruder = await postForm(server.url, { bucket: 'a-only', key: `intruder-${version}`, credentials: b.credentials, file: 'x', version });
      assert.equal(intruder.status, 404, 'A\'s bucket does not exist for B');
      assert.equal((await outcome(a.send(new GetObjectCommand({ Bucket: 'a-only', Key: `intruder-${version}` })))).ok, false);
    }
    // On A's project host, B's form is refused as B's signed requests are.
    const form = new Response(formData(postPolicyFields({ bucket: SHARED, key: 'via-host', credentials: b.credentials }), 'x'));
    const body = Buffer.from(await form.arrayBuffer());
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: server.port, method: 'POST', path: `/${SHARED}`, headers: { host: `${projectA}.p.localhost`, 'content-type': form.headers.get('content-type')!, 'content-length': body.length } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 403);
    assert.equal((await outcome(a.send(new GetObjectCommand({ Bucket: SHARED, Key: 'via-host' })))).ok, false);
  });

  test('creating a bucket with another project\'s bucket name makes a separate bucket', async () => {
    await a.send(new CreateBucketCommand({ Bucket: 'b-only' }));
    try {
      assert.equal((await a.send(new ListObjectsV2Command({ Bucket: 'b-only' }))).KeyCount, 0);
      assert.equal(await text(b.s3, 'b-only', 'secret-plan'), 'B data');
    } finally {
      await a.send(new DeleteBucketCommand({ Bucket: 'b-only' }));
    }
  });

  test('a token\'s bucket scope may only name buckets of its own project', async () => {
    await assert.rejects(
      server.tokens.create({ projectId: projectB, name: 'x', permission: 'object-ro', bucketScope: ['a-only'], createdBy: 'test' }),
      /Unknown bucket\(s\) in scope: a-only/,
    );
    const scopedB = await issue(server, { permission: 'object-ro', bucketScope: [SHARED], projectId: projectB });
    assert.equal(await text(scopedB.s3, SHARED, 'who'), 'project B');
  });

  test('a token of one project cannot be managed through another project', async () => {
    await assert.rejects(server.tokens.show(b.token.id, projectA), /No token/);
    await assert.rejects(server.tokens.revoke(b.token.id, { actor: 'test' }, projectA), /No token/);
    assert.equal((await server.tokens.show(b.token.id, projectB)).status, 'active');
    assert.ok(!(await server.tokens.list(projectA)).some((t) => t.id === b.token.id));
  });
});

describe('project host names', () => {
  test('<project-id>.p.localhost admits that project\'s key (path style)', async () => {
    const viaA = hostClient(server, `${projectA}.p.localhost`, ROOT_KEY);
    assert.ok((await bucketNames(viaA)).includes(SHARED));
    assert.equal(await text(viaA, SHARED, 'who'), 'project A');
    const viaB = hostClient(server, `${projectB}.p.localhost`, b.credentials);
    assert.deepEqual(await bucketNames(viaB), ['b-only', SHARED]);
    assert.equal(await text(viaB, SHARED, 'who'), 'project B');
  });

  test('<bucket>.<project-id>.p.localhost admits that project\'s key (virtual-hosted style)', async () => {
    const viaA = hostClient(server, `${projectA}.p.localhost`, ROOT_KEY, false);
    assert.equal(await text(viaA, SHARED, 'who'), 'project A');
    await viaA.send(new PutObjectCommand({ Bucket: SHARED, Key: 'vhost', Body: 'via vhost' }));
    assert.equal(await text(a, SHARED, 'vhost'), 'via vhost');
    const viaB = hostClient(server, `${projectB}.p.localhost`, b.credentials, false);
    assert.equal(await text(viaB, SHARED, 'who'), 'project B');
  });

  test('another project\'s key on a project host name is AccessDenied, whatever it asks', async () => {
    const bOnA = hostClient(server, `${projectA}.p.localhost`, b.credentials);
    const aOnB = hostClient(server, `${projectB}.p.localhost`, ROOT_KEY);
    const bOnAVhost = hostClient(server, `${projectA}.p.localhost`, b.credentials, false);
    for (const [label, client] of [['B on A', bOnA], ['A on B', aOnB], ['B on A (vhost)', bOnAVhost]] as const) {
      for (const o of [
        await outcome(client.send(new ListBucketsCommand({}))),
        // B has a bucket named "shared-name" too: the host name decides, not the bucket name.
        await outcome(client.send(new GetObjectCommand({ Bucket: SHARED, Key: 'who' }))),
        await outcome(client.send(new PutObjectCommand({ Bucket: SHARED, Key: 'cross', Body: 'x' }))),
        await outcome(client.send(new HeadBucketCommand({ Bucket: SHARED }))),
      ]) {
        assert.ok(isDenied(o), `${label}: ${JSON.stringify(o)}`);
      }
    }
    assert.equal((await outcome(a.send(new GetObjectCommand({ Bucket: SHARED, Key: 'cross' })))).ok, false);
    assert.equal((await outcome(b.s3.send(new GetObjectCommand({ Bucket: SHARED, Key: 'cross' })))).ok, false);
  });

  test('a host name of an unknown project admits no key', async () => {
    const nowhere = `${randomUUID()}.p.localhost`;
    for (const creds of [ROOT_KEY, b.credentials]) {
      const o = await outcome(hostClient(server, nowhere, creds).send(new ListBucketsCommand({})));
      assert.ok(isDenied(o), JSON.stringify(o));
    }
  });

  test('presigned URLs on a project host name follow the same rule', async () => {
    const viaA = hostClient(server, `${projectA}.p.localhost`, ROOT_KEY);
    const bOnA = hostClient(server, `${projectA}.p.localhost`, b.credentials);
    // fetch() cannot be pointed at 127.0.0.1 for another host name, so send the signed URL with the Host it was signed for.
    const send = async (url: string) => {
      const u = new URL(url);
      return new Promise<Response>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode })));
        });
        req.on('error', reject);
        req.end();
      });
    };
    const good = await getSignedUrl(viaA, new GetObjectCommand({ Bucket: SHARED, Key: 'who' }), { expiresIn: 60 });
    assert.equal(new URL(good).hostname, `${projectA}.p.localhost`);
    const ok = await send(good);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'project A');
    const bad = await fetchOutcome(await send(await getSignedUrl(bOnA, new GetObjectCommand({ Bucket: SHARED, Key: 'who' }), { expiresIn: 60 })));
    assert.ok(isDenied(bad), JSON.stringify(bad));
  });
});
