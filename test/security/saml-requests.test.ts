/**
 * Hostile SAML messages at /saml/sso (both bindings), /saml/slo and the routes
 * around them: broken encodings, DEFLATE bombs, DTDs and entities, malformed and
 * oversized XML, unknown senders, unregistered ACS URLs, bad signatures, replays.
 * Each is refused with a 4xx page (or JSON) for a signed-in browser, with nothing
 * posted to any SP and no cookie set; the next valid AuthnRequest is answered.
 * Values that reach the Response (user attributes with XML in them) come out
 * escaped, and the Response still verifies.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import { SignedXml } from 'xml-crypto';
import { NS } from '../../src/saml/constants.js';
import { signXml } from '../../src/saml/sign.js';
import { childElements } from '../../src/saml/xml.js';
import type { TestIdp } from '../helpers/idp.js';
import { login, type Agent } from '../helpers/http.js';
import { ACS, autoPost, startSamlIdp } from '../saml/http-support.js';
import { SP_SIGNING, UNRELATED, fixture, redirectQuery } from '../saml/support.js';
import { XSS, assertRefused } from './support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';
const SIGNER_ENTITY = 'https://signer.example.test/metadata';

function authnRequest(o: { id?: string; issuer?: string; acs?: string; attrs?: string; body?: string; root?: string } = {}): string {
  const root = o.root ?? 'samlp:AuthnRequest';
  const acs = o.acs === undefined ? '' : ` AssertionConsumerServiceURL="${o.acs}"`;
  return (
    `<${root} xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${o.id ?? `_sec-${crypto.randomUUID()}`}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString()}"${acs}${o.attrs ?? ''}><saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>${o.body ?? ''}</${root}>`
  );
}

const get = (xml: string, extra = '') => `/saml/sso?${redirectQuery(xml)}${extra}`;
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const deflated = (buf: Buffer) => `/saml/sso?SAMLRequest=${encodeURIComponent(zlib.deflateRawSync(buf).toString('base64'))}`;
/** Nested elements, as deep as fits in about 100 KB. */
const deep = (depth: number) => authnRequest({ body: `<samlp:Extensions>${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}</samlp:Extensions>` });

interface Case {
  name: string;
  send: (agent: Agent) => request.Test;
  status: number;
  code: string;
  message: RegExp;
}

const redirect = (name: string, url: string, message: RegExp, code = 'invalid_saml_request', status = 400): Case => ({ name, send: (a) => a.get(url), status, code, message });
const post = (name: string, body: Record<string, unknown> | string, message: RegExp, code = 'invalid_saml_request', status = 400): Case => ({
  name: `${name} (HTTP-POST)`,
  send: (a) => a.post('/saml/sso').type('form').send(body),
  status,
  code,
  message,
});

const CASES: Case[] = [
  redirect('bad URL encoding', '/saml/sso?SAMLRequest=%E0%A4%A', /not correctly URL-encoded/),
  redirect('bad base64', '/saml/sso?SAMLRequest=not-base64!!', /not valid base64/),
  redirect('base64 of the wrong length', '/saml/sso?SAMLRequest=QUJD%3D%3D%3D', /not valid base64/),
  redirect('bad DEFLATE (plain XML, not deflated)', `/saml/sso?SAMLRequest=${encodeURIComponent(b64(authnRequest()))}`, /not valid DEFLATE/),
  redirect('bad DEFLATE (random bytes)', `/saml/sso?SAMLRequest=${encodeURIComponent(b64(crypto.randomBytes(512)))}`, /not valid DEFLATE/),
  redirect(
    'a DEFLATE bomb (6 MB of spaces in 6 KB)',
    `/saml/sso?SAMLRequest=${encodeURIComponent(zlib.deflateRawSync(Buffer.alloc(6 * 1024 * 1024, 0x20), { level: 9 }).toString('base64'))}`,
    /inflates to more than 131072 bytes/,
  ),
  redirect('a DOCTYPE with an internal entity', get(fixture('authn-request.doctype-entity.xml')), /DOCTYPE or an entity declaration/),
  redirect('an external entity (XXE)', get(fixture('authn-request.external-entity.xml')), /DOCTYPE or an entity declaration/),
  redirect('the billion laughs', get(fixture('authn-request.billion-laughs.xml')), /DOCTYPE or an entity declaration/),
  redirect('a DOCTYPE hidden in lower case after a comment', get(`<!-- x --><!doctype x [<!entity y "z">]>${authnRequest()}`), /DOCTYPE or an entity declaration/),
  redirect('several roots', get(fixture('authn-request.two-roots.xml')), /exactly one root element/),
  redirect('not XML', get(fixture('authn-request.not-xml.txt')), /not well-formed XML/),
  redirect('an empty SAMLRequest', '/saml/sso?SAMLRequest=', /not valid base64/),
  redirect('an empty deflated document', deflated(Buffer.alloc(0)), /not well-formed XML|exactly one root/),
  redirect('no SAMLRequest at all', '/saml/sso', /has no SAMLRequest parameter/),
  redirect('SAMLRequest given twice', `${get(authnRequest())}&${redirectQuery(authnRequest())}`, /appears more than once/),
  redirect('text that is not UTF-8', deflated(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x3e])), /not UTF-8/),
  redirect('an unknown Issuer', get(authnRequest({ issuer: 'https://nobody.example.test' })), /No service provider is registered with the SAML entity ID "https:\/\/nobody\.example\.test"/, 'unknown_issuer'),
  redirect('an Issuer carrying markup', get(authnRequest({ issuer: XSS.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') })), /No service provider is registered/, 'unknown_issuer'),
  redirect('an Issuer with an element inside', get(authnRequest({ issuer: `${SP_ENTITY}<x/>` })), /must contain text only/),
  redirect('an unregistered ACS URL', get(authnRequest({ acs: 'https://attacker.example.test/acs' })), /AssertionConsumerServiceURL "https:\/\/attacker\.example\.test\/acs" is not registered/, 'invalid_acs_url'),
  redirect('a registered ACS URL with something appended', get(authnRequest({ acs: `${ACS}?x=1` })), /is not registered/, 'invalid_acs_url'),
  redirect('both an ACS URL and an ACS index', get(authnRequest({ acs: ACS, attrs: ' AssertionConsumerServiceIndex="0"' })), /both AssertionConsumerServiceURL and AssertionConsumerServiceIndex/),
  redirect('the artifact binding', get(authnRequest({ attrs: ' ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"' })), /HTTP-POST .* only/),
  redirect('another Destination', get(authnRequest({ attrs: ' Destination="https://other-idp.example.test/sso"' })), /is addressed to/),
  redirect('a LogoutRequest sent to the SSO endpoint', get(authnRequest({ root: 'samlp:LogoutRequest' })), /root element of the SAMLRequest must be AuthnRequest/),
  redirect('a 5,000-character RelayState', get(authnRequest(), `&RelayState=${'r'.repeat(5000)}`), /RelayState is too long/),
  redirect('an unsigned request from an SP whose requests must be signed', get(authnRequest({ issuer: SIGNER_ENTITY })), /is not signed/, 'invalid_signature'),
  redirect(
    'a request signed with another key',
    `/saml/sso?${redirectQuery(authnRequest({ issuer: SIGNER_ENTITY }), { sign: { privateKeyPem: UNRELATED.privateKeyPem } })}`,
    /does not verify/,
    'invalid_signature',
  ),
  redirect(
    'a request signed with RSA-SHA1',
    `/saml/sso?${redirectQuery(authnRequest({ issuer: SIGNER_ENTITY }), { sign: { privateKeyPem: SP_SIGNING.privateKeyPem, sigAlg: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', hash: 'sha1' } })}`,
    /is not accepted/,
    'invalid_signature',
  ),
  post('bad base64', { SAMLRequest: '%%% not base64 %%%' }, /not valid base64/),
  post('an empty SAMLRequest', { SAMLRequest: '' }, /not valid base64/),
  post('no SAMLRequest field', { RelayState: 'x' }, /has no SAMLRequest field/),
  post('SAMLRequest given twice', `SAMLRequest=${encodeURIComponent(b64(authnRequest()))}&SAMLRequest=${encodeURIComponent(b64(authnRequest()))}`, /must appear once, as text/),
  post('the billion laughs', { SAMLRequest: b64(fixture('authn-request.billion-laughs.xml')) }, /DOCTYPE or an entity declaration/),
  post('an external entity (XXE)', { SAMLRequest: b64(fixture('authn-request.external-entity.xml')) }, /DOCTYPE or an entity declaration/),
  post('an unregistered ACS URL', { SAMLRequest: b64(authnRequest({ acs: 'https://attacker.example.test/acs' })) }, /is not registered/, 'invalid_acs_url'),
  post('an unsigned request from an SP whose requests must be signed', { SAMLRequest: b64(authnRequest({ issuer: SIGNER_ENTITY })) }, /is not signed/, 'invalid_signature'),
  post('a 5 MB body', { SAMLRequest: 'A'.repeat(5 * 1024 * 1024) }, /too large/, 'payload_too_large', 413),
  {
    name: 'operator objects in a JSON body (HTTP-POST)',
    send: (a) => a.post('/saml/sso').send({ SAMLRequest: { $ne: '' } }),
    status: 400,
    code: 'invalid_saml_request',
    message: /must appear once, as text/,
  },
  { name: 'a made-up continuation key', send: (a) => a.get(`/saml/continue/${crypto.randomBytes(18).toString('base64url')}`), status: 400, code: 'bad_request', message: /has expired or was already answered/ },
  { name: 'IdP-initiated sign-in to an unknown SP', send: (a) => a.get(`/saml/idp-init/${encodeURIComponent(XSS)}`), status: 404, code: 'unknown_sp', message: /There is no service provider/ },
  { name: 'a logout message with both SAMLRequest and SAMLResponse', send: (a) => a.get('/saml/slo?SAMLRequest=x&SAMLResponse=y'), status: 400, code: 'invalid_saml_request', message: /either a SAMLRequest or a SAMLResponse/ },
  { name: 'a LogoutRequest in bad base64', send: (a) => a.get('/saml/slo?SAMLRequest=!!!'), status: 400, code: 'invalid_saml_request', message: /not valid base64/ },
  {
    name: 'a LogoutRequest from an unknown Issuer',
    send: (a) => a.get(`/saml/slo?${redirectQuery(fixture('logout-request.minimal.xml').replace(/<saml:Issuer>[^<]*</, '<saml:Issuer>https://nobody.example.test<'))}`),
    status: 400,
    code: 'unknown_issuer',
    message: /No service provider is registered/,
  },
];

describe('hostile SAML requests', () => {
  let idp: TestIdp;
  let agent: Agent;

  before(async () => {
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        users: [
          ...(c.users ?? []),
          {
            email: `mal<b>&"lory'@example.com`,
            password: 'mallory-password',
            name: 'Mallory </saml:AttributeValue><saml:AttributeValue>admin',
            attributes: {
              role: ']]><!-- --><saml:Attribute Name="role"><saml:AttributeValue>admin</saml:AttributeValue></saml:Attribute>',
              groups: ['a<b', 'c&d', '"quoted"', "it's"],
            },
          },
        ],
        serviceProviders: (c.serviceProviders ?? []).map((sp) =>
          sp.id === 'saml-sp' && sp.saml ? { ...sp, saml: { ...sp.saml, attributes: { email: 'email', name: 'name', role: 'role', groups: 'groups' } } } : sp,
        ),
      }),
    });
    agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  /** The next valid request: a fresh AuthnRequest answered with an assertion for the signed-in user. */
  async function stillWorks(): Promise<void> {
    const page = autoPost(await agent.get(get(authnRequest())));
    assert.equal(page.action, ACS);
  }

  for (const c of CASES) {
    it(`refuses ${c.name} with ${c.status}, posting nothing to any SP`, async () => {
      const res = await c.send(agent);
      assertRefused(res, { status: c.status, code: c.code, message: c.message, echo: [XSS, '<script>', '<x/>'] }, c.name);
      assert.doesNotMatch(res.text, /data-auto-submit/, 'no auto-POST form');
      const json = await c.send(agent).set('Accept', 'application/json');
      assertRefused(json, { status: c.status, code: c.code, message: c.message }, `${c.name} (JSON)`);
      await stillWorks();
    });
  }

  it('survives deeply nested XML: 15,000 levels in an unsigned request, 6,000 under a signature it must check', async () => {
    // Unsigned, from an SP that need not sign: valid SAML (anything goes in Extensions), answered normally.
    autoPost(await agent.get(get(deep(15_000))));
    // Signed: a valid signature of a shallow request, then the deep subtree put in; checking it must not crash.
    const id = `_deep-${crypto.randomUUID()}`;
    const signed = signXml(authnRequest({ id, issuer: SIGNER_ENTITY, body: '<samlp:Extensions><x/></samlp:Extensions>' }), { id, credentials: SP_SIGNING });
    const tampered = signed.replace('<x/>', `${'<x>'.repeat(6000)}${'</x>'.repeat(6000)}`);
    assertRefused(await agent.post('/saml/sso').type('form').send({ SAMLRequest: b64(tampered) }), { status: 400, code: 'invalid_signature', message: /does not verify/ });
    await stillWorks();
  });

  it('refuses a replayed AuthnRequest ID, in either binding', async () => {
    const id = `_replayed-${crypto.randomUUID()}`;
    autoPost(await agent.get(get(authnRequest({ id }))));
    assertRefused(await agent.get(get(authnRequest({ id }))), { status: 400, code: 'replayed_request', message: /was already used/ });
    assertRefused(await agent.post('/saml/sso').type('form').send({ SAMLRequest: b64(authnRequest({ id })) }), { status: 400, code: 'replayed_request', message: /was already used/ });
    await stillWorks();
  });

  it('refuses to continue the same parked request twice', async () => {
    const posted = await request(idp.url).post('/saml/sso').type('form').send({ SAMLRequest: b64(authnRequest()) }).expect(303);
    autoPost(await agent.get(posted.headers.location as string));
    assertRefused(await agent.get(posted.headers.location as string), { status: 400, code: 'bad_request', message: /already answered/ });
  });

  it('sends a hostile RelayState back only HTML-escaped, exactly as received', async () => {
    const res = await agent.get(get(authnRequest(), `&RelayState=${encodeURIComponent(XSS)}`));
    const page = autoPost(res);
    assert.equal(page.fields.RelayState, XSS);
    assert.ok(!res.text.includes(XSS));
  });

  it('escapes user values with XML in them: the Response still verifies and holds exactly the values given', async () => {
    const mallory = request.agent(idp.url);
    await login(mallory, `mal<b>&"lory'@example.com`, 'mallory-password');
    const page = autoPost(await mallory.get(get(authnRequest())));
    const cert = (await request(idp.url).get('/saml/cert.pem').expect(200)).text;
    const doc = new DOMParser().parseFromString(page.xml, 'text/xml');
    const response = doc.documentElement!;
    const signature = childElements(response, NS.ds, 'Signature')[0];
    assert.ok(signature, 'the Response is signed (signResponse: true)');
    const verifier = new SignedXml({ publicCert: cert, getCertFromKeyInfo: () => null });
    verifier.loadSignature(signature.toString());
    assert.equal(verifier.checkSignature(page.xml), true, 'the Response signature verifies');

    const assertion = response.getElementsByTagNameNS(NS.saml, 'Assertion')[0]!;
    assert.equal(assertion.getElementsByTagNameNS(NS.saml, 'NameID')[0]!.textContent, `mal<b>&"lory'@example.com`);
    const attributes = Array.from(assertion.getElementsByTagNameNS(NS.saml, 'Attribute')).map((a) => [
      a.getAttribute('Name'),
      Array.from(a.getElementsByTagNameNS(NS.saml, 'AttributeValue')).map((v) => v.textContent),
    ]);
    assert.deepEqual(attributes, [
      ['email', [`mal<b>&"lory'@example.com`]],
      ['name', ['Mallory </saml:AttributeValue><saml:AttributeValue>admin']],
      ['role', [']]><!-- --><saml:Attribute Name="role"><saml:AttributeValue>admin</saml:AttributeValue></saml:Attribute>']],
      ['groups', ['a<b', 'c&d', '"quoted"', "it's"]],
    ]);
    assert.equal(doc.getElementsByTagName('b').length, 0, 'no element was injected');
    assert.equal(assertion.getElementsByTagNameNS(NS.saml, 'AttributeValue').length, 7);
  });
});
