// test-engines: postgres
// CreateBucket and DeleteBucket of one name racing each other, on both metadata engines: every
// answer is one S3 gives for some order of the requests. A create never answers NoSuchBucket, and
// of concurrent deletes of one bucket exactly one succeeds (and is audited); the others find no
// bucket, whichever protocol (S3 or the REST API) asked.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { engine, freshDatabase } from './helpers/engines.js';
import { startTestServer, TEST_MASTER_KEY, type TestServer } from './helpers/server.js';
import { outcome, type Outcome } from './helpers/tokens.js';
import { call, rootBearer, type Reply } from './helpers/api.js';

const postgres = engine('postgres');
const ROUNDS = 25;

const show = (o: Outcome) => (o.ok ? String(o.status) : `${o.status} ${o.code}`);

for (const store of ['embedded', 'postgres'] as const) {
  describe(`bucket create and delete races (${store} metadata)`, { skip: store === 'postgres' && postgres.skip }, () => {
    let server: TestServer;
    let s3: S3Client;
    let n = 0;
    const bucketName = (tag: string) => `races-${tag}-${process.pid}-${++n}`;

    before(async () => {
      if (store === 'postgres') postgres.require();
      server = await startTestServer(store === 'postgres' ? { storage: { metadataUrl: await freshDatabase(), metadataPoolSize: 8 }, masterKey: TEST_MASTER_KEY } : {});
      s3 = server.client({ maxAttempts: 1 });
    });
    after(() => server?.stop());

    test('a CreateBucket racing DeleteBucket of the same name creates it or finds it, never NoSuchBucket', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const Bucket = bucketName('cd');
        await s3.send(new CreateBucketCommand({ Bucket }));
        // Some creates set ownership, so the settings written after the bucket's row race the delete too.
        const create = (i: number) => outcome(s3.send(new CreateBucketCommand({ Bucket, ...(i % 2 ? { ObjectOwnership: 'ObjectWriter' as const } : {}) })));
        const del = () => outcome(s3.send(new DeleteBucketCommand({ Bucket })));
        const [d1, c1, c2, d2] = await Promise.all([del(), create(round), create(round + 1), del()]);
        for (const c of [c1, c2]) assert.ok(c.ok || c.code === 'OperationAborted', `CreateBucket answered ${show(c)} (round ${round})`);
        for (const d of [d1, d2]) assert.ok(d.ok || d.code === 'NoSuchBucket', `DeleteBucket answered ${show(d)} (round ${round})`);
        // The last word is the bucket's state: it exists unless a delete came after every create.
        const exists = await outcome(s3.send(new HeadBucketCommand({ Bucket })));
        if (exists.ok) await s3.send(new DeleteBucketCommand({ Bucket }));
        else assert.ok([d1, d2].some((d) => d.ok), 'a bucket that is gone was deleted by one of the deletes');
      }
    });

    test('concurrent deletes of one bucket (S3 and REST API): one succeeds and is audited, the others find no bucket', async () => {
      const p = server.bootstrap.projectId;
      const rest = (Bucket: string, force: boolean) => call(server, 'DELETE', `/projects/${p}/buckets/${Bucket}${force ? '?force=true' : ''}`, { as: rootBearer(server) });
      const fromRest = (r: Reply): Outcome => (r.status === 204 ? { ok: true, status: 204 } : { ok: false, status: r.status, code: r.body?.title ?? r.text, message: r.text });
      for (let round = 0; round < ROUNDS; round++) {
        const Bucket = bucketName('dd');
        await s3.send(new CreateBucketCommand({ Bucket }));
        const answers = await Promise.all([
          ...[0, 1, 2, 3].map(() => outcome(s3.send(new DeleteBucketCommand({ Bucket })))),
          rest(Bucket, false).then(fromRest),
          rest(Bucket, true).then(fromRest),
        ]);
        const shown = JSON.stringify(answers.map(show));
        assert.equal(answers.filter((a) => a.ok).length, 1, `exactly one delete succeeds: ${shown}`);
        for (const a of answers) if (!a.ok) assert.equal(a.status, 404, `the others find no bucket: ${shown}`);
        const audit = await call(server, 'GET', `/projects/${p}/audit?bucket=${Bucket}&action=bucket.deleted&limit=100`, { as: rootBearer(server) });
        assert.equal(audit.status, 200, audit.text);
        assert.equal(audit.body.items.length, 1, `one bucket.deleted row: ${shown}`);
      }
    });
  });
}
