// test-engines: postgres
// Requests on one bucket name racing each other, on both metadata engines: every answer is one S3
// gives for some order of the requests. Of concurrent deletes of one bucket exactly one succeeds
// (and is audited); the others find no bucket, whichever protocol (S3 or the REST API) asked.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, type S3Client } from '@aws-sdk/client-s3';
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
