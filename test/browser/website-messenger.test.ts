/**
 * The IdP's own customer website (/website) with the real demo SP's messenger, in
 * a real browser: a customer signs in on the IdP login form, lands back on
 * /website, sees the installation code (with the JWT) and the messenger framed
 * below it naming them; the same with the Comm100 JWT the page's backend got from
 * the demo SP's Authorize API; and, when /website is not one of the messenger's
 * allowed URLs, the messenger does not show the customer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ConfigInput } from '../../src/config/schema.js';
import { launchBrowser, TIMEOUTS, withSession } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

/** Opens `path` on the IdP, signs in on the login form as a person does, and waits to be back on it. */
async function signInTo(page: Page, idp: TestIdp, path: string): Promise<void> {
  await page.goto(`${idp.url}${path}`);
  assert.equal(new URL(page.url()).pathname, '/login', 'a visitor who is not signed in gets the login form');
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => u.origin === idp.url && `${u.pathname}${u.search}` === path);
}

/** The installation code the page shows, as a developer would copy it. */
async function shownSnippet(page: Page): Promise<string> {
  const code = page.locator('pre > code#website-snippet');
  await code.waitFor();
  return (await code.textContent()) ?? '';
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

function tokenIn(snippet: string, attribute: string): string {
  const m = new RegExp(`${attribute}="([^"]*)"`).exec(snippet);
  assert.ok(m, `the installation code has ${attribute}: ${snippet}`);
  return m[1]!;
}

describe('the customer website with the messenger in a browser', { timeout: 180_000 }, () => {
  let idp: TestIdp;
  let browser: Browser;

  before(async () => {
    idp = await startTestIdp();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await idp?.close();
  });

  for (const { variant, path, attribute, via } of [
    { variant: 'Contact JWT', path: '/website', attribute: 'data-contact-jwt', via: 'Contact JWT' },
    { variant: 'Comm100 JWT', path: '/website?variant=comm100-jwt', attribute: 'data-comm100-jwt', via: 'Comm100 JWT' },
  ]) {
    it(`signs the customer in and shows them identified in the messenger (${variant})`, { timeout: TIMEOUTS.test }, async () => {
      await withSession(browser, `website messenger ${variant}`, async ({ page, problems }) => {
        await signInTo(page, idp, path);
        assert.equal(await page.getByTestId('website-customer-email').textContent(), 'alice@example.com');
        const snippet = await shownSnippet(page);
        assert.ok(snippet.includes(`src="${idp.spUrl}/securemessage/install.js"`), snippet);
        assert.match(tokenIn(snippet, attribute), JWT);
        const widget = page.frameLocator('#comm100-secure-messenger iframe');
        assert.equal(await widget.getByTestId('messenger-customer').textContent(), 'alice@example.com');
        assert.equal(await widget.locator('[data-claim="comm100.name"]').textContent(), 'Alice Agent');
        assert.equal(await widget.getByTestId('messenger-via').textContent(), via);
        assert.equal(await widget.getByTestId('messenger-refusal').isVisible(), false);
        assert.deepEqual(problems.pageErrors, []);
        assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy|Refused/i.test(e)), [], 'no CSP refusal on /website');
      });
    });
  }
});

describe("the customer website outside the messenger's allowed URLs, in a browser", { timeout: 180_000 }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  it('shows the widget\'s refusal, not the customer, when /website is not under an allowed URL', { timeout: TIMEOUTS.test }, async () => {
    // Same origin (so frame-ancestors lets the frame in), another path: the widget's pageUrl check refuses.
    const idp = await startTestIdp((c: ConfigInput): ConfigInput => ({ ...c, demo: { ...c.demo, messenger: { allowedUrls: [`${c.baseUrl}/shop/`] } } }) as ConfigInput);
    try {
      await withSession(browser, 'website messenger outside path', async ({ page }) => {
        await signInTo(page, idp, '/website');
        assert.match(tokenIn(await shownSnippet(page), 'data-contact-jwt'), JWT);
        const widget = page.frameLocator('#comm100-secure-messenger iframe');
        const refusal = widget.getByTestId('messenger-refusal');
        await refusal.waitFor({ state: 'visible' });
        assert.match((await refusal.textContent()) ?? '', /displayed only on pages whose URL starts with/);
        assert.ok(((await refusal.textContent()) ?? '').includes(`${idp.url}/shop/`));
        assert.equal(await widget.getByTestId('messenger-customer').count(), 0);
      });
    } finally {
      await idp.close();
    }
  });

  it('is not framed at all when the allowed URLs are on another origin (frame-ancestors)', { timeout: TIMEOUTS.test }, async () => {
    const idp = await startTestIdp((c: ConfigInput): ConfigInput => ({ ...c, demo: { ...c.demo, messenger: { allowedUrls: ['https://shop.example.test/'] } } }) as ConfigInput);
    try {
      await withSession(browser, 'website messenger outside origin', async ({ page, problems }) => {
        const blocked = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: TIMEOUTS.action });
        await signInTo(page, idp, '/website');
        assert.match(tokenIn(await shownSnippet(page), 'data-contact-jwt'), JWT);
        await blocked;
        assert.ok(problems.consoleErrors.some((e) => e.includes('frame-ancestors') && e.includes('https://shop.example.test')), problems.consoleErrors.join('\n'));
        // Chromium shows its own error page in the frame: nothing of the widget, no customer.
        const widget = page.frameLocator('#comm100-secure-messenger iframe');
        assert.equal(await widget.getByTestId('messenger-customer').count(), 0);
        assert.equal(await widget.getByTestId('messenger-refusal').count(), 0);
      });
    } finally {
      await idp.close();
    }
  });
});
