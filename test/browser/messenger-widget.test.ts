/**
 * The Secure Messenger's scripts in a real browser: a plain page (its own origin,
 * like a customer's website) pastes the installation code; install.js frames the
 * widget and posts it the token; the widget shows the customer, or its refusal on
 * a page outside the allowed URLs. The IdP's own /website page is tested apart.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import type { ConfigInput } from '../../src/config/schema.js';
import { closeServer, listen } from '../../src/server.js';
import { launchBrowser, TIMEOUTS, withSession } from '../helpers/browser.js';
import { login } from '../helpers/http.js';
import { freePort, startTestIdp, type TestIdp } from '../helpers/idp.js';

const MESSENGER_ID = 'ea5380a4-77c1-436e-a47a-37fd2c8af550';

describe('the Secure Messenger widget in a browser', { timeout: 120_000 }, () => {
  let idp: TestIdp;
  let browser: Browser;
  let site: http.Server;
  let siteUrl: string;
  /** The installation code the page carries, by path: `data-…` attribute and token. */
  const snippets = new Map<string, string>();

  before(async () => {
    const sitePort = await freePort();
    siteUrl = `http://localhost:${sitePort}`;
    idp = await startTestIdp(
      (c: ConfigInput): ConfigInput =>
        ({
          ...c,
          serviceProviders: [
            ...(c.serviceProviders ?? []).filter((sp) => sp.id !== 'messenger'),
            {
              id: 'messenger',
              jwt: {
                redirectUrls: [`${(c.demo as { spBaseUrl: string }).spBaseUrl}/securemessage/widget`],
                algorithm: 'HS256',
                secret: 'browser-messenger-shared-token-0123456789',
                audience: 'messenger',
                identityClaim: 'identity',
                claims: { 'comm100.name': 'name', 'comm100.email': 'email' },
              },
            },
          ],
          demo: { ...c.demo, messenger: { allowedUrls: [`${siteUrl}/shop/`] } },
        }) as ConfigInput,
    );
    site = await listen(
      (req: http.IncomingMessage, res: http.ServerResponse) => {
        const snippet = snippets.get(new URL(req.url ?? '/', siteUrl).pathname);
        if (!snippet) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>shop</title><div id="comm100-secure-messenger"></div>${snippet}`);
      },
      sitePort,
      '127.0.0.1',
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (site) await closeServer(site);
    await idp?.close();
  });

  async function contactJwt(): Promise<string> {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    return ((await agent.get('/sso/token/messenger').expect(200)).body as { token: string }).token;
  }
  const install = (attr: string, token: string) =>
    `<script src="${idp.spUrl}/securemessage/install.js" data-site-id="10000" data-messenger-id="${MESSENGER_ID}" data-${attr}="${token}" async></script>`;

  it('shows the customer a Contact JWT names, with their comm100 details', { timeout: TIMEOUTS.test }, async () => {
    snippets.set('/shop/contact', install('contact-jwt', await contactJwt()));
    await withSession(browser, 'messenger contact jwt', async ({ page, problems }) => {
      await page.goto(`${siteUrl}/shop/contact?x=1`);
      const widget = page.frameLocator('#comm100-secure-messenger iframe');
      assert.equal(await widget.getByTestId('messenger-customer').textContent(), 'alice@example.com');
      assert.equal(await widget.locator('[data-claim="comm100.name"]').textContent(), 'Alice Agent');
      assert.equal(await widget.getByTestId('messenger-via').textContent(), 'Contact JWT');
      assert.deepEqual(problems.pageErrors, []);
    });
  });

  it('shows the customer a Comm100 JWT from the Authorize API names', { timeout: TIMEOUTS.test }, async () => {
    const res = await request(idp.spUrl).post('/securemessage/authorize').send({ siteId: 10000, messengerId: MESSENGER_ID, contactJwt: await contactJwt() }).expect(200);
    snippets.set('/shop/exchanged', install('comm100-jwt', (res.body as { accessToken: string }).accessToken));
    await withSession(browser, 'messenger comm100 jwt', async ({ page }) => {
      await page.goto(`${siteUrl}/shop/exchanged`);
      const widget = page.frameLocator('#comm100-secure-messenger iframe');
      assert.equal(await widget.getByTestId('messenger-customer').textContent(), 'alice@example.com');
      assert.equal(await widget.getByTestId('messenger-via').textContent(), 'Comm100 JWT');
    });
  });

  it('refuses to appear on a page outside the allowed URLs', { timeout: TIMEOUTS.test }, async () => {
    snippets.set('/blog/post', install('contact-jwt', await contactJwt()));
    await withSession(browser, 'messenger outside', async ({ page }) => {
      await page.goto(`${siteUrl}/blog/post`);
      const widget = page.frameLocator('#comm100-secure-messenger iframe');
      assert.match((await widget.getByTestId('messenger-refusal').textContent()) ?? '', /displayed only on pages whose URL starts with/);
      assert.equal(await widget.getByTestId('messenger-customer').count(), 0);
    });
  });
});
