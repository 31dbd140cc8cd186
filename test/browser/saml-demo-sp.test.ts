/**
 * SAML single sign-on in a real browser (Debian's chromium), on the demo as it is
 * wired by `npm start`: a person clicks "Sign in with SAML" on the Comm100-like
 * sign-in page, signs in at the IdP, and lands signed in on the demo SP with the
 * assertion shown; signing out there ends the IdP session through single logout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { TIMEOUTS, launchBrowser, withSession } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('the demo SP SAML sign-in in a browser', () => {
  let idp: TestIdp;
  let browser: Browser;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: c.serviceProviders!.map((sp) =>
        sp.id === 'comm100'
          ? { ...sp, saml: { entityId: 'comm100', acsUrls: [`${c.demo!.spBaseUrl}/sso/saml/acs`], sloUrl: `${c.demo!.spBaseUrl}/sso/saml/slo` } }
          : sp,
      ),
    }));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await idp.close();
  });

  test('clicking "Sign in with SAML" goes through the IdP login to the signed-in page, and sign-out ends both sessions', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async ({ page, problems }) => {
      await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
      await page.getByRole('link', { name: 'Sign in with SAML' }).click();
      await page.waitForURL((u) => u.origin === idp.url && u.pathname === '/login');
      assert.match(await page.locator('main').innerText(), /to continue to Comm100 \(test\)/);
      await page.getByLabel('Email').fill('alice@example.com');
      await page.getByLabel('Password').fill('alice-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      // The IdP's auto-POST page submits itself to the ACS, which sends the browser on to the console.
      await page.waitForURL(`${idp.spUrl}/sso/saml/agent`, { timeout: TIMEOUTS.navigation });
      assert.equal((await page.getByTestId('sp-agent').innerText()).trim(), 'Alice Agent');
      assert.match(await page.getByTestId('saml-nameid').innerText(), /^alice@example\.com/);
      assert.match(await page.getByTestId('saml-checks').innerText(), /InResponseTo _[0-9a-f]+ is a request this SP sent, now answered/);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.origin === idp.spUrl && !u.pathname.endsWith('/agent'), { timeout: TIMEOUTS.navigation });
      await page.goto(`${idp.url}/`);
      await page.waitForURL((u) => u.pathname === '/login');
      assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
    });
  });
});
