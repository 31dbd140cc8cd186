/**
 * Hostile redirect_url values at every endpoint that takes one: the remote login
 * URL with and without an SP id, and the remote logout URL. Each is refused with a
 * 400 page (or JSON), for a browser that is signed in, without a token and without
 * touching the session; the next valid request still gets its token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { jwtFromLocation, login, type Agent } from '../helpers/http.js';
import { XSS, assertRefused } from './support.js';

interface Case {
  name: string;
  /** The raw query string (after "?") for an allowed URL `t`. */
  query: (t: URL) => string;
  /** What the message must say. */
  message?: RegExp;
}

const q = (value: string) => `redirect_url=${encodeURIComponent(value)}`;

const CASES: Case[] = [
  { name: 'a javascript: URL', query: () => q(`javascript:alert(document.cookie)//${XSS}`), message: /scheme "javascript:"/ },
  { name: 'a JaVaScRiPt: URL in mixed case', query: () => q('JaVaScRiPt:alert(1)'), message: /scheme "javascript:"/ },
  { name: 'a javascript: URL split by a tab', query: () => q('java\tscript:alert(1)'), message: /control characters/ },
  { name: 'a javascript: URL with a leading space', query: () => q(' javascript:alert(1)'), message: /leading or trailing spaces/ },
  { name: 'a data: URL carrying HTML', query: () => q(`data:text/html,${XSS}`), message: /scheme "data:"/ },
  { name: 'a protocol-relative //evil URL', query: (t) => q(`//evil.example${t.pathname}`), message: /protocol-relative/ },
  { name: 'a /\\evil URL', query: (t) => q(`/\\evil.example${t.pathname}`), message: /backslash/ },
  { name: 'an https:\\\\evil URL', query: (t) => q(`https:\\\\evil.example${t.pathname}`), message: /backslash/ },
  { name: 'an https:evil URL without slashes', query: (t) => q(`https:evil.example${t.pathname}`), message: /not registered|No service provider|not the logoutUrl/ },
  { name: 'the SP as user info before an evil host (https://sp@evil)', query: (t) => q(`${t.protocol}//${t.host}@evil.example${t.pathname}`), message: /user name or password/ },
  { name: 'the SP host as a prefix of an evil host (https://sp.evil)', query: (t) => q(`${t.protocol}//${t.hostname}.evil.example:${t.port}${t.pathname}`) },
  { name: 'an evil host with the SP after a fragment (https://evil#@sp)', query: (t) => q(`${t.protocol}//evil.example#@${t.host}${t.pathname}`) },
  { name: 'an evil host with the SP after a query (https://evil?@sp)', query: (t) => q(`${t.protocol}//evil.example?@${t.host}${t.pathname}`) },
  { name: 'another scheme (https instead of http)', query: (t) => q(`https://${t.host}${t.pathname}`) },
  { name: 'another port', query: (t) => q(`${t.protocol}//${t.hostname}:1${t.pathname}`) },
  { name: 'the host as an IP address', query: (t) => q(`${t.protocol}//127.0.0.1:${t.port}${t.pathname}`) },
  { name: 'a look-alike host (Cyrillic o)', query: (t) => q(`${t.protocol}//l\u043ecalhost:${t.port}${t.pathname}`) },
  { name: 'another path (a suffix)', query: (t) => q(`${t.origin}${t.pathname}x`) },
  { name: 'another path (dot segments out of the registered one)', query: (t) => q(`${t.origin}${t.pathname}/../../evil`) },
  { name: 'another path carrying markup', query: (t) => q(`${t.origin}/${XSS}`) },
  { name: 'a trailing-dot host', query: (t) => q(`${t.protocol}//${t.hostname}.:${t.port}${t.pathname}`) },
  { name: 'encoded CR/LF (a header injection attempt)', query: (t) => `${q(t.href)}%0d%0aSet-Cookie:%20pwned=1`, message: /control characters/ },
  { name: 'double-encoded CR/LF', query: (t) => q(`${t.href}%0d%0aSet-Cookie: pwned=1`) },
  { name: 'a NUL byte', query: (t) => `${q(t.href)}%00`, message: /control characters/ },
  { name: 'the parameter repeated (valid, then evil)', query: (t) => `${q(t.href)}&${q('https://evil.example/')}`, message: /given 2 times/ },
  { name: 'the parameter repeated (evil, then valid)', query: (t) => `${q('https://evil.example/')}&${q(t.href)}`, message: /given 2 times/ },
  { name: 'an empty value', query: () => 'redirect_url=', message: /is empty/ },
  { name: 'a relative path', query: (t) => q(t.pathname), message: /not an absolute URL/ },
  { name: 'a 10 KB value', query: (t) => q(`${t.href}?x=${'a'.repeat(10 * 1024)}`), message: /longer than 4000 characters/ },
];

describe('hostile redirect_url values', () => {
  let idp: TestIdp;
  let agent: Agent;
  let consumer: URL;
  let logoutUrl: URL;

  before(async () => {
    idp = await startTestIdp();
    agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    consumer = new URL(`${idp.spUrl}/sso/jwt/consumer`);
    logoutUrl = new URL(`${idp.spUrl}/`);
  });
  after(() => idp.close());

  /** The valid request after each refusal: a token for the signed-in user, the session untouched. */
  async function stillWorks(): Promise<void> {
    const res = await agent.get(`/sso/jwt/comm100?${q(`${consumer.href}?relayState=%2Fagent`)}`).expect(302);
    assert.ok(jwtFromLocation(res.headers.location));
  }

  const endpoints = [
    { name: 'the remote login URL /sso/jwt/:spId', path: '/sso/jwt/comm100', target: () => consumer },
    { name: 'the remote login URL without an SP id, /sso/jwt', path: '/sso/jwt', target: () => consumer },
    { name: 'the remote logout URL /logout', path: '/logout', target: () => logoutUrl },
  ];

  for (const endpoint of endpoints) {
    describe(`at ${endpoint.name}`, () => {
      for (const c of CASES) {
        it(`refuses ${c.name}, as a page and as JSON, and keeps the session`, async () => {
          const url = `${endpoint.path}?${c.query(endpoint.target())}`;
          const page = await agent.get(url);
          assertRefused(page, { status: 400, code: 'invalid_redirect_url', message: c.message ?? /redirect_?url/i, echo: [XSS, '<script>'] }, c.name);
          const json = await agent.get(url).set('Accept', 'application/json');
          assertRefused(json, { status: 400, code: 'invalid_redirect_url', message: c.message ?? /redirect_?url/i }, `${c.name} (JSON)`);
          // The refused logout did not sign the user out, and the next valid request works.
          await agent.get('/').expect(200);
          await stillWorks();
        });
      }

      it('refuses a missing redirect_url (except at /logout, where it is optional)', async () => {
        if (endpoint.path === '/logout') {
          // A plain GET /logout signs out and shows the signed-out page: nothing to redirect.
          const other = request.agent(idp.url);
          await login(other, 'bob@example.com', 'bob-password');
          const res = await other.get('/logout').expect(200);
          assert.match(res.text, /signed out/i);
          await other.get('/').expect(303);
          return;
        }
        assertRefused(await agent.get(endpoint.path), { status: 400, code: 'invalid_redirect_url', message: /missing/ });
        await stillWorks();
      });
    });
  }

  it('accepts the registered URL with an added query, and keeps CR/LF in it percent-encoded', async () => {
    const res = await agent.get(`/sso/jwt/comm100?${q(`${consumer.href}?x=%0d%0aSet-Cookie:%20pwned=1`)}`).expect(302);
    const location = res.headers.location as string;
    assert.ok(location.startsWith(`${consumer.href}?x=%0d%0aSet-Cookie:%20pwned=1&jwt=`), location);
    assert.equal(res.headers['set-cookie'], undefined, 'no header was injected');
  });

  it('signs out at /logout and goes to the registered logoutUrl only', async () => {
    const other = request.agent(idp.url);
    await login(other, 'bob@example.com', 'bob-password');
    const res = await other.get(`/logout?${q(logoutUrl.href)}`).expect(303);
    assert.equal(res.headers.location, logoutUrl.href);
    await other.get('/').expect(303);
  });
});
