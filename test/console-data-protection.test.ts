import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchConsoleBrowser, missingChromium, screenshot, sessionSteps, signInToConsole, skipWithoutChromium, type ConsoleBrowser } from './helpers/console-browser.js';
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  ListObjectVersionsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ensureConsoleBuilt } from './helpers/console-build.js';
import { waitFor } from './helpers/tokens.js';

// The console's bucket settings page and object versions view in a real browser (Debian's
// Chromium): an owner enables versioning, adds a lifecycle rule, turns on default encryption
// and Object Lock, reads CORS rules; then browses an object's versions and deletes one. A member
// (object-rw) is told settings are for owners. Screens go to test-artifacts/screenshots/.

const OWNER = { email: 'owner@example.com', password: 'owner password long enough' };
const MEMBER = { email: 'member@example.com', password: 'member password long enough' };
const BUCKET = 'archive';

let server: TestServer;
let b: ConsoleBrowser;
let page: Page;
let projectId: string;

const shot = (name: string) => screenshot(page, name);

const signIn = (who: { email: string; password: string }) => signInToConsole(page, server.url, who);

before(async () => {
  if (missingChromium) return;
  ensureConsoleBuilt();
  server = await startTestServer();
  projectId = server.bootstrap.projectId;
  for (const [who, role] of [[OWNER, 'owner'], [MEMBER, 'member']] as const) {
    const user = await server.services.users.createUser({ email: who.email, password: who.password, createdBy: 'console-data-protection' });
    await server.services.users.addMember(projectId, user.id, role);
  }
  const s3 = server.client();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['GET'] }] } }));
  b = await launchConsoleBrowser(server.url);
  page = b.page;
});

after(async () => {
  await b?.browser.close();
  await server?.stop();
});

test('console: bucket settings and object versions', { skip: skipWithoutChromium, timeout: 240_000 }, async (ctx) => {
  if (missingChromium) throw new Error(`${missingChromium} — required in CI`);
  const s3 = server.client();
  const step = sessionSteps(ctx, page, 'failure-data-protection');
  await step('an owner opens the settings from the bucket and enables versioning', async () => {
    await signIn(OWNER);
    await page.getByRole('link', { name: BUCKET, exact: true }).click();
    await page.getByTestId('bucket-settings-link').click();
    await page.getByTestId('bucket-settings').waitFor();
    assert.match(page.url(), new RegExp(`/console/projects/${projectId}/buckets/${BUCKET}/settings$`));
    assert.equal(await page.getByTestId('versioning-status').textContent(), 'Never enabled');
    assert.match(await page.getByTestId('cors-section').innerText(), /https:\/\/app\.example\.com/);
    await shot('40-bucket-settings-default');
    await page.getByTestId('enable-versioning').click();
    await waitFor('versioning enabled', async () => (await page.getByTestId('versioning-status').textContent()) === 'Enabled');
    assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: BUCKET }))).Status, 'Enabled');
  });

  await step('adds a lifecycle rule, turns on default encryption and Object Lock with a default retention', async () => {
    await page.getByTestId('add-rule').click();
    await page.getByTestId('rule-id').fill('expire-logs');
    await page.getByTestId('rule-prefix').fill('logs/');
    await page.getByTestId('rule-expire').fill('30');
    await page.getByTestId('rule-noncurrent').fill('7');
    await page.getByTestId('save-rule').click();
    await page.getByTestId('lifecycle-rule').waitFor();
    const rules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))).Rules;
    assert.deepEqual(rules?.map((r) => [r.ID, r.Filter?.Prefix, r.Expiration?.Days, r.NoncurrentVersionExpiration?.NoncurrentDays]), [['expire-logs', 'logs/', 30, 7]]);

    await page.getByTestId('encryption-switch').click({ force: true });
    await waitFor('default encryption', async () => (await s3.send(new GetBucketEncryptionCommand({ Bucket: BUCKET })).catch(() => null)) !== null);

    await page.getByTestId('enable-object-lock').click();
    await page.getByTestId('retention-days').waitFor();
    await page.getByTestId('retention-days').fill('14');
    await page.getByTestId('save-retention').click();
    await waitFor('the default retention', async () => /GOVERNANCE mode for 14 days/.test(await page.getByTestId('default-retention').innerText()));
    assert.equal(await page.getByTestId('suspend-versioning').isDisabled(), true, 'Object Lock keeps versioning on');
    await shot('41-bucket-settings-configured');
  });

  await step('the versions of an object: listed newest first, one deleted for good', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'report.txt', Body: 'draft one', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) }));
    // Only that first version is locked: the default retention is taken away before the next ones.
    await server.services.protection.setObjectLock(await server.objects.requireBucket(projectId, BUCKET), { enabled: true, defaultRetention: null }, { actor: 'cli:test' });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'report.txt', Body: 'draft two, longer' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'report.txt', Body: 'final' }));
    await page.getByRole('link', { name: BUCKET, exact: true }).click();
    await page.getByRole('button', { name: 'Versions of report.txt' }).click();
    await page.getByTestId('versions-table').waitFor();
    const rows = page.getByTestId('version-row');
    await waitFor('three versions', async () => (await rows.count()) === 3);
    assert.equal(await rows.first().getAttribute('data-latest'), 'true');
    await shot('42-object-versions');
    // The middle version goes; the locked oldest one cannot.
    await rows.nth(1).getByRole('button', { name: /Delete version/ }).click();
    await page.getByTestId('delete-version-modal').getByRole('button', { name: 'Delete version' }).click();
    await waitFor('two versions left', async () => (await page.getByTestId('version-row').count()) === 2);
    await page.getByTestId('version-row').nth(1).getByRole('button', { name: /Delete version/ }).click();
    await page.getByTestId('delete-version-modal').getByRole('button', { name: 'Delete version' }).click();
    await page.getByTestId('delete-version-modal').getByText(/Object Lock: this object version is under GOVERNANCE retention/).waitFor();
    await shot('43-locked-version-refused');
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET }));
    assert.equal(versions.Versions?.length, 2);
  });

  await step('usage counts the old version that is left, and says so', async () => {
    await page.keyboard.press('Escape');
    await page.getByTestId('delete-version-modal').waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.getByTestId('usage-buckets').waitFor();
    assert.match(await page.getByTestId('usage-old-versions').innerText(), /incl\. 1 old version \(9 B\)/);
    await shot('45-usage-old-versions');
  });

  await step('a member sees that settings are for owners', async () => {
    await page.context().clearCookies();
    await signIn(MEMBER);
    await page.goto(`${server.url}/console/projects/${projectId}/buckets/${BUCKET}/settings`);
    await page.getByTestId('settings-forbidden').waitFor();
    await shot('44-bucket-settings-member');
  });
  assert.deepEqual(b.errors.filter((e) => !/status of (401|403|409)/.test(e)), []);
});
