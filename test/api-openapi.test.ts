import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createApiApp } from '../src/api/app.js';
import { PROBLEM_SLUGS, PROBLEM_TYPES, problem } from '../src/api/problems.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { call, rootBearer, type As } from './helpers/api.js';

// The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1, and in step with the routes
// the app actually serves (every route documented, nothing documented that is not served).

// The contract in docs/rest-api.md, written out: method and path under /api/v1.
const CONTRACT = [
  'POST /session', 'GET /session', 'DELETE /session',
  'POST /session/password',
  'GET /projects', 'POST /projects', 'GET /projects/{projectId}', 'PATCH /projects/{projectId}',
  'GET /projects/{projectId}/members', 'POST /projects/{projectId}/members',
  'PATCH /projects/{projectId}/members/{userId}', 'DELETE /projects/{projectId}/members/{userId}',
  'GET /projects/{projectId}/buckets', 'POST /projects/{projectId}/buckets',
  'GET /projects/{projectId}/buckets/{bucket}', 'DELETE /projects/{projectId}/buckets/{bucket}',
  'GET /projects/{projectId}/buckets/{bucket}/objects', 'DELETE /projects/{projectId}/buckets/{bucket}/objects',
  'PUT /projects/{projectId}/buckets/{bucket}/objects/content', 'GET /projects/{projectId}/buckets/{bucket}/objects/content',
  'POST /projects/{projectId}/buckets/{bucket}/presign',
  'GET /projects/{projectId}/buckets/{bucket}/objects/versions',
  'PUT /projects/{projectId}/buckets/{bucket}/objects/legal-hold', 'PUT /projects/{projectId}/buckets/{bucket}/objects/retention',
  'GET /projects/{projectId}/buckets/{bucket}/settings',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/versioning', 'PUT /projects/{projectId}/buckets/{bucket}/settings/object-lock',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/lifecycle', 'DELETE /projects/{projectId}/buckets/{bucket}/settings/lifecycle',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/encryption', 'DELETE /projects/{projectId}/buckets/{bucket}/settings/encryption',
  'GET /projects/{projectId}/tokens', 'POST /projects/{projectId}/tokens', 'GET /projects/{projectId}/tokens/{tokenId}',
  'POST /projects/{projectId}/tokens/{tokenId}/disable', 'POST /projects/{projectId}/tokens/{tokenId}/enable',
  'POST /projects/{projectId}/tokens/{tokenId}/revoke', 'POST /projects/{projectId}/tokens/{tokenId}/confirm-rotation',
  'POST /projects/{projectId}/tokens/{tokenId}/rotate',
  'GET /projects/{projectId}/tokens/{tokenId}/temporary-credentials', 'POST /projects/{projectId}/tokens/{tokenId}/temporary-credentials',
  'POST /projects/{projectId}/tokens/{tokenId}/temporary-credentials/{credentialId}/revoke',
  'GET /projects/{projectId}/quota', 'PUT /projects/{projectId}/quota',
  'GET /projects/{projectId}/buckets/{bucket}/quota', 'PUT /projects/{projectId}/buckets/{bucket}/quota',
  'GET /projects/{projectId}/usage', 'GET /projects/{projectId}/usage/tokens', 'GET /projects/{projectId}/audit', 'GET /projects/{projectId}/audit/export',
  'GET /openapi.json', 'GET /problems/{slug}',
];

/** The operationId of each operation: generated clients name their methods after them. */
const OPERATION_IDS: Record<string, string> = {
  'POST /session': 'signIn', 'GET /session': 'getSession', 'DELETE /session': 'signOut', 'POST /session/password': 'changePassword',
  'GET /projects': 'listProjects', 'POST /projects': 'createProject', 'GET /projects/{projectId}': 'getProject', 'PATCH /projects/{projectId}': 'updateProject',
  'GET /projects/{projectId}/members': 'listMembers', 'POST /projects/{projectId}/members': 'addMember',
  'PATCH /projects/{projectId}/members/{userId}': 'setMemberRole', 'DELETE /projects/{projectId}/members/{userId}': 'removeMember',
  'GET /projects/{projectId}/buckets': 'listBuckets', 'POST /projects/{projectId}/buckets': 'createBucket',
  'GET /projects/{projectId}/buckets/{bucket}': 'getBucket', 'DELETE /projects/{projectId}/buckets/{bucket}': 'deleteBucket',
  'GET /projects/{projectId}/buckets/{bucket}/objects': 'listObjects', 'DELETE /projects/{projectId}/buckets/{bucket}/objects': 'deleteObject',
  'PUT /projects/{projectId}/buckets/{bucket}/objects/content': 'putObject', 'GET /projects/{projectId}/buckets/{bucket}/objects/content': 'getObject',
  'POST /projects/{projectId}/buckets/{bucket}/presign': 'presignObject',
  'GET /projects/{projectId}/buckets/{bucket}/objects/versions': 'listObjectVersions',
  'PUT /projects/{projectId}/buckets/{bucket}/objects/legal-hold': 'putObjectLegalHold', 'PUT /projects/{projectId}/buckets/{bucket}/objects/retention': 'putObjectRetention',
  'GET /projects/{projectId}/buckets/{bucket}/settings': 'getBucketSettings',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/versioning': 'putBucketVersioning', 'PUT /projects/{projectId}/buckets/{bucket}/settings/object-lock': 'putBucketObjectLock',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/lifecycle': 'putBucketLifecycle', 'DELETE /projects/{projectId}/buckets/{bucket}/settings/lifecycle': 'deleteBucketLifecycle',
  'PUT /projects/{projectId}/buckets/{bucket}/settings/encryption': 'putBucketEncryption', 'DELETE /projects/{projectId}/buckets/{bucket}/settings/encryption': 'deleteBucketEncryption',
  'GET /projects/{projectId}/tokens': 'listTokens', 'POST /projects/{projectId}/tokens': 'createToken', 'GET /projects/{projectId}/tokens/{tokenId}': 'getToken',
  'POST /projects/{projectId}/tokens/{tokenId}/disable': 'disableToken', 'POST /projects/{projectId}/tokens/{tokenId}/enable': 'enableToken',
  'POST /projects/{projectId}/tokens/{tokenId}/revoke': 'revokeToken', 'POST /projects/{projectId}/tokens/{tokenId}/confirm-rotation': 'confirmTokenRotation',
  'POST /projects/{projectId}/tokens/{tokenId}/rotate': 'rotateToken',
  'GET /projects/{projectId}/tokens/{tokenId}/temporary-credentials': 'listTemporaryCredentials',
  'POST /projects/{projectId}/tokens/{tokenId}/temporary-credentials': 'createTemporaryCredentials',
  'POST /projects/{projectId}/tokens/{tokenId}/temporary-credentials/{credentialId}/revoke': 'revokeTemporaryCredentials',
  'GET /projects/{projectId}/quota': 'getProjectQuota', 'PUT /projects/{projectId}/quota': 'putProjectQuota',
  'GET /projects/{projectId}/buckets/{bucket}/quota': 'getBucketQuota', 'PUT /projects/{projectId}/buckets/{bucket}/quota': 'putBucketQuota',
  'GET /projects/{projectId}/usage': 'getUsage', 'GET /projects/{projectId}/usage/tokens': 'getTokenUsage',
  'GET /projects/{projectId}/audit': 'listAuditEvents', 'GET /projects/{projectId}/audit/export': 'exportAuditLog',
  'GET /openapi.json': 'getOpenApiDocument', 'GET /problems/{slug}': 'getProblemType',
};

/** The routes anyone may call (security: []). */
const OPEN = ['POST /api/v1/session', 'GET /api/v1/openapi.json', 'GET /api/v1/problems/{slug}'];

/** The list routes: each pages with limit + cursor and answers nextCursor. */
const LISTS = [
  '/api/v1/projects', '/api/v1/projects/{projectId}/buckets', '/api/v1/projects/{projectId}/buckets/{bucket}/objects',
  '/api/v1/projects/{projectId}/buckets/{bucket}/objects/versions',
  '/api/v1/projects/{projectId}/tokens', '/api/v1/projects/{projectId}/audit',
];

/** The lists answered whole (docs/rest-api.md, Paging): no limit, no cursor, no nextCursor. */
const WHOLE_LISTS = ['/api/v1/projects/{projectId}/members', '/api/v1/projects/{projectId}/tokens/{tokenId}/temporary-credentials'];

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

  test('every operation has a unique operationId, for code generators; each is stable (a rename breaks generated clients)', () => {
    const ids = new Map<string, string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const where = `${method.toUpperCase()} ${path.replace('/api/v1', '')}`;
        const id = item[method].operationId;
        assert.match(id ?? '', /^[a-z][A-Za-z]+$/, `${where}: operationId ${id}`);
        assert.ok(!ids.has(id), `${where}: operationId ${id} is also ${ids.get(id)}'s`);
        ids.set(id, where);
      }
    }
    assert.deepEqual(Object.fromEntries([...ids].map(([id, where]) => [where, id])), OPERATION_IDS);
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
        const open = OPEN.includes(where);
        // Every route rejects unknown query parameters, so every route documents 400.
        assert.ok(op.responses['400'], `${where}: 400 undocumented`);
        if (op.responses['429']) assert.ok(op.responses['429'].headers?.['Retry-After'], `${where}: 429 without Retry-After`);
        if (op.responses['401']) assert.ok(op.responses['401'].headers?.['WWW-Authenticate'], `${where}: 401 without WWW-Authenticate`);
        assert.equal(op.security.length === 0, open, `${where}: security ${JSON.stringify(op.security)}`);
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          assert.ok(op.parameters?.some((p: any) => p.in === 'path' && `{${p.name}}` === name && p.required), `${where}: ${name} undocumented`);
        }
      }
    }
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearer', 'csrf', 'session']);
  });

  test('every list route takes limit and cursor and answers items and nextCursor', () => {
    for (const path of LISTS) {
      const op = doc.paths[path].get;
      const query = (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name);
      assert.ok(query.includes('limit') && query.includes('cursor'), `${path}: ${query}`);
      const schema = op.responses['200'].content['application/json'].schema;
      const reply = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      assert.deepEqual(['items', 'nextCursor'].filter((k) => k in reply.properties), ['items', 'nextCursor'], path);
      assert.ok(reply.required.includes('nextCursor'), path);
    }
  });

  test('the lists that are not paged are the documented ones: they take no query parameter and answer items alone', () => {
    const whole: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      const schema = item.get?.responses['200']?.content?.['application/json']?.schema;
      const reply = schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      if (!reply?.properties?.items || LISTS.includes(path)) continue;
      whole.push(path);
      assert.deepEqual(Object.keys(reply.properties), ['items'], path);
      assert.deepEqual((item.get.parameters ?? []).filter((p: any) => p.in === 'query'), [], path);
    }
    assert.deepEqual(whole.sort(), [...WHOLE_LISTS].sort());
  });

  test('every problem type in the problem table resolves to its description; others are 404', async () => {
    assert.deepEqual([...PROBLEM_SLUGS].sort(), ['body-too-large', 'conflict', 'csrf', 'forbidden', 'internal', 'limit-exceeded', 'method-not-allowed', 'not-found', 'quota-exceeded', 'rate-limited', 'storage-full', 'unauthenticated', 'unavailable', 'validation']);
    for (const slug of PROBLEM_SLUGS) {
      const type = problem(slug, 'x').type;
      const res = await fetch(new URL(type, `${server.url}/api/v1/projects`));
      assert.equal(res.status, 200, type);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(body, { type, title: PROBLEM_TYPES[slug].title, status: PROBLEM_TYPES[slug].status, description: PROBLEM_TYPES[slug].description });
      assert.ok((body.description as string).length > 20, type);
    }
    for (const missing of ['nope', 'constructor', '__proto__']) {
      const res = await fetch(`${server.url}/api/v1/problems/${missing}`);
      assert.equal(res.status, 404, missing);
      assert.equal(((await res.json()) as { type: string }).type, '/api/v1/problems/not-found');
    }
    // A slug is text as every path parameter is: a NUL in it is a 400 naming it.
    const nul = await fetch(`${server.url}/api/v1/problems/a%00b`);
    assert.equal(nul.status, 400);
    assert.deepEqual([((await nul.json()) as { field: string }).field, nul.headers.get('content-type')], ['slug', 'application/problem+json']);
    // Served types are the documented ones.
    assert.equal(doc.paths['/api/v1/problems/{slug}'].get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/ProblemType');
  });

  test('limits the services enforce are in the schemas: scope and network list sizes, session durations', () => {
    const schemas = doc.components.schemas;
    assert.equal(schemas.CreateToken.properties.bucketScope.maxItems, 1000);
    assert.equal(schemas.CreateToken.properties.allowedNetworks.maxItems, 100);
    assert.equal(schemas.CreateTemporaryCredentials.properties.bucketScope.maxItems, 1000);
    assert.deepEqual([schemas.CreateTemporaryCredentials.properties.durationSeconds.minimum, schemas.CreateTemporaryCredentials.properties.durationSeconds.maximum], [900, 43200]);
  });

  test('the open routes look at no credentials: a malformed or unknown bearer token, or a stale cookie, changes nothing', async () => {
    const admin = server.bootstrap.admin!;
    const sent: Record<string, string>[] = [{ authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer skep_v1_0000000000000000000000000000000000000000' }, { cookie: 'skep_session=stale' }];
    for (const headers of sent) {
      const what = JSON.stringify(headers);
      assert.equal((await fetch(`${server.url}/api/v1/openapi.json`, { headers })).status, 200, what);
      assert.equal((await fetch(`${server.url}/api/v1/problems/unauthenticated`, { headers })).status, 200, what);
      const signedIn = await call(server, 'POST', '/session', { json: { email: admin.email, password: admin.password }, headers });
      assert.equal(signedIn.status, 200, `${what}: ${signedIn.text}`);
    }
    // Every other route still checks what it is sent.
    assert.equal((await call(server, 'GET', '/projects', { headers: { authorization: 'Bearer skep_v1_0000000000000000000000000000000000000000' } })).status, 401);
  });

  test('every operation declares the problems any route can answer: 500, 429 (a bearer token is rate-limited on every route), 413 with a JSON body, 507 when it writes', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const op = item[method];
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.responses['500'], `${where}: 500 undocumented`);
        assert.ok(op.responses['429']?.headers?.['Retry-After'], `${where}: 429 undocumented`);
        if (op.requestBody?.content?.['application/json']) assert.ok(op.responses['413'], `${where}: 413 undocumented`);
        if (method !== 'get') assert.ok(op.responses['507'], `${where}: 507 undocumented`);
      }
    }
  });

  test('real replies are declared: their status, their content type and, for JSON, their schema (strict JSON Schema 2020-12)', async () => {
    // The document as one schema, so that the replies' $refs resolve in it.
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema(JSON.parse(JSON.stringify(doc).replaceAll('"$ref":"#/', '"$ref":"doc#/')), 'doc');
    const conforms = async (method: string, template: string, path: string, o: { as?: As; json?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
      const r = await call(server, method, path, o);
      const where = `${method} ${template} -> ${r.status}`;
      const reply = doc.paths[`/api/v1${template}`][method === 'HEAD' ? 'get' : method.toLowerCase()].responses[String(r.status)];
      assert.ok(reply, `${where}: status not declared (${r.text.slice(0, 200)})`);
      const type = (r.headers.get('content-type') ?? '').split(';')[0].trim();
      if (!reply.content || method === 'HEAD') return r;
      const media = reply.content[type] ?? reply.content[`${type.split('/')[0]}/*`] ?? reply.content['*/*'];
      assert.ok(media, `${where}: ${type} is none of ${Object.keys(reply.content)}`);
      if (type.endsWith('json')) {
        const validate = ajv.compile({ $ref: `doc#/paths/${`/api/v1${template}`.replaceAll('~', '~0').replaceAll('/', '~1')}/${method.toLowerCase()}/responses/${r.status}/content/${type.replace('/', '~1')}/schema` });
        assert.ok(validate(r.body), `${where}: ${ajv.errorsText(validate.errors)}`);
      }
      return r;
    };
    const p = server.bootstrap.projectId;
    const root = rootBearer(server);
    await conforms('POST', '/projects/{projectId}/buckets', `/projects/${p}/buckets`, { as: root, json: { name: 'openapi-replies' } });
    const bucket = '/projects/{projectId}/buckets/{bucket}';
    const detail = await conforms('GET', bucket, `/projects/${p}/buckets/openapi-replies`, { as: root });
    assert.equal(detail.body.encryption, null);
    await conforms('PUT', `${bucket}/settings/encryption`, `/projects/${p}/buckets/openapi-replies/settings/encryption`, { as: root, json: { algorithm: 'AES256' } });
    assert.equal((await conforms('GET', bucket, `/projects/${p}/buckets/openapi-replies`, { as: root })).body.encryption, 'AES256');
    const content = `/projects/${p}/buckets/openapi-replies/objects/content?key=a.txt`;
    await conforms('PUT', `${bucket}/objects/content`, content, { as: root, raw: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal((await conforms('GET', `${bucket}/objects/content`, content, { as: root })).text, 'hello');
    await conforms('HEAD', `${bucket}/objects/content`, content, { as: root });
    const tokens = '/projects/{projectId}/tokens';
    const big = await conforms('POST', tokens, `/projects/${p}/tokens`, { as: root, json: { name: 'big', description: 'x'.repeat(2 * 1024 * 1024), permission: 'object-ro', bucketScope: null } });
    assert.equal(big.status, 413);
    const limited = await conforms('POST', tokens, `/projects/${p}/tokens`, { as: root, json: { name: 'limited', permission: 'admin-ro', bucketScope: null, rateLimit: 1 } });
    const as = { bearer: limited.body.credentials.bearerToken as string };
    assert.equal((await conforms('GET', '/projects/{projectId}/buckets', `/projects/${p}/buckets`, { as })).status, 200);
    assert.equal((await conforms('GET', '/projects/{projectId}/buckets', `/projects/${p}/buckets`, { as })).status, 429);
    assert.equal((await conforms('GET', '/projects/{projectId}/usage', `/projects/${p}/usage`, { as })).status, 429);
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
