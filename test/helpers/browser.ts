import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

// Debian's Chromium through playwright-core for the console's browser tests, and the screenshots
// they save under test-artifacts/screenshots/.

export const SHOTS = join(process.cwd(), 'test-artifacts', 'screenshots');

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A full-page picture of the settled page, as `<name>.png` under SHOTS. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  // Toasts from earlier steps close by themselves after 4 s; let them, so they hide nothing.
  await page.locator('.mantine-Notification-root').first().waitFor({ state: 'detached', timeout: 8000 }).catch(() => undefined);
  // Let transitions (modals) settle before the picture.
  await page.waitForTimeout(400);
  // The header and sidebar are fixed: a full-page picture is taken from the top.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
