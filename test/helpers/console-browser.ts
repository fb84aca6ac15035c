import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { IN_CI } from './clients.js';

// Debian's Chromium through playwright-core, for the console's end-to-end tests: launching it,
// and full-page screenshots under test-artifacts/screenshots/ once the page has settled.

export const CHROMIUM = process.env.SKEP_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');
/** Why the browser tests cannot run here, or null. */
export const missingChromium = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM} (apt-get install chromium, or npm run test:setup)`;
/** node:test's skip option: skipped locally without Chromium, never in CI (where the test fails instead). */
export const skipWithoutChromium = missingChromium && !IN_CI ? missingChromium : false;

export interface ConsoleBrowser {
  browser: Browser;
  page: Page;
  /** Errors the page logged or threw. */
  errors: string[];
}

export async function launchConsoleBrowser(origin: string): Promise<ConsoleBrowser> {
  await mkdir(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { browser, page, errors };
}

/** A full-page picture once the network is idle, toasts have gone and transitions settled. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 8000 }).catch(() => undefined);
  await page.waitForTimeout(400);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Steps of one browser session, each a subtest building on the one before: after a failure (its
 * page saved as `failureShot`), the rest are skipped rather than timed out.
 */
export function sessionSteps(ctx: TestContext, page: Page, failureShot: string): (name: string, fn: () => Promise<void>) => Promise<void> {
  let failed: string | null = null;
  return (name, fn) =>
    ctx.test(name, async (st) => {
      if (failed) return st.skip(`after the failure of "${failed}"`);
      try {
        await fn();
      } catch (err) {
        failed = name;
        await page.evaluate(() => window.scrollTo(0, 0)).catch(() => undefined);
        await page.screenshot({ path: join(SHOTS, `${failureShot}.png`), fullPage: true }).catch(() => undefined);
        throw err;
      }
    });
}

/** Signs a console user in from the sign-in page and waits for the project's bucket list. */
export async function signInToConsole(page: Page, serverUrl: string, who: { email: string; password: string }): Promise<void> {
  await page.goto(`${serverUrl}/console/signin`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Buckets' }).waitFor();
}
