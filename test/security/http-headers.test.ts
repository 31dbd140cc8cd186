/**
 * HTTP-level defences: Host-header and proxy-header tricks do not change any URL
 * derived from baseUrl; every page carries the security headers (CSP without
 * inline script, frame-ancestors limited to registered origins, nosniff,
 * no-referrer); responses that carry tokens are never cached; CORS on the token
 * endpoint is limited to registered origins; malformed HTTP is refused and the
 * server keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import request from 'supertest';
import type { TestIdp } from '../helpers/idp.js';
import { csrfFrom, hiddenField, jwtFromLocation, login, setCookies, type Agent } from '../helpers/http.js';
import { ACS, autoPost, startSamlIdp } from '../saml/http-support.js';
import { redirectQuery } from '../saml/support.js';
import { XSS, assertRefused } from './support.js';

const EVIL = 'evil.example';

/** Header sets a client or a misconfigured proxy could send to make the IdP believe it lives elsewhere. */
const HOST_TRICKS: [string, Record<string, string>][] = [
  ['Host: evil.example', { Host: EVIL }],
  ['Host: evil.example with a port', { Host: `${EVIL}:8443` }],
  ['Host with user info', { Host: `localhost@${EVIL}` }],
  ['X-Forwarded-Host and X-Forwarded-Proto', { 'X-Forwarded-Host': EVIL, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443' }],
  ['Forwarded (RFC 7239)', { Forwarded: `host=${EVIL};proto=https` }],
  ['X-Original-URL and X-Rewrite-URL', { 'X-Original-URL': `https://${EVIL}/`, 'X-Rewrite-URL': `https://${EVIL}/` }],
];

function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}

describe('HTTP headers and Host tricks', () => {
  let idp: TestIdp;
  let alice: Agent;

  before(async () => {
    idp = await startSamlIdp();
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  const authnRequest = () =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_h${Date.now()}${Math.random().toString(16).slice(2)}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>https://sp.example.test/metadata</saml:Issuer></samlp:AuthnRequest>`;

  describe('Host-header tricks do not change baseUrl-derived URLs', () => {
    for (const [name, headers] of HOST_TRICKS) {
      it(`with ${name}`, async () => {
        const withHeaders = <T extends request.Test>(t: T): T => {
          for (const [k, v] of Object.entries(headers)) t.set(k, v);
          return t;
        };
        const metadata = await withHeaders(request(idp.url).get('/saml/metadata')).expect(200);
        assert.ok(!metadata.text.includes(EVIL), 'the metadata names only baseUrl');
        assert.match(metadata.text, new RegExp(`Location="${idp.url}/saml/sso"`));

        const toLogin = await withHeaders(request(idp.url).get('/sso/jwt/desk?redirect_url=x')).expect(400);
        assert.ok(!toLogin.text.includes(EVIL));
        const anonymous = await withHeaders(request(idp.url).get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`)).expect(303);
        assert.match(anonymous.headers.location as string, /^\/login\?continue=/, 'redirects stay relative');

        // The token's issuer and the SAML Issuer/Destination come from the config, not from the request.
        const desk = await withHeaders(alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`)).expect(200);
        const token = hiddenField(desk.text, 'jwt')!;
        assert.equal(decodeJwt(token).iss, idp.url);
        const post = autoPost(await withHeaders(alice.get(`/saml/sso?${redirectQuery(authnRequest())}`)));
        assert.equal(post.action, ACS);
        assert.ok(!post.xml.includes(EVIL), 'nothing in the Response names the evil host');
        assert.match(post.xml, new RegExp(`<saml:Issuer>${idp.config.saml.entityId}</saml:Issuer>`));

        const notFound = await withHeaders(request(idp.url).get('/nowhere')).expect(404);
        assert.ok(!notFound.text.includes(EVIL));
      });
    }

    it('with an absolute-form request target naming another host', async () => {
      const out = await rawHttp(idp.running.idpPort, `GET http://${EVIL}/saml/metadata HTTP/1.1\r\nHost: ${EVIL}\r\nConnection: close\r\n\r\n`);
      assert.match(out, /^HTTP\/1\.1 200 /);
      assert.ok(!out.includes(EVIL));
      assert.ok(out.includes(`Location="${idp.url}/saml/sso"`));
    });
  });

  describe('security headers', () => {
    function expectedFrameAncestors(): string[] {
      const urls: string[] = [];
      for (const sp of idp.config.serviceProviders) {
        urls.push(...(sp.jwt?.redirectUrls ?? []), ...(sp.saml?.acsUrls ?? []), ...sp.origins);
        if (sp.logoutUrl) urls.push(sp.logoutUrl);
        if (sp.saml?.sloUrl) urls.push(sp.saml.sloUrl);
      }
      if (idp.config.console.embedUrl) urls.push(idp.config.console.embedUrl);
      return ["'self'", ...new Set(urls.map((u) => new URL(u).origin))].sort();
    }

    function directives(res: request.Response): Map<string, string[]> {
      const csp = String(res.headers['content-security-policy'] ?? '');
      assert.ok(csp, 'a Content-Security-Policy header');
      return new Map(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .filter((d) => d[0])
          .map((d) => [d[0]!, d.slice(1)]),
      );
    }

    /** What every HTML page must carry and must not contain. */
    function assertHardenedPage(res: request.Response, what: string): void {
      assert.match(String(res.headers['content-type']), /text\/html/, what);
      const csp = directives(res);
      assert.deepEqual(csp.get('script-src'), ["'self'"], `${what}: scripts only from our origin, no inline script, no eval`);
      assert.deepEqual(csp.get('default-src'), ["'self'"], what);
      assert.deepEqual(csp.get('object-src'), ["'none'"], what);
      assert.deepEqual(csp.get('base-uri'), ["'none'"], what);
      assert.deepEqual([...(csp.get('frame-ancestors') ?? [])].sort(), expectedFrameAncestors(), `${what}: framing only by registered SP and console origins`);
      assert.ok(!String(res.headers['content-security-policy']).includes('*'), `${what}: no wildcard`);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
      assert.equal(res.headers['x-powered-by'], undefined, what);
      assert.equal(res.headers['strict-transport-security'], undefined, `${what}: no HSTS on a plain-http baseUrl`);
      for (const tag of res.text.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) {
        assert.match(tag, /^<script src="\/static\/[\w.-]+\.js"><\/script>$/, `${what}: every script is a file of ours, none inline`);
      }
      assert.doesNotMatch(res.text, /\son[a-z]+\s*=/i, `${what}: no inline event handlers`);
      assert.doesNotMatch(res.text, /\s(href|src|action|formaction)\s*=\s*["']?\s*javascript:/i, `${what}: no javascript: URLs`);
      assert.doesNotMatch(res.text, /\sstyle\s*=/i, `${what}: no inline styles`);
    }

    function assertNotCached(res: request.Response, what: string): void {
      assert.match(String(res.headers['cache-control']), /no-store/, `${what}: Cache-Control: no-store`);
    }

    it('on every kind of HTML page', async () => {
      const pages: [string, () => Promise<request.Response>][] = [
        ['the login form', () => request(idp.url).get('/login').expect(200)],
        ['the console (home)', () => alice.get('/').expect(200)],
        ['a 404 page', () => request(idp.url).get('/nowhere').expect(404)],
        ['a 400 page', () => request(idp.url).get('/sso/jwt/comm100?redirect_url=javascript:alert(1)').expect(400)],
        ['the signed-out page', () => request(idp.url).get('/signed-out').expect(200)],
        ['the SAML logout confirmation', () => alice.get('/saml/logout').expect(200)],
        ['the JWT auto-POST page', () => alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200)],
        ['the SAML auto-POST page', () => alice.get(`/saml/sso?${redirectQuery(authnRequest())}`).expect(200)],
      ];
      for (const [what, get] of pages) assertHardenedPage(await get(), what);
    });

    it('never lets a response carrying a token be cached or leak through Referer', async () => {
      const consumer = `${idp.spUrl}/sso/jwt/consumer`;
      const redirect = await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
      assert.ok(jwtFromLocation(redirect.headers.location));
      assertNotCached(redirect, 'the JWT redirect');
      assert.equal(redirect.headers['referrer-policy'], 'no-referrer', 'the JWT redirect: no Referer with the token in it');

      const posted = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
      assertNotCached(posted, 'the JWT auto-POST page');
      assert.equal(posted.headers['referrer-policy'], 'no-referrer');
      assert.match(posted.text, /<meta name="referrer" content="no-referrer">/);

      const saml = await alice.get(`/saml/sso?${redirectQuery(authnRequest())}`).expect(200);
      assertNotCached(saml, 'the SAML auto-POST page');
      const idpInit = await alice.get('/saml/idp-init/saml-sp').expect(200);
      assertNotCached(idpInit, 'the IdP-initiated SAML page');

      const json = await alice.get('/sso/token/comm100').expect(200);
      assert.ok((json.body as { token: string }).token);
      assertNotCached(json, 'the /sso/token JSON');
      assertNotCached(await request(idp.url).get('/login').expect(200), 'the login form (CSRF token)');
      assertNotCached(await alice.get('/').expect(200), 'the console');
    });

    it('sets the session cookie HttpOnly, SameSite=Lax, for the whole site', async () => {
      const res = await request(idp.url).get('/login').expect(200);
      const cookie = setCookies(res).find((c) => c.startsWith('mockidp.sid='))!;
      assert.match(cookie, /; Path=\//);
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Lax/);
    });

    it('serves the auto-POST script as a JavaScript file that nosniff protects', async () => {
      const res = await request(idp.url).get('/static/autopost.js').expect(200);
      assert.match(String(res.headers['content-type']), /^(application|text)\/javascript/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    });
  });

  describe('CORS on the token endpoint', () => {
    it('answers a registered origin, and refuses any other without CORS headers', async () => {
      const ok = await alice.get('/sso/token/comm100').set('Origin', idp.spUrl).expect(200);
      assert.equal(ok.headers['access-control-allow-origin'], idp.spUrl);
      assert.match(String(ok.headers.vary), /Origin/);
      for (const origin of [`https://${EVIL}`, 'null', `${idp.spUrl}.${EVIL}`, idp.spUrl.replace('http:', 'https:')]) {
        const res = await alice.get('/sso/token/comm100').set('Origin', origin);
        assertRefused(res, { status: 403, code: 'forbidden_origin', message: /is not registered/ }, origin);
        assert.equal(res.headers['access-control-allow-origin'], undefined);
        const preflight = await request(idp.url).options('/sso/token/comm100').set('Origin', origin).set('Access-Control-Request-Method', 'GET');
        assertRefused(preflight, { status: 403, code: 'forbidden_origin', message: /is not registered/ }, `preflight from ${origin}`);
      }
      const key = new TextEncoder().encode('test-shared-secret-0123456789abcdef');
      await jwtVerify((ok.body as { token: string }).token, key, { algorithms: ['HS256'] });
    });
  });

  describe('malformed HTTP', () => {
    it('answers markup in the path with an escaped 404 page and escaped JSON', async () => {
      const html = await rawHttp(idp.running.idpPort, `GET /${XSS.replace(/ /g, '%20')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(html, /^HTTP\/1\.1 404 /);
      assert.ok(!html.includes('<script>alert(1)'), 'escaped in the page');
      const json = await rawHttp(idp.running.idpPort, `GET /${XSS.replace(/ /g, '%20')} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
      assert.match(json, /^HTTP\/1\.1 404 /);
      assert.match(json, /\\u003cscript\\u003e/, 'escaped in the JSON');
      assert.ok(!json.includes('<script>'));
    });

    it('refuses a request without Host, an oversized request line and a header with a bare CR, and keeps serving', async () => {
      assert.match(await rawHttp(idp.running.idpPort, 'GET /login HTTP/1.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 /);
      assert.match(await rawHttp(idp.running.idpPort, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 431 /);
      assert.match(await rawHttp(idp.running.idpPort, 'GET /login HTTP/1.1\r\nHost: x\r\nX-Evil: a\rSet-Cookie: b\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 /);
      await request(idp.url).get('/healthz').expect(200);
    });

    it('does not echo a TRACE request, and does not sign in on a GET carrying credentials', async () => {
      const trace = await rawHttp(idp.running.idpPort, `TRACE / HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\nConnection: close\r\n\r\n`);
      assert.match(trace, /^HTTP\/1\.1 404 /);
      assert.ok(!trace.includes('secret=1'));
      const agent = request.agent(idp.url);
      const form = await agent.get('/login').expect(200);
      await agent.get(`/login?csrf=${csrfFrom(form.text)}&email=alice%40example.com&password=alice-password`).expect(200);
      await agent.get('/').expect(303);
    });
  });

  it('keeps the JWKS fetchable for the SPs after all of this', async () => {
    const jwks = createRemoteJWKSet(new URL(`${idp.url}/.well-known/jwks.json`));
    const res = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
    await jwtVerify(hiddenField(res.text, 'jwt')!, jwks, { algorithms: ['RS256'], issuer: idp.url });
  });
});
