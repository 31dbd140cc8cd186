/**
 * The user picker in a real browser: the demo SP sends the person to the IdP,
 * who clicks a listed user instead of typing, and arrives signed in on the SP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { TIMEOUTS, launchBrowser, withSession } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('the user picker in a browser', () => {
  let idp: TestIdp;
  let browser: Browser;

  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, showUserPicker: true }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await idp.close();
  });

  test('clicking a listed user signs them in without a password and lands on the SP', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async ({ page, problems }) => {
      await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
      await page.getByRole('button', { name: 'Sign in with SSO' }).click();
      await page.waitForURL((u) => u.origin === idp.url && u.pathname === '/login');
      const listed = await page.getByTestId('pick-user').allInnerTexts();
      assert.equal(listed.length, 4, 'the four active users are listed, the disabled one is not');
      assert.ok(listed.some((text) => text.includes('Bob Builder') && text.includes('bob@example.com')));
      await page.getByRole('button', { name: /Bob Builder/ }).click();
      await page.waitForURL(`${idp.spUrl}/agent`, { timeout: TIMEOUTS.navigation });
      assert.equal((await page.getByTestId('sp-agent').innerText()).trim(), 'Bob Builder');
      assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
    });
  });

  test('typing still works next to the picker', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async ({ page }) => {
      await page.goto(`${idp.url}/login`);
      await page.getByLabel('Email').fill('alice@example.com');
      await page.getByLabel('Password').fill('alice-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${idp.url}/`);
      assert.match(await page.getByTestId('idp-user').innerText(), /Alice Agent/);
    });
  });
});
