import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ensureConsoleBuilt } from './helpers/console-build.js';

// The web console in a real browser (Debian's Chromium through playwright-core) against a real
// skep server: sign in, create a bucket, upload through the page, issue a bucket-scoped token,
// use its keys with the AWS SDK, revoke it in the console and watch the SDK fail. Every screen
// is saved under test-artifacts/screenshots/.

const CHROMIUM = process.env.SKEP_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
const BUCKET = 'photos';
const OTHER_BUCKET = 'other-bucket';

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or npm run test:setup)`;

let server: TestServer;
let browser: Browser;
let page: Page;
let projectId: string;
const consoleErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  // Toasts from earlier steps close by themselves after 4 s; let them, so they hide nothing.
  await page.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 8000 }).catch(() => undefined);
  // Let transitions (modals) settle before the picture.
  await page.waitForTimeout(400);
  // The header and sidebar are fixed: a full-page picture is taken from the top.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

function s3For(accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
}

async function s3Error(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name;
    throw err;
  }
  return 'no error';
}

before(async () => {
  if (skip) return;
  ensureConsoleBuilt();
  await mkdir(SHOTS, { recursive: true });
  await rm(join(SHOTS, 'failure.png'), { force: true });
  server = await startTestServer();
  projectId = server.bootstrap.projectId;
  // A console user who owns the default project, made through the users service.
  const user = await server.services.users.createUser({ email: EMAIL, password: PASSWORD, createdBy: 'console-e2e' });
  await server.services.users.addMember(projectId, user.id, 'owner');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('console: sign in, buckets, upload, scoped token used by the AWS SDK, revoke', { skip, timeout: 180_000 }, async (ctx) => {
  let accessKeyId = '';
  let secretAccessKey = '';
  let keyboardKey = { accessKeyId: '', secretAccessKey: '' };
  // Each step builds on the one before: after a failure the rest are skipped, not timed out.
  let failed: string | null = null;
  const t = {
    test: (name: string, fn: () => Promise<void>) =>
      ctx.test(name, async (st) => {
        if (failed) return st.skip(`after the failure of "${failed}"`);
        try {
          await fn();
        } catch (err) {
          failed = name;
          await page.evaluate(() => window.scrollTo(0, 0)).catch(() => undefined);
          await page.screenshot({ path: join(SHOTS, 'failure.png'), fullPage: true }).catch(() => undefined);
          throw err;
        }
      }),
  };

  await t.test('a browser at / lands on the sign-in screen; a wrong password is refused', async () => {
    await page.goto(`${server.url}/`);
    assert.match(page.url(), /\/console\/?/);
    await page.getByLabel('Email').waitFor();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Enter the email address of your skep account.').waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('signin-error').waitFor();
    assert.match(await page.getByTestId('signin-error').innerText(), /email or password is not right/);
    await page.getByLabel('Password', { exact: true }).fill('');
    await shot('01-sign-in');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Buckets' }).waitFor();
    assert.match(page.url(), new RegExp(`/console/projects/${projectId}/buckets$`));
  });

  await t.test('the empty project says how to start; bucket names are checked before sending', async () => {
    await page.getByText('No buckets yet').waitFor();
    await shot('02-buckets-empty');
    await page.getByTestId('create-bucket').click();
    const input = page.getByTestId('bucket-name-input');
    for (const [name, message] of [
      ['ab', 'between 3 and 63'],
      ['Photos', 'lower-case letters'],
      ['my..bucket', 'two adjacent periods'],
      ['192.168.1.1', 'IP address'],
      ['console', 'reserved'],
    ] as const) {
      await input.fill(name);
      await input.blur();
      const error = page.getByRole('dialog').locator('.mantine-InputWrapper-error');
      await error.waitFor();
      assert.match(await error.innerText(), new RegExp(message), name);
      assert.equal(await page.getByTestId('create-bucket-submit').isDisabled(), true, name);
    }
    await input.fill(BUCKET);
    await page.getByTestId('create-bucket-submit').click();
    await page.getByTestId(`bucket-row-${BUCKET}`).waitFor();
    await page.getByTestId('create-bucket').click();
    await page.getByTestId('bucket-name-input').fill(OTHER_BUCKET);
    await page.getByTestId('bucket-name-input').press('Enter');
    await page.getByTestId(`bucket-row-${OTHER_BUCKET}`).waitFor();
    // Something in a folder, put there with the bootstrap key, so the browser shows folders.
    await server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'albums/2024/cover.jpg', Body: Buffer.alloc(2048, 1) }));
    await page.reload();
    await page.getByTestId(`bucket-row-${BUCKET}`).waitFor();
    await shot('03-buckets');
  });

  await t.test('upload a file through the page: progress reaches 100% and the object is listed', async () => {
    await page.getByRole('link', { name: BUCKET, exact: true }).click();
    await page.getByTestId('objects-table').waitFor();
    await page.getByRole('link', { name: 'albums/' }).waitFor();
    const body = Buffer.alloc(3 * 1024 * 1024, 'skep console upload ');
    await page.locator('input[type=file]').setInputFiles([
      { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the console\n') },
      { name: 'big.bin', mimeType: 'application/octet-stream', buffer: body },
    ]);
    const row = page.locator('[data-testid=upload-row][data-key="big.bin"]');
    await row.and(page.locator('[data-state=done]')).waitFor();
    assert.equal(await row.getByTestId('upload-progress').getAttribute('data-value'), '100');
    await page.locator('[data-testid=upload-row][data-key="hello.txt"][data-state=done]').waitFor();
    await page.locator('[data-testid=object-row][data-key="hello.txt"]').waitFor();
    await page.locator('[data-testid=object-row][data-key="big.bin"]').waitFor();
    // The bytes arrived intact.
    const got = await server.client().send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }));
    assert.equal(await got.Body!.transformToString(), 'hello from the console\n');
    assert.equal(got.ContentType, 'text/plain');
    await shot('04-bucket-browser');

    // Folders: into albums/2024/ and back up by the breadcrumbs.
    await page.getByRole('link', { name: 'albums/' }).click();
    await page.getByRole('link', { name: '2024/' }).click();
    await page.locator('[data-testid=object-row][data-key="albums/2024/cover.jpg"]').waitFor();
    await page.getByTestId('breadcrumbs').getByRole('link', { name: 'albums' }).click();
    await page.getByRole('link', { name: '2024/' }).waitFor();

    // Download goes through the API with the session cookie.
    await page.getByTestId('breadcrumbs').getByRole('link', { name: BUCKET }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download hello.txt' }).click()]);
    assert.equal(download.suggestedFilename(), 'hello.txt');

    // Delete asks first.
    await page.getByRole('button', { name: 'Delete big.bin' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete object' }).click();
    await page.locator('[data-testid=object-row][data-key="big.bin"]').waitFor({ state: 'detached' });
  });

  await t.test('long listings page with "Load more"; a bucket with objects is deleted only with them', async () => {
    const root = server.client();
    await root.send(new CreateBucketCommand({ Bucket: 'scratch-bucket' }));
    for (let i = 0; i < 105; i += 15) {
      const keys = Array.from({ length: Math.min(15, 105 - i) }, (_, j) => `logs/${String(i + j).padStart(3, '0')}.log`);
      await Promise.all(keys.map((Key) => root.send(new PutObjectCommand({ Bucket: 'scratch-bucket', Key, Body: 'x' }))));
    }
    await page.goto(`${server.url}/console/projects/${projectId}/buckets/scratch-bucket?prefix=logs%2F`);
    await page.getByTestId('load-more').waitFor();
    assert.equal(await page.getByTestId('object-row').count(), 100);
    await page.getByTestId('load-more').click();
    await page.locator('[data-testid=object-row][data-key="logs/104.log"]').waitFor();
    assert.equal(await page.getByTestId('object-row').count(), 105);
    assert.equal(await page.getByTestId('load-more').count(), 0);

    await page.getByTestId('breadcrumbs').getByRole('link', { name: 'Buckets' }).click();
    await page.getByRole('button', { name: 'Delete bucket scratch-bucket' }).click();
    const dialog = page.getByTestId('delete-bucket-modal');
    await dialog.getByText('This bucket holds 105 objects').waitFor();
    assert.equal(await dialog.getByRole('button', { name: 'Delete bucket' }).isDisabled(), true);
    await dialog.getByLabel('Delete all objects too').check();
    await dialog.getByRole('button', { name: 'Delete bucket' }).click();
    await page.getByTestId('bucket-row-scratch-bucket').waitFor({ state: 'detached' });
  });

  await t.test('create an Object Read & Write token scoped to the bucket; the secret is shown once', async () => {
    await page.getByRole('link', { name: 'API Tokens' }).click();
    await page.getByRole('heading', { name: 'API Tokens' }).waitFor();
    await page.getByTestId('create-token').first().click();
    await page.getByRole('heading', { name: 'Create API token' }).waitFor();
    // Submitting empty says what is missing.
    await page.getByTestId('create-token-submit').click();
    await page.getByText('Give the token a name').waitFor();
    await page.getByTestId('token-name').fill('photo-uploader');
    await page.getByTestId('token-description').fill('Used by the photo sync job');
    await page.getByTestId('permission-object-rw').click();
    await page.getByTestId('scope-specific').check();
    await page.getByTestId('scope-buckets').click();
    await page.getByRole('option', { name: BUCKET, exact: true }).click();
    await page.keyboard.press('Escape');
    await page.getByText('Expires on').waitFor();
    await shot('05-token-create');
    await page.getByTestId('create-token-submit').click();

    await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
    accessKeyId = await page.getByTestId('cred-access-key-id').inputValue();
    secretAccessKey = await page.getByTestId('cred-secret-access-key').inputValue();
    const bearer = await page.getByTestId('cred-bearer-token').inputValue();
    const endpoint = await page.getByTestId('cred-endpoint').inputValue();
    assert.match(accessKeyId, /^[A-Z0-9]{16,128}$/);
    assert.ok(secretAccessKey.length >= 32);
    assert.match(bearer, /^skep_/);
    assert.equal(endpoint, server.url);
    assert.match(await page.getByTestId('secret-warning').innerText(), /only this once/);
    assert.ok((await page.getByTestId('snippet-awsCli').innerText()).includes(`aws_secret_access_key = ${secretAccessKey}`));
    await page.getByRole('tab', { name: 'rclone' }).click();
    assert.ok((await page.getByTestId('snippet-rclone').innerText()).includes(`access_key_id = ${accessKeyId}`));
    await page.getByRole('tab', { name: 'AWS CLI' }).click();
    await shot('06-credentials-created');
  });

  await t.test('the token works with the AWS SDK in its bucket only', async () => {
    const s3 = s3For(accessKeyId, secretAccessKey);
    try {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'from-sdk.txt', Body: 'scoped write' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-sdk.txt' }));
      assert.equal(await got.Body!.transformToString(), 'scoped write');
      assert.equal(await s3Error(s3.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'x.txt', Body: 'no' }))), 'AccessDenied');
      assert.equal(await s3Error(s3.send(new GetObjectCommand({ Bucket: OTHER_BUCKET, Key: 'x.txt' }))), 'AccessDenied');
      assert.equal(await s3Error(s3.send(new CreateBucketCommand({ Bucket: 'not-allowed' }))), 'AccessDenied');
    } finally {
      s3.destroy();
    }
  });

  await t.test('the tokens list shows it; revoking (after confirming) stops the SDK at once', async () => {
    await page.getByTestId('credentials-done').click();
    const row = page.locator('[data-testid=token-row][data-token-name="photo-uploader"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'active');
    assert.match(await row.innerText(), /Object Read & Write/);
    assert.match(await row.innerText(), new RegExp(BUCKET));
    await shot('07-tokens-list');

    await row.getByTestId('token-actions').click();
    await page.getByTestId('token-revoke').click();
    const modal = page.getByTestId('revoke-modal');
    await modal.getByRole('button', { name: 'Revoke token' }).waitFor();
    await shot('09-revoke-confirm');
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await page.locator('[data-testid=token-row][data-token-name="photo-uploader"][data-status=revoked]').waitFor();

    const s3 = s3For(accessKeyId, secretAccessKey);
    try {
      assert.equal(await s3Error(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'from-sdk.txt' }))), 'InvalidAccessKeyId');
    } finally {
      s3.destroy();
    }
  });

  await t.test('the create-token form works from the keyboard alone', async () => {
    await page.getByTestId('create-token').first().focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Create API token' }).waitFor();
    // The name field has focus on arrival.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'token-name');
    await page.keyboard.type('keyboard-only');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'token-description');
    // Tab reaches the permission choices; arrow keys move between them.
    await page.keyboard.press('Tab');
    const focusedPermission = () => page.evaluate(() => document.activeElement?.closest('[data-testid^=permission-]')?.getAttribute('data-testid') ?? document.activeElement?.getAttribute('data-testid'));
    assert.equal(await focusedPermission(), 'permission-object-rw');
    await page.keyboard.press('ArrowDown');
    assert.equal(await focusedPermission(), 'permission-object-ro');
    assert.equal(await page.getByTestId('permission-object-ro').getAttribute('aria-checked'), 'true');
    // On through the scope, expiry and billing controls to the Create button, by Tab alone.
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return el?.getAttribute('data-testid') ?? el?.textContent?.trim() ?? '';
      });
      seen.add(id);
      if (id === 'create-token-submit') break;
    }
    for (const id of ['scope-all', 'token-expiry-days', 'token-billing', 'create-token-submit']) assert.ok(seen.has(id), `Tab reaches ${id} (saw ${[...seen].join(', ')})`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
    assert.match(await page.getByRole('heading', { name: 'Credentials created' }).locator('..').locator('..').innerText(), /Object Read only/);
    keyboardKey = {
      accessKeyId: await page.getByTestId('cred-access-key-id').inputValue(),
      secretAccessKey: await page.getByTestId('cred-secret-access-key').inputValue(),
    };
  });

  await t.test('rotate a token (new secret shown once), confirm the rotation, disable and enable it', async () => {
    await page.getByTestId('credentials-done').click();
    const row = page.locator('[data-testid=token-row][data-token-name="keyboard-only"]');
    await row.getByTestId('token-actions').click();
    await page.getByRole('menuitem', { name: 'Rotate secret…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'New credentials for "keyboard-only"' });
    await dialog.getByTestId('cred-secret-access-key').waitFor();
    assert.equal(await dialog.getByTestId('cred-access-key-id').inputValue(), keyboardKey.accessKeyId);
    const rotated = await dialog.getByTestId('cred-secret-access-key').inputValue();
    assert.notEqual(rotated, keyboardKey.secretAccessKey);
    await dialog.getByRole('button', { name: 'I have saved the secret' }).click();
    await row.getByText('Rotation pending').waitFor();

    // During the grace period both secrets work; confirming ends the old one.
    const oldS3 = s3For(keyboardKey.accessKeyId, keyboardKey.secretAccessKey);
    const newS3 = s3For(keyboardKey.accessKeyId, rotated);
    try {
      await oldS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }));
      await row.getByRole('button', { name: 'Confirm rotation of keyboard-only' }).click();
      await row.getByText('Rotation pending').waitFor({ state: 'detached' });
      assert.equal(await s3Error(oldS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }))), 'SignatureDoesNotMatch');
      await newS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }));

      await row.getByTestId('token-actions').click();
      await page.getByRole('menuitem', { name: 'Disable…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Disable token' }).click();
      await page.locator('[data-testid=token-row][data-token-name="keyboard-only"][data-status=disabled]').waitFor();
      assert.equal(await s3Error(newS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }))), 'InvalidAccessKeyId');
      await row.getByTestId('token-actions').click();
      await page.getByRole('menuitem', { name: 'Enable' }).click();
      await page.locator('[data-testid=token-row][data-token-name="keyboard-only"][data-status=active]').waitFor();
      await newS3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'hello.txt' }));
    } finally {
      oldS3.destroy();
      newS3.destroy();
    }
  });

  await t.test('usage shows what is stored and the traffic so far', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.getByTestId('usage-bytes').waitFor();
    assert.notEqual(await page.getByTestId('usage-objects').innerText(), '0');
    await page.getByTestId('usage-buckets').getByText(BUCKET, { exact: true }).waitFor();
    await shot('08-usage');
  });

  await t.test('the project switcher creates a project and moves between projects', async () => {
    await page.getByTestId('project-switcher').click();
    await page.getByRole('menuitem', { name: 'New project…' }).click();
    await page.getByLabel('Project name').fill('staging');
    await page.getByRole('dialog').getByRole('button', { name: 'Create project' }).click();
    await page.getByText('No buckets yet').waitFor();
    assert.match(await page.getByTestId('project-switcher').innerText(), /staging/);
    assert.doesNotMatch(page.url(), new RegExp(projectId));
    await page.getByTestId('project-switcher').click();
    await page.getByRole('menuitem', { name: 'default' }).click();
    await page.getByTestId(`bucket-row-${BUCKET}`).waitFor();
    assert.match(page.url(), new RegExp(`/console/projects/${projectId}/buckets$`));
  });

  await t.test('on a phone-sized screen the sidebar folds behind a menu button', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await page.getByRole('link', { name: 'Buckets' }).click();
      await page.getByTestId(`bucket-row-${BUCKET}`).waitFor();
      // The sidebar slid away and is out of the tab order.
      await page.waitForFunction(() => {
        const nav = document.querySelector('nav[aria-label=Main]');
        return !!nav && nav.hasAttribute('inert') && nav.getBoundingClientRect().right <= 0;
      });
      await shot('10-mobile-buckets');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  await t.test('signing out returns to the sign-in screen', async () => {
    await page.getByTestId('user-menu').click();
    await page.getByTestId('sign-out').click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.goto(`${server.url}/console/projects/${projectId}/tokens`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  assert.deepEqual(
    consoleErrors.filter((e) => !/status of 40[13]/.test(e)),
    [],
    'no errors in the browser console',
  );
});
