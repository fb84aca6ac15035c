import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createApiApp } from '../src/api/app.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1, and in step with the routes
// the app actually serves (every route documented, nothing documented that is not served).

// The contract in docs/rest-api.md, written out: method and path under /api/v1.
const CONTRACT = [
  'POST /session', 'GET /session', 'DELETE /session',
  'GET /projects', 'POST /projects', 'GET /projects/{projectId}',
  'GET /projects/{projectId}/buckets', 'POST /projects/{projectId}/buckets',
  'GET /projects/{projectId}/buckets/{bucket}', 'DELETE /projects/{projectId}/buckets/{bucket}',
  'GET /projects/{projectId}/buckets/{bucket}/objects', 'DELETE /projects/{projectId}/buckets/{bucket}/objects',
  'PUT /projects/{projectId}/buckets/{bucket}/objects/content', 'GET /projects/{projectId}/buckets/{bucket}/objects/content',
  'POST /projects/{projectId}/buckets/{bucket}/presign',
  'GET /projects/{projectId}/tokens', 'POST /projects/{projectId}/tokens', 'GET /projects/{projectId}/tokens/{tokenId}',
  'POST /projects/{projectId}/tokens/{tokenId}/disable', 'POST /projects/{projectId}/tokens/{tokenId}/enable',
  'POST /projects/{projectId}/tokens/{tokenId}/revoke', 'POST /projects/{projectId}/tokens/{tokenId}/confirm-rotation',
  'POST /projects/{projectId}/tokens/{tokenId}/rotate',
  'GET /projects/{projectId}/usage', 'GET /projects/{projectId}/audit', 'GET /openapi.json',
];

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: Record<string, Record<string, any>> };

describe('REST API: OpenAPI document', () => {
  let server: TestServer;
  let doc: Doc;
  before(async () => {
    server = await startTestServer();
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    doc = (await res.json()) as Doc;
  });
  after(() => server.stop());

  test('is OpenAPI 3.1 and validates (swagger-parser, which checks it against the 3.1 schema)', async () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    const copy = structuredClone(doc);
    await SwaggerParser.validate(copy as never);
  });

  test('documents exactly the routes the app serves, which are exactly the contract', () => {
    const app = createApiApp({ ...server.services, region: 'us-east-1', tls: false, fallbackUrl: () => server.url, clock: () => new Date(), log: server.log });
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`)),
    );
    assert.deepEqual([...served].sort(), [...documented].sort());
    assert.deepEqual([...documented].sort(), CONTRACT.map((c) => c.replace(' /', ' /api/v1/')).sort());
  });

  test('every operation: a success reply, problem+json error replies, security declared, path parameters described', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const op = item[method];
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${where}: no success response`);
        for (const [status, reply] of Object.entries(op.responses) as [string, any][]) {
          if (Number(status) >= 400) assert.ok(reply.content?.['application/problem+json'], `${where} ${status}: not problem+json`);
        }
        assert.ok(Array.isArray(op.security), `${where}: no security`);
        const open = ['POST /api/v1/session', 'GET /api/v1/openapi.json'].includes(where);
        assert.equal(op.security.length === 0, open, `${where}: security ${JSON.stringify(op.security)}`);
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          assert.ok(op.parameters?.some((p: any) => p.in === 'path' && `{${p.name}}` === name && p.required), `${where}: ${name} undocumented`);
        }
      }
    }
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'csrf', 'session']);
  });

  test('request bodies are strict (unknown fields are errors) and match the validators', () => {
    const body = (path: string, method: string) => {
      const schema = doc.paths[path][method].requestBody.content['application/json'].schema;
      return schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
    };
    const tokenCreate = body('/api/v1/projects/{projectId}/tokens', 'post');
    assert.equal(tokenCreate.additionalProperties, false);
    assert.deepEqual([...tokenCreate.required].sort(), ['bucketScope', 'name', 'permission']);
    assert.deepEqual(doc.components.schemas.Permission.enum, ['admin-rw', 'admin-ro', 'object-rw', 'object-ro']);
    for (const [path, method] of [['/api/v1/session', 'post'], ['/api/v1/projects', 'post'], ['/api/v1/projects/{projectId}/buckets', 'post'], ['/api/v1/projects/{projectId}/buckets/{bucket}/presign', 'post']]) {
      assert.equal(body(path, method).additionalProperties, false, `${method} ${path}`);
    }
    const put = doc.paths['/api/v1/projects/{projectId}/buckets/{bucket}/objects/content'].put;
    assert.ok(put.requestBody.content['application/octet-stream']);
    const tokenView = doc.components.schemas.TokenView;
    assert.ok(!Object.keys(tokenView.properties).some((k) => /secret|hash|cipher/i.test(k)));
  });
});
