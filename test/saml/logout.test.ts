import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { decodeMessage, verifyRedirectSignature } from '../../src/saml/binding.js';
import { NS } from '../../src/saml/constants.js';
import {
  buildLogoutRequest,
  buildLogoutResponse,
  deliver,
  receiveLogoutRequest,
  receiveLogoutResponse,
} from '../../src/saml/logout.js';
import { signXml, verifyEnvelopedSignature } from '../../src/saml/sign.js';
import { parseUntrustedXml } from '../../src/saml/xml.js';
import { IDP_ENTITY_ID, IDP_KEYS, NOW, SLO_URL, SP_SIGNING, UNRELATED, fixture, idpContext, postBody, redirectQuery, spOf, testConfig } from './support.js';

const config = testConfig();
const options = { serviceProviders: config.serviceProviders, sloUrl: SLO_URL, now: NOW };
const comm100 = spOf(config, 'comm100');

describe('receiving a LogoutRequest from an SP', () => {
  it('reads it over HTTP-Redirect', () => {
    const request = receiveLogoutRequest({ binding: 'redirect', rawQuery: redirectQuery(fixture('logout-request.minimal.xml'), { relayState: 'bye' }) }, options);
    assert.equal(request.id, '_logout-req-0001');
    assert.equal(request.sp.id, 'comm100');
    assert.equal(request.nameId, 'alice@example.com');
    assert.equal(request.nameIdFormat, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.deepEqual(request.sessionIndexes, ['_session-0001']);
    assert.equal(request.relayState, 'bye');
    assert.equal(request.binding, 'redirect');
    assert.equal(request.signed, false);
  });

  it('reads it over HTTP-POST', () => {
    const request = receiveLogoutRequest({ binding: 'post', body: postBody(fixture('logout-request.minimal.xml')) }, options);
    assert.equal(request.binding, 'post');
    assert.equal(request.nameId, 'alice@example.com');
  });

  it('refuses an expired one', () => {
    const xml = fixture('logout-request.minimal.xml').replace('Version="2.0"', 'Version="2.0" NotOnOrAfter="2030-01-01T00:00:30Z"');
    assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(xml) }, options), {
      code: 'invalid_saml_request',
      message: 'The LogoutRequest expired at 2030-01-01T00:00:30Z.',
    });
  });

  it('refuses one without a NameID', () => {
    const xml = fixture('logout-request.minimal.xml').replace(/<saml:NameID[^>]*>[^<]*<\/saml:NameID>/, '');
    assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(xml) }, options), {
      code: 'invalid_saml_request',
      message: 'The LogoutRequest has no NameID.',
    });
  });

  it('refuses one from an unknown Issuer, or addressed elsewhere', () => {
    const unknown = fixture('logout-request.minimal.xml').replace('<saml:Issuer>comm100', '<saml:Issuer>nobody');
    assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(unknown) }, options), { code: 'unknown_issuer' });
    const elsewhere = fixture('logout-request.minimal.xml').replace(SLO_URL, 'https://idp.example.test/saml/sso');
    assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(elsewhere) }, options), {
      code: 'invalid_saml_request',
      message: `The LogoutRequest is addressed to "https://idp.example.test/saml/sso", not to this IdP's endpoint ${SLO_URL}.`,
    });
  });

  describe('from an SP whose messages must be signed', () => {
    const xml = fixture('logout-request.minimal.xml').replace('<saml:Issuer>comm100', '<saml:Issuer>https://signer.example.test/metadata');

    it('accepts a signed Redirect and a signed POST request', () => {
      const redirect = receiveLogoutRequest({ binding: 'redirect', rawQuery: redirectQuery(xml, { sign: { privateKeyPem: SP_SIGNING.privateKeyPem } }) }, options);
      assert.equal(redirect.signed, true);
      const post = receiveLogoutRequest({ binding: 'post', body: postBody(signXml(xml, { id: '_logout-req-0001', credentials: SP_SIGNING })) }, options);
      assert.equal(post.signed, true);
      assert.equal(post.sp.id, 'signer');
    });

    it('refuses unsigned requests and requests signed by another key', () => {
      assert.throws(() => receiveLogoutRequest({ binding: 'redirect', rawQuery: redirectQuery(xml) }, options), { code: 'invalid_signature' });
      assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(xml) }, options), {
        code: 'invalid_signature',
        message: "The LogoutRequest is not signed, and this service provider's messages must be signed (requestSigningCert is set).",
      });
      const wrong = signXml(xml, { id: '_logout-req-0001', credentials: UNRELATED });
      assert.throws(() => receiveLogoutRequest({ binding: 'post', body: postBody(wrong) }, options), { code: 'invalid_signature' });
    });
  });
});

describe('receiving a LogoutResponse from an SP', () => {
  it('reads the status and what it answers', () => {
    const response = receiveLogoutResponse({ binding: 'redirect', rawQuery: redirectQuery(fixture('logout-response.success.xml'), { param: 'SAMLResponse' }) }, options);
    assert.equal(response.id, '_logout-res-0001');
    assert.equal(response.inResponseTo, '_idp-logout-0001');
    assert.equal(response.success, true);
    assert.equal(response.statusCode, 'urn:oasis:names:tc:SAML:2.0:status:Success');
    assert.equal(response.subStatusCode, undefined);
  });

  it('reports a failure status', () => {
    const xml = fixture('logout-response.success.xml').replace(
      '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>',
      '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:PartialLogout"/></samlp:StatusCode>',
    );
    const response = receiveLogoutResponse({ binding: 'post', body: postBody(xml, undefined, 'SAMLResponse') }, options);
    assert.equal(response.success, false);
    assert.equal(response.subStatusCode, 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout');
  });

  it('refuses one without a status', () => {
    const xml = fixture('logout-response.success.xml').replace(/<samlp:Status>.*<\/samlp:Status>/, '');
    assert.throws(() => receiveLogoutResponse({ binding: 'post', body: postBody(xml, undefined, 'SAMLResponse') }, options), {
      code: 'invalid_saml_request',
      message: 'The LogoutResponse has no Status/StatusCode.',
    });
  });
});

describe('logout messages the IdP sends', () => {
  it('builds a LogoutRequest naming the user and the session', () => {
    const built = buildLogoutRequest(idpContext(), { sp: comm100, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }, sessionIndex: '_session-0001' });
    assert.equal(
      built.xml,
      '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ' +
        'ID="_id00000000000000000000000000000000000001" Version="2.0" IssueInstant="2030-01-01T00:00:30Z" ' +
        'Destination="https://sp.example.test/slo" NotOnOrAfter="2030-01-01T00:05:30Z">' +
        `<saml:Issuer>${IDP_ENTITY_ID}</saml:Issuer>` +
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>' +
        '<samlp:SessionIndex>_session-0001</samlp:SessionIndex></samlp:LogoutRequest>',
    );
    assert.equal(built.destination, 'https://sp.example.test/slo');
  });

  it('builds a LogoutResponse in answer to a request', () => {
    const built = buildLogoutResponse(idpContext(), { sp: comm100, inResponseTo: '_logout-req-0001' });
    assert.equal(
      built.xml,
      '<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ' +
        'ID="_id00000000000000000000000000000000000001" Version="2.0" IssueInstant="2030-01-01T00:00:30Z" ' +
        'Destination="https://sp.example.test/slo" InResponseTo="_logout-req-0001">' +
        `<saml:Issuer>${IDP_ENTITY_ID}</saml:Issuer>` +
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>',
    );
  });

  it('refuses to address an SP that has no sloUrl', () => {
    const noSlo = spOf(testConfig({ sloUrl: null }), 'comm100');
    assert.throws(() => buildLogoutRequest(idpContext(), { sp: noSlo, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' } }), {
      code: 'bad_request',
      message: 'The service provider "comm100" has no saml.sloUrl, so single logout cannot reach it.',
    });
  });

  it('delivers with HTTP-Redirect, the query string signed with the IdP key', () => {
    const built = buildLogoutResponse(idpContext(), { sp: comm100, inResponseTo: '_logout-req-0001' });
    const delivery = deliver(idpContext(), built, 'SAMLResponse', 'redirect', 'bye');
    assert.equal(delivery.binding, 'redirect');
    const url = new URL(delivery.url);
    assert.equal(`${url.origin}${url.pathname}`, 'https://sp.example.test/slo');
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: url.search.slice(1) }, 'SAMLResponse');
    assert.equal(decoded.xml, built.xml);
    assert.equal(decoded.relayState, 'bye');
    assert.doesNotThrow(() => verifyRedirectSignature(decoded.redirectSignature!, [IDP_KEYS.certificatePem], 'LogoutResponse'));
    assert.throws(() => verifyRedirectSignature(decoded.redirectSignature!, [UNRELATED.certificatePem], 'LogoutResponse'), { code: 'invalid_signature' });
  });

  it('delivers with HTTP-POST, the XML signed after its Issuer', () => {
    const built = buildLogoutRequest(idpContext(), { sp: comm100, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' } });
    const delivery = deliver(idpContext(), built, 'SAMLRequest', 'post', 'bye');
    assert.equal(delivery.binding, 'post');
    if (delivery.binding !== 'post') return;
    assert.equal(delivery.url, 'https://sp.example.test/slo');
    assert.equal(delivery.fields.RelayState, 'bye');
    const xml = Buffer.from(delivery.fields.SAMLRequest!, 'base64').toString('utf8');
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
    assert.deepEqual(
      Array.from({ length: root.childNodes.length }, (_, i) => root.childNodes[i]).map((n) => n!.nodeName),
      ['saml:Issuer', 'ds:Signature', 'saml:NameID'],
    );
    const signed = verifyEnvelopedSignature(xml, parseUntrustedXml(xml, 'LogoutRequest'), [IDP_KEYS.certificatePem], 'LogoutRequest');
    assert.match(signed, /^<samlp:LogoutRequest /);
    assert.equal(root.getElementsByTagNameNS(NS.ds, 'SignatureMethod')[0]!.getAttribute('Algorithm'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
  });
});
