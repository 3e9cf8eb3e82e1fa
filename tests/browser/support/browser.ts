import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium: never a downloaded browser (the machine is offline). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const browserRequired = process.env.CI === 'true' || process.env.CI === '1' || process.env.EMPORIUM_REQUIRE_SERVERS === '1';
export const hasBrowser = existsSync(CHROMIUM);

/** Playwright gives every launch a fresh, temporary user-data dir; each journey gets its own context. */
export async function launchBrowser(): Promise<Browser> {
  if (!hasBrowser) throw new Error(`No browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium).`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'browser');

/** Screenshots of each step of a journey: test-artifacts/browser/<journey>/NN-<step>.png. */
export function screenshots(journey: string) {
  const dir = join(ARTIFACTS, journey);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page: Page, step: string) => {
    n += 1;
    // Let pending renders and transitions settle so the picture shows what the shopper sees.
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: true });
  };
}

/**
 * Problems the page reports: console errors (including Content-Security-Policy refusals) and
 * uncaught exceptions. A journey ends by asserting there were none.
 */
export function watchForPageErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  context.on('page', (page) => attach(page));
  const attach = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      // Expected answers the app handles itself (a 4xx it shows as a message) are logged by chromium too.
      if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
      errors.push(text);
    });
    page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  };
  for (const page of context.pages()) attach(page);
  return errors;
}
