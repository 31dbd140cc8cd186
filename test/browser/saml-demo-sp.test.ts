/**
 * SAML single sign-on in a real browser (Debian's chromium): a person clicks the
 * demo SP's "Sign in with SAML", signs in at the IdP, and lands signed in on the
 * demo SP, the assertion shown on the page.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import session from 'express-session';
import type { Browser } from 'playwright-core';
import { samlDemoRouter } from '../../src/demo-sp/saml.js';
import { publicDir, viewsDir } from '../../src/paths.js';
import { closeServer, listen } from '../../src/server.js';
import { TIMEOUTS, launchBrowser, withSession } from '../helpers/browser.js';
import { freePort, type TestIdp } from '../helpers/idp.js';
import { startSamlIdp } from '../saml/http-support.js';

describe('the demo SP SAML sign-in in a browser', () => {
  let idp: TestIdp;
  let spServer: http.Server;
  let spUrl: string;
  let browser: Browser;

  before(async () => {
    const spPort = await freePort();
    spUrl = `http://127.0.0.1:${spPort}`;
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        serviceProviders: [
          ...(c.serviceProviders ?? []),
          { id: 'comm100-saml', name: 'Comm100 SAML (test)', saml: { entityId: 'comm100', acsUrls: [`${spUrl}/saml/acs`], sloUrl: `${spUrl}/saml/slo` } },
        ],
      }),
    });
    const app = express();
    app.set('views', viewsDir);
    app.set('view engine', 'ejs');
    app.use('/static', express.static(publicDir));
    app.use(express.urlencoded({ extended: false, limit: '256kb' }));
    app.use(
      '/saml',
      samlDemoRouter({
        idpUrl: idp.url,
        spBaseUrl: spUrl,
        mount: '/saml',
        entityId: 'comm100',
        name: 'Comm100 (SAML demo)',
        agents: idp.config.demo.agents,
        sessionStore: new session.MemoryStore(),
        sessionSecret: 'test-session-secret-for-the-saml-demo',
      }),
    );
    spServer = await listen(app, spPort, '127.0.0.1');
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await closeServer(spServer);
    await idp.close();
  });

  test('clicking "Sign in with SAML" goes through the IdP login to the signed-in page', { timeout: TIMEOUTS.test }, async (t) => {
    await withSession(browser, t.name, async ({ page, problems }) => {
      await page.goto(`${spUrl}/saml/`);
      await page.getByRole('link', { name: 'Sign in with SAML' }).click();
      await page.waitForURL((u) => u.origin === idp.url && u.pathname === '/login');
      await page.getByLabel('Email').fill('alice@example.com');
      await page.getByLabel('Password').fill('alice-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      // The IdP's auto-POST page submits itself to the ACS, which sends the browser on to the console.
      await page.waitForURL(`${spUrl}/saml/agent`, { timeout: TIMEOUTS.navigation });
      assert.equal((await page.getByTestId('sp-agent').innerText()).trim(), 'Alice Agent');
      assert.match(await page.getByTestId('saml-nameid').innerText(), /^alice@example\.com/);
      assert.match(await page.getByTestId('saml-checks').innerText(), /InResponseTo _[0-9a-f]+ is a request this SP sent, now answered/);
      assert.deepEqual(problems, { pageErrors: [], consoleErrors: [] });
    });
  });
});
