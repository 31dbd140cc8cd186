import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import { decodeMessage, verifyRedirectSignature } from '../../src/saml/binding.js';
import { NS } from '../../src/saml/constants.js';
import { verifyEnvelopedSignature } from '../../src/saml/sign.js';
import { parseUntrustedXml } from '../../src/saml/xml.js';
import type { TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, type Agent } from '../helpers/http.js';
import { SIGNER_SLO, SP_SLO, autoPost, redirectMessage, startSamlIdp } from './http-support.js';
import { SP_SIGNING, redirectQuery } from './support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';
const SIGNER_ENTITY = 'https://signer.example.test/metadata';

function element(xml: string) {
  return new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
}

function statusCodes(xml: string): (string | null)[] {
  return Array.from(element(xml).getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => c.getAttribute('Value'));
}

function logoutRequest(o: { id?: string; issuer?: string; nameId?: string } = {}): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${o.id ?? `_lr-${crypto.randomUUID()}`}" Version="2.0" IssueInstant="${new Date().toISOString()}">` +
    `<saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>` +
    `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId ?? 'alice@example.com'}</saml:NameID>` +
    `</samlp:LogoutRequest>`
  );
}

function logoutResponse(inResponseTo: string, o: { issuer?: string; status?: string } = {}): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="_lres-${crypto.randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" InResponseTo="${inResponseTo}">` +
    `<saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${o.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/></samlp:Status></samlp:LogoutResponse>`
  );
}

describe('SAML single logout over HTTP', () => {
  let idp: TestIdp;
  let certPem: string;

  before(async () => {
    idp = await startSamlIdp();
    certPem = (await request(idp.url).get('/saml/cert.pem').expect(200)).text;
  });
  after(() => idp.close());

  /** A browser signed in to the IdP and, through IdP-initiated SSO, to these SPs. */
  async function signedInTo(spIds: string[], email = 'alice@example.com', password = 'alice-password'): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    for (const id of spIds) autoPost(await agent.get(`/saml/idp-init/${id}`));
    return agent;
  }

  /** The login page sends a signed-in browser straight on, and shows the form to others. */
  async function stillSignedIn(agent: Agent): Promise<boolean> {
    const res = await agent.get('/login?continue=%2Fsigned-in');
    return res.status === 303 && res.headers.location === '/signed-in';
  }

  /** Checks the IdP's signature on an HTTP-Redirect message and returns its XML. */
  function signedRedirect(location: string, param: 'SAMLRequest' | 'SAMLResponse', destination: string): { xml: string; relayState: string | null } {
    const { url, xml } = redirectMessage(location, param);
    assert.equal(`${url.origin}${url.pathname}`, destination);
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: url.search.slice(1) }, param);
    verifyRedirectSignature(decoded.redirectSignature!, [certPem], param);
    return { xml, relayState: url.searchParams.get('RelayState') };
  }

  describe('SP-initiated', () => {
    it('ends the IdP session and answers a signed LogoutResponse to the SP sloUrl (HTTP-Redirect)', async () => {
      const agent = await signedInTo(['saml-sp']);
      const res = await agent.get(`/saml/slo?${redirectQuery(logoutRequest({ id: '_lr-redirect-1' }), { relayState: 'bye' })}`).expect(303);
      const { xml, relayState } = signedRedirect(res.headers.location as string, 'SAMLResponse', SP_SLO);
      const response = element(xml);
      assert.equal(response.localName, 'LogoutResponse');
      assert.equal(response.getAttribute('InResponseTo'), '_lr-redirect-1');
      assert.equal(response.getAttribute('Destination'), SP_SLO);
      assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Success']);
      assert.equal(relayState, 'bye');
      assert.equal(await stillSignedIn(agent), false);
    });

    it('logs the other SPs of the session out first, then answers the SP that asked', async () => {
      const agent = await signedInTo(['saml-sp', 'signer']);
      const toSigner = await agent.get(`/saml/slo?${redirectQuery(logoutRequest({ id: '_lr-chain-1' }))}`).expect(303);
      const { xml: request1 } = signedRedirect(toSigner.headers.location as string, 'SAMLRequest', SIGNER_SLO);
      const lr = element(request1);
      assert.equal(lr.localName, 'LogoutRequest');
      assert.equal(lr.getElementsByTagNameNS(NS.saml, 'NameID')[0]!.textContent, 'alice@example.com');
      assert.match(lr.getElementsByTagNameNS(NS.samlp, 'SessionIndex')[0]!.textContent!, /^_[0-9a-f]{40}$/);
      // The signer SP answers, signing as it must.
      const answer = logoutResponse(lr.getAttribute('ID')!, { issuer: SIGNER_ENTITY });
      const back = await agent.get(`/saml/slo?${redirectQuery(answer, { param: 'SAMLResponse', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } })}`).expect(303);
      const { xml } = signedRedirect(back.headers.location as string, 'SAMLResponse', SP_SLO);
      assert.equal(element(xml).getAttribute('InResponseTo'), '_lr-chain-1');
      assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Success']);
      assert.equal(await stillSignedIn(agent), false);
    });

    it('answers PartialLogout when another SP does not confirm', async () => {
      const agent = await signedInTo(['saml-sp', 'signer']);
      const toSigner = await agent.get(`/saml/slo?${redirectQuery(logoutRequest())}`).expect(303);
      const { xml: request1 } = signedRedirect(toSigner.headers.location as string, 'SAMLRequest', SIGNER_SLO);
      const answer = logoutResponse(element(request1).getAttribute('ID')!, { issuer: SIGNER_ENTITY, status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' });
      const back = await agent.get(`/saml/slo?${redirectQuery(answer, { param: 'SAMLResponse', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } })}`).expect(303);
      const { xml } = signedRedirect(back.headers.location as string, 'SAMLResponse', SP_SLO);
      assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Responder', 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout']);
    });

    it('takes a cross-site HTTP-POST LogoutRequest and answers with a signed auto-POST', async () => {
      const agent = await signedInTo(['saml-sp']);
      const body = { SAMLRequest: Buffer.from(logoutRequest({ id: '_lr-post-1' })).toString('base64'), RelayState: 'post bye' };
      const posted = await request(idp.url).post('/saml/slo').type('form').send(body).expect(303);
      assert.match(posted.headers.location as string, /^\/saml\/continue\/[A-Za-z0-9_-]{24}$/);
      const post = autoPost(await agent.get(posted.headers.location as string));
      assert.equal(post.action, SP_SLO);
      assert.equal(post.fields.RelayState, 'post bye');
      assert.equal(element(post.xml).getAttribute('InResponseTo'), '_lr-post-1');
      assert.doesNotThrow(() => verifyEnvelopedSignature(post.xml, parseUntrustedXml(post.xml, 'LogoutResponse'), [certPem], 'LogoutResponse'));
      assert.equal(await stillSignedIn(agent), false);
    });

    it('leaves another user\'s session alone and answers UnknownPrincipal', async () => {
      const agent = await signedInTo(['saml-sp'], 'bob@example.com', 'bob-password');
      const res = await agent.get(`/saml/slo?${redirectQuery(logoutRequest({ nameId: 'alice@example.com' }))}`).expect(303);
      const { xml } = signedRedirect(res.headers.location as string, 'SAMLResponse', SP_SLO);
      assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal']);
      assert.equal(await stillSignedIn(agent), true);
    });

    it('answers Success to a browser that has no IdP session', async () => {
      const res = await request(idp.url).get(`/saml/slo?${redirectQuery(logoutRequest())}`).expect(303);
      const { xml } = signedRedirect(res.headers.location as string, 'SAMLResponse', SP_SLO);
      assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Success']);
    });

    it('requires the signature of an SP with a requestSigningCert', async () => {
      const agent = await signedInTo(['signer']);
      const unsigned = await agent.get(`/saml/slo?${redirectQuery(logoutRequest({ issuer: SIGNER_ENTITY }))}`).expect(400);
      assert.match(unsigned.text, /The LogoutRequest is not signed/);
      assert.equal(await stillSignedIn(agent), true);
      const signed = await agent.get(`/saml/slo?${redirectQuery(logoutRequest({ issuer: SIGNER_ENTITY }), { sign: { privateKeyPem: SP_SIGNING.privateKeyPem } })}`).expect(303);
      signedRedirect(signed.headers.location as string, 'SAMLResponse', SIGNER_SLO);
    });
  });

  describe('IdP-initiated', () => {
    it('lists the SPs, then sends each one with an sloUrl a signed LogoutRequest, and shows the outcome', async () => {
      const agent = await signedInTo(['saml-sp', 'no-slo', 'signer']);
      const page = await agent.get('/saml/logout').expect(200);
      assert.match(page.text, /SAML SP \(test\)/);
      assert.match(page.text, /no-slo<\/strong> <span class="muted small">\(no single logout URL: its session stays\)<\/span>/);
      const start = await agent.post('/saml/logout').type('form').send({ csrf: csrfFrom(page.text) }).expect(303);
      const { xml: toSp } = signedRedirect(start.headers.location as string, 'SAMLRequest', SP_SLO);
      const first = element(toSp);
      assert.equal(first.getElementsByTagNameNS(NS.saml, 'NameID')[0]!.textContent, 'alice@example.com');
      assert.ok(first.getAttribute('NotOnOrAfter'));

      const next = await agent.get(`/saml/slo?${redirectQuery(logoutResponse(first.getAttribute('ID')!), { param: 'SAMLResponse' })}`).expect(303);
      const { xml: toSigner } = signedRedirect(next.headers.location as string, 'SAMLRequest', SIGNER_SLO);
      const second = element(toSigner);
      const done = await agent
        .get(`/saml/slo?${redirectQuery(logoutResponse(second.getAttribute('ID')!, { issuer: SIGNER_ENTITY }), { param: 'SAMLResponse', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } })}`)
        .expect(200);
      assert.match(done.text, /You are signed out/);
      assert.match(done.text, /<li><strong>SAML SP \(test\)<\/strong>: <span class="ok">signed out<\/span><\/li>/);
      assert.match(done.text, /<li><strong>Signing SP \(test\)<\/strong>: <span class="ok">signed out<\/span><\/li>/);
      assert.equal(await stillSignedIn(agent), false);
    });

    it('signs the browser out at once even when an SP never answers', async () => {
      const agent = await signedInTo(['saml-sp']);
      const page = await agent.get('/saml/logout').expect(200);
      await agent.post('/saml/logout').type('form').send({ csrf: csrfFrom(page.text) }).expect(303);
      assert.equal(await stillSignedIn(agent), false);
    });

    it('refuses a LogoutResponse that answers nothing this session sent', async () => {
      const agent = await signedInTo(['saml-sp']);
      const res = await agent.get(`/saml/slo?${redirectQuery(logoutResponse('_never-sent'), { param: 'SAMLResponse' })}`).expect(400);
      assert.match(res.text, /This LogoutResponse from &#34;saml-sp&#34; does not answer a LogoutRequest this session is waiting for\./);
      assert.equal(await stillSignedIn(agent), true);
    });

    it('refuses a cross-site or token-less start', async () => {
      const agent = await signedInTo(['saml-sp']);
      const page = await agent.get('/saml/logout').expect(200);
      await agent.post('/saml/logout').type('form').set('Sec-Fetch-Site', 'cross-site').send({ csrf: csrfFrom(page.text) }).expect(403);
      await agent.post('/saml/logout').type('form').send({}).expect(403);
      assert.equal(await stillSignedIn(agent), true);
    });
  });

  describe('bad input', () => {
    it('refuses a message with neither or both of SAMLRequest and SAMLResponse', async () => {
      const neither = await request(idp.url).get('/saml/slo').expect(400);
      assert.match(neither.text, /A single logout message carries either a SAMLRequest or a SAMLResponse parameter\./);
      const both = `${redirectQuery(logoutRequest())}&${redirectQuery(logoutResponse('_x'), { param: 'SAMLResponse' })}`;
      await request(idp.url).get(`/saml/slo?${both}`).expect(400);
    });

    it('refuses a replayed LogoutRequest', async () => {
      const query = redirectQuery(logoutRequest({ id: '_lr-replayed' }));
      await request(idp.url).get(`/saml/slo?${query}`).expect(303);
      const again = await request(idp.url).get(`/saml/slo?${query}`).expect(400);
      assert.match(again.text, /This LogoutRequest \(ID &#34;_lr-replayed&#34;\) was already used/);
    });

    it('refuses a LogoutRequest from an SP that has no sloUrl to answer to', async () => {
      const res = await request(idp.url).get(`/saml/slo?${redirectQuery(logoutRequest({ issuer: 'https://no-slo.example.test' }))}`).expect(400);
      assert.match(res.text, /The service provider &#34;no-slo&#34; has no saml\.sloUrl to send the LogoutResponse to\./);
    });

    it('refuses a bad POST at once, before any redirect', async () => {
      const res = await request(idp.url).post('/saml/slo').type('form').send({ SAMLRequest: '!!' }).expect(400);
      assert.match(res.text, /The SAMLRequest is not valid base64\./);
    });
  });
});
