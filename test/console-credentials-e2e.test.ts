import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { outcome } from './helpers/tokens.js';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ensureConsoleBuilt } from './helpers/console-build.js';
import { launchConsoleBrowser, missingChromium, screenshot, sessionSteps, signInToConsole, skipWithoutChromium, type ConsoleBrowser } from './helpers/console-browser.js';

// The console for the credential features, in Chromium against a real server: a token with a
// key prefix, allowed networks and a rate limit (bad input named on its field); temporary
// credentials issued from a token, shown once with snippets and used by the AWS SDK, then
// revoked; the project's and a bucket's storage quotas; usage per token. Screens are saved
// under test-artifacts/screenshots/ (30-*).

const EMAIL = 'grace@example.com';
const PASSWORD = 'correct horse battery staple';
const BUCKET = 'media';

let server: TestServer;
let b: ConsoleBrowser;
let page: Page;

function s3(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): S3Client {
  return new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

/** The S3 error a call ends with, or 'no error'. */
async function s3Error(p: Promise<unknown>): Promise<string> {
  const o = await outcome(p);
  return o.ok ? 'no error' : o.code;
}

before(async () => {
  if (missingChromium) return;
  ensureConsoleBuilt();
  server = await startTestServer();
  const user = await server.services.users.createUser({ email: EMAIL, password: PASSWORD, createdBy: 'console-e2e' });
  await server.services.users.addMember(server.bootstrap.projectId, user.id, 'owner');
  const root = server.client();
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/logo.png', Body: 'logo' }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'private/plan.txt', Body: 'plan' }));
  b = await launchConsoleBrowser(server.url);
  page = b.page;
});

after(async () => {
  await b?.browser.close();
  await server?.stop();
});

test('console: prefix, networks and rate limit on a token; temporary credentials; quotas; usage per token', { skip: skipWithoutChromium, timeout: 300_000 }, async (ctx) => {
  if (missingChromium) throw new Error(`${missingChromium} — required in CI`);
  const p = server.bootstrap.projectId;
  let token = { accessKeyId: '', secretAccessKey: '' };
  const step = sessionSteps(ctx, page, 'failure-credentials');

  await step('sign in', async () => {
    await signInToConsole(page, server.url, { email: EMAIL, password: PASSWORD });
  });

  await step('a token limited to a prefix, a network and a rate: bad input is named on its field, then the token works only there', async () => {
    await page.goto(`${server.url}/console/projects/${p}/tokens/new`);
    await page.getByTestId('token-name').fill('web-uploads');
    await page.getByTestId('permission-object-rw').click();
    await page.getByTestId('scope-specific').check();
    const prefixes = page.getByTestId('scope-prefixes');
    await prefixes.fill(`${BUCKET}/`);
    await prefixes.press('Enter');
    await page.getByTestId('token-networks').fill('10.0.0.0/33x');
    await page.getByTestId('token-networks').press('Enter');
    await page.getByTestId('create-token-submit').click();
    await page.getByText(`"${BUCKET}/" has an empty prefix`).waitFor();
    await page.getByText('"10.0.0.0/33x" is not an IPv4 or IPv6 address').waitFor();
    // Backspace in an empty tag field takes its last entry back.
    await page.getByTestId('scope-prefixes').press('Backspace');
    await page.getByTestId('token-networks').press('Backspace');
    await page.getByTestId('scope-prefixes').fill(`${BUCKET}/public/`);
    await page.getByTestId('scope-prefixes').press('Enter');
    await page.getByTestId('token-networks').fill('127.0.0.0/8');
    await page.getByTestId('token-networks').press('Enter');
    await page.getByTestId('token-rate-limit').fill('600');
    await screenshot(page, '30-token-prefix-network-rate');
    await page.getByTestId('create-token-submit').click();
    await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
    token = { accessKeyId: await page.getByTestId('cred-access-key-id').inputValue(), secretAccessKey: await page.getByTestId('cred-secret-access-key').inputValue() };
    const client = s3(token);
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/logo.png' }));
    assert.equal(await got.Body!.transformToString(), 'logo');
    assert.equal(await s3Error(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'private/plan.txt' }))), 'AccessDenied');
    const view = (await server.tokens.list(p)).find((t) => t.name === 'web-uploads')!;
    assert.deepEqual([view.bucketScope, view.allowedNetworks, view.rateLimit], [[`${BUCKET}/public/`], ['127.0.0.0/8'], 600]);
    await page.getByTestId('credentials-done').click();
    const row = page.locator('[data-testid=token-row][data-token-name="web-uploads"]');
    await row.getByTestId('token-rate').waitFor();
    assert.match(await row.getByTestId('token-networks').innerText(), /127\.0\.0\.0\/8/);
  });

  await step('temporary credentials from the token: shown once with snippets, used by the SDK, then revoked', async () => {
    const row = page.locator('[data-testid=token-row][data-token-name="web-uploads"]');
    await row.getByTestId('token-actions').click();
    await page.getByTestId('token-temporary').click();
    await page.getByTestId('temporary-name').fill('browser-upload');
    await page.getByTestId('temporary-duration').click();
    await page.getByRole('option', { name: '15 minutes' }).click();
    await page.getByTestId('temporary-issue').click();
    await page.getByTestId('temporary-credentials').waitFor();
    const creds = {
      accessKeyId: await page.getByTestId('temp-access-key-id').inputValue(),
      secretAccessKey: await page.getByTestId('temp-secret-access-key').inputValue(),
      sessionToken: await page.getByTestId('temp-session-token').inputValue(),
    };
    assert.match(creds.accessKeyId, /^ST/);
    assert.ok((await page.getByTestId('snippet-awsCli').innerText()).includes(`aws_session_token = ${creds.sessionToken}`));
    await screenshot(page, '31-temporary-credentials');
    const client = s3(creds);
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/logo.png' }));
    assert.equal(await got.Body!.transformToString(), 'logo');
    assert.equal(await s3Error(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'private/plan.txt' }))), 'AccessDenied', 'within the token\'s prefix');
    await page.getByTestId('temporary-done').click();
    const listed = page.locator('[data-testid=temporary-row][data-status=active]');
    await listed.waitFor();
    await screenshot(page, '32-temporary-list');
    await listed.getByTestId('temporary-revoke').click();
    await page.locator('[data-testid=temporary-row][data-status=revoked]').waitFor();
    assert.equal(await s3Error(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/logo.png' }))), 'InvalidAccessKeyId');
    await page.keyboard.press('Escape');
  });

  await step("the project's and a bucket's storage quotas", async () => {
    await page.goto(`${server.url}/console/projects/${p}/settings`);
    const form = page.getByTestId('project-quota');
    await form.getByTestId('project-quota-used').waitFor();
    await form.getByTestId('project-quota-objects').fill('3');
    await form.getByTestId('project-quota-save').click();
    await page.getByText('Quota saved.').waitFor();
    const root = server.client();
    await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'third', Body: '3' }));
    assert.equal(await s3Error(root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'fourth', Body: '4' }))), 'QuotaExceeded');
    await page.reload();
    await form.getByTestId('project-quota-used').waitFor();
    assert.match(await form.getByTestId('project-quota-used').innerText(), /in 3 objects/);
    await screenshot(page, '33-project-quota');
    await form.getByTestId('project-quota-objects').fill('');
    await form.getByTestId('project-quota-save').click();
    await page.getByText('Quota removed.').waitFor();

    await page.goto(`${server.url}/console/projects/${p}/buckets`);
    await page.getByTestId(`bucket-quota-${BUCKET}`).click();
    const bucketForm = page.getByTestId('bucket-quota');
    await bucketForm.getByTestId('bucket-quota-used').waitFor();
    // 0.001 GiB: about 1 MiB.
    await bucketForm.getByTestId('bucket-quota-bytes').fill('0.001');
    await bucketForm.getByTestId('bucket-quota-save').click();
    await page.getByText('Quota saved.').waitFor();
    assert.equal(await s3Error(root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big', Body: Buffer.alloc(2 * 1024 * 1024) }))), 'QuotaExceeded');
    await screenshot(page, '34-bucket-quota');
    await page.keyboard.press('Escape');
  });

  await step('usage per token', async () => {
    await server.services.usage.flush();
    await page.goto(`${server.url}/console/projects/${p}/usage`);
    const row = page.locator('[data-testid=usage-token-row][data-token-name="web-uploads"]');
    await row.waitFor();
    await screenshot(page, '35-usage-by-token');
    assert.deepEqual(b.errors.filter((e) => !/Failed to load resource/.test(e)), []);
  });
});
