import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { receiveAuthnRequest } from '../../src/saml/authn-request.js';
import type { IncomingMessage } from '../../src/saml/binding.js';
import { signXml } from '../../src/saml/sign.js';
import { SP_SIGNING, SSO_URL, UNRELATED, fixture, postBody, redirectQuery, testConfig } from './support.js';

const config = testConfig();
const options = { serviceProviders: config.serviceProviders, ssoUrl: SSO_URL };
const receive = (message: IncomingMessage) => receiveAuthnRequest(message, options);
const viaRedirect = (xml: string, relayState?: string) => receive({ binding: 'redirect', rawQuery: redirectQuery(xml, relayState === undefined ? {} : { relayState }) });
const viaPost = (xml: string, relayState?: string) => receive({ binding: 'post', body: postBody(xml, relayState) });

/** An AuthnRequest from the "signer" SP, whose requests must be signed. */
function signerRequest(attrs = ''): string {
  return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_signed-req-0001" Version="2.0" IssueInstant="2030-01-01T00:00:00Z"${attrs}><saml:Issuer>https://signer.example.test/metadata</saml:Issuer></samlp:AuthnRequest>`;
}

describe('receiving an AuthnRequest', () => {
  it('reads a minimal request over HTTP-Redirect and answers to the default ACS', () => {
    const request = viaRedirect(fixture('authn-request.minimal.xml'), 'relay/state?x=1');
    assert.equal(request.id, '_req-minimal-0001');
    assert.equal(request.issuer, 'comm100');
    assert.equal(request.sp.id, 'comm100');
    assert.equal(request.acsUrl, 'https://sp.example.test/acs');
    assert.equal(request.acsUrlRequested, false);
    assert.equal(request.binding, 'redirect');
    assert.equal(request.forceAuthn, false);
    assert.equal(request.isPassive, false);
    assert.equal(request.nameIdPolicy, undefined);
    assert.equal(request.relayState, 'relay/state?x=1');
    assert.equal(request.signed, false);
    assert.equal(request.issueInstant, Date.parse('2030-01-01T00:00:00Z'));
  });

  it('reads every field of a full request over HTTP-POST', () => {
    const request = viaPost(fixture('authn-request.full.xml'));
    assert.equal(request.id, '_req-full-0001');
    assert.equal(request.binding, 'post');
    assert.equal(request.acsUrl, 'https://sp.example.test/acs/second');
    assert.equal(request.acsUrlRequested, true);
    assert.equal(request.forceAuthn, true);
    assert.equal(request.isPassive, false);
    assert.deepEqual(request.nameIdPolicy, { format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', allowCreate: true });
    assert.equal(request.relayState, undefined);
  });

  it('reads IsPassive written as "1"', () => {
    assert.equal(viaRedirect(fixture('authn-request.passive.xml')).isPassive, true);
  });

  it('refuses an Issuer that is no registered SP, quoting it safely', () => {
    assert.throws(() => viaRedirect(fixture('authn-request.unknown-issuer.xml')), {
      code: 'unknown_issuer',
      message: 'No service provider is registered with the SAML entity ID "https://evil.example.test/<script>" (the Issuer of the AuthnRequest).',
    });
  });

  it('does not take a JWT-only SP for a SAML one', () => {
    const xml = fixture('authn-request.minimal.xml').replace('<saml:Issuer>comm100', '<saml:Issuer>jwt-only');
    assert.throws(() => viaRedirect(xml), { code: 'unknown_issuer' });
  });

  it('refuses a request without an Issuer', () => {
    const xml = fixture('authn-request.minimal.xml').replace('<saml:Issuer>comm100</saml:Issuer>', '');
    assert.throws(() => viaPost(xml), {
      code: 'invalid_saml_request',
      message: "The AuthnRequest has no Issuer; it must name the service provider's entity ID.",
    });
  });

  it('refuses an AssertionConsumerServiceURL that is not registered for the SP', () => {
    assert.throws(() => viaRedirect(fixture('authn-request.unregistered-acs.xml')), {
      code: 'invalid_acs_url',
      message: 'The AssertionConsumerServiceURL "https://attacker.example.test/acs" is not registered for the service provider "comm100"; add it to its saml.acsUrls.',
    });
  });

  it('compares ACS URLs exactly (no prefix or case games)', () => {
    for (const url of ['https://sp.example.test/acs/', 'https://sp.example.test/acs?x=1', 'HTTPS://sp.example.test/acs', 'https://sp.example.test/acsx']) {
      const xml = fixture('authn-request.minimal.xml').replace('Version="2.0"', `Version="2.0" AssertionConsumerServiceURL="${url}"`);
      assert.throws(() => viaRedirect(xml), { code: 'invalid_acs_url' }, url);
    }
  });

  it('refuses a Destination other than the IdP SSO endpoint', () => {
    const xml = fixture('authn-request.minimal.xml').replace(SSO_URL, 'https://other-idp.example.test/sso');
    assert.throws(() => viaRedirect(xml), {
      code: 'invalid_saml_request',
      message: `The AuthnRequest is addressed to "https://other-idp.example.test/sso", not to this IdP's endpoint ${SSO_URL}.`,
    });
  });

  it('refuses a ProtocolBinding other than HTTP-POST', () => {
    const xml = fixture('authn-request.minimal.xml').replace(
      'Version="2.0"',
      'Version="2.0" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"',
    );
    assert.throws(() => viaRedirect(xml), {
      code: 'invalid_saml_request',
      message:
        'The AuthnRequest asks for the ProtocolBinding "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"; this IdP answers with HTTP-POST (urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST) only.',
    });
  });

  it('refuses both AssertionConsumerServiceURL and AssertionConsumerServiceIndex', () => {
    const xml = fixture('authn-request.full.xml').replace('ForceAuthn="true"', 'ForceAuthn="true" AssertionConsumerServiceIndex="0"');
    assert.throws(() => viaPost(xml), {
      code: 'invalid_saml_request',
      message: 'The AuthnRequest has both AssertionConsumerServiceURL and AssertionConsumerServiceIndex; at most one is allowed.',
    });
  });

  it('refuses another SAML version, a missing ID and a bad IssueInstant', () => {
    const minimal = fixture('authn-request.minimal.xml');
    assert.throws(() => viaPost(minimal.replace('Version="2.0"', 'Version="1.1"')), {
      code: 'invalid_saml_request',
      message: 'The AuthnRequest has Version "1.1"; only SAML 2.0 is supported.',
    });
    assert.throws(() => viaPost(minimal.replace('ID="_req-minimal-0001" ', '')), {
      code: 'invalid_saml_request',
      message: 'The AuthnRequest has no usable ID attribute.',
    });
    assert.throws(() => viaPost(minimal.replace('2030-01-01T00:00:00Z', 'tomorrow')), {
      code: 'invalid_saml_request',
      message: 'The AuthnRequest has no valid IssueInstant (an xs:dateTime in UTC).',
    });
  });

  it('refuses a ForceAuthn that is not a boolean', () => {
    const xml = fixture('authn-request.minimal.xml').replace('Version="2.0"', 'Version="2.0" ForceAuthn="yes"');
    assert.throws(() => viaPost(xml), {
      code: 'invalid_saml_request',
      message: 'The ForceAuthn attribute of the AuthnRequest must be true or false, not "yes".',
    });
  });

  it('refuses another kind of message in SAMLRequest', () => {
    assert.throws(() => viaPost(fixture('logout-request.minimal.xml')), {
      code: 'invalid_saml_request',
      message: 'The root element of the SAMLRequest must be AuthnRequest (in urn:oasis:names:tc:SAML:2.0:protocol), not "{urn:oasis:names:tc:SAML:2.0:protocol}LogoutRequest".',
    });
  });

  it('refuses each bad input of the bindings and the parser with the same error code', () => {
    const cases: [IncomingMessage, string][] = [
      [{ binding: 'post', body: { SAMLRequest: '!!!' } }, 'The SAMLRequest is not valid base64.'],
      [{ binding: 'redirect', rawQuery: `SAMLRequest=${encodeURIComponent(Buffer.from('<x/>').toString('base64'))}` }, 'The SAMLRequest is not valid DEFLATE data (the HTTP-Redirect binding uses raw DEFLATE).'],
      [{ binding: 'post', body: postBody(fixture('authn-request.not-xml.txt')) }, 'The SAMLRequest (AuthnRequest) is not well-formed XML (missing root element).'],
      [{ binding: 'redirect', rawQuery: redirectQuery(fixture('authn-request.two-roots.xml')) }, 'The SAMLRequest (AuthnRequest) must have exactly one root element, it has several.'],
      [{ binding: 'post', body: postBody(fixture('authn-request.doctype-entity.xml')) }, 'The SAMLRequest (AuthnRequest) contains a DOCTYPE or an entity declaration, which are not accepted.'],
      [{ binding: 'redirect', rawQuery: redirectQuery(fixture('authn-request.billion-laughs.xml')) }, 'The SAMLRequest (AuthnRequest) contains a DOCTYPE or an entity declaration, which are not accepted.'],
    ];
    for (const [message, expected] of cases) {
      assert.throws(() => receive(message), { code: 'invalid_saml_request', message: expected });
    }
  });
});

describe('AuthnRequests of an SP whose requests must be signed', () => {
  it('accepts a Redirect request signed over the query string', () => {
    const query = redirectQuery(signerRequest(), { relayState: 'rs', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } });
    const request = receive({ binding: 'redirect', rawQuery: query });
    assert.equal(request.sp.id, 'signer');
    assert.equal(request.signed, true);
    assert.equal(request.relayState, 'rs');
  });

  it('refuses an unsigned Redirect request', () => {
    assert.throws(() => receive({ binding: 'redirect', rawQuery: redirectQuery(signerRequest()) }), {
      code: 'invalid_signature',
      message:
        "The AuthnRequest is not signed: the HTTP-Redirect binding needs SigAlg and Signature parameters, and this service provider's messages must be signed (requestSigningCert is set).",
    });
  });

  it('refuses a Redirect request signed by another key', () => {
    const query = redirectQuery(signerRequest(), { sign: { privateKeyPem: UNRELATED.privateKeyPem } });
    assert.throws(() => receive({ binding: 'redirect', rawQuery: query }), {
      code: 'invalid_signature',
      message: "The signature of the AuthnRequest does not verify with the service provider's certificate (requestSigningCert).",
    });
  });

  it('accepts a POST request with an enveloped signature', () => {
    const signed = signXml(signerRequest(' AssertionConsumerServiceURL="https://signer.example.test/acs"'), { id: '_signed-req-0001', credentials: SP_SIGNING });
    const request = receive({ binding: 'post', body: postBody(signed) });
    assert.equal(request.signed, true);
    assert.equal(request.acsUrl, 'https://signer.example.test/acs');
  });

  it('refuses an unsigned POST request', () => {
    assert.throws(() => receive({ binding: 'post', body: postBody(signerRequest()) }), {
      code: 'invalid_signature',
      message: "The AuthnRequest is not signed, and this service provider's messages must be signed (requestSigningCert is set).",
    });
  });

  it('refuses a POST request signed by another key', () => {
    const signed = signXml(signerRequest(), { id: '_signed-req-0001', credentials: UNRELATED });
    assert.throws(() => receive({ binding: 'post', body: postBody(signed) }), {
      code: 'invalid_signature',
      message: "The signature of the AuthnRequest does not verify with the service provider's certificate (requestSigningCert).",
    });
  });

  it('refuses a POST request changed after signing', () => {
    const signed = signXml(signerRequest(' ForceAuthn="false"'), { id: '_signed-req-0001', credentials: SP_SIGNING });
    assert.throws(() => receive({ binding: 'post', body: postBody(signed.replace('ForceAuthn="false"', 'ForceAuthn="true"')) }), {
      code: 'invalid_signature',
      message: "The signature of the AuthnRequest does not verify with the service provider's certificate (requestSigningCert).",
    });
  });

  it('refuses a signature that refers to another element than the request', () => {
    const signed = signXml(signerRequest(), { id: '_signed-req-0001', credentials: SP_SIGNING });
    const moved = signed.replace('ID="_signed-req-0001"', 'ID="_other-0002"');
    assert.throws(() => receive({ binding: 'post', body: postBody(moved) }), {
      code: 'invalid_signature',
      message: 'The signature of the AuthnRequest must refer to the message\'s own ID (#_other-0002), not "#_signed-req-0001".',
    });
  });

  it('refuses an RSA-SHA1 enveloped signature', () => {
    const signed = signXml(signerRequest(), { id: '_signed-req-0001', credentials: SP_SIGNING, algorithm: 'rsa-sha1' });
    assert.throws(() => receive({ binding: 'post', body: postBody(signed) }), {
      code: 'invalid_signature',
      message:
        'The signature of the AuthnRequest uses the algorithm "http://www.w3.org/2000/09/xmldsig#rsa-sha1", which is not accepted; sign with RSA-SHA256 or RSA-SHA512.',
    });
  });

  it('refuses two signatures', () => {
    const signed = signXml(signerRequest(), { id: '_signed-req-0001', credentials: SP_SIGNING });
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
    const twice = signed.replace(signature, signature + signature);
    assert.throws(() => receive({ binding: 'post', body: postBody(twice) }), {
      code: 'invalid_signature',
      message: 'The AuthnRequest has 2 signatures; exactly one is accepted.',
    });
  });
});

describe('NameIDPolicy', () => {
  it('reads its Format, AllowCreate and SPNameQualifier (the choice is src/saml/nameid.ts)', () => {
    const xml = fixture('authn-request.minimal.xml').replace(
      '</samlp:AuthnRequest>',
      '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="false" SPNameQualifier="https://affiliation.example.test"/></samlp:AuthnRequest>',
    );
    assert.deepEqual(receiveAuthnRequest({ binding: 'post', body: postBody(xml) }, options).nameIdPolicy, {
      format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      allowCreate: false,
      spNameQualifier: 'https://affiliation.example.test',
    });
  });
});
