/**
 * Every SAML fault, asked for with `fault=` on the IdP's SSO URL (allowFaults:
 * true), in an SP-initiated sign-in of the demo SP's SAML side (saml2-js plus its
 * own checks): the Response goes by the real auto-POST to the demo SP's ACS, which
 * must refuse it with a clear message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SAML_FAULT_NAMES } from '../../src/faults/catalog.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { login, unescapeHtml, type Agent } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';

describe('SAML faults through the IdP to the demo SP', () => {
  let idp: TestIdp;
  let browser: Agent;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      allowFaults: true,
      serviceProviders: c.serviceProviders!.map((sp) =>
        sp.id === 'comm100' ? { ...sp, saml: { entityId: 'comm100', acsUrls: [`${c.demo!.spBaseUrl}/sso/saml/acs`], sloUrl: `${c.demo!.spBaseUrl}/sso/saml/slo` } } : sp,
      ),
    }));
    browser = request.agent(idp.url);
    await login(browser, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  /** "Sign in with SAML" at the demo SP, the AuthnRequest to the IdP with the fault, the Response posted to the ACS. */
  async function signIn(fault: string | undefined) {
    const sp = request.agent(idp.spUrl);
    const start = await sp.get('/sso/saml/login').expect(302);
    const toIdp = new URL(start.headers.location as string);
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, `${idp.url}/saml/sso`);
    const page = await browser.get(`${toIdp.pathname}${toIdp.search}${fault ? `&fault=${encodeURIComponent(fault)}` : ''}`);
    const post = autoPost(page);
    assert.equal(post.action, `${idp.spUrl}/sso/saml/acs`);
    const acs = await sp.post('/sso/saml/acs').type('form').send(post.fields);
    return { acs, xml: post.xml, text: unescapeHtml(acs.text) };
  }

  it('signs the agent in without a fault (the control)', async () => {
    const { acs } = await signIn(undefined);
    assert.equal(acs.status, 303, acs.text.slice(0, 400));
  });

  const cases: [string, RegExp][] = [
    ['unsigned', /saml2-js refused the Response: SAML Assertion signature check failed!/],
    ['bad-signature', /saml2-js refused the Response: SAML Assertion signature check failed!/],
    ['wrong-certificate', /saml2-js refused the Response: SAML Assertion signature check failed!/],
    ['expired', /saml2-js refused the Response: SAML Response is no longer valid/],
    ['not-yet-valid', /saml2-js refused the Response: SAML Response is not yet valid/],
    ['wrong-audience', /saml2-js refused the Response: SAML Response is not valid for this audience/],
    ['wrong-recipient', /No bearer SubjectConfirmation names this ACS as Recipient, answers the same request, and is still valid\./],
    ['wrong-destination', /The Response is addressed to https:\/\/wrong-destination\.mock-idp\.invalid\/acs, not to this ACS\./],
    ['wrong-in-response-to', /The Response answers no AuthnRequest this SP sent \(or one that expired or was already answered\)\./],
    ['sha1-signature', /The Assertion is signed with http:\/\/www\.w3\.org\/2000\/09\/xmldsig#rsa-sha1 \/ http:\/\/www\.w3\.org\/2000\/09\/xmldsig#sha1; this SP accepts only RSA-SHA256 or RSA-SHA512/],
    ['signature-wrapping', /saml2-js refused the Response: Expected 1 Assertion or 1 EncryptedAssertion; found 2/],
    ['comment-in-nameid', /The NameID "alice@example\.com" is split by an XML comment\. Signatures do not cover comments, so a careless SP would read only "alice@example"; this SP refuses such a NameID\./],
  ];
  for (const [fault, message] of cases) {
    it(`the demo SP refuses ${fault}`, async () => {
      const { acs, text } = await signIn(fault);
      assert.ok(acs.status === 401 || acs.status === 400, `${fault}: ${acs.status}`);
      assert.match(text, message, `${fault}: ${(/<p class="error"[^>]*>([^<]*)</.exec(text) ?? /<main>([\s\S]{0,600})/.exec(text))?.[1]}`);
    });
  }

  it('the demo SP refuses replayed-assertion (the ID of the last fault-free assertion it accepted)', async () => {
    const first = await signIn(undefined);
    assert.equal(first.acs.status, 303);
    const firstId = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(first.xml)![1];
    const { acs, text, xml } = await signIn('replayed-assertion');
    assert.equal(/<saml:Assertion [^>]*ID="([^"]+)"/.exec(xml)![1], firstId);
    assert.equal(acs.status, 401);
    assert.match(text, /This assertion was already used \(replayed assertion ID\)\./);
  });

  it('covers every SAML fault of the catalogue', () => {
    const tested = new Set([...cases.map(([f]) => f), 'replayed-assertion']);
    assert.deepEqual([...SAML_FAULT_NAMES].filter((n) => !tested.has(n)), []);
  });
});
