/**
 * The real-browser bootstrap: Debian's chromium driven by playwright-core.
 * One browser per test file, a fresh context (cookies, storage) per test, bounded
 * timeouts everywhere, and everything closed, also when a test fails.
 *
 * Chromium comes from Debian (`scripts/setup.sh` installs it); playwright-core
 * never downloads a browser. CHROMIUM_PATH overrides the executable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
] as const;

/** Upper bounds: no wait in a browser test is longer than these. */
export const TIMEOUTS = {
  launch: 30_000,
  /** Expectations, clicks, fills, locators. */
  action: 10_000,
  /** Navigations (each one crosses at most a few local redirects). */
  navigation: 15_000,
  /** A whole test, for node:test's `timeout`. */
  test: 60_000,
} as const;

/** Where failure screenshots go (git-ignored). */
export const ARTIFACTS_DIR = path.resolve('test-results', 'browser');

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`No chromium at ${CHROMIUM_PATH}. Run \`bash scripts/setup.sh\` (installs Debian's chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS],
    timeout: TIMEOUTS.launch,
  });
}

/** What a page reported that a user would not see but a developer must: script errors and CSP refusals. */
export interface PageProblems {
  /** Uncaught exceptions in page scripts. */
  pageErrors: string[];
  /** console.error messages (Chromium reports CSP violations and failed loads there). */
  consoleErrors: string[];
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  problems: PageProblems;
}

/** A fresh, isolated context with one page and bounded timeouts. */
export async function openSession(browser: Browser): Promise<BrowserSession> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(TIMEOUTS.action);
  context.setDefaultNavigationTimeout(TIMEOUTS.navigation);
  const problems: PageProblems = { pageErrors: [], consoleErrors: [] };
  context.on('page', (p) => watch(p, problems));
  const page = await context.newPage();
  return { context, page, problems };
}

function watch(page: Page, problems: PageProblems): void {
  page.on('pageerror', (err) => problems.pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(msg.text());
  });
}

/** A file-system-safe name for a test. */
function slug(name: string): string {
  return name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 100) || 'test';
}

/**
 * Runs `fn` with a fresh context and page, then closes the context whatever
 * happens. On failure, a full-page screenshot is saved under test-results/browser/
 * (best effort; the original error is what the test reports).
 */
export async function withSession(browser: Browser, testName: string, fn: (s: BrowserSession) => Promise<void>): Promise<void> {
  const session = await openSession(browser);
  try {
    await fn(session);
  } catch (err) {
    try {
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      for (const [i, p] of session.context.pages().entries()) {
        await p.screenshot({ path: path.join(ARTIFACTS_DIR, `${slug(testName)}-${i}.png`), fullPage: true, timeout: 5_000 });
      }
    } catch {
      // The screenshot is a convenience; the test's own error matters.
    }
    throw err;
  } finally {
    await session.context.close().catch(() => undefined);
  }
}
