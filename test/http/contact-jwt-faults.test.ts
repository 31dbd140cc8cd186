/**
 * The Contact JWT faults from the review page and the control API: offered and
 * applied for an SP with jwt.identityClaim, refused for one without, and
 * old-shared-token only once the SP's shared token was changed at run time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, jwtVerify } from 'jose';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, unescapeHtml, type Agent } from '../helpers/http.js';

const TOKEN = 'contact-jwt-admin-token';
const FIRST_TOKEN = 'messenger-shared-token-before-reset-01';
const RESET_TOKEN = 'messenger-shared-token-after-reset-002';

function testId(html: string, id: string): string {
  const m = new RegExp(`<(\\w+)[^>]*data-testid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  assert.ok(m, `the page has ${id}`);
  return unescapeHtml(m[2]!);
}
const options = (html: string) => [...html.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1]);

describe('Contact JWT faults on the review page and the control API', () => {
  let idp: TestIdp;
  let alice: Agent;
  const api = (method: 'post' | 'put', path: string) => request(idp.url)[method](path).set('Authorization', `Bearer ${TOKEN}`);
  const messengerInput = (secret: string) => ({
    id: 'messenger',
    jwt: { redirectUrls: [`${idp.spUrl}/securemessage/widget`], algorithm: 'HS256', secret, audience: 'messenger', ttlSeconds: 600, identityClaim: 'identity' },
  });

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      adminToken: TOKEN,
      serviceProviders: [
        ...c.serviceProviders!.filter((sp) => sp.id !== 'messenger'),
        { id: 'messenger', jwt: { redirectUrls: [`${c.demo!.spBaseUrl}/securemessage/widget`], algorithm: 'HS256', secret: FIRST_TOKEN, audience: 'messenger', ttlSeconds: 600, identityClaim: 'identity' } },
      ],
    }));
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  async function review(spId: string, redirect: string) {
    const start = await alice.get(`/sso/jwt/${spId}?redirect_url=${encodeURIComponent(redirect)}&review=1`).expect(303);
    const path = start.headers.location as string;
    const page = (await alice.get(path).expect(200)).text;
    return { path, page, csrf: csrfFrom(page) };
  }

  it('offers and applies missing-identity and missing-exp on the review page of an SP with an identityClaim, described as in the catalogue', async () => {
    const { path, page, csrf } = await review('messenger', `${idp.spUrl}/securemessage/widget`);
    assert.ok(options(page).includes('missing-identity') && options(page).includes('missing-exp'));
    assert.ok(!options(page).includes('old-shared-token'), 'no earlier shared token is known yet');
    assert.match(unescapeHtml(page), /<option value="missing-identity">missing-identity: Contact JWT: the SP's identity claim \(jwt\.identityClaim, e\.g\. identity\) is left out/);
    const applied = await alice.post(`${path}/fault`).type('form').send({ csrf, fault: 'missing-identity' }).expect(303);
    const next = (await alice.get(applied.headers.location as string).expect(200)).text;
    assert.match(testId(next, 'review-faults'), /<code>missing-identity<\/code>: Contact JWT: the SP's identity claim/);
    const claims = JSON.parse(testId(next, 'jwt-claims')) as Record<string, unknown>;
    assert.equal(claims.identity, undefined);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(decodeJwt(testId(next, 'jwt-token')).identity, undefined);
  });

  it('neither offers nor applies them for an SP without an identityClaim', async () => {
    const { path, page, csrf } = await review('comm100', `${idp.spUrl}/sso/jwt/consumer`);
    for (const name of ['missing-identity', 'missing-exp', 'old-shared-token']) assert.ok(!options(page).includes(name), name);
    const refused = await alice.post(`${path}/fault`).type('form').send({ csrf, fault: 'missing-exp' }).expect(400);
    assert.match(testId(refused.text, 'review-error'), /missing-exp is a Contact JWT fault, for SPs whose tokens identify a visitor \(jwt\.identityClaim\); comm100 has no jwt\.identityClaim\./);
  });

  it('mints them through POST /api/tokens for an SP with an identityClaim, and refuses them for one without', async () => {
    const noExp = await api('post', '/api/tokens').send({ sp: 'messenger', user: 'alice@example.com', faults: ['missing-exp'] }).expect(201);
    assert.equal(noExp.body.claims.exp, undefined);
    assert.equal(noExp.body.claims.identity, 'alice@example.com');
    await assert.rejects(jwtVerify(noExp.body.token as string, new TextEncoder().encode(FIRST_TOKEN), { requiredClaims: ['exp'] }), /missing required "exp" claim/);
    const noIdentity = await api('post', '/api/tokens').send({ sp: 'messenger', user: 'alice@example.com', fault: 'missing-identity' }).expect(201);
    assert.equal(noIdentity.body.claims.identity, undefined);
    const refused = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', faults: 'missing-identity' }).expect(400);
    assert.equal(refused.body.error, 'invalid_fault');
    assert.match(refused.body.message, /missing-identity is a Contact JWT fault.*comm100 has no jwt\.identityClaim\./);
  });

  it('signs old-shared-token with the shared token the SP had before a run-time change, and says why when there was none', async () => {
    const none = await api('post', '/api/tokens').send({ sp: 'messenger', user: 'alice@example.com', faults: 'old-shared-token' }).expect(400);
    assert.match(none.body.message, /old-shared-token signs with the shared token messenger had before its jwt\.secret last changed, and this process has seen no such change since it started/);
    await api('put', '/api/service-providers/messenger').send(messengerInput(RESET_TOKEN)).expect(200);
    try {
      const old = await api('post', '/api/tokens').send({ sp: 'messenger', user: 'alice@example.com', faults: 'old-shared-token' }).expect(201);
      const token = old.body.token as string;
      await jwtVerify(token, new TextEncoder().encode(FIRST_TOKEN), { algorithms: ['HS256'] });
      await assert.rejects(jwtVerify(token, new TextEncoder().encode(RESET_TOKEN), { algorithms: ['HS256'] }), /signature verification failed/);
      const { page } = await review('messenger', `${idp.spUrl}/securemessage/widget`);
      assert.ok(options(page).includes('old-shared-token'), 'offered once an earlier shared token is known');
    } finally {
      await api('put', '/api/service-providers/messenger').send(messengerInput(FIRST_TOKEN)).expect(200);
    }
    // Back to the first token: the remembered one (the reset's) is not the current one, and still signs the fault.
    const again = await api('post', '/api/tokens').send({ sp: 'messenger', user: 'alice@example.com', faults: 'old-shared-token' }).expect(201);
    await jwtVerify(again.body.token as string, new TextEncoder().encode(RESET_TOKEN), { algorithms: ['HS256'] });
  });
});
