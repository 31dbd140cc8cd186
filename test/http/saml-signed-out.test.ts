/**
 * The IdP's signed-out page after SAML single logout: it names the SPs that were
 * told and what each answered, and every SP it did not tell (JWT sign-ins, SAML
 * SPs without an sloUrl), which keep their own sessions.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import type { TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, unescapeHtml } from '../helpers/http.js';
import { autoPost, redirectMessage, startSamlIdp } from '../saml/http-support.js';
import { redirectQuery } from '../saml/support.js';

function logoutResponse(inResponseTo: string): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="_lres-${crypto.randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" InResponseTo="${inResponseTo}">` +
    `<saml:Issuer>https://sp.example.test/metadata</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`
  );
}

describe('the signed-out page after SAML single logout', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        // saml-sp also signs in with JWT, as the demo's Comm100 does.
        serviceProviders: c.serviceProviders!.map((sp) => (sp.id === 'saml-sp' ? { ...sp, jwt: { redirectUrls: ['https://sp.example.test/jwt'], algorithm: 'RS256' as const } } : sp)),
      }),
    });
  });
  after(() => idp.close());

  it('says which SPs single logout told and what they answered, and which keep their own sessions', async () => {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    await agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`)}`).expect(302);
    await agent.get(`/sso/jwt/saml-sp?redirect_url=${encodeURIComponent('https://sp.example.test/jwt')}`).expect(302);
    autoPost(await agent.get('/saml/idp-init/saml-sp'));
    autoPost(await agent.get('/saml/idp-init/no-slo'));

    const confirm = await agent.get('/saml/logout').expect(200);
    const start = await agent.post('/saml/logout').type('form').send({ csrf: csrfFrom(confirm.text) }).expect(303);
    const { xml } = redirectMessage(start.headers.location as string, 'SAMLRequest');
    const id = new DOMParser().parseFromString(xml, 'text/xml').documentElement!.getAttribute('ID')!;
    const done = await agent.get(`/saml/slo?${redirectQuery(logoutResponse(id), { param: 'SAMLResponse' })}`).expect(200);
    const text = unescapeHtml(done.text);

    assert.match(text, /<h2>Told by SAML single logout<\/h2>/);
    assert.match(text, /<li><strong>SAML SP \(test\)<\/strong>: <span class="ok">signed out<\/span><\/li>/);
    const notTold = /data-testid="slo-not-told">([\s\S]*?)<\/ul>/.exec(text)?.[1] ?? '';
    assert.match(notTold, /<strong>Comm100 \(test\)<\/strong>: not told: JWT has no single logout, so it keeps its own session\./);
    assert.match(notTold, /<strong>SAML SP \(test\)<\/strong>: its SAML session was ended; a JWT sign-in to it keeps its own session/);
    assert.match(notTold, /<strong>no-slo<\/strong>: not told: it has no saml\.sloUrl/);
    assert.match(text, /Service providers not told by single logout keep their own sessions until you sign out there\./);
  });
});
