import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from './helpers/server.js';
import { ensureConsoleBuilt } from './helpers/console-build.js';
import { launchConsoleBrowser, missingChromium, screenshot, sessionSteps, signInToConsole, skipWithoutChromium, type ConsoleBrowser } from './helpers/console-browser.js';
import { hostClient } from './helpers/tokens.js';

// With a project domain (--project-domain), the console names each project's own endpoint,
// <project-id>.<domain>: in the project header and in a new token's credentials and snippets,
// and the key it shows works against that endpoint. Screens: test-artifacts/screenshots/50-*.

const DOMAIN = 'blob.example.test';
const EMAIL = 'ada@example.com';
const PASSWORD = 'a long enough console password';
const BUCKET = 'assets';

let server: TestServer;
let b: ConsoleBrowser;
let page: Page;

before(async () => {
  if (missingChromium) return;
  ensureConsoleBuilt();
  server = await startTestServer({ projectDomain: DOMAIN });
  const user = await server.services.users.createUser({ email: EMAIL, password: PASSWORD, createdBy: 'console-project-endpoint' });
  await server.services.users.addMember(server.bootstrap.projectId, user.id, 'owner');
  await server.client().send(new CreateBucketCommand({ Bucket: BUCKET }));
  await server.client().send(new PutObjectCommand({ Bucket: BUCKET, Key: 'logo.svg', Body: '<svg/>' }));
  b = await launchConsoleBrowser(server.url);
  page = b.page;
});

after(async () => {
  await b?.browser.close();
  await server?.stop();
});

test('console: the project endpoint in the header and in a new token\'s credentials', { skip: skipWithoutChromium, timeout: 180_000 }, async (ctx) => {
  if (missingChromium) throw new Error(`${missingChromium} — required in CI`);
  const projectId = server.bootstrap.projectId;
  const expected = `http://${projectId}.${DOMAIN}:${server.port}`;
  const step = sessionSteps(ctx, page, 'failure-project-endpoint');

  await step('the project header names the project endpoint', async () => {
    await signInToConsole(page, server.url, { email: EMAIL, password: PASSWORD });
    assert.equal(await page.getByTestId('s3-endpoint').textContent(), expected);
    await screenshot(page, '50-project-endpoint-header');
  });

  await step('a new token shows the project endpoint, its snippets use it, and its key works there', async () => {
    await page.goto(`${server.url}/console/projects/${projectId}/tokens/new`);
    await page.getByTestId('token-name').fill('site-reader');
    await page.getByTestId('permission-object-ro').click();
    await page.getByTestId('create-token-submit').click();
    await page.getByRole('heading', { name: 'Credentials created' }).waitFor();
    assert.equal(await page.getByTestId('cred-endpoint').inputValue(), expected);
    assert.match((await page.getByTestId('snippet-awsCli').textContent()) ?? '', new RegExp(`--endpoint-url ${expected.replace(/\./g, '\\.')}`));
    await screenshot(page, '51-project-endpoint-credentials');
    const credentials = {
      accessKeyId: await page.getByTestId('cred-access-key-id').inputValue(),
      secretAccessKey: await page.getByTestId('cred-secret-access-key').inputValue(),
    };
    const got = await hostClient(server, `${projectId}.${DOMAIN}`, credentials).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'logo.svg' }));
    assert.equal(await got.Body!.transformToString(), '<svg/>');
  });
});
