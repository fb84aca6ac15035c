import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, beforeEach, describe, test } from 'node:test';
import { openSqliteStore } from '../storage/metadata/sqlite-store.js';
import type { AuditRow, MetadataStore } from '../storage/metadata/metadata-store.js';
import { DomainError } from '../util/domain-error.js';
import { hashBearer } from './bearer.js';
import { SecretBox } from './secret-box.js';
import { DEFAULT_ROTATION_GRACE_DAYS, FAILURE_AUDITS_PER_MINUTE, TokenService, effectiveExpiry, expiringSoonWindow, type CreateTokenInput } from './token-service.js';
import { AuditService } from '../audit/audit-service.js';
import { MemoryLimiterState, RateLimiter } from '../limits/rate-limiter.js';

// TokenService over an in-memory SQLite store with a clock the tests move.

const DAY = 86_400_000;
let meta: MetadataStore;
let tokens: TokenService;
let now: number;
let projectId: string;
const by = { actor: 'test' };
const stores: MetadataStore[] = [];

beforeEach(async () => {
  meta = await openSqliteStore(':memory:');
  stores.push(meta);
  now = Date.UTC(2030, 0, 1);
  const clock = () => new Date(now);
  tokens = new TokenService(meta, new SecretBox(randomBytes(32)), new AuditService(meta, clock), new RateLimiter(new MemoryLimiterState(), 'test', FAILURE_AUDITS_PER_MINUTE, 60_000), clock);
  projectId = randomUUID();
  await meta.createProject({ id: projectId, name: 'p', createdAt: new Date(now), maxTokenDays: null });
  await meta.createBucket({ id: randomUUID(), projectId, name: 'b1', region: 'us-east-1', createdAt: new Date(now) });
});
after(async () => {
  for (const s of stores) await s.close();
});

/** The audit log once `done` holds (failures are recorded without being awaited). */
async function auditSettled(done: (rows: AuditRow[]) => boolean): Promise<AuditRow[]> {
  for (let i = 0; i < 500; i++) {
    const rows = await meta.listAudit({ limit: 100 });
    if (done(rows)) return rows;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the audit log never settled');
}

function input(o: Partial<CreateTokenInput> = {}): CreateTokenInput {
  return { projectId, name: 't', permission: 'object-rw', bucketScope: null, createdBy: 'test', ...o };
}

async function rejectsWith(p: Promise<unknown>, kind: DomainError['kind'], message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DomainError, String(err));
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  });
}

describe('create', () => {
  test('a token lasts exactly its days from its creation time, however the clock moves meanwhile', async () => {
    // Each reading of this clock is a millisecond later than the one before.
    const ticking = () => new Date(++now);
    const service = new TokenService(meta, new SecretBox(randomBytes(32)), new AuditService(meta, ticking), new RateLimiter(new MemoryLimiterState(), 'test', FAILURE_AUDITS_PER_MINUTE, 60_000), ticking);
    for (const expiresInDays of [30, undefined]) {
      const { token } = await service.create(input({ name: `t${expiresInDays}`, expiresInDays }));
      assert.equal(Date.parse(token.expiresAt!) - Date.parse(token.createdAt), (expiresInDays ?? 90) * DAY);
    }
  });
});

describe('authenticateBearer', () => {
  test('accepts the current token and yields the principal', async () => {
    const { token, credentials } = await tokens.create(input({ bucketScope: ['b1'] }));
    const p = await tokens.authenticateBearer(credentials.bearerToken);
    assert.deepEqual(p, { accessKeyId: credentials.accessKeyId, projectId, tokenId: token.id, permission: 'object-rw', bucketScope: ['b1'], billing: false, allowedNetworks: null, rateLimit: null });
  });

  test('accepts the previous token during the rotation grace only, and the new one throughout', async () => {
    const { token, credentials: first } = await tokens.create(input());
    const { credentials: second } = await tokens.rotate(token.id, by, 2);
    assert.equal((await tokens.authenticateBearer(first.bearerToken)).tokenId, token.id);
    assert.equal((await tokens.authenticateBearer(second.bearerToken)).tokenId, token.id);
    now += 2 * DAY - 1;
    assert.equal((await tokens.authenticateBearer(first.bearerToken)).tokenId, token.id, 'still inside the grace');
    now += 1;
    await rejectsWith(tokens.authenticateBearer(first.bearerToken), 'unauthenticated', /not valid/);
    assert.equal((await tokens.authenticateBearer(second.bearerToken)).tokenId, token.id);
  });

  test('confirming a rotation ends the previous token at once', async () => {
    const { token, credentials: first } = await tokens.create(input());
    const { credentials: second } = await tokens.rotate(token.id, by);
    await tokens.confirmRotation(token.id, by);
    await rejectsWith(tokens.authenticateBearer(first.bearerToken), 'unauthenticated', /not valid/);
    assert.equal((await tokens.authenticateBearer(second.bearerToken)).tokenId, token.id);
  });

  test('a second rotation while one is pending is refused, naming it: the first old secret keeps its grace', async () => {
    const { token, credentials: c1 } = await tokens.create(input());
    const { credentials: c2, token: rotated } = await tokens.rotate(token.id, by);
    await rejectsWith(tokens.rotate(token.id, by), 'conflict', new RegExp(`rotation of this token is pending: its previous secret works until ${rotated.rotationDeadline}.*confirm`, 'i'));
    assert.ok(await tokens.authenticateBearer(c1.bearerToken), 'the first old secret still works');
    assert.ok(await tokens.authenticateBearer(c2.bearerToken));
    // Confirmed (or past its grace), the next rotation goes ahead.
    await tokens.confirmRotation(token.id, by);
    const { credentials: c3 } = await tokens.rotate(token.id, by);
    await rejectsWith(tokens.authenticateBearer(c1.bearerToken), 'unauthenticated', /not valid/);
    assert.deepEqual((await tokens.lookup(c1.accessKeyId))!.secrets, [c3.secretAccessKey, c2.secretAccessKey]);
    now += 8 * DAY;
    const { credentials: c4 } = await tokens.rotate(token.id, by);
    assert.deepEqual((await tokens.lookup(c1.accessKeyId))!.secrets, [c4.secretAccessKey, c3.secretAccessKey]);
  });

  test("a rotation's grace never runs past the token's own expiry", async () => {
    const { token, credentials } = await tokens.create(input({ expiresInDays: 3 }));
    const { token: rotated } = await tokens.rotate(token.id, by, 7);
    assert.equal(rotated.rotationDeadline, rotated.expiresAt);
    assert.equal(new Date(rotated.rotationDeadline!).getTime(), now + 3 * DAY);
    now += 3 * DAY - 1;
    assert.ok(await tokens.authenticateBearer(credentials.bearerToken));
    // A project maximum lowered later caps the grace too (it caps the token).
    const other = await tokens.create(input({ expiresInDays: 90 }));
    await meta.updateProject(projectId, { maxTokenDays: 10 });
    const r = await tokens.rotate(other.token.id, by, 30);
    assert.equal(new Date(r.token.rotationDeadline!).getTime(), new Date(other.token.createdAt).getTime() + 10 * DAY);
  });

  test('rejects revoked, disabled and expired tokens, saying which', async () => {
    const revoked = await tokens.create(input({ name: 'r' }));
    await tokens.revoke(revoked.token.id, by);
    await rejectsWith(tokens.authenticateBearer(revoked.credentials.bearerToken), 'unauthenticated', /revoked/);

    const disabled = await tokens.create(input({ name: 'd' }));
    await tokens.disable(disabled.token.id, by);
    await rejectsWith(tokens.authenticateBearer(disabled.credentials.bearerToken), 'unauthenticated', /disabled/);
    await tokens.enable(disabled.token.id, by);
    assert.ok(await tokens.authenticateBearer(disabled.credentials.bearerToken));

    const expiring = await tokens.create(input({ name: 'e', expiresInDays: 1 }));
    now += DAY - 1;
    assert.ok(await tokens.authenticateBearer(expiring.credentials.bearerToken));
    now += 1;
    await rejectsWith(tokens.authenticateBearer(expiring.credentials.bearerToken), 'unauthenticated', /expired/);
  });

  test('rejects garbage and near misses', async () => {
    const { credentials } = await tokens.create(input());
    const t = credentials.bearerToken;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    for (const bad of [
      '',
      'skep_',
      'Bearer ' + t,
      t + 'x',
      t.slice(0, -1),
      flip(t, t.length - 1), // right prefix, wrong secret part
      flip(t, 10), // wrong prefix, right secret part
      t.toUpperCase(),
      t.replace('skep_v1_', 'skep_v2_'),
      credentials.accessKeyId,
      credentials.secretAccessKey,
      hashBearer(t),
      'skep_v1_' + 'a'.repeat(12) + '_' + 'b'.repeat(32),
      `${t}\n`,
    ]) {
      await rejectsWith(tokens.authenticateBearer(bad), 'unauthenticated', /not valid/);
    }
  });

  test('failures are audited with the token when it is known, never with the token text', async () => {
    const { token, credentials } = await tokens.create(input());
    const wrongSecret = credentials.bearerToken.slice(0, -1) + (credentials.bearerToken.endsWith('a') ? 'b' : 'a');
    await tokens.authenticateBearer(wrongSecret, '10.1.2.3').catch(() => undefined);
    await tokens.revoke(token.id, by);
    await tokens.authenticateBearer(credentials.bearerToken, '10.1.2.4').catch(() => undefined);
    const rows = await auditSettled((r) => r.filter((x) => x.action === 'auth.failed').length >= 2);
    const failures = rows.filter((r) => r.action === 'auth.failed');
    assert.equal(failures.length, 2, JSON.stringify(rows));
    assert.deepEqual(failures.map((r) => r.source).sort(), ['10.1.2.3', '10.1.2.4']);
    const text = JSON.stringify(rows);
    assert.ok(!text.includes(credentials.bearerToken) && !text.includes(wrongSecret));
    assert.ok(!text.includes(credentials.bearerToken.split('_').pop()!));
    // Both name the token: a wrong secret under its prefix, and the revoked token itself.
    assert.ok(failures.every((r) => r.tokenId === token.id && r.actor === `token:${token.id}`), JSON.stringify(failures));
  });

  test('a claimed access key ID is recorded bounded and with control characters escaped', async () => {
    tokens.recordFailure('\u001b[31mEVIL\nFAKE ROW\u202e', 'InvalidAccessKeyId', '10.0.0.9');
    tokens.recordFailure('K'.repeat(5000), 'InvalidAccessKeyId', '10.0.0.9');
    const rows = (await auditSettled((r) => r.length >= 2)).filter((r) => r.source === '10.0.0.9');
    assert.equal(rows.length, 2);
    // Unknown keys name no one: the actor is anonymous, the claim (made harmless) is in the detail.
    assert.ok(rows.every((r) => r.actor === 'anonymous'));
    const details = rows.map((r) => r.detail);
    assert.ok(details.includes('InvalidAccessKeyId; claimed key \\u{1b}[31mEVIL\\u{a}FAKE ROW\\u{202e}'), JSON.stringify(details));
    assert.ok(details.includes(`InvalidAccessKeyId; claimed key ${'K'.repeat(128)}...`));
  });

  test('bearer tokens are stored only as SHA-256 hashes', async () => {
    const { token, credentials } = await tokens.create(input());
    const row = (await meta.getToken(token.id))!;
    assert.equal(row.bearerHash, hashBearer(credentials.bearerToken));
    assert.ok(credentials.bearerToken.includes(row.bearerPrefix), 'only the lookup prefix is kept as is');
    const text = JSON.stringify(row);
    assert.ok(!text.includes(credentials.bearerToken));
    assert.ok(!text.includes(credentials.bearerToken.split('_').pop()!));
    assert.ok(!text.includes(credentials.secretAccessKey));
    const { credentials: next } = await tokens.rotate(token.id, by);
    const rotated = (await meta.getToken(token.id))!;
    assert.equal(rotated.bearerHash, hashBearer(next.bearerToken));
    assert.equal(rotated.previousBearerHash, hashBearer(credentials.bearerToken));
    assert.ok(!JSON.stringify(rotated).includes(next.secretAccessKey));
  });
});

describe('lookup (SigV4)', () => {
  test('state: active, expired, disabled, revoked; revoked wins over disabled over expired', async () => {
    const { token, credentials } = await tokens.create(input({ expiresInDays: 1 }));
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'active');
    now += DAY;
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'expired');
    await tokens.disable(token.id, by);
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'disabled');
    await tokens.revoke(token.id, by);
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'revoked');
    assert.equal(await tokens.lookup('SKNOSUCHKEY000000000'), null);
  });

  test('during a rotation both secrets verify, the new one first; after the grace only the new one', async () => {
    const { token, credentials } = await tokens.create(input());
    const { credentials: next } = await tokens.rotate(token.id, by, 1);
    assert.deepEqual((await tokens.lookup(credentials.accessKeyId))!.secrets, [next.secretAccessKey, credentials.secretAccessKey]);
    now += DAY;
    assert.deepEqual((await tokens.lookup(credentials.accessKeyId))!.secrets, [next.secretAccessKey]);
  });

  test('without a grace value the old secret and bearer token work for 7 days (DEFAULT_ROTATION_GRACE_DAYS)', async () => {
    const { token, credentials } = await tokens.create(input());
    const { credentials: next, token: view } = await tokens.rotate(token.id, by);
    assert.equal(DEFAULT_ROTATION_GRACE_DAYS, 7);
    assert.equal(view.rotationDeadline, new Date(now + 7 * DAY).toISOString());
    now += 7 * DAY - 1;
    assert.deepEqual((await tokens.lookup(credentials.accessKeyId))!.secrets, [next.secretAccessKey, credentials.secretAccessKey]);
    assert.equal((await tokens.authenticateBearer(credentials.bearerToken)).tokenId, token.id);
    now += 1;
    assert.deepEqual((await tokens.lookup(credentials.accessKeyId))!.secrets, [next.secretAccessKey]);
    await rejectsWith(tokens.authenticateBearer(credentials.bearerToken), 'unauthenticated', /not valid/);
  });

  test('a grace period of 0 ends the old secret at once', async () => {
    const { token, credentials } = await tokens.create(input());
    const { credentials: next, token: view } = await tokens.rotate(token.id, by, 0);
    assert.equal(view.rotationPending, false);
    assert.deepEqual((await tokens.lookup(credentials.accessKeyId))!.secrets, [next.secretAccessKey]);
  });
});

describe('project maximum token lifetime', () => {
  test('a lowered maximum caps existing tokens from their creation, at lookup and in views; lifting it restores them', async () => {
    const { token, credentials } = await tokens.create(input({ expiresInDays: 90 }));
    await meta.updateProject(projectId, { maxTokenDays: 30 });
    const capped = new Date(now + 30 * DAY);
    assert.equal((await tokens.show(token.id)).expiresAt, capped.toISOString());
    assert.equal((await tokens.list(projectId))[0].expiresAt, capped.toISOString());
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.expiresAt!.getTime(), capped.getTime());
    now += 30 * DAY - 1;
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'active');
    now += 1;
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'expired');
    await rejectsWith(tokens.authenticateBearer(credentials.bearerToken), 'unauthenticated', /expired/);
    await rejectsWith(tokens.rotate(token.id, by), 'conflict', /expired/);
    // A shorter own expiry stays; a higher maximum never extends a token.
    await meta.updateProject(projectId, { maxTokenDays: 365 });
    assert.equal((await tokens.show(token.id)).expiresAt, new Date(now - 30 * DAY + 90 * DAY).toISOString());
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'active');
  });

  test('a token without expiry (the bootstrap credential) is outside the maximum', async () => {
    const { token, credentials } = await tokens.create(input({ name: 'bootstrap', permission: 'admin-rw', bootstrap: {} }));
    assert.equal(token.expiresAt, null);
    await meta.updateProject(projectId, { maxTokenDays: 1 });
    now += 400 * DAY;
    assert.equal((await tokens.show(token.id)).expiresAt, null);
    assert.equal((await tokens.lookup(credentials.accessKeyId))!.state, 'active');
  });

  test('effectiveExpiry', () => {
    const createdAt = new Date(0);
    assert.equal(effectiveExpiry({ createdAt, expiresAt: new Date(90 * DAY) }, null)!.getTime(), 90 * DAY);
    assert.equal(effectiveExpiry({ createdAt, expiresAt: new Date(90 * DAY) }, 30)!.getTime(), 30 * DAY);
    assert.equal(effectiveExpiry({ createdAt, expiresAt: new Date(10 * DAY) }, 30)!.getTime(), 10 * DAY);
    assert.equal(effectiveExpiry({ createdAt, expiresAt: null }, 30), null);
  });
});

describe('create: validation', () => {
  test('expiry: default 90 days, 1 to 365, whole days, at most the project maximum', async () => {
    const dflt = await tokens.create(input());
    assert.equal(new Date(dflt.token.expiresAt!).getTime(), now + 90 * DAY);
    assert.equal(new Date((await tokens.create(input({ expiresInDays: 365 }))).token.expiresAt!).getTime(), now + 365 * DAY);
    for (const days of [0, -1, 366, 400, 1.5, Number.NaN]) {
      await rejectsWith(tokens.create(input({ expiresInDays: days })), 'invalid-argument', /1 to 365/);
    }
    await meta.updateProject(projectId, { maxTokenDays: 30 });
    await rejectsWith(tokens.create(input({ expiresInDays: 31 })), 'limit-exceeded', /at most 30 days/);
    assert.equal(new Date((await tokens.create(input({ expiresInDays: 30 }))).token.expiresAt!).getTime(), now + 30 * DAY);
    assert.equal(new Date((await tokens.create(input())).token.expiresAt!).getTime(), now + 30 * DAY, 'the default shrinks to the maximum');
  });

  test('a token creates tokens that end no later than itself, and none in its last day', async () => {
    const parent = await tokens.create(input({ expiresInDays: 10 }));
    now += 2.5 * DAY; // 7.5 days left: it hands out at most 7
    const child = (o: Partial<CreateTokenInput>) => tokens.create(input({ parentTokenId: parent.token.id, ...o }));
    await rejectsWith(child({ expiresInDays: 365 }), 'limit-exceeded', /cannot outlive the token that creates it.*expires at .*at most 7 days \(asked for 365\)/);
    await rejectsWith(child({ expiresInDays: 8 }), 'limit-exceeded', /at most 7 days/);
    const made = await child({ expiresInDays: 7 });
    assert.ok(new Date(made.token.expiresAt!) <= new Date(parent.token.expiresAt!));
    // Without a chosen expiry the default shrinks to what the parent has left.
    assert.equal(new Date((await child({})).token.expiresAt!).getTime(), now + 7 * DAY);
    // A lowered project maximum shortens the parent, and so what it hands out.
    await meta.updateProject(projectId, { maxTokenDays: 5 });
    await rejectsWith(child({ expiresInDays: 3 }), 'limit-exceeded', /at most 2 days/);
    now += 2 * DAY; // less than a day left
    await rejectsWith(child({ expiresInDays: 1 }), 'limit-exceeded', /in less than a day: it cannot create tokens/);
    // The bootstrap credential never expires: it hands out up to the maximum.
    await meta.updateProject(projectId, { maxTokenDays: null });
    const root = await tokens.create(input({ bootstrap: {} }));
    assert.equal(new Date((await tokens.create(input({ parentTokenId: root.token.id, expiresInDays: 365 }))).token.expiresAt!).getTime(), now + 365 * DAY);
  });

  test('permission level, bucket scope, name and project', async () => {
    await rejectsWith(tokens.create(input({ permission: 'admin' })), 'invalid-argument', /Unknown permission level "admin"/);
    await rejectsWith(tokens.create(input({ permission: 'Admin-RW' })), 'invalid-argument', /Unknown permission level/);
    await rejectsWith(tokens.create(input({ bucketScope: ['nope'] })), 'invalid-argument', /Unknown bucket\(s\) in scope: nope/);
    await rejectsWith(tokens.create(input({ bucketScope: ['b1', 'nope', 'nah'] })), 'invalid-argument', /nope, nah/);
    await rejectsWith(tokens.create(input({ bucketScope: [] })), 'invalid-argument', /at least one bucket/);
    await rejectsWith(tokens.create(input({ name: '  ' })), 'invalid-argument', /needs a name/);
    await rejectsWith(tokens.create(input({ name: 'x'.repeat(101) })), 'invalid-argument', /at most 100/);
    await rejectsWith(tokens.create(input({ projectId: randomUUID() })), 'not-found', /No project/);
    const dup = await tokens.create(input({ bucketScope: ['b1', 'b1'] }));
    assert.deepEqual(dup.token.bucketScope, ['b1']);
    assert.equal((await meta.listTokens(projectId)).length, 1, 'only the valid token was stored');
  });

  test('issued credentials have the documented shapes and differ every time', async () => {
    const a = (await tokens.create(input())).credentials;
    const b = (await tokens.create(input())).credentials;
    assert.match(a.accessKeyId, /^SK[A-Z2-7]{18}$/);
    assert.match(a.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
    assert.match(a.bearerToken, /^skep_v1_[A-Za-z0-9]{12}_[A-Za-z0-9]{32}$/);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
    assert.notEqual(a.secretAccessKey, b.secretAccessKey);
    assert.notEqual(a.bearerToken, b.bearerToken);
  });
});

describe('management', () => {
  test('views hold no secret and report status', async () => {
    const { token, credentials } = await tokens.create(input({ expiresInDays: 10 }));
    assert.equal(token.status, 'active');
    now += 8.5 * DAY;
    assert.equal((await tokens.show(token.id)).status, 'expiring-soon');
    const text = JSON.stringify([await tokens.list(projectId), await tokens.show(token.id)]);
    for (const secret of [credentials.secretAccessKey, credentials.bearerToken]) assert.ok(!text.includes(secret));
  });

  test('"expiring soon" is the last fifth of a lifetime, at least its last day and at most its last week', async () => {
    assert.equal(expiringSoonWindow(DAY), DAY);
    assert.equal(expiringSoonWindow(7 * DAY), (7 * DAY) / 5);
    assert.equal(expiringSoonWindow(90 * DAY), 7 * DAY);
    const statusAfter = async (days: number, elapsed: number) => {
      const { token } = await tokens.create(input({ expiresInDays: days }));
      now += elapsed;
      const status = (await tokens.show(token.id)).status;
      now -= elapsed;
      return status;
    };
    // A 7-day token is not expiring soon when it is made, nor after 5 days; it is in its last 1.4 days.
    assert.equal(await statusAfter(7, 0), 'active');
    assert.equal(await statusAfter(7, 5 * DAY), 'active');
    assert.equal(await statusAfter(7, 5.7 * DAY), 'expiring-soon');
    // A 90-day token turns a week before; a 1-day token is expiring from the start.
    assert.equal(await statusAfter(90, 82 * DAY), 'active');
    assert.equal(await statusAfter(90, 83.5 * DAY), 'expiring-soon');
    assert.equal(await statusAfter(1, 0), 'expiring-soon');
  });

  test('a revoked token stays listed (the audit trail keeps it) and cannot come back', async () => {
    const { token } = await tokens.create(input());
    const revoked = await tokens.revoke(token.id, by);
    assert.equal(revoked.status, 'revoked');
    assert.ok(revoked.revokedAt);
    assert.equal((await tokens.list(projectId))[0].status, 'revoked');
    await rejectsWith(tokens.enable(token.id, by), 'conflict', /revoked/);
    await rejectsWith(tokens.disable(token.id, by), 'conflict', /revoked/);
    await rejectsWith(tokens.rotate(token.id, by), 'conflict', /revoked/);
    // Revoking again changes nothing and writes no second event.
    await tokens.revoke(token.id, by);
    assert.equal((await meta.listAudit({ tokenId: token.id, limit: 10 })).filter((r) => r.action === 'token.revoked').length, 1);
  });

  test('rotation grace is 0 to 30 days; only active tokens rotate; confirming needs a pending rotation', async () => {
    const { token } = await tokens.create(input());
    for (const days of [-1, 31, 1.5]) await rejectsWith(tokens.rotate(token.id, by, days), 'invalid-argument', /0 to 30 days/);
    await rejectsWith(tokens.confirmRotation(token.id, by), 'conflict', /No rotation is pending/);
    await tokens.disable(token.id, by);
    await rejectsWith(tokens.rotate(token.id, by), 'conflict', /disabled/);
  });

  test('a project-bound call cannot reach another project\'s token', async () => {
    const { token } = await tokens.create(input());
    const other = randomUUID();
    await rejectsWith(tokens.show(token.id, other), 'not-found', /No token/);
    await rejectsWith(tokens.revoke(token.id, by, other), 'not-found', /No token/);
    assert.equal((await tokens.show(token.id)).status, 'active');
  });

  test('every change is audited with actor, source and token', async () => {
    const { token } = await tokens.create(input({ createdBy: 'alice' }), '10.0.0.1');
    const src = { actor: 'bob', source: '10.0.0.2' };
    await tokens.disable(token.id, src);
    await tokens.enable(token.id, src);
    await tokens.rotate(token.id, src);
    await tokens.confirmRotation(token.id, src);
    await tokens.revoke(token.id, src);
    const rows = (await meta.listAudit({ tokenId: token.id, limit: 10 })).reverse();
    assert.deepEqual(rows.map((r) => r.action), ['token.created', 'token.disabled', 'token.enabled', 'token.rotated', 'token.rotation-confirmed', 'token.revoked']);
    assert.deepEqual(rows[0], { ...rows[0], actor: 'alice', source: '10.0.0.1', projectId });
    for (const r of rows.slice(1)) assert.deepEqual([r.actor, r.source, r.projectId], ['bob', '10.0.0.2', projectId]);
  });
});

describe('last used', () => {
  test('uses are buffered in memory and written in one batch by flushUses', async () => {
    const { token, credentials } = await tokens.create(input());
    const principal = (await tokens.lookup(credentials.accessKeyId))!.principal;
    tokens.recordUse(principal);
    now += 1000;
    tokens.recordUse(principal);
    assert.equal((await meta.getToken(token.id))!.lastUsedAt, null);
    assert.equal((await tokens.show(token.id)).lastUsedAt, new Date(now).toISOString(), 'views include unflushed uses');
    await tokens.flushUses();
    assert.equal((await meta.getToken(token.id))!.lastUsedAt!.getTime(), now);
    // An older use never moves it back.
    await meta.touchTokens([{ id: token.id, at: new Date(now - 5000) }]);
    assert.equal((await meta.getToken(token.id))!.lastUsedAt!.getTime(), now);
  });
});
