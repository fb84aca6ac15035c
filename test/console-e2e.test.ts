import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ensureConsoleBuilt } from './helpers/console-build.js';
import { IN_CI } from './helpers/clients.js';
import { formatBytes, formatCount } from '../console/src/format.js';
import { MAX_SIGN_IN_FAILURES, SIGN_IN_WINDOW_MS } from '../src/users/user-service.js';
import { sessionSteps } from './helpers/console-browser.js';

// The web console in a real browser (Debian's Chromium through playwright-core) against a real
// skep server: sign in, create a bucket, upload through the page, issue a bucket-scoped token,
// use its keys with the AWS SDK, revoke it in the console and watch the SDK fail; token expiry
// and last use, usage charts per bucket. Every screen is saved under test-artifacts/screenshots/.
// Without Chromium the test is skipped locally and fails in CI (CI=true).

const CHROMIUM = process.env.SKEP_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');
const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';
const BUCKET = 'photos';
const OTHER_BUCKET = 'other-bucket';

const missing = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or npm run test:setup)`;
const skip = missing && !IN_CI ? missing : false;
const DAY_MS = 86_400_000;

let server: TestServer;
let browser: Browser;
let page: Page;
let projectId: string;
/** The console user's password (the settings step changes it). */
let password = PASSWORD;
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

/** The toast on screen covers none of these (what one reads or clicks next). */
async function toastCoversNone(what: string, testIds: string[]): Promise<void> {
  await page.locator('.mantine-Notification-root').first().waitFor();
  const covered = await page.evaluate((ids) => {
    const toast = document.querySelector('.mantine-Notification-root')!.getBoundingClientRect();
    return ids.filter((id) => {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (!el) return false;
      const r = el.getBoundingClientRect();
      return r.left < toast.right && r.right > toast.left && r.top < toast.bottom && r.bottom > toast.top;
    });
  }, testIds);
  assert.deepEqual(covered, [], `${what}: the toast covers ${covered.join(', ')}`);
}

/** Nothing on the page is wider than the screen (no sideways scrolling on a phone). */
async function fitsWidth(what: string): Promise<void> {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `${what}: ${scroll}px wide in a ${width}px window`);
}

/** The element is on screen, not cut off at either side. */
async function withinScreen(locator: ReturnType<Page['locator']>, what: string): Promise<void> {
  const box = await locator.boundingBox();
  const width = page.viewportSize()!.width;
  assert.ok(box && box.x >= 0 && box.x + box.width <= width, `${what}: ${JSON.stringify(box)} in ${width}px`);
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
  if (missing) return;
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
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
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

test('console: sign in, buckets, upload, scoped token used by the AWS SDK, revoke', { skip, timeout: 300_000 }, async (ctx) => {
  if (missing) throw new Error(`${missing} — required in CI`);
  let accessKeyId = '';
  let secretAccessKey = '';
  let keyboardKey = { accessKeyId: '', secretAccessKey: '' };
  // Each step builds on the one before: after a failure the rest are skipped, not timed out.
  const t = { test: sessionSteps(ctx, page, 'failure') };

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
    // Past the sign-in limit, the page says how long the server asks to wait (Retry-After, minutes here).
    const locked = 'locked-out@example.com';
    for (let i = 0; i < MAX_SIGN_IN_FAILURES; i++) {
      await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: locked, password: 'wrong' }) });
    }
    await page.getByLabel('Email').fill(locked);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Too many sign-in attempts. Try again in ${SIGN_IN_WINDOW_MS / 60_000} minutes.`).waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill('');
    await shot('01-sign-in');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Buckets' }).waitFor();
    assert.match(page.url(), new RegExp(`/console/projects/${projectId}/buckets$`));
    assert.equal(await page.title(), 'Buckets · default · skep');
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
    await toastCoversNone('after creating a bucket', ['create-bucket', `bucket-row-${BUCKET}`, `bucket-row-${OTHER_BUCKET}`, 'user-menu', 'project-switcher']);
    // Something in a folder, put there with the bootstrap key, so the browser shows folders.
    await server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'albums/2024/cover.jpg', Body: Buffer.alloc(2048, 1) }));
    await page.reload();
    await page.getByTestId(`bucket-row-${BUCKET}`).waitFor();
    await shot('03-buckets');
  });

  await t.test('upload a file through the page: progress reaches 100% and the object is listed', async () => {
    await page.getByRole('link', { name: BUCKET, exact: true }).click();
    await page.getByTestId('objects-table').waitFor();
    assert.equal(await page.title(), `${BUCKET} · default · skep`);
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

    // Share: a presigned link with the chosen expiry, which anyone can open.
    await page.getByRole('button', { name: 'Share hello.txt' }).click();
    const share = page.getByRole('dialog', { name: 'Share a link' });
    await share.getByText('1 hour').click();
    await share.getByTestId('share-create').click();
    const link = await share.getByTestId('share-url').inputValue();
    assert.match(link, /X-Amz-Expires=3600/);
    assert.equal(await (await fetch(link)).text(), 'hello from the console\n');
    assert.match(await share.getByTestId('share-expires-at').innerText(), /^Works until /);
    await shot('20-share-link');
    await share.getByRole('button', { name: 'Done' }).click();

    // New folder: an empty folder to upload into, that stays listed.
    await page.getByTestId('new-folder').click();
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByText('Give the folder a name.').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'folder-name', 'focus on the field to fix');
    await page.getByTestId('folder-name').fill('reports');
    await page.getByTestId('folder-create').click();
    await page.getByText('This folder is empty').waitFor();
    assert.match(page.url(), /prefix=reports%2F$/);
    await page.getByTestId('breadcrumbs').getByRole('link', { name: BUCKET }).click();
    await page.getByRole('link', { name: 'reports/' }).waitFor();

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
    assert.equal(await dialog.getByRole('button', { name: 'Delete bucket' }).isDisabled(), false);
    await shot('11-delete-bucket-confirm');
    await dialog.getByRole('button', { name: 'Delete bucket' }).click();
    await page.getByTestId('bucket-row-scratch-bucket').waitFor({ state: 'detached' });
  });

  await t.test('create an Object Read & Write token scoped to the bucket; the secret is shown once', async () => {
    await page.getByRole('link', { name: 'API Tokens' }).click();
    await page.getByRole('heading', { name: 'API Tokens' }).waitFor();
    await page.getByTestId('create-token').first().click();
    await page.getByRole('heading', { name: 'Create API token' }).waitFor();
    // A new token lasts 90 days unless told otherwise.
    assert.equal(await page.getByTestId('token-expiry-days').inputValue(), '90');
    assert.equal(await page.getByRole('group', { name: 'Expiry presets' }).getByLabel('90 days').isChecked(), true);
    // Submitting empty says what is missing, and focus moves to that field.
    await page.getByTestId('create-token-submit').click();
    await page.getByText('Give the token a name').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'token-name');
    assert.equal(await page.title(), 'Create API token · default · skep');
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
    // Nothing pops up over the secret: the page itself says the token was made.
    await page.waitForTimeout(300);
    assert.equal(await page.locator('.mantine-Notification-root').count(), 0);
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
    const boto3 = await (await page.getByRole('tab', { name: 'boto3 (Python)' }).click(), page.getByTestId('snippet-boto3').innerText());
    assert.ok(boto3.includes(`aws_access_key_id="${accessKeyId}"`), boto3);
    assert.ok(boto3.includes(`endpoint_url="${server.url}"`), boto3);
    const jsSdk = await (await page.getByRole('tab', { name: 'JavaScript SDK' }).click(), page.getByTestId('snippet-jsSdk').innerText());
    assert.ok(jsSdk.includes(`accessKeyId: '${accessKeyId}'`), jsSdk);
    assert.ok(jsSdk.includes(`endpoint: '${server.url}'`), jsSdk);
    await page.getByRole('tab', { name: 'AWS CLI' }).click();
    // Copy puts the value on the clipboard and says so.
    await page.getByTestId('cred-access-key-id-copy').click();
    await page.getByText('Copied', { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), accessKeyId);
    await page.mouse.move(0, 0);
    await page.getByText('Copied', { exact: true }).waitFor({ state: 'detached' });
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
    // Last use is written in batches; write this one now.
    await server.tokens.flushUses();
  });

  await t.test('the tokens list shows it, last used just now; revoking (after confirming) stops the SDK at once', async () => {
    await page.getByTestId('credentials-done').click();
    const row = page.locator('[data-testid=token-row][data-token-name="photo-uploader"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'active');
    assert.equal(await row.getByTestId('token-status').textContent(), 'Active');
    assert.equal(await row.getByTestId('token-last-used').innerText(), 'just now');
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

  await t.test('on a 390 px phone the token list and the shown-once page fit the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(`${server.url}/console/projects/${projectId}/tokens`);
      const row = page.locator('[data-testid=token-row][data-token-name="photo-uploader"]');
      await row.waitFor();
      await fitsWidth('token list');
      await page.getByTestId('tokens-cards').waitFor();
      await withinScreen(page.getByTestId('create-token').first(), 'Create Token');
      const bootstrapRow = page.locator('[data-testid=token-row][data-token-name="bootstrap"]');
      await withinScreen(bootstrapRow.getByTestId('token-actions'), 'the actions of a token');
      await shot('18-mobile-tokens');
      await page.getByTestId('create-token').first().click();
      await page.getByTestId('token-name').fill('phone-token');
      await fitsWidth('create token');
      await page.getByTestId('create-token-submit').click();
      await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
      await fitsWidth('shown-once page');
      for (const id of ['cred-access-key-id', 'cred-secret-access-key', 'cred-bearer-token', 'cred-secret-access-key-copy', 'credentials-done']) {
        await withinScreen(page.getByTestId(id), id);
      }
      await shot('19-mobile-credentials');
      await page.getByTestId('credentials-done').click();
      await row.waitFor();
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
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
    // Not used yet.
    assert.equal(await row.getByTestId('token-last-used').innerText(), 'Never');
    await row.getByTestId('token-actions').click();
    await page.getByRole('menuitem', { name: 'Rotate secret…' }).click();
    await page.getByRole('dialog').getByLabel('Grace period (days)').waitFor();
    assert.equal(await page.getByRole('dialog').getByLabel('Grace period (days)').inputValue(), '7');
    await shot('12-rotate-confirm');
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'New credentials for "keyboard-only"' });
    await dialog.getByTestId('cred-secret-access-key').waitFor();
    await shot('13-rotated-credentials');
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

  await t.test('a token that expires within the week says so', async () => {
    await page.getByTestId('create-token').first().click();
    await page.getByTestId('token-name').fill('short-lived');
    await page.getByTestId('token-expiry-days').fill('1');
    await page.getByText(`Expires on ${new Date(Date.now() + DAY_MS).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' })}.`).waitFor();
    await page.getByTestId('create-token-submit').click();
    await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
    await page.getByTestId('credentials-done').click();
    const row = page.locator('[data-testid=token-row][data-token-name="short-lived"]');
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'expiring-soon');
    assert.equal(await row.getByTestId('token-status').textContent(), 'Expiring soon');
    assert.match(await row.innerText(), /tomorrow|in 2[34] hours/);
    assert.equal(await row.getByTestId('token-last-used').innerText(), 'Never');
    // The others: active, and the rotated token was used a moment ago.
    const used = page.locator('[data-testid=token-row][data-token-name="keyboard-only"]');
    await server.tokens.flushUses();
    await page.reload();
    await used.getByTestId('token-last-used').getByText('just now').waitFor();
    assert.equal(await used.getByTestId('token-status').textContent(), 'Active');
    await shot('14-tokens-expiry-and-last-use');
  });

  await t.test('usage: stored bytes over time and requests, for the project and for one bucket', async () => {
    // Something in the other bucket too, so the project and each bucket differ.
    await server.client().send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'notes.txt', Body: Buffer.alloc(5000, 2) }));
    const report = (bucket?: string) => server.services.usage.report({ projectId, bucket });
    const all = await report();
    const photos = await report(BUCKET);
    assert.notEqual(all.current.bytes, photos.current.bytes);

    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor();
    await page.getByText(`What default stores`).waitFor();
    assert.equal(await page.getByTestId('usage-bytes').innerText(), formatBytes(all.current.bytes));
    assert.equal(await page.getByTestId('usage-objects').innerText(), formatCount(all.current.objects));
    const chart = page.getByTestId('usage-stored-chart');
    await chart.getByRole('heading', { name: 'Stored bytes over time' }).waitFor();
    // A drawn line (no empty state), ending at what is stored now.
    await chart.locator('.recharts-area-curve').first().waitFor();
    assert.equal(await chart.getByTestId('usage-stored-chart-empty').count(), 0);
    assert.match(await chart.getByTestId('usage-stored-caption').innerText(), new RegExp(`^${formatBytes(all.current.bytes)}\\s+${all.current.objects} objects now`));
    await page.getByTestId('usage-requests-chart').locator('path.recharts-rectangle').first().waitFor();
    await page.getByTestId('usage-buckets').getByText(BUCKET, { exact: true }).waitFor();
    await page.getByTestId('usage-buckets').getByText(OTHER_BUCKET, { exact: true }).waitFor();
    await shot('08-usage');

    // One bucket: the page asks for that bucket's usage and redraws with its numbers.
    const asked = page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/usage') && new URL(r.url()).searchParams.get('bucket') === BUCKET);
    await page.getByTestId('usage-bucket').click();
    await page.getByRole('option', { name: BUCKET, exact: true }).click();
    await asked;
    await page.locator(`[data-testid=usage-view][data-bucket="${BUCKET}"][aria-busy=false]`).waitFor();
    await page.getByText(`What bucket ${BUCKET} stores`).waitFor();
    const requests = photos.days.reduce((n, d) => n + d.requests.read + d.requests.write + d.requests.list + d.requests.delete + d.requests.other, 0);
    assert.equal(await page.getByTestId('usage-bytes').innerText(), formatBytes(photos.current.bytes));
    assert.equal(await page.getByTestId('usage-objects').innerText(), formatCount(photos.current.objects));
    assert.equal(await page.getByTestId('usage-requests').innerText(), formatCount(requests));
    assert.match(await chart.getByTestId('usage-stored-caption').innerText(), new RegExp(`^${formatBytes(photos.current.bytes)}\\s+${photos.current.objects} objects now`));
    await chart.locator('.recharts-area-curve').first().waitFor();
    await page.getByTestId('usage-requests-chart').locator('path.recharts-rectangle').first().waitFor();
    // The table still lists every bucket, the chosen one marked.
    assert.match(await page.getByTestId('usage-buckets').locator('tr[aria-selected=true]').innerText(), new RegExp(`^${BUCKET}\\s`));
    await page.getByTestId('usage-buckets').getByText(OTHER_BUCKET, { exact: true }).waitFor();
    await shot('15-usage-bucket');

    // Back to all buckets from the table.
    await page.getByRole('button', { name: 'Show all buckets' }).click();
    await page.locator('[data-testid=usage-view][data-bucket=""][aria-busy=false]').waitFor();
    assert.equal(await page.getByTestId('usage-bytes').innerText(), formatBytes(all.current.bytes));
    await page.getByText('What default stores').waitFor();
  });

  await t.test('usage of a bucket with nothing in it says so, and what to do', async () => {
    // Made without a request, so it has no usage at all.
    await server.objects.createBucket(projectId, 'quiet-bucket', 'us-east-1');
    await page.reload();
    await page.getByTestId('usage-buckets').getByText('quiet-bucket', { exact: true }).click();
    await page.locator('[data-testid=usage-view][data-bucket="quiet-bucket"][aria-busy=false]').waitFor();
    assert.equal(await page.getByTestId('usage-bytes').innerText(), '0 B');
    assert.equal(await page.getByTestId('usage-requests').innerText(), '0');
    const stored = await page.getByTestId('usage-stored-chart-empty').innerText();
    assert.match(stored, /"quiet-bucket" stores nothing in these 30 days/);
    assert.match(stored, /Upload files to it/);
    await page.getByTestId('usage-stored-chart-empty').getByRole('link', { name: 'Open quiet-bucket' }).waitFor();
    assert.match(await page.getByTestId('usage-requests-chart-empty').innerText(), /No requests to "quiet-bucket" in the last 30 days/);
    assert.match(await page.getByTestId('usage-transfer-chart-empty').innerText(), /No data in or out of "quiet-bucket"/);
    assert.equal(await page.getByTestId('usage-bucket').inputValue(), 'quiet-bucket');
    await shot('17-usage-empty-bucket');
    await page.getByTestId('usage-stored-chart-empty').getByRole('link', { name: 'Open quiet-bucket' }).click();
    await page.getByRole('heading', { name: 'quiet-bucket' }).waitFor();
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

  await t.test('the audit log: events with actor and source, filters, export', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    assert.equal(await page.title(), 'Audit log · default · skep');
    await page.getByTestId('audit-table').waitFor();
    const actions = () => page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    for (const a of ['bucket.created', 'bucket.deleted', 'object.deleted', 'object.presigned', 'token.created', 'token.revoked', 'user.signed-in']) {
      assert.ok((await actions()).includes(a), `${a} in ${(await actions()).join(', ')}`);
    }
    // The buckets made in the console name the user; the one made with the root key, its token.
    const created = await page.locator('[data-testid=audit-row][data-action="bucket.created"]').allInnerTexts();
    assert.ok(created.some((r) => new RegExp(`user\\s+${EMAIL}`).test(r) && r.includes(OTHER_BUCKET)), created.join('\n---\n'));
    assert.ok(created.some((r) => /token\s+bootstrap/.test(r) && r.includes('scratch-bucket')), created.join('\n---\n'));
    await shot('21-audit');
    // Filter by action.
    await page.getByTestId('audit-action').click();
    await page.getByRole('option', { name: 'bucket.created', exact: true }).click();
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=audit-row]')].every((r) => r.getAttribute('data-action') === 'bucket.created'));
    assert.ok((await actions()).length >= 2);
    // And by bucket.
    await page.getByTestId('audit-bucket').click();
    await page.getByRole('option', { name: BUCKET, exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=audit-row]').length === 1);
    // The export has what the filters select.
    await page.getByTestId('audit-export').click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export-csv').click()]);
    const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,at,action,actor,tokenId,projectId,bucket,source,detail');
    assert.equal(lines.length, 2, csv);
    assert.match(lines[1], new RegExp(`,bucket\\.created,user:${EMAIL},.*,${BUCKET},`));
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=audit-row]').length > 2);
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.getByTestId('audit-list').waitFor();
      await fitsWidth('audit log');
      await shot('22-mobile-audit');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  await t.test('settings: project limit, members and roles, the password', async () => {
    await server.services.users.createUser({ email: 'grace@example.com', password: 'grace-password-1', createdBy: 'console-e2e' });
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    assert.equal(await page.title(), 'Settings · default · skep');
    // Maximum token lifetime.
    await page.getByTestId('project-limit').check();
    await page.getByTestId('project-max-days').fill('0');
    await page.getByTestId('project-save').click();
    await page.getByText('Enter a whole number of days from 1 to 365.').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'project-max-days');
    await page.getByTestId('project-max-days').fill('30');
    await page.getByTestId('project-save').click();
    await page.getByText('Project settings saved.').waitFor();
    await toastCoversNone('after saving settings', ['project-save', 'project-name', 'project-max-days', 'user-menu']);
    assert.equal((await server.services.projects.require(projectId)).maxTokenDays, 30);
    // Members.
    await page.getByTestId('member-email').fill('nobody@example.com');
    await page.getByTestId('member-add').click();
    await page.getByText(/No console user nobody@example\.com/).waitFor();
    await page.getByTestId('member-email').fill('grace@example.com');
    await page.getByTestId('member-add').click();
    const grace = page.locator('[data-testid=member-row][data-email="grace@example.com"]');
    await grace.waitFor();
    await grace.getByLabel('Role of grace@example.com').click();
    await page.getByRole('option', { name: 'Owner' }).click();
    await page.getByText('grace@example.com is now an owner.').waitFor();
    assert.deepEqual((await server.services.projects.members(projectId)).find((m) => m.email === 'grace@example.com')?.role, 'owner');
    // Password: the wrong current one is refused and focused; the right one changes it.
    await page.getByTestId('password-current').fill('not my password');
    await page.getByTestId('password-new').fill('a brand new password');
    await page.getByTestId('password-again').fill('a brand new password');
    await page.getByTestId('password-save').click();
    await page.getByText('The current password is not right.').waitFor();
    assert.ok(await page.getByLabel('Current password', { exact: true }).evaluate((el) => el === document.activeElement), 'focus on the current password');
    await page.getByTestId('password-current').fill(PASSWORD);
    await page.getByTestId('password-save').click();
    await page.getByText(/Password changed/).waitFor();
    await shot('23-settings');
    password = 'a brand new password';
    await server.services.projects.update(projectId, { maxTokenDays: null }, { actor: 'cli:test' });
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.reload();
      await page.getByTestId('members-table').waitFor();
      await fitsWidth('settings');
      await withinScreen(page.getByRole('button', { name: 'Remove grace@example.com' }), 'a member\'s remove button');
      await shot('24-mobile-settings');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
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

  await t.test('two days on, the one-day token shows as expired (and the session has ended)', async () => {
    server.shiftClock(2 * DAY_MS);
    await page.goto(`${server.url}/console/projects/${projectId}/tokens`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'API Tokens' }).click();
    const row = page.locator('[data-testid=token-row][data-token-name="short-lived"]');
    await row.and(page.locator('[data-status=expired]')).waitFor();
    assert.equal(await row.getByTestId('token-status').textContent(), 'Expired');
    // Expired tokens sort after the usable ones.
    const names = await page.getByTestId('token-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-token-name')));
    assert.ok(names.indexOf('short-lived') > names.indexOf('keyboard-only'), names.join(', '));
    await shot('16-tokens-expired');
  });

  await t.test('signing out returns to the sign-in screen', async () => {
    await page.getByTestId('user-menu').click();
    await page.getByTestId('sign-out').click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.goto(`${server.url}/console/projects/${projectId}/tokens`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  assert.deepEqual(
    // A refused request (4xx) is logged by the browser; the steps that make one check the page's answer.
    consoleErrors.filter((e) => !/status of 4\d\d/.test(e)),
    [],
    'no errors in the browser console',
  );
});
