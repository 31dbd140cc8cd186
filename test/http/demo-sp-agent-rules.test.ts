/**
 * The Agent SSO guide's rules in the demo SP, over HTTP: only the account administrator
 * signs in with the SP's own password, an SSO email without an active agent gets
 * Comm100's errorcode redirect, the site ID is asked for only on the first sign-in, and
 * the Desk-style SP offers "Login with <Authentication Service Name>".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { COMM100_NON_ADMIN_MESSAGE } from '../../src/demo-sp/agent-rules.js';
import { COMM100_INACTIVE_MESSAGE } from '../../src/demo-sp/shared.js';
import { login, setCookies, unescapeHtml, type Agent } from '../helpers/http.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

const NON_ADMIN =
  'Error signing into the account. Please note that with Agent SSO enabled, non-admin agents can only login via SSO. To do so, please click the Sign in with custom SSO link below.';
const INACTIVE = 'Error signing into the account. This account does not exist in Comm100 or its status has been set inactive.';

describe("the demo SP's agent rules (Agent SSO guide)", () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, demo: { ...c.demo, desk: { authenticationServiceName: 'mock-idp' } } }));
  });
  after(() => idp.close());

  async function idpAgent(email: string, password: string): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    return agent;
  }

  /** Follows a redirect to the IdP's remote login with a signed-in IdP session and returns the SP consumer path it sends back to. */
  async function throughIdp(location: string, idpSession: Agent): Promise<string> {
    const remoteLogin = new URL(location);
    assert.equal(`${remoteLogin.origin}${remoteLogin.pathname}`, `${idp.url}/sso/jwt/comm100`);
    const back = new URL((await idpSession.get(remoteLogin.pathname + remoteLogin.search).expect(302)).headers.location as string);
    assert.equal(`${back.origin}${back.pathname}`, `${idp.spUrl}/sso/jwt/consumer`);
    return back.pathname + back.search;
  }

  describe('6. the SP’s own email and password', () => {
    it('uses the guide’s exact words', () => {
      assert.equal(COMM100_NON_ADMIN_MESSAGE, NON_ADMIN);
      assert.equal(COMM100_INACTIVE_MESSAGE, INACTIVE);
    });

    it('signs the account administrator in with the password, without SSO', async () => {
      const sp = request.agent(idp.spUrl);
      const form = await sp.get('/login').expect(200);
      assert.match(form.text, /name="password"/);
      const res = await sp.post('/login').type('form').send({ email: 'Alice@Example.com', password: 'alice-sp-password' }).expect(303);
      assert.equal(res.headers.location, '/agent');
      const page = await sp.get('/agent').expect(200);
      assert.match(page.text, /data-testid="sp-agent">Alice Agent</);
      assert.match(page.text, /data-testid="sp-signed-in-with"/);
    });

    it('refuses a non-admin agent with the right password with Comm100’s message and the custom SSO link', async () => {
      const sp = request.agent(idp.spUrl);
      const res = await sp.post('/login').type('form').send({ email: 'bob@example.com', password: 'bob-sp-password' }).expect(403);
      const text = unescapeHtml(res.text);
      assert.ok(text.includes(`data-testid="sp-error">${NON_ADMIN}<`), 'the exact message');
      assert.match(res.text, /<a [^>]*href="\/sso\/start\?siteid=10000"[^>]*>Sign in with custom SSO<\/a>/);
      assert.ok(!res.text.includes('bob-sp-password'), 'the password is not echoed');
      await sp.get('/agent').expect(302);
      // The link starts the SSO, which signs Bob in.
      const start = await sp.get('/sso/start?siteid=10000').expect(302);
      const consumer = await throughIdp(start.headers.location as string, await idpAgent('bob@example.com', 'bob-password'));
      await sp.get(consumer).expect(303);
      assert.match((await sp.get('/agent').expect(200)).text, /data-testid="sp-agent">Bob Builder</);
    });

    it('refuses a wrong password, an unknown email and an agent without an SP password with one clear error', async () => {
      for (const [email, password] of [
        ['alice@example.com', 'not-her-password'],
        ['nobody@example.com', 'whatever'],
        ['carol@example.com', 'carol-password'],
      ] as const) {
        const res = await request(idp.spUrl).post('/login').type('form').send({ email, password }).expect(401);
        assert.match(unescapeHtml(res.text), /The email or password is incorrect\./);
        assert.ok(!res.text.includes(password), 'the password is not echoed');
        assert.deepEqual(setCookies(res), [], 'no session');
      }
    });
  });

  describe('7. an SSO email without an active agent', () => {
    it('redirects with errorcode 3 to a page that gives Comm100’s message and explains the code', async () => {
      const sp = request.agent(idp.spUrl);
      const start = await sp.get('/sso/start?siteid=10000').expect(302);
      const consumer = await throughIdp(start.headers.location as string, await idpAgent('carol@example.com', 'carol-password'));
      const refused = await sp.get(consumer).expect(303);
      const location = new URL(refused.headers.location as string, idp.spUrl);
      assert.equal(location.pathname, '/sso/error');
      assert.equal(location.searchParams.get('errorcode'), '3');
      const page = await sp.get(location.pathname + location.search).expect(403);
      const text = unescapeHtml(page.text);
      assert.ok(text.includes(`data-testid="sp-error">${INACTIVE}<`));
      assert.match(text, /errorcode=3/);
      assert.match(text, /Normal Error/);
      assert.match(text, /Sign in with a different account/);
      await sp.get('/agent').expect(302);
    });

    it('explains an unknown code and refuses a missing one', async () => {
      const unknown = await request(idp.spUrl).get('/sso/error?errorcode=7').expect(403);
      assert.match(unescapeHtml(unknown.text), /does not send error code 7/);
      await request(idp.spUrl).get('/sso/error').expect(400);
      // The reason is a fixed word: free text in the query is not shown.
      const odd = await request(idp.spUrl).get('/sso/error?errorcode=3&reason=%3Cb%3Ehi').expect(403);
      assert.ok(!odd.text.includes('<b>hi'));
    });
  });

  describe('8. only the first login requires inputting the site ID', () => {
    it('shows the form the first time, then its dedicated URL signs an agent signed in at the IdP straight in', async () => {
      const sp = request.agent(idp.spUrl);
      const first = await sp.get('/LoginSSO.aspx?siteid=10000').expect(200);
      assert.match(first.text, /name="siteid" value="10000"/);
      const start = await sp.get('/sso/start?siteid=10000').expect(302);
      assert.ok(setCookies(start).some((c) => /^demosp-siteid=10000;/.test(c) && /HttpOnly/i.test(c)), 'the site ID is remembered');
      const alice = await idpAgent('alice@example.com', 'alice-password');
      await sp.get(await throughIdp(start.headers.location as string, alice)).expect(303);
      await sp.post('/logout').expect(303);

      // Signed out at the SP only (the IdP session stays): the dedicated URL needs no form now.
      for (const url of ['/LoginSSO.aspx?siteid=10000', '/LoginSSO.aspx', '/']) {
        let res = await sp.get(url).expect(302);
        if (url === '/') res = await sp.get(res.headers.location as string).expect(302);
        const consumer = await throughIdp(res.headers.location as string, alice);
        assert.equal((await sp.get(consumer).expect(303)).headers.location, '/agent');
        assert.match((await sp.get('/agent').expect(200)).text, /data-testid="sp-agent">Alice Agent</);
        await sp.post('/logout').expect(303);
      }
      // Just after a sign-out the page shows the form and the notice instead.
      const signedOut = await sp.get('/LoginSSO.aspx?siteid=10000&signedout=1').expect(200);
      assert.match(signedOut.text, /You are signed out/);
    });

    it('answers an unknown site ID with "Site ID is invalid." on the dedicated URL and on the form', async () => {
      for (const url of ['/LoginSSO.aspx?siteid=99999', '/sso/start?siteid=99999']) {
        const res = await request(idp.spUrl).get(url).expect(400);
        assert.match(res.text, /role="alert">Site ID is invalid\.</);
        assert.deepEqual(setCookies(res).filter((c) => c.startsWith('demosp-siteid=')), [], 'nothing remembered');
      }
    });
  });

  describe('9. the Desk-style SP', () => {
    it('offers "Login with <Authentication Service Name>" on its sign-in page when configured, and only there', async () => {
      const desk = await request(idp.spUrl).get('/desk/LoginSSO.aspx?siteid=10000').expect(200);
      assert.match(desk.text, /<a [^>]*href="\/desk\/sso\/start\?siteid=10000"[^>]*data-testid="desk-login-with">Login with mock-idp<\/a>/);
      const root = await request(idp.spUrl).get('/LoginSSO.aspx?siteid=10000').expect(200);
      assert.doesNotMatch(root.text, /Login with/);
    });

    it('offers no "Login with" without the setting', async () => {
      const plain = await startTestIdp();
      try {
        const desk = await request(plain.spUrl).get('/desk/LoginSSO.aspx?siteid=10000').expect(200);
        assert.doesNotMatch(desk.text, /Login with/);
      } finally {
        await plain.close();
      }
    });
  });
});
