import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, jwtFromLocation, login, setCookies, type Agent } from '../helpers/http.js';

const hsKey = new TextEncoder().encode(HS_SECRET);

describe('JWT single sign-on', () => {
  let idp: TestIdp;
  let consumer: string;
  let jwks: ReturnType<typeof createLocalJWKSet>;

  before(async () => {
    idp = await startTestIdp();
    consumer = `${idp.spUrl}/sso/jwt/consumer`;
    const res = await request(idp.url).get('/.well-known/jwks.json').expect(200);
    jwks = createLocalJWKSet(res.body as JSONWebKeySet);
  });
  after(() => idp.close());

  async function signedIn(email = 'alice@example.com', password = 'alice-password'): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    return agent;
  }

  function ssoUrl(redirectUrl: string, sp = 'comm100', extra = ''): string {
    return `/sso/jwt/${sp}?redirect_url=${encodeURIComponent(redirectUrl)}${extra}`;
  }

  it('sends a signed-in user back to redirect_url with an HS256 token carrying the full claim set', async () => {
    const agent = await signedIn();
    const before = Math.floor(Date.now() / 1000);
    const res = await agent.get(ssoUrl(`${consumer}?relayState=%2Fagent`)).expect(302);
    const location = res.headers.location as string;
    assert.ok(location.startsWith(`${consumer}?relayState=%2Fagent&jwt=`), location);
    const token = jwtFromLocation(location);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, hsKey, { algorithms: ['HS256'], issuer: 'jwt server', audience: 'Comm100' });
    assert.equal(payload.sub, 'comm100');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.name, 'Alice Agent');
    assert.equal(payload.siteId, '10000');
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    assert.ok(payload.iat! >= before && payload.iat! <= before + 5);
    assert.equal(payload.nbf, payload.iat);
    assert.equal(payload.exp, payload.iat! + 1800);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
  });

  it('gives every token a fresh jti', async () => {
    const agent = await signedIn();
    const jtis = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await agent.get(ssoUrl(consumer)).expect(302);
      const { payload } = await jwtVerify(jwtFromLocation(res.headers.location), hsKey, { algorithms: ['HS256'] });
      jtis.add(String(payload.jti));
    }
    assert.equal(jtis.size, 5);
  });

  it('keeps the query of redirect_url exactly and adds a RelayState given beside it', async () => {
    const agent = await signedIn();
    const res = await agent.get(ssoUrl(`${consumer}?a=1&b=x%20y&a=2`, 'comm100', '&RelayState=%2Fchats%3Fid%3D7')).expect(302);
    const location = res.headers.location as string;
    assert.ok(location.startsWith(`${consumer}?a=1&b=x%20y&a=2&jwt=`), location);
    assert.equal(new URL(location).searchParams.get('relayState'), '/chats?id=7');
  });

  it('does not add a RelayState when redirect_url already carries one', async () => {
    const agent = await signedIn();
    const res = await agent.get(ssoUrl(`${consumer}?relayState=mine`, 'comm100', '&relayState=other')).expect(302);
    const params = new URL(res.headers.location as string).searchParams;
    assert.deepEqual(params.getAll('relayState'), ['mine']);
  });

  it('shows the login form first when there is no session, then delivers the token', async () => {
    const agent = request.agent(idp.url);
    const target = ssoUrl(`${consumer}?relayState=%2Fagent`);
    const first = await agent.get(target).expect(303);
    assert.equal(first.headers.location, `/login?continue=${encodeURIComponent(target)}`);
    assert.equal(setCookies(first).length, 0, 'no session is created before the form is shown');
    const form = await agent.get(first.headers.location as string).expect(200);
    assert.match(form.text, /to continue to <strong>Comm100 \(test\)<\/strong>/);
    const posted = await login(agent, 'bob@example.com', 'bob-password', target);
    assert.equal(posted.headers.location, target);
    const res = await agent.get(target).expect(302);
    const { payload } = await jwtVerify(jwtFromLocation(res.headers.location), hsKey, { algorithms: ['HS256'], audience: 'Comm100' });
    assert.equal(payload.email, 'bob@example.com');
  });

  it('picks the service provider from the allow-list on /sso/jwt without an id', async () => {
    const agent = await signedIn();
    const res = await agent.get(`/sso/jwt?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
    await jwtVerify(jwtFromLocation(res.headers.location), hsKey, { algorithms: ['HS256'], audience: 'Comm100' });
    const none = await agent.get(`/sso/jwt?redirect_url=${encodeURIComponent('https://nobody.example/x')}`).expect(400);
    assert.match(none.text, /No service provider has https:\/\/nobody\.example\/x among its redirectUrls/);
  });

  it('delivers Desk-style tokens as an auto-submitting form, RS256 with a kid from the JWKS', async () => {
    const agent = await signedIn();
    const deskConsumer = `${idp.spUrl}/desk/sso/jwt/consumer`;
    const res = await agent.get(ssoUrl(deskConsumer, 'desk', '&relayState=%2Fdesk%2Fagent')).expect(200);
    assert.match(res.headers['content-type'] as string, /text\/html/);
    assert.match(res.text, new RegExp(`<form method="post" action="${deskConsumer.replace(/[/.]/g, '\\$&')}"`));
    assert.match(res.text, /<script src="\/static\/autopost\.js"><\/script>/);
    assert.match(res.text, /<button type="submit">/, 'a no-script button is there');
    assert.equal(hiddenField(res.text, 'relayState'), '/desk/agent');
    const token = hiddenField(res.text, 'jwt')!;
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'RS256');
    assert.match(String(header.kid), /^dev-CHANGE-ME-/);
    const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256'], issuer: idp.url, audience: 'desk' });
    assert.equal(payload.sub, 'alice@example.com');
    assert.equal(payload.identity, 'alice@example.com');
    assert.deepEqual(payload.groups, ['admins', 'agents']);
    assert.equal(payload.exp, payload.iat! + 300);
  });

  it('signs ES256 tokens verifiable with the JWKS', async () => {
    const agent = await signedIn('erin@example.com', 'erin-password');
    const res = await agent.get(ssoUrl('https://es.example.test/consumer', 'es')).expect(302);
    const { payload, protectedHeader } = await jwtVerify(jwtFromLocation(res.headers.location), jwks, { algorithms: ['ES256'], audience: 'es' });
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(payload.email, 'erin@example.com');
    assert.equal(payload.name, undefined, 'no name claim when the user has no name');
  });

  it('publishes only public key material in the JWKS', async () => {
    const res = await request(idp.url).get('/.well-known/jwks.json').expect(200);
    const keys = (res.body as JSONWebKeySet).keys;
    assert.equal(keys.length, 2);
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const k of keys) {
      assert.ok(k.kid);
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal((k as Record<string, unknown>)[priv], undefined, `no ${priv}`);
    }
  });

  it('answers 404 for an unknown service provider', async () => {
    const res = await request(idp.url).get(ssoUrl(consumer, 'nope')).expect(404);
    assert.match(res.text, /There is no service provider &#34;nope&#34;\./);
    assert.match(res.text, /<p class="muted">The configured JWT service providers: comm100, desk, es[,.]/, 'the page lists the ids that would work');
  });

  it('shows the registered redirectUrls of the SP when it refuses a redirect_url', async () => {
    const agent = await signedIn();
    const res = await agent.get(ssoUrl('https://evil.example.test/steal', 'comm100')).expect(400);
    assert.match(res.text, /The redirect_url is not registered for Comm100 \(test\): https:\/\/evil\.example\.test\/steal is not in its redirectUrls\./);
    assert.match(res.text, new RegExp(`<p class="muted">The redirectUrls registered for Comm100 \\(test\\): ${consumer.replace(/[/.]/g, '\\$&')}\\.</p>`));
  });

  describe('refuses every bad redirect_url with a 400 page naming the problem and no token', () => {
    const cases: [string, (c: string) => string, RegExp][] = [
      ['javascript:', () => 'redirect_url=' + encodeURIComponent('javascript:alert(1)'), /scheme &#34;javascript:&#34;/],
      ['data:', () => 'redirect_url=' + encodeURIComponent('data:text/html,<script>alert(1)</script>'), /scheme &#34;data:&#34;/],
      ['protocol-relative', () => 'redirect_url=' + encodeURIComponent('//evil.example/sso/jwt/consumer'), /protocol-relative/],
      ['backslash', () => 'redirect_url=' + encodeURIComponent('http:\\\\evil.example\\x'), /backslash/],
      ['userinfo', (c) => 'redirect_url=' + encodeURIComponent(c.replace('http://', 'http://localhost@')), /user name or password/],
      ['another host', (c) => 'redirect_url=' + encodeURIComponent(c.replace('localhost', 'evil.example')), /not registered/],
      ['another port', (c) => 'redirect_url=' + encodeURIComponent(c.replace(/:(\d+)\//, (_m, p: string) => `:${Number(p) + 1}/`)), /not registered/],
      ['another path', (c) => 'redirect_url=' + encodeURIComponent(c + '/x'), /not registered/],
      ['another scheme', (c) => 'redirect_url=' + encodeURIComponent(c.replace('http:', 'https:')), /not registered/],
      ['a trailing-dot host', (c) => 'redirect_url=' + encodeURIComponent(c.replace('localhost', 'localhost.')), /not registered/],
      ['CR/LF', (c) => 'redirect_url=' + encodeURIComponent(c) + '%0d%0aSet-Cookie:x=1', /control characters/],
      ['a tab', (c) => 'redirect_url=' + encodeURIComponent(c.replace('http', 'ht\ttp')), /control characters/],
      ['a repeated parameter', (c) => `redirect_url=${encodeURIComponent(c)}&redirect_url=${encodeURIComponent(c)}`, /given 2 times/],
      ['an empty value', () => 'redirect_url=', /is empty/],
      ['a missing parameter', () => 'x=1', /parameter is missing/],
      ['a 4 KB value', (c) => 'redirect_url=' + encodeURIComponent(`${c}?pad=${'a'.repeat(4096)}`), /longer than 4000 characters/],
      ['not a URL', () => 'redirect_url=' + encodeURIComponent('consumer'), /not an absolute URL/],
    ];
    for (const [name, query, message] of cases) {
      it(`refuses ${name}`, async () => {
        const agent = await signedIn();
        const res = await agent.get(`/sso/jwt/comm100?${query(consumer)}`).expect(400);
        assert.match(res.headers['content-type'] as string, /text\/html/);
        assert.match(res.text, message);
        assert.equal(res.headers.location, undefined);
        assert.doesNotMatch(res.text, /eyJ/, 'no token in the page');
        assert.doesNotMatch(res.text, /<script>alert/, 'input is never echoed unescaped');
        assert.doesNotMatch(res.text, /at .*\.ts:\d+/, 'no stack trace');
      });
    }
  });

  describe('the token endpoint for widgets (Contact JWT)', () => {
    it('answers 401 JSON without a session', async () => {
      const res = await request(idp.url).get('/sso/token/desk').expect(401);
      assert.equal(res.body.error, 'not_signed_in');
    });

    it('returns the token as JSON with CORS for a registered origin only', async () => {
      const agent = await signedIn();
      const res = await agent.get('/sso/token/desk').set('Origin', idp.spUrl).expect(200);
      assert.equal(res.headers['access-control-allow-origin'], idp.spUrl);
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      assert.equal(res.headers['cache-control'], 'no-store');
      const { payload } = await jwtVerify(res.body.token as string, jwks, { algorithms: ['RS256'], audience: 'desk' });
      assert.equal(payload.identity, 'alice@example.com');
      assert.equal(res.body.expiresAt, new Date(payload.exp! * 1000).toISOString());
      const foreign = await agent.get('/sso/token/desk').set('Origin', 'http://evil.example').expect(403);
      assert.equal(foreign.body.error, 'forbidden_origin');
      assert.equal(foreign.headers['access-control-allow-origin'], undefined);
      assert.equal(foreign.body.token, undefined);
    });

    it('answers a CORS preflight from a registered origin', async () => {
      const res = await request(idp.url).options('/sso/token/desk').set('Origin', idp.spUrl).expect(204);
      assert.equal(res.headers['access-control-allow-origin'], idp.spUrl);
    });
  });
});
