import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { NS } from '../../src/saml/constants.js';
import { buildMetadata, samlEndpoints } from '../../src/saml/metadata.js';
import { childElements } from '../../src/saml/xml.js';
import { IDP_BASE_URL, IDP_ENTITY_ID, IDP_KEYS, fixture } from './support.js';

describe('the IdP metadata', () => {
  const xml = buildMetadata({ entityId: IDP_ENTITY_ID, baseUrl: IDP_BASE_URL, certificateBase64: IDP_KEYS.certificateBase64 });

  it('is exactly the expected document', () => {
    assert.equal(xml + '\n', fixture('metadata.idp.xml'));
  });

  it('describes the signing key, SLO, NameID formats and SSO in schema order', () => {
    const entity = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
    assert.equal(entity.namespaceURI, NS.md);
    assert.equal(entity.localName, 'EntityDescriptor');
    assert.equal(entity.getAttribute('entityID'), IDP_ENTITY_ID);
    const [idp, ...others] = childElements(entity, NS.md, 'IDPSSODescriptor');
    assert.equal(others.length, 0);
    assert.equal(idp!.getAttribute('protocolSupportEnumeration'), NS.samlp);
    assert.deepEqual(
      childElements(idp!).map((e) => e.localName),
      ['KeyDescriptor', 'SingleLogoutService', 'SingleLogoutService', 'NameIDFormat', 'NameIDFormat', 'NameIDFormat', 'SingleSignOnService', 'SingleSignOnService'],
    );
    const key = childElements(idp!, NS.md, 'KeyDescriptor')[0]!;
    assert.equal(key.getAttribute('use'), 'signing');
    assert.equal(key.getElementsByTagNameNS(NS.ds, 'X509Certificate')[0]!.textContent, IDP_KEYS.certificateBase64);
    const endpoints = (name: string) => childElements(idp!, NS.md, name).map((e) => [e.getAttribute('Binding'), e.getAttribute('Location')]);
    assert.deepEqual(endpoints('SingleSignOnService'), [
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'https://idp.example.test/saml/sso'],
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'https://idp.example.test/saml/sso'],
    ]);
    assert.deepEqual(endpoints('SingleLogoutService'), [
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', 'https://idp.example.test/saml/slo'],
      ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'https://idp.example.test/saml/slo'],
    ]);
    assert.deepEqual(
      childElements(idp!, NS.md, 'NameIDFormat').map((e) => e.textContent),
      [
        'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
        'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
        'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
      ],
    );
  });

  it('says when AuthnRequests must be signed', () => {
    const signed = buildMetadata({ entityId: 'x', baseUrl: IDP_BASE_URL, certificateBase64: 'AAAA', wantAuthnRequestsSigned: true });
    assert.match(signed, /WantAuthnRequestsSigned="true"/);
  });

  it('escapes the entity ID', () => {
    const odd = buildMetadata({ entityId: 'urn:x?a=1&b="2"', baseUrl: IDP_BASE_URL, certificateBase64: 'AAAA' });
    assert.match(odd, /entityID="urn:x\?a=1&amp;b=&quot;2&quot;"/);
  });

  it('names the endpoints under the base URL', () => {
    assert.deepEqual(samlEndpoints('http://localhost:8080'), {
      metadata: 'http://localhost:8080/saml/metadata',
      sso: 'http://localhost:8080/saml/sso',
      slo: 'http://localhost:8080/saml/slo',
    });
  });
});
