/**
 * The sign-in fast path (src/http/fast-path.ts) in front of the real app: which
 * requests it answers itself, that its answers are the app's (tokens and Responses
 * that verify, the same headers, the flow history, the replay memory), and that
 * everything else reaches the app untouched.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type http from 'node:http';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import request from 'supertest';
import { fastPath } from '../../src/http/fast-path.js';
import { SESSION_COOKIE, sessionSecret } from '../../src/http/session.js';
import { createLogger, silentLogger, type Logger } from '../../src/logger.js';
import { SqliteSessionStore } from '../../src/store/session-store.js';
import type { AppContext } from '../../src/http/context.js';
import { HS_SECRET, type TestIdp } from '../helpers/idp.js';
import { jwtFromLocation, login, type Agent } from '../helpers/http.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';
import { ACS, autoPost, startSamlIdp } from '../saml/http-support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';

function authnRequestQuery(o: { id?: string; extra?: string; body?: string; relayState?: string } = {}): { id: string; query: string } {
  const id = o.id ?? `_req-${crypto.randomUUID()}`;
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${ACS}"${o.extra ?? ''}>` +
    `<saml:Issuer>${SP_ENTITY}</saml:Issuer>${o.body ?? ''}</samlp:AuthnRequest>`;
  const params = new URLSearchParams({ SAMLRequest: zlib.deflateRawSync(Buffer.from(xml)).toString('base64') });
  if (o.relayState !== undefined) params.set('RelayState', o.relayState);
  return { id, query: params.toString() };
}

describe('the sign-in fast path', () => {
  let idp: TestIdp;
  let ctx: AppContext;
  let certPem: string;
  let consumer: string;
  /** Requests that reached the app. */
  let toApp: string[];
  let logLines: Record<string, unknown>[];

  function handler(options: { sqlite?: boolean; logger?: Logger } = {}): http.RequestListener {
    const { app } = idp.running.idp;
    return fastPath({
      ctx,
      app: (req, res) => {
        toApp.push(`${req.method} ${req.url}`);
        app(req, res);
      },
      store: options.sqlite === false ? undefined : new SqliteSessionStore(ctx.db, { defaultTtlMs: ctx.config.sessionTtlSeconds * 1000 }),
      secret: sessionSecret(ctx.config.sessionSecret, ctx.db),
      ttlSeconds: ctx.config.sessionTtlSeconds,
      logger: options.logger ?? silentLogger,
      securityHeaders: () => ['Content-Security-Policy', "default-src 'self'", 'X-Content-Type-Options', 'nosniff'],
    });
  }

  let agent: Agent;
  const jwtUrl = (extra = '') => `/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${consumer}?site=1`)}&relayState=%2Fagent${extra}`;

  before(async () => {
    idp = await startSamlIdp({ edit: (c) => ({ ...c, allowFaults: true, allowLoginHint: true }) });
    ctx = idp.running.idp.context;
    certPem = ctx.keystore.saml.certificatePem;
    consumer = `${idp.spUrl}/sso/jwt/consumer`;
  });
  after(() => idp.close());

  beforeEach(async () => {
    toApp = [];
    logLines = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    agent = request.agent(handler({ logger: createLogger({ level: 'info', destination: stream }) }));
    await login(agent, 'alice@example.com', 'alice-password');
    // The first sign-in to the SP is the app's: the session notes the SP (for sign-out).
    await agent.get(jwtUrl()).expect(302);
    toApp = [];
  });

  it('answers a repeated JWT sign-in itself, with a token the SP verifies and the app’s headers', async () => {
    const res = await agent.get(jwtUrl()).expect(302);
    assert.deepEqual(toApp, [], 'the app was not asked');
    const location = new URL(res.headers.location as string);
    assert.equal(`${location.origin}${location.pathname}`, consumer);
    assert.equal(location.searchParams.get('site'), '1', "the redirect_url's own query is kept");
    assert.equal(location.searchParams.get('relayState'), '/agent');
    const { payload } = await jwtVerify(jwtFromLocation(res.headers.location as string), new TextEncoder().encode(HS_SECRET), {
      issuer: 'jwt server',
      audience: 'Comm100',
    });
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.name, 'Alice Agent');
    assert.equal(payload.siteId, '10000');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['content-security-policy'], "default-src 'self'");
    assert.match(res.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['set-cookie'], undefined, 'an unchanged session sets no cookie');
    assert.equal(res.text, `Found. Redirecting to ${res.headers.location as string}`);

    // What the app would note: the flow, the jti (for the replayed-jti fault), a log line.
    const flow = (await ctx.flows.list({ limit: 1 }))[0]!;
    assert.equal(flow.protocol, 'jwt');
    assert.equal(flow.outcome, 'delivered');
    assert.equal(flow.user, 'alice@example.com');
    assert.equal(flow.jwt?.claims.jti, payload.jti);
    assert.equal(await ctx.issuer.lastJti('comm100'), payload.jti);
    const line = logLines.find((l) => l.msg === 'request completed' && (l.req as { id: string }).id === res.headers['x-request-id']);
    assert.ok(line, 'one log line for the request');
    assert.equal((line.res as { statusCode: number }).statusCode, 302);
  });

  it('answers a browser with the same HTML redirect page as the app', async () => {
    const fast = await agent.get(jwtUrl()).set('Accept', 'text/html,*/*;q=0.8').expect(302);
    assert.deepEqual(toApp, []);
    const slow = await agent.get(jwtUrl('&unknown=1')).set('Accept', 'text/html,*/*;q=0.8').expect(302);
    assert.equal(toApp.length, 1, 'an unknown parameter goes to the app');
    const page = (r: request.Response) => r.text.replace(/Redirecting to .*<\/p>/, 'Redirecting to …</p>');
    assert.equal(page(fast), page(slow));
    assert.equal(fast.headers['content-type'], slow.headers['content-type']);
    assert.equal(fast.headers.vary, slow.headers.vary);
  });

  it('leaves every other JWT request to the app', async () => {
    const cases: [string, () => request.Test, number][] = [
      ['fault=', () => agent.get(jwtUrl('&fault=expired')), 302],
      ['review=1', () => agent.get(jwtUrl('&review=1')), 303],
      ['login_hint', () => agent.get(jwtUrl('&login_hint=bob%40example.com')), 302],
      ['an unregistered redirect_url', () => agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent('https://evil.example/x')}`), 400],
      ['redirect_url twice', () => agent.get(`${jwtUrl()}&redirect_url=x`), 400],
      ['POST delivery', () => agent.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`), 200],
      ['an unknown SP', () => agent.get('/sso/jwt/nope?redirect_url=x'), 404],
      ['no session', () => request(handler()).get(jwtUrl()), 303],
      ['a forged cookie', () => request(handler()).get(jwtUrl()).set('Cookie', `${SESSION_COOKIE}=s%3Aabc.forged`), 303],
      ['HEAD', () => agent.head(jwtUrl()), 302],
    ];
    for (const [what, send, status] of cases) {
      toApp = [];
      const res = await send();
      assert.equal(res.status, status, `${what}: ${res.status} ${res.text?.slice(0, 200)}`);
      assert.equal(toApp.length, 1, `${what} went to the app`);
    }
  });

  it('leaves a session to the app once its user is disabled', async () => {
    await ctx.users.create({ email: 'frank@example.com', password: 'frank-password-1' });
    const frank = request.agent(handler());
    await login(frank, 'frank@example.com', 'frank-password-1');
    await frank.get(jwtUrl()).expect(302);
    toApp = [];
    await frank.get(jwtUrl()).expect(302);
    assert.deepEqual(toApp, []);
    await ctx.users.update('frank@example.com', { disabled: true });
    const res = await frank.get(jwtUrl()).expect(303);
    assert.match(res.headers.location as string, /^\/login\?continue=/);
    assert.equal(toApp.length, 1);
  });

  it('answers a repeated SP-initiated SAML sign-in itself, with a Response xmlsec1 verifies', async () => {
    const first = autoPost(await agent.get(`/saml/sso?${authnRequestQuery().query}`).expect(200));
    assert.equal(toApp.length, 1, 'the first SAML sign-in is the app’s: the session notes the NameID');
    toApp = [];
    const { id, query } = authnRequestQuery({ relayState: 'rs-1' });
    const res = await agent.get(`/saml/sso?${query}`).expect(200);
    assert.deepEqual(toApp, [], 'the app was not asked');
    const post = autoPost(res);
    assert.equal(post.action, ACS);
    assert.equal(post.fields.RelayState, 'rs-1');
    assert.match(post.xml, new RegExp(`InResponseTo="${id}"`));
    const sessionIndex = (xml: string) => /SessionIndex="([^"]+)"/.exec(xml)?.[1];
    assert.equal(sessionIndex(post.xml), sessionIndex(first.xml), 'the same IdP session');
    for (const signatureOf of ['root', 'Assertion'] as const) {
      const verified = await xmlsecVerify(post.xml, { certificatePem: certPem, mode: 'configured-key', signatureOf });
      assert.ok(verified.ok, `xmlsec1 verifies the ${signatureOf} signature: ${verified.stderr}`);
    }
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal((await ctx.flows.list({ limit: 1 }))[0]!.saml?.inResponseTo, id);

    // The same request again: the app refuses the replayed ID.
    toApp = [];
    const replayed = await agent.get(`/saml/sso?${query}`).expect(400);
    assert.match(replayed.text, /already used/);
    assert.equal(toApp.length, 1);
  });

  it('leaves every other SAML request to the app', async () => {
    await agent.get(`/saml/sso?${authnRequestQuery().query}`).expect(200);
    const cases: [string, string, number][] = [
      ['ForceAuthn', authnRequestQuery({ extra: ' ForceAuthn="true"' }).query, 200],
      [
        'another NameID format',
        authnRequestQuery({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>' }).query,
        200,
      ],
      ['fault=', `${authnRequestQuery().query}&fault=unsigned`, 200],
      ['not a SAMLRequest', 'SAMLRequest=bm90IGRlZmxhdGVk', 400],
    ];
    for (const [what, query, status] of cases) {
      toApp = [];
      const res = await agent.get(`/saml/sso?${query}`);
      assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(toApp.length, 1, `${what} went to the app`);
    }
  });

  it('takes nothing without the SQLite session store (Redis sessions)', async () => {
    const viaRedisLike = request.agent(handler({ sqlite: false }));
    await login(viaRedisLike, 'alice@example.com', 'alice-password');
    await viaRedisLike.get(jwtUrl()).expect(302);
    toApp = [];
    await viaRedisLike.get(jwtUrl()).expect(302);
    assert.equal(toApp.length, 1);
  });
});
