import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { call } from './helpers/api.js';
import { hostClient, issue, skep } from './helpers/tokens.js';

// `--project-domain D`: <project-id>.D names the project (path style), <bucket>.<project-id>.D a
// bucket in it; the REST API, the console's project and `skep token create` print that endpoint.

const DOMAIN = 'blob.example.test';
let server: TestServer;

before(async () => {
  server = await startTestServer({ projectDomain: DOMAIN });
});
after(() => server.stop());

const projectHost = () => `${server.bootstrap.projectId}.${DOMAIN}`;

test('a token reaches its buckets through the project host, path style and virtual-hosted', async () => {
  await server.client().send(new CreateBucketCommand({ Bucket: 'pd-bucket' }));
  await server.client().send(new PutObjectCommand({ Bucket: 'pd-bucket', Key: 'k', Body: 'x' }));
  const t = await issue(server, { permission: 'object-ro', bucketScope: ['pd-bucket'] });
  const creds = { accessKeyId: t.credentials.accessKeyId, secretAccessKey: t.credentials.secretAccessKey };
  const pathStyle = await hostClient(server, projectHost(), creds).send(new ListObjectsV2Command({ Bucket: 'pd-bucket' }));
  assert.deepEqual(pathStyle.Contents?.map((o) => o.Key), ['k']);
  const vhost = await hostClient(server, projectHost(), creds, false).send(new ListObjectsV2Command({ Bucket: 'pd-bucket' }));
  assert.deepEqual(vhost.Contents?.map((o) => o.Key), ['k']);
  // Another project's host refuses this project's key.
  const other = await server.services.projects.create('elsewhere');
  const err = await hostClient(server, `${other.id}.${DOMAIN}`, creds).send(new ListObjectsV2Command({ Bucket: 'pd-bucket' })).then(() => null, (e: { name: string }) => e.name);
  assert.equal(err, 'AccessDenied');
});

test('the REST API gives the project endpoint for the project and for new tokens\' snippets', async () => {
  const root = await issue(server, { permission: 'admin-rw' });
  const expected = `http://${projectHost()}:${server.port}`;
  const project = await call(server, 'GET', `/projects/${server.bootstrap.projectId}`, { as: { bearer: root.credentials.bearerToken } });
  assert.equal(project.status, 200, project.text);
  assert.equal(project.body.s3Endpoint, expected);
  const created = await call(server, 'POST', `/projects/${server.bootstrap.projectId}/tokens`, { as: { bearer: root.credentials.bearerToken }, json: { name: 'pd', permission: 'object-ro', bucketScope: null } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.endpoint, expected);
  assert.match(created.body.snippets.boto3, new RegExp(`endpoint_url="${expected.replace(/\./g, '\\.')}"`));
});

test('skep token create prints the project endpoint recorded by the server', async () => {
  const r = await skep(['token', 'create', '--data', server.dataDir, '--project', server.bootstrap.projectId, '--name', 'cli-pd', '--permission', 'object-ro', '--all-buckets']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`S3 endpoint:\\s+http://${projectHost().replace(/\./g, '\\.')}:${server.port}`));
});
