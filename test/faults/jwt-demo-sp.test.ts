/**
 * Every JWT fault, asked for with `fault=` on the IdP's remote login URL
 * (allowFaults: true), delivered through the real HTTP flow to the demo SP's
 * consumer, which must refuse it with a clear message; the delivered token is
 * also refused by jose's jwtVerify with a pinned algorithm, issuer and audience.
 * The Comm100-like tenant takes HS256 by redirect, the Desk-like one RS256 by
 * form POST.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import { CONTACT_JWT_FAULT_NAMES, JWT_FAULT_NAMES } from '../../src/faults/catalog.js';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, jwtFromLocation, login, unescapeHtml, type Agent } from '../helpers/http.js';

interface Tenant {
  id: 'comm100' | 'desk';
  consumer: string;
  issuer: string;
  audience: string;
  alg: 'HS256' | 'RS256';
}

describe('JWT faults through the IdP to the demo SP', () => {
  let idp: TestIdp;
  let browser: Agent;
  let tenants: Record<'comm100' | 'desk', Tenant>;

  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, allowFaults: true }));
    browser = request.agent(idp.url);
    await login(browser, 'alice@example.com', 'alice-password');
    tenants = {
      comm100: { id: 'comm100', consumer: `${idp.spUrl}/sso/jwt/consumer`, issuer: 'jwt server', audience: 'Comm100', alg: 'HS256' },
      desk: { id: 'desk', consumer: `${idp.spUrl}/desk/sso/jwt/consumer`, issuer: idp.url, audience: 'desk', alg: 'RS256' },
    };
  });
  after(() => idp.close());

  /** Signs in to the tenant with the fault; returns the token the IdP delivered. */
  async function tokenWith(tenant: Tenant, fault: string | undefined): Promise<string> {
    const query = `redirect_url=${encodeURIComponent(tenant.consumer)}${fault ? `&fault=${encodeURIComponent(fault)}` : ''}`;
    const res = await browser.get(`/sso/jwt/${tenant.id}?${query}`);
    if (tenant.id === 'comm100') {
      assert.equal(res.status, 302, res.text.slice(0, 300));
      return jwtFromLocation(res.headers.location as string);
    }
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const token = hiddenField(res.text, 'jwt');
    assert.ok(token, 'the auto-POST form carries jwt');
    return token;
  }

  /** The demo SP's consumer receiving the token as the browser delivers it. */
  function deliver(tenant: Tenant, token: string) {
    const sp = request(idp.spUrl);
    const path = new URL(tenant.consumer).pathname;
    return tenant.id === 'comm100' ? sp.get(`${path}?jwt=${encodeURIComponent(token)}`) : sp.post(path).type('form').send({ jwt: token });
  }

  function joseVerify(tenant: Tenant, token: string) {
    const key = tenant.alg === 'HS256' ? new TextEncoder().encode(HS_SECRET) : createRemoteJWKSet(new URL(`${idp.url}/.well-known/jwks.json`));
    return jwtVerify(token, key as Uint8Array, { algorithms: [tenant.alg], issuer: tenant.issuer, audience: tenant.audience, requiredClaims: ['jti', 'exp', 'email'] });
  }

  async function refusedBoth(tenant: Tenant, fault: string, message: RegExp): Promise<void> {
    const token = await tokenWith(tenant, fault);
    await assert.rejects(joseVerify(tenant, token), `jose must refuse ${fault} for ${tenant.id}`);
    const res = await deliver(tenant, token);
    assert.equal(res.status, 401, `${tenant.id} ${fault}: ${res.status} ${res.text.slice(0, 200)}`);
    assert.match(unescapeHtml(res.text), message, `${tenant.id} ${fault}`);
  }

  it('signs the agent in without a fault (the control), on both tenants', async () => {
    for (const tenant of Object.values(tenants)) {
      const token = await tokenWith(tenant, undefined);
      await joseVerify(tenant, token);
      const res = await deliver(tenant, token);
      assert.equal(res.status, 303, res.text.slice(0, 200));
    }
  });

  const cases: [string, RegExp][] = [
    ['expired', /Sign-in refused: The token has expired\./],
    ['not-yet-valid', /Sign-in refused: The token's "nbf" claim is not acceptable/],
    ['wrong-audience', /Sign-in refused: The token's "aud" claim is not acceptable/],
    ['wrong-issuer', /Sign-in refused: The token's "iss" claim is not acceptable/],
    ['bad-signature', /Sign-in refused: The token signature does not verify\./],
    ['wrong-key', /Sign-in refused: The token signature does not verify\./],
    ['alg-none', /Sign-in refused: The token is signed with an algorithm this SP does not accept\./],
    ['missing-email', /Sign-in refused: The token's "email" claim is not acceptable \(missing\)\./],
    ['missing-jti', /Sign-in refused: The token's "jti" claim is not acceptable \(missing\)\./],
    ['clock-skew=3600', /Sign-in refused: The token's "nbf" claim is not acceptable/],
    ['clock-skew=-7200', /Sign-in refused: The token has expired\./],
  ];
  for (const [fault, message] of cases) {
    it(`the demo SP and jose refuse ${fault}, on the HS256 and the RS256 tenant`, async () => {
      for (const tenant of Object.values(tenants)) await refusedBoth(tenant, fault, message);
    });
  }

  it('the Desk (RS256) tenant and jose refuse hs-rs-confusion; the IdP says it does not apply to an HS256 SP', async () => {
    await refusedBoth(tenants.desk, 'hs-rs-confusion', /Sign-in refused: The token is signed with an algorithm this SP does not accept\./);
    const res = await browser.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(tenants.comm100.consumer)}&fault=hs-rs-confusion`).expect(400);
    assert.match(unescapeHtml(res.text), /hs-rs-confusion attacks SPs that verify RS256 or ES256 tokens with a public key; comm100 uses HS256/);
  });

  it('the demo SP refuses replayed-jti (the jti of the last fault-free token it accepted); jose alone cannot tell', async () => {
    for (const tenant of Object.values(tenants)) {
      const first = await tokenWith(tenant, undefined);
      assert.equal((await deliver(tenant, first)).status, 303);
      const replayed = await tokenWith(tenant, 'replayed-jti');
      const { payload } = await joseVerify(tenant, replayed);
      const { payload: firstPayload } = await joseVerify(tenant, first);
      assert.equal(payload.jti, firstPayload.jti);
      const res = await deliver(tenant, replayed);
      assert.equal(res.status, 401);
      assert.match(unescapeHtml(res.text), /Sign-in refused: this token was already used \(replayed jti\)\./);
    }
  });

  it('accepts clock-skew within the demo SP\'s 30-second leeway (a fault a tolerant SP need not refuse)', async () => {
    const token = await tokenWith(tenants.comm100, 'clock-skew=10');
    assert.equal((await deliver(tenants.comm100, token)).status, 303);
  });

  it('covers every JWT fault of the catalogue', () => {
    // The Contact JWT faults go to a messenger's Authorize API, not to an agent SSO consumer: test/conformance/messenger.test.ts.
    const tested = new Set([...cases.map(([f]) => f.replace(/=.*/, '')), 'hs-rs-confusion', 'replayed-jti', ...CONTACT_JWT_FAULT_NAMES]);
    assert.deepEqual([...JWT_FAULT_NAMES].filter((n) => !tested.has(n)), []);
  });
});
