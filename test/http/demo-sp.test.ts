import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SignJWT } from 'jose';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, login, unescapeHtml, type Agent } from '../helpers/http.js';

describe('the demo service provider', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  async function idpAgent(email = 'alice@example.com', password = 'alice-password'): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    return agent;
  }

  /** Runs the SP → IdP → SP round trip by hand and returns the SP's consumer URL carrying the token. */
  async function tokenUrlFor(idpSession: Agent): Promise<string> {
    const start = await request(idp.spUrl).get('/sso/start?siteid=10000').expect(302);
    const remoteLogin = new URL(start.headers.location as string);
    assert.equal(remoteLogin.origin, idp.url);
    assert.equal(remoteLogin.pathname, '/sso/jwt/comm100');
    const redirectUrl = new URL(remoteLogin.searchParams.get('redirect_url')!);
    assert.equal(`${redirectUrl.origin}${redirectUrl.pathname}`, `${idp.spUrl}/sso/jwt/consumer`);
    assert.equal(redirectUrl.searchParams.get('relayState'), '/agent');
    const res = await idpSession.get(remoteLogin.pathname + remoteLogin.search).expect(302);
    return res.headers.location as string;
  }

  it('signs the agent in with the token from the IdP and shows who they are and the token', async () => {
    const sp = request.agent(idp.spUrl);
    const tokenUrl = new URL(await tokenUrlFor(await idpAgent()));
    const consumed = await sp.get(tokenUrl.pathname + tokenUrl.search).expect(303);
    assert.equal(consumed.headers.location, '/agent');
    const page = await sp.get('/agent').expect(200);
    assert.match(page.text, /data-testid="sp-agent">Alice Agent</);
    assert.match(page.text, /&#34;email&#34;: &#34;alice@example.com&#34;/);
    assert.match(page.text, /&#34;aud&#34;: &#34;Comm100&#34;/);
  });

  it('refuses a replayed token (one-time jti)', async () => {
    const tokenUrl = new URL(await tokenUrlFor(await idpAgent()));
    const path = tokenUrl.pathname + tokenUrl.search;
    await request(idp.spUrl).get(path).expect(303);
    const again = await request(idp.spUrl).get(path).expect(401);
    assert.match(again.text, /already used \(replayed jti\)/);
  });

  it('refuses an inactive agent and an unknown one with the Comm100 message', async () => {
    for (const [email, password] of [
      ['carol@example.com', 'carol-password'],
      ['erin@example.com', 'erin-password'],
    ] as const) {
      const tokenUrl = new URL(await tokenUrlFor(await idpAgent(email, password)));
      // As Comm100 does: the consumer redirects with errorcode 3, and that page says why.
      const consumed = await request(idp.spUrl).get(tokenUrl.pathname + tokenUrl.search).expect(303);
      assert.equal(consumed.headers.location, '/sso/error?errorcode=3&reason=no-active-agent');
      const res = await request(idp.spUrl).get(consumed.headers.location as string).expect(403);
      assert.match(res.text, /This account does not exist in Comm100 or its status has been set inactive/);
    }
  });

  it('refuses tokens with a bad signature, another audience, another issuer or past expiry', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { email: 'alice@example.com', jti: crypto.randomUUID(), iat: now, nbf: now, exp: now + 300 };
    const sign = (claims: Record<string, unknown>, secret = HS_SECRET, iss = 'jwt server', aud = 'Comm100') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(iss).setAudience(aud).sign(new TextEncoder().encode(secret));
    const cases: [string, Promise<string>, RegExp][] = [
      ['bad signature', sign({ ...good, jti: crypto.randomUUID() }, 'another-secret-another-secret!!'), /signature does not verify/],
      ['wrong audience', sign({ ...good, jti: crypto.randomUUID() }, HS_SECRET, 'jwt server', 'Other'), /"aud" claim/],
      ['wrong issuer', sign({ ...good, jti: crypto.randomUUID() }, HS_SECRET, 'evil'), /"iss" claim/],
      ['expired', sign({ ...good, jti: crypto.randomUUID(), iat: now - 4000, nbf: now - 4000, exp: now - 3600 }), /expired/],
      ['missing jti', sign({ email: good.email, iat: now, exp: now + 300 }), /"jti" claim/],
    ];
    for (const [name, token, message] of cases) {
      const res = await request(idp.spUrl).get(`/sso/jwt/consumer?jwt=${await token}`);
      assert.equal(res.status, 401, name);
      assert.match(unescapeHtml(res.text), message, name);
    }
  });

  it('says "Site ID is invalid." for another site id', async () => {
    const res = await request(idp.spUrl).get('/sso/start?siteid=999').expect(400);
    assert.match(res.text, /Site ID is invalid\./);
  });

  it('accepts the Desk-style form POST with an RS256 token checked against the IdP JWKS', async () => {
    const session = await idpAgent('bob@example.com', 'bob-password');
    const form = await session.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer?relayState=%2Fdesk%2Fagent`)}`).expect(200);
    const sp = request.agent(idp.spUrl);
    const res = await sp.post('/desk/sso/jwt/consumer?relayState=%2Fdesk%2Fagent').type('form').send({ jwt: hiddenField(form.text, 'jwt') }).expect(303);
    assert.equal(res.headers.location, '/desk/agent');
    const page = await sp.get('/desk/agent').expect(200);
    assert.match(page.text, /Bob Builder/);
    assert.match(page.text, /&#34;alg&#34;: &#34;RS256&#34;/);
  });

  it('sends remote logout through the IdP logout URL', async () => {
    const session = await idpAgent();
    const tokenUrl = new URL(await tokenUrlFor(session));
    const sp = request.agent(idp.spUrl);
    await sp.get(tokenUrl.pathname + tokenUrl.search).expect(303);
    const out = await sp.post('/logout').expect(303);
    // Back to the registered logoutUrl (same scheme, host, port and path), with a query the SP reads to say "signed out".
    assert.equal(out.headers.location, `${idp.url}/logout?redirect_url=${encodeURIComponent(`${idp.spUrl}/?signedout=1`)}`);
    const back = await session.get(new URL(out.headers.location as string).pathname + new URL(out.headers.location as string).search).expect(303);
    assert.equal(back.headers.location, `${idp.spUrl}/?signedout=1`);
    await session.get('/').expect(303);
    // Without an SP session, /agent starts SSO again.
    const agentPage = await sp.get('/agent').expect(302);
    assert.match(agentPage.headers.location as string, new RegExp(`^${idp.url}/sso/jwt/comm100\\?redirect_url=`));
  });
});
