import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import { SignedXml } from 'xml-crypto';
import { NS } from '../../src/saml/constants.js';
import { childElements } from '../../src/saml/xml.js';
import { signXml } from '../../src/saml/sign.js';
import type { TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, type Agent } from '../helpers/http.js';
import { ONELOGIN, runOneLogin } from '../helpers/onelogin.js';
import { ACS, ACS_2, SIGNER_ACS, autoPost, startSamlIdp } from './http-support.js';
import { SP_SIGNING, UNRELATED, fixture, redirectQuery } from './support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';

function authnRequest(o: { id?: string; issuer?: string; acs?: string; extra?: string; body?: string } = {}): string {
  const acs = o.acs ? ` AssertionConsumerServiceURL="${o.acs}"` : '';
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${o.id ?? `_req-${crypto.randomUUID()}`}" Version="2.0" IssueInstant="${new Date().toISOString()}"${acs}${o.extra ?? ''}>` +
    `<saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>${o.body ?? ''}</samlp:AuthnRequest>`
  );
}

function element(xml: string) {
  return new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
}

function first(el: ReturnType<typeof element>, ns: string, name: string) {
  return el.getElementsByTagNameNS(ns, name)[0];
}

describe('SAML single sign-on over HTTP', () => {
  let idp: TestIdp;
  let certPem: string;

  before(async () => {
    idp = await startSamlIdp();
    certPem = (await request(idp.url).get('/saml/cert.pem').expect(200)).text;
  });
  after(() => idp.close());

  async function signedIn(): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    return agent;
  }

  function verifies(xml: string, which: 'Response' | 'Assertion'): boolean {
    const root = element(xml);
    const signed = which === 'Response' ? root : first(root, NS.saml, 'Assertion')!;
    const signature = childElements(signed, NS.ds, 'Signature')[0];
    if (!signature) return false;
    const verifier = new SignedXml({ publicCert: certPem, getCertFromKeyInfo: () => null });
    verifier.loadSignature(signature.toString());
    return verifier.checkSignature(xml);
  }

  describe('SP-initiated, HTTP-Redirect', () => {
    it('asks an anonymous browser to sign in, then POSTs a signed Response to the ACS with the RelayState exactly', async () => {
      const agent = request.agent(idp.url);
      const relayState = 'https://sp.example.test/deep/link?a=1&b=<x> "y" é';
      const xml = authnRequest({ id: '_http-redirect-0001' });
      const toLogin = await agent.get(`/saml/sso?${redirectQuery(xml, { relayState })}`).expect(303);
      const continuePath = decodeURIComponent(/^\/login\?continue=(.+)&sp=saml-sp$/.exec(toLogin.headers.location as string)![1]!);
      const form = await agent.get(toLogin.headers.location as string).expect(200);
      assert.match(form.text, /to continue to <strong>SAML SP \(test\)<\/strong>/, 'the login form names the SP');
      assert.match(continuePath, /^\/saml\/continue\/[A-Za-z0-9_-]{24}$/);
      const loggedIn = await login(agent, 'alice@example.com', 'alice-password', continuePath);
      assert.equal(loggedIn.headers.location, continuePath);
      const page = await agent.get(continuePath);
      const post = autoPost(page);
      assert.equal(post.action, ACS);
      assert.equal(post.fields.RelayState, relayState);
      const response = element(post.xml);
      assert.equal(response.getAttribute('InResponseTo'), '_http-redirect-0001');
      assert.equal(response.getAttribute('Destination'), ACS);
      assert.equal(first(response, NS.saml, 'Issuer')!.textContent, `${idp.url}/saml/metadata`);
      assert.equal(first(response, NS.saml, 'NameID')!.textContent, 'alice@example.com');
      assert.equal(first(response, NS.saml, 'Audience')!.textContent, SP_ENTITY);
      assert.equal(first(response, NS.saml, 'SubjectConfirmationData')!.getAttribute('InResponseTo'), '_http-redirect-0001');
      assert.equal(verifies(post.xml, 'Response'), true);
      assert.equal(verifies(post.xml, 'Assertion'), true);
      // The page posts itself with the shared script, never an inline one.
      assert.match(page.text, /<script src="\/static\/autopost\.js"><\/script>/);
      assert.doesNotMatch(page.text, /<script>/);
      assert.match(page.text, /<button type="submit">Continue to SAML SP \(test\)<\/button>/);
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.match(page.headers['content-security-policy'] as string, /form-action 'self'[^;]*https:\/\/sp\.example\.test/);
    });

    it('answers at once when the browser already has a session, to the requested registered ACS', async () => {
      const agent = await signedIn();
      const post = autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest({ acs: ACS_2 }))}`));
      assert.equal(post.action, ACS_2);
      assert.equal(element(post.xml).getAttribute('Destination'), ACS_2);
      assert.equal(post.fields.RelayState, undefined);
    });

    it('shows the login form again for ForceAuthn, and the new sign-in is the AuthnInstant', async () => {
      const agent = await signedIn();
      const firstAuth = first(element(autoPost(await agent.get('/saml/idp-init/saml-sp')).xml), NS.saml, 'AuthnStatement')!.getAttribute('AuthnInstant')!;
      await new Promise((r) => setTimeout(r, 1100));
      const page = await agent.get(`/saml/sso?${redirectQuery(authnRequest({ extra: ' ForceAuthn="true"' }))}`).expect(200);
      assert.match(page.text, /<form[^>]*action="\/login"/);
      assert.match(page.text, /SAML SP \(test\)/);
      const next = /name="continue" value="([^"]+)"/.exec(page.text)![1]!;
      const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(page.text), email: 'alice@example.com', password: 'alice-password', continue: next }).expect(303);
      const post = autoPost(await agent.get(res.headers.location as string));
      const secondAuth = first(element(post.xml), NS.saml, 'AuthnStatement')!.getAttribute('AuthnInstant')!;
      assert.ok(Date.parse(secondAuth) > Date.parse(firstAuth), `${secondAuth} is after ${firstAuth}`);
    });

    it('answers a passive request without a session with a NoPassive status, and with a session with an assertion', async () => {
      const anonymous = autoPost(await request(idp.url).get(`/saml/sso?${redirectQuery(authnRequest({ id: '_passive-1', extra: ' IsPassive="true"' }), { relayState: 'rs' })}`));
      assert.equal(anonymous.action, ACS);
      assert.equal(anonymous.fields.RelayState, 'rs');
      const status = element(anonymous.xml);
      assert.equal(status.getAttribute('InResponseTo'), '_passive-1');
      const codes = Array.from(status.getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => c.getAttribute('Value'));
      assert.deepEqual(codes, ['urn:oasis:names:tc:SAML:2.0:status:Responder', 'urn:oasis:names:tc:SAML:2.0:status:NoPassive']);
      assert.equal(first(status, NS.saml, 'Assertion'), undefined);
      assert.equal(verifies(anonymous.xml, 'Response'), true);

      const agent = await signedIn();
      const withSession = autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest({ extra: ' IsPassive="true"' }))}`));
      assert.ok(first(element(withSession.xml), NS.saml, 'Assertion'));
    });

    it('answers InvalidNameIDPolicy for a NameID format it does not issue', async () => {
      const agent = await signedIn();
      const xml = authnRequest({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"/>' });
      const post = autoPost(await agent.get(`/saml/sso?${redirectQuery(xml)}`));
      const codes = Array.from(element(post.xml).getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => c.getAttribute('Value'));
      assert.deepEqual(codes, ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy']);
      assert.match(first(element(post.xml), NS.samlp, 'StatusMessage')!.textContent!, /does not issue NameIDs in the format urn:oasis:names:tc:SAML:1\.1:nameid-format:X509SubjectName; it issues .*nameid-format:transient/);
      assert.equal(first(element(post.xml), NS.saml, 'Assertion'), undefined);
    });

    it('refuses the same AuthnRequest twice', async () => {
      const agent = await signedIn();
      const query = redirectQuery(authnRequest({ id: '_replayed-0001' }));
      autoPost(await agent.get(`/saml/sso?${query}`));
      const again = await agent.get(`/saml/sso?${query}`).expect(400);
      assert.match(again.text, /This AuthnRequest \(ID &#34;_replayed-0001&#34;\) was already used; a SAML message is accepted once\./);
      assert.match(again.text, /<code>replayed_request<\/code>/);
    });
  });

  describe('SP-initiated, HTTP-POST', () => {
    it('takes the cross-site POST without a cookie, and continues with a GET that sees the session', async () => {
      const agent = await signedIn();
      const body = { SAMLRequest: Buffer.from(authnRequest({ id: '_http-post-0001' })).toString('base64'), RelayState: 'from post' };
      // The SP's auto-submitted form: a cross-site POST, which carries no SameSite=Lax cookie.
      const posted = await request(idp.url).post('/saml/sso').set('Sec-Fetch-Site', 'cross-site').type('form').send(body).expect(303);
      const next = posted.headers.location as string;
      assert.match(next, /^\/saml\/continue\/[A-Za-z0-9_-]{24}$/);
      const post = autoPost(await agent.get(next));
      assert.equal(element(post.xml).getAttribute('InResponseTo'), '_http-post-0001');
      assert.equal(post.fields.RelayState, 'from post');
      // A continuation is used once.
      const reused = await agent.get(next).expect(400);
      assert.match(reused.text, /This SAML request has expired or was already answered\./);
    });
  });

  describe('an SP whose requests must be signed and whose assertions are encrypted', () => {
    it('accepts a signed Redirect request and sends an EncryptedAssertion', async () => {
      const agent = await signedIn();
      const xml = authnRequest({ issuer: 'https://signer.example.test/metadata' });
      const post = autoPost(await agent.get(`/saml/sso?${redirectQuery(xml, { sign: { privateKeyPem: SP_SIGNING.privateKeyPem } })}`));
      assert.equal(post.action, SIGNER_ACS);
      const response = element(post.xml);
      assert.ok(first(response, NS.saml, 'EncryptedAssertion'));
      assert.equal(first(response, NS.saml, 'Assertion'), undefined);
      assert.doesNotMatch(post.xml, /alice@example\.com/);
    });

    it('accepts a signed POST request', async () => {
      const agent = await signedIn();
      const id = `_signed-post-${crypto.randomUUID()}`;
      const xml = signXml(authnRequest({ id, issuer: 'https://signer.example.test/metadata' }), { id, credentials: SP_SIGNING });
      const posted = await request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: Buffer.from(xml).toString('base64') }).expect(303);
      const post = autoPost(await agent.get(posted.headers.location as string));
      assert.equal(element(post.xml).getAttribute('InResponseTo'), id);
    });

    it('refuses unsigned and wrongly signed requests with a 400 page', async () => {
      const xml = authnRequest({ issuer: 'https://signer.example.test/metadata' });
      const unsigned = await request(idp.url).get(`/saml/sso?${redirectQuery(xml)}`).expect(400);
      assert.match(unsigned.text, /The AuthnRequest is not signed: the HTTP-Redirect binding needs SigAlg and Signature parameters/);
      const wrong = await request(idp.url).get(`/saml/sso?${redirectQuery(xml, { sign: { privateKeyPem: UNRELATED.privateKeyPem } })}`).expect(400);
      assert.match(wrong.text, /The signature of the AuthnRequest does not verify with the service provider&#39;s certificate \(requestSigningCert\)\./);
      assert.match(wrong.text, /<code>invalid_signature<\/code>/);
      const postUnsigned = await request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: Buffer.from(xml).toString('base64') }).expect(400);
      assert.match(postUnsigned.text, /The AuthnRequest is not signed, and this service provider&#39;s messages must be signed/);
    });
  });

  describe('bad input', () => {
    const cases: [string, () => request.Test, number, RegExp][] = [
      ['bad base64', () => request(idp.url).get('/saml/sso?SAMLRequest=not-base64!!'), 400, /The SAMLRequest is not valid base64\./],
      ['bad DEFLATE', () => request(idp.url).get(`/saml/sso?SAMLRequest=${encodeURIComponent(Buffer.from('<x/>').toString('base64'))}`), 400, /The SAMLRequest is not valid DEFLATE data/],
      [
        'a DEFLATE bomb',
        () => request(idp.url).get(`/saml/sso?${redirectQuery('', { deflated: zlib.deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20), { level: 9 }) })}`),
        400,
        /The SAMLRequest inflates to more than 131072 bytes, which is not accepted\./,
      ],
      ['not XML', () => request(idp.url).get(`/saml/sso?${redirectQuery(fixture('authn-request.not-xml.txt'))}`), 400, /is not well-formed XML \(missing root element\)\./],
      ['several roots', () => request(idp.url).get(`/saml/sso?${redirectQuery(fixture('authn-request.two-roots.xml'))}`), 400, /must have exactly one root element, it has several\./],
      ['a DOCTYPE with an entity', () => request(idp.url).get(`/saml/sso?${redirectQuery(fixture('authn-request.doctype-entity.xml'))}`), 400, /contains a DOCTYPE or an entity declaration, which are not accepted\./],
      [
        'a DEFLATE-compressed HTTP-POST message (node-saml by default)',
        () => request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: zlib.deflateRawSync(authnRequest()).toString('base64') }),
        400,
        /The SAMLRequest looks DEFLATE-compressed: the HTTP-POST binding sends it base64-encoded but not compressed \(SAML Bindings §3\.5\.4\)/,
      ],
      ['the billion laughs', () => request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: Buffer.from(fixture('authn-request.billion-laughs.xml')).toString('base64') }), 400, /contains a DOCTYPE or an entity declaration/],
      ['an unknown Issuer', () => request(idp.url).get(`/saml/sso?${redirectQuery(authnRequest({ issuer: 'https://nobody.example.test' }))}`), 400, /No service provider is registered with the SAML entity ID &#34;https:\/\/nobody\.example\.test&#34;/],
      ['an unregistered ACS URL', () => request(idp.url).get(`/saml/sso?${redirectQuery(authnRequest({ acs: 'https://attacker.example.test/acs' }))}`), 400, /The AssertionConsumerServiceURL &#34;https:\/\/attacker\.example\.test\/acs&#34; is not registered for the service provider &#34;saml-sp&#34;/],
      ['no SAMLRequest at all', () => request(idp.url).get('/saml/sso'), 400, /The request has no SAMLRequest parameter\./],
      ['an oversize POST', () => request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: 'A'.repeat(200 * 1024) }), 413, /The request body is too large\./],
    ];
    for (const [name, send, status, message] of cases) {
      it(`answers ${name} with a ${status} page saying what was wrong, and posts nothing`, async () => {
        const res = await send().expect(status);
        assert.match(res.headers['content-type'] as string, /^text\/html/);
        assert.match(res.text, message);
        assert.doesNotMatch(res.text, /SAMLResponse|data-auto-submit/);
      });
    }

    it('keeps serving after all of them', async () => {
      await request(idp.url).get('/saml/metadata').expect(200);
      const agent = await signedIn();
      autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest())}`));
    });
  });

  describe('IdP-initiated', () => {
    it('sends an unsolicited Response to the default ACS, after sign-in, with the RelayState', async () => {
      const agent = request.agent(idp.url);
      const path = '/saml/idp-init/saml-sp?RelayState=%2Fagent%3Ftab%3D1';
      const res = await agent.get(path).expect(303);
      assert.equal(res.headers.location, `/login?continue=${encodeURIComponent(path)}`);
      await login(agent, 'alice@example.com', 'alice-password', path);
      const post = autoPost(await agent.get(path));
      assert.equal(post.action, ACS);
      assert.equal(post.fields.RelayState, '/agent?tab=1');
      assert.doesNotMatch(post.xml, /InResponseTo/);
      assert.equal(verifies(post.xml, 'Response'), true);
    });

    it('refuses an unknown SP, an SP without SAML, and a repeated RelayState', async () => {
      const agent = await signedIn();
      assert.match((await agent.get('/saml/idp-init/nobody').expect(404)).text, /There is no service provider &#34;nobody&#34;\./);
      assert.match((await agent.get('/saml/idp-init/comm100').expect(400)).text, /is not set up for SAML single sign-on\./);
      assert.match((await agent.get('/saml/idp-init/saml-sp?RelayState=a&RelayState=b').expect(400)).text, /The RelayState parameter is given 2 times; give it once\./);
    });
  });
});

describe('SAML single sign-on over HTTP with the OneLogin toolkit as the SP', () => {
  const SP_HOST = 'sp.onelogin.test:8081';
  let idp: TestIdp;

  before(async () => {
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        serviceProviders: [
          ...(c.serviceProviders ?? []),
          { id: 'onelogin', saml: { entityId: `http://${SP_HOST}/metadata`, acsUrls: [`http://${SP_HOST}/acs`], sloUrl: `http://${SP_HOST}/slo` } },
        ],
      }),
    });
  });
  after(() => idp.close());

  const settings = () => ({
    strict: true,
    sp: {
      entityId: `http://${SP_HOST}/metadata`,
      assertionConsumerService: { url: `http://${SP_HOST}/acs`, binding: ONELOGIN.POST },
      singleLogoutService: { url: `http://${SP_HOST}/slo`, binding: ONELOGIN.REDIRECT },
      NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    },
    idp: { entityId: 'placeholder', singleSignOnService: { url: 'http://placeholder.invalid/', binding: ONELOGIN.REDIRECT }, x509cert: '' },
    security: { wantAssertionsSigned: true, signatureAlgorithm: ONELOGIN.RSA_SHA256, digestAlgorithm: ONELOGIN.SHA256 },
  });

  for (const binding of ['redirect', 'post'] as const) {
    it(`signs a user in through the real routes (${binding} binding): the toolkit's request in, its ACS accepts our page's POST`, async () => {
      const metadata = (await request(idp.url).get('/saml/metadata').expect(200)).text;
      const login1 = await runOneLogin<{ url?: string; saml_request?: string; request_id: string }>({
        action: 'login',
        binding,
        settings: settings(),
        idp_metadata: metadata,
        relay_state: 'back/to?page=1',
      });
      const agent = request.agent(idp.url);
      await login(agent, 'bob@example.com', 'bob-password');
      let page;
      if (binding === 'redirect') {
        const url = new URL(login1.url!);
        page = await agent.get(`${url.pathname}${url.search}`);
      } else {
        const posted = await request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: login1.saml_request!, RelayState: 'back/to?page=1' }).expect(303);
        page = await agent.get(posted.headers.location as string);
      }
      const post = autoPost(page);
      assert.equal(post.action, `http://${SP_HOST}/acs`);
      const result = await runOneLogin<{ errors: string[]; reason: string | null; nameid: string; attributes: Record<string, string[]> }>({
        action: 'process_response',
        settings: settings(),
        idp_metadata: metadata,
        request_id: login1.request_id,
        request_data: { https: 'off', http_host: SP_HOST, script_name: '/acs', get_data: {}, post_data: post.fields },
      });
      assert.deepEqual(result.errors, [], result.reason ?? '');
      assert.equal(result.nameid, 'bob@example.com');
      assert.deepEqual(result.attributes, { email: ['bob@example.com'], name: ['Bob Builder'] });
      assert.equal(post.fields.RelayState, 'back/to?page=1');
    });
  }
});
