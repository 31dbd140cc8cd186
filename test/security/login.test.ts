/**
 * Hostile sign-in attempts at POST /login: missing and malformed fields, CSRF and
 * cross-site posts, oversized and encoded bodies, injection-shaped and invisible
 * characters, Unicode look-alikes. Each is refused with a clear page, signs nobody
 * in and sets no cookie; a normal sign-in works right after.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, jwtFromLocation, login, setCookies, type Agent } from '../helpers/http.js';
import { XSS, alertText, assertRefused } from './support.js';

const ALICE = 'alice@example.com';
const ALICE_PASSWORD = 'alice-password';

interface Sent {
  /** Sends the hostile request with a fresh agent that has loaded the form; `csrf` is the form's token, `idpUrl` the IdP. */
  send: (agent: Agent, csrf: string, idpUrl: string) => Promise<request.Response>;
  status: number;
  code?: string;
  message: RegExp;
}

const form = (agent: Agent) => agent.post('/login').type('form');
const INCORRECT = /^Incorrect email or password\.$/;

const CASES: [string, Sent][] = [
  ['a missing email', { send: (a, csrf) => form(a).send({ csrf, password: ALICE_PASSWORD }), status: 400, message: /Enter your email and password/ }],
  ['a missing password', { send: (a, csrf) => form(a).send({ csrf, email: ALICE }), status: 400, message: /Enter your email and password/ }],
  ['an empty password', { send: (a, csrf) => form(a).send({ csrf, email: ALICE, password: '' }), status: 400, message: /Enter your email and password/ }],
  ['only spaces as the email', { send: (a, csrf) => form(a).send({ csrf, email: '   ', password: 'x' }), status: 400, message: /Enter your email and password/ }],
  ['a missing CSRF token', { send: (a) => form(a).send({ email: ALICE, password: ALICE_PASSWORD }), status: 403, code: 'csrf_failed', message: /form has expired or was not sent from this site/ }],
  ['a wrong CSRF token', { send: (a, csrf) => form(a).send({ csrf: `${csrf.slice(1)}x`, email: ALICE, password: ALICE_PASSWORD }), status: 403, code: 'csrf_failed', message: /form has expired/ }],
  ['a CSRF token of another length', { send: (a, csrf) => form(a).send({ csrf: `${csrf}${csrf}`, email: ALICE, password: ALICE_PASSWORD }), status: 403, code: 'csrf_failed', message: /form has expired/ }],
  ['the CSRF token given twice', { send: (a, csrf) => form(a).send(`csrf=${csrf}&csrf=${csrf}&email=${ALICE}&password=${ALICE_PASSWORD}`), status: 403, code: 'csrf_failed', message: /form has expired/ }],
  [
    'a CSRF token from another session',
    {
      send: async (a, _csrf, idpUrl) => {
        const other = await request(idpUrl).get('/login');
        return form(a).send({ csrf: csrfFrom(other.text), email: ALICE, password: ALICE_PASSWORD });
      },
      status: 403,
      code: 'csrf_failed',
      message: /form has expired/,
    },
  ],
  ['a cross-site Sec-Fetch-Site', { send: (a, csrf) => form(a).set('Sec-Fetch-Site', 'cross-site').send({ csrf, email: ALICE, password: ALICE_PASSWORD }), status: 403, code: 'cross_site_request', message: /cannot be submitted from another site/ }],
  ['a 1 MB body', { send: (a, csrf) => form(a).send({ csrf, email: ALICE, password: 'a'.repeat(1024 * 1024) }), status: 413, code: 'payload_too_large', message: /too large/ }],
  [
    'a gzip bomb (10 MB of zeros, 10 KB on the wire)',
    {
      send: (a, csrf) =>
        form(a)
          .set('Content-Encoding', 'gzip')
          .serialize((b: unknown) => b as string)
          .send(zlib.gzipSync(Buffer.concat([Buffer.from(`csrf=${csrf}&email=${ALICE}&password=`), Buffer.alloc(10 * 1024 * 1024, 0x61)]))),
      status: 413,
      code: 'payload_too_large',
      message: /too large/,
    },
  ],
  ['an unsupported Content-Encoding', { send: (a, csrf) => form(a).set('Content-Encoding', 'x-evil').send(`csrf=${csrf}`), status: 400, code: 'bad_request', message: /could not be read/ }],
  ['a 10 KB password (refused before hashing)', { send: (a, csrf) => form(a).send({ csrf, email: ALICE, password: 'p'.repeat(10 * 1024) }), status: 400, message: /too long/ }],
  ['a 10 KB email', { send: (a, csrf) => form(a).send({ csrf, email: `${'a'.repeat(10 * 1024)}@example.com`, password: ALICE_PASSWORD }), status: 400, message: /too long/ }],
  ['a non-string email (email[$ne]=)', { send: (a, csrf) => form(a).send(`csrf=${csrf}&email[$ne]=&password=${ALICE_PASSWORD}`), status: 400, message: /Enter your email and password/ }],
  ['a non-string password (password[$gt]=)', { send: (a, csrf) => form(a).send(`csrf=${csrf}&email=${ALICE}&password[$gt]=`), status: 400, message: /Enter your email and password/ }],
  ['the email given twice', { send: (a, csrf) => form(a).send(`csrf=${csrf}&email=${ALICE}&email=bob@example.com&password=${ALICE_PASSWORD}`), status: 400, message: /Enter your email and password/ }],
  [
    'a JSON body with operator objects',
    { send: (a, csrf) => a.post('/login').send({ csrf, email: { $ne: '' }, password: { $ne: '' } }), status: 400, message: /Enter your email and password/ },
  ],
  ['malformed JSON', { send: (a) => a.post('/login').set('Content-Type', 'application/json').send('{"email":'), status: 400, code: 'bad_request', message: /could not be read/ }],
  ['more than 100 form parameters', { send: (a, csrf) => form(a).send(`csrf=${csrf}&${Array.from({ length: 150 }, (_, i) => `p${i}=1`).join('&')}`), status: 400, code: 'bad_request', message: /too many parameters/ }],
  ['a NUL character in the email', { send: (a, csrf) => form(a).send({ csrf, email: `${ALICE}\u0000`, password: ALICE_PASSWORD }), status: 400, message: /invisible or control characters/ }],
  ['an RTL override in the email', { send: (a, csrf) => form(a).send({ csrf, email: `\u202emoc.elpmaxe@ecila`, password: ALICE_PASSWORD }), status: 400, message: /invisible or control characters/ }],
  ['a zero-width space in the email', { send: (a, csrf) => form(a).send({ csrf, email: `alice\u200b@example.com`, password: ALICE_PASSWORD }), status: 400, message: /invisible or control characters/ }],
    // scrypt (HMAC) would hash "alice-password\0" like "alice-password": refused before hashing.
  ['a NUL character after the right password', { send: (a, csrf) => form(a).send({ csrf, email: ALICE, password: `${ALICE_PASSWORD}\u0000` }), status: 400, message: /NUL character/ }],
  ['markup in the email', { send: (a, csrf) => form(a).send({ csrf, email: `${XSS}@example.com`, password: 'x' }), status: 401, message: INCORRECT }],
  ['a Cyrillic look-alike of the email (not NFKC-equivalent)', { send: (a, csrf) => form(a).send({ csrf, email: '\u0430lice@example.com', password: ALICE_PASSWORD }), status: 401, message: INCORRECT }],
  ['an unknown user', { send: (a, csrf) => form(a).send({ csrf, email: 'nobody@example.com', password: ALICE_PASSWORD }), status: 401, message: INCORRECT }],
  ['a wrong password', { send: (a, csrf) => form(a).send({ csrf, email: ALICE, password: 'wrong-password' }), status: 401, message: INCORRECT }],
  ['SQL in the email', { send: (a, csrf) => form(a).send({ csrf, email: "' OR 1=1 --@example.com", password: "' OR '1'='1" }), status: 401, message: INCORRECT }],
];

describe('hostile sign-in attempts', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  async function freshForm(): Promise<{ agent: Agent; csrf: string }> {
    const agent = request.agent(idp.url);
    const page = await agent.get('/login').expect(200);
    return { agent, csrf: csrfFrom(page.text) };
  }

  for (const [name, c] of CASES) {
    it(`refuses ${name} with ${c.status}, signs nobody in and sets no cookie`, async () => {
      const { agent, csrf } = await freshForm();
      const res = await c.send(agent, csrf, idp.url);
      assertRefused(res, { status: c.status, message: c.message, echo: [XSS, '<script>'], ...(c.code ? { code: c.code } : {}) }, name);
      // Not signed in: the home page sends this browser to the form.
      await agent.get('/').expect(303);
      // The next valid sign-in, from the same browser, works.
      await login(agent, ALICE, ALICE_PASSWORD);
      await agent.get('/').expect(200);
    });
  }

  it('answers an unknown user and a wrong password with the same status, message and page', async () => {
    const a = await freshForm();
    const wrong = await form(a.agent).send({ csrf: a.csrf, email: ALICE, password: 'nope' }).expect(401);
    const b = await freshForm();
    const unknown = await form(b.agent).send({ csrf: b.csrf, email: 'nobody@example.com', password: 'nope' }).expect(401);
    assert.equal(alertText(unknown.text), alertText(wrong.text));
    const strip = (html: string) => html.replace(/value="[^"]*"/g, '');
    assert.equal(strip(unknown.text), strip(wrong.text), 'the two pages differ only in the echoed email and the CSRF token');
  });

  it('echoes a hostile email back into the form only HTML-escaped', async () => {
    const { agent, csrf } = await freshForm();
    const res = await form(agent).send({ csrf, email: `${XSS}@example.com`, password: 'x' }).expect(401);
    assert.ok(res.text.includes('value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;'), 'the email is in the form, escaped');
    assert.ok(!res.text.includes('<script>alert(1)'));
  });

  it('normalizes emails with NFKC and compares them case-insensitively, the same way at every step', async () => {
    const key = new TextEncoder().encode(HS_SECRET);
    const consumer = `${idp.spUrl}/sso/jwt/consumer`;
    // Upper case, fullwidth letters (NFKC folds them to ASCII), fullwidth in the password too.
    for (const [email, password] of [
      ['ALICE@EXAMPLE.COM', ALICE_PASSWORD],
      ['\uff21\uff2c\uff29\uff23\uff25@example.com', ALICE_PASSWORD],
      ['alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com', '\uff41lice-password'],
    ] as const) {
      const agent = request.agent(idp.url);
      await login(agent, email, password);
      // The session and the token carry the stored email, not the spelling that was typed.
      const res = await agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
      const { payload } = await jwtVerify(jwtFromLocation(res.headers.location), key, { algorithms: ['HS256'] });
      assert.equal(payload.email, ALICE, `typed ${email}`);
      // And the demo SP, which folds the same way, accepts it.
      const consumed = await request(idp.spUrl).get(new URL(res.headers.location as string).pathname + new URL(res.headers.location as string).search);
      assert.equal(consumed.status, 303, consumed.text.slice(0, 200));
    }
  });

  it('gives a signed-in browser a new session id and keeps no token in the login page', async () => {
    const { agent, csrf } = await freshForm();
    const res = await form(agent).send({ csrf, email: ALICE, password: ALICE_PASSWORD }).expect(303);
    assert.equal(setCookies(res).filter((c) => c.startsWith('mockidp.sid=')).length, 1);
  });
});
