/**
 * Review before sending in a real browser (Debian's chromium): a person signs in
 * to the demo SP through mock-idp with review on, sees the decoded token, copies
 * it as curl, edits a claim, sends it, and lands signed in on the demo SP with the
 * edited claim; then chooses a fault on the review page and sees the SP refuse it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { TIMEOUTS, launchBrowser, withSession, type BrowserSession } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

let idp: TestIdp;
let browser: Browser;

async function text(locator: Locator): Promise<string> {
  await locator.waitFor({ state: 'visible' });
  return (await locator.innerText()).trim();
}

function assertNoPageProblems(s: BrowserSession): void {
  assert.deepEqual(s.problems.pageErrors, [], 'no uncaught script errors');
  assert.deepEqual(s.problems.consoleErrors.filter((m) => /Content Security Policy/i.test(m)), [], 'no Content Security Policy violations');
}

/** From the demo SP's sign-in page through the IdP login form to the review page. */
async function toReview(page: Page): Promise<void> {
  await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.waitForURL((u) => u.origin === idp.url && u.pathname === '/login');
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((u) => u.origin === idp.url && u.pathname.startsWith('/review/'), { timeout: TIMEOUTS.navigation });
  assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Review before sending');
}

describe('the review page in a browser', { timeout: 4 * TIMEOUTS.test }, () => {
  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, serviceProviders: c.serviceProviders!.map((sp) => (sp.id === 'comm100' ? { ...sp, review: true } : sp)) }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await idp.close();
  });

  test('shows the token, copies it as curl, sends edited claims, and the demo SP signs the agent in with them', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async (s) => {
      const { page, context } = s;
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: idp.url });
      await toReview(page);

      assert.match(await text(page.getByTestId('review-user')), /^alice@example\.com$/);
      assert.equal(await text(page.getByTestId('review-destination')), `${idp.spUrl}/sso/jwt/consumer?relayState=%2Fagent`);
      assert.match(await text(page.getByTestId('jwt-signature')), /Valid: signed with the HS256 shared secret of service provider "comm100"\./);
      const claims = JSON.parse(await text(page.getByTestId('jwt-claims'))) as Record<string, unknown>;
      assert.deepEqual([claims.email, claims.name, claims.aud], ['alice@example.com', 'Alice Agent', 'Comm100']);

      await page.getByRole('button', { name: 'Copy as curl' }).click();
      assert.equal(await text(page.locator('[data-copy-status]')), 'Copied.');
      // The page's own clipboard, read in the page (the test's tsconfig has no DOM types).
      const copied = await page.evaluate<string>('navigator.clipboard.readText()');
      assert.match(copied, new RegExp(`^curl -i '${idp.spUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/sso/jwt/consumer\\?relayState=%2Fagent&jwt=ey[\\w-]+\\.[\\w-]+\\.[\\w-]+'$`));

      const editor = page.getByLabel('Claims (JSON)');
      const edited = { ...(JSON.parse(await editor.inputValue()) as Record<string, unknown>), name: 'Alice (edited on the review page)', team: 'support' };
      await editor.fill(JSON.stringify(edited, null, 2));
      await page.getByRole('button', { name: 'Edit claims and send' }).click();

      await page.waitForURL(`${idp.spUrl}/agent`, { timeout: TIMEOUTS.navigation });
      assert.equal(await text(page.getByTestId('sp-agent')), 'Alice Agent');
      const received = JSON.parse(await text(page.getByTestId('token-claims'))) as Record<string, unknown>;
      assert.deepEqual(received, edited);

      await page.goto(`${idp.url}/flows`);
      const latest = page.getByTestId('flow').first();
      assert.match(await text(latest.getByTestId('flow-outcome')), /^delivered$/);
      assert.match(await latest.innerText(), /reviewed/);
      assert.match(await latest.innerText(), /edited/);
      await latest.getByTestId('flow-link').click();
      await page.waitForURL((u) => u.pathname.startsWith('/flows/'), { timeout: TIMEOUTS.navigation });
      assert.equal(await page.getByTestId('flow-sequence').count(), 1);
      assertNoPageProblems(s);
    });
  });

  test('the clock-skew seconds field shows only while clock-skew is chosen', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async (s) => {
      const { page } = s;
      await toReview(page);
      const seconds = page.getByLabel('Seconds, for clock-skew (negative: the IdP clock is behind)');
      assert.equal(await seconds.isVisible(), false, 'hidden with no fault chosen');
      await page.getByLabel('Fault').selectOption('clock-skew');
      await seconds.waitFor({ state: 'visible' });
      await page.screenshot({ path: 'test-results/browser/review-clock-skew.png', fullPage: true });
      await page.getByLabel('Fault').selectOption('wrong-audience');
      await seconds.waitFor({ state: 'hidden' });
      assertNoPageProblems(s);
    });
  });

  test('a fault chosen on the review page reaches the SP, which refuses the token', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async (s) => {
      const { page } = s;
      await toReview(page);
      await page.getByLabel('Fault').selectOption('wrong-audience');
      await page.getByRole('button', { name: 'Apply and review again' }).click();
      await page.waitForURL((u) => u.pathname.startsWith('/review/'));
      assert.match(await text(page.getByTestId('review-faults')), /wrong-audience: aud is "urn:mock-idp:fault:wrong-audience"/);
      assert.equal((JSON.parse(await text(page.getByTestId('jwt-claims'))) as { aud: string }).aud, 'urn:mock-idp:fault:wrong-audience');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.waitForURL((u) => u.origin === idp.spUrl && u.pathname === '/sso/jwt/consumer', { timeout: TIMEOUTS.navigation });
      assert.match(await text(page.locator('main')), /The token's "aud" claim is not acceptable/);
      assertNoPageProblems(s);
    });
  });
});
