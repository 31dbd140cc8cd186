import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { SUPPORTED_NAMEID_FORMATS } from '../../src/config/sp-schema.js';
import { NAMEID_FORMAT, NS } from '../../src/saml/constants.js';
import { buildMetadata, nameIdFormatsPreferring, samlEndpoints } from '../../src/saml/metadata.js';
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
      ['KeyDescriptor', 'SingleLogoutService', 'SingleLogoutService', 'NameIDFormat', 'NameIDFormat', 'NameIDFormat', 'NameIDFormat', 'SingleSignOnService', 'SingleSignOnService'],
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
        'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
        'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
      ],
    );
  });

  it('lists exactly the NameID formats the IdP issues', () => {
    const formats = [...xml.matchAll(/<md:NameIDFormat>([^<]+)<\/md:NameIDFormat>/g)].map((m) => m[1]);
    assert.deepEqual(formats, [...SUPPORTED_NAMEID_FORMATS]);
  });

  it("lists an SP's default NameID format first, then the other supported ones in their usual order", () => {
    assert.deepEqual(nameIdFormatsPreferring(NAMEID_FORMAT.transient), [
      NAMEID_FORMAT.transient,
      NAMEID_FORMAT.emailAddress,
      NAMEID_FORMAT.persistent,
      NAMEID_FORMAT.unspecified,
    ]);
    assert.deepEqual(nameIdFormatsPreferring(NAMEID_FORMAT.emailAddress), [...SUPPORTED_NAMEID_FORMATS]);
    const forSp = buildMetadata({
      entityId: IDP_ENTITY_ID,
      baseUrl: IDP_BASE_URL,
      certificateBase64: IDP_KEYS.certificateBase64,
      nameIdFormats: nameIdFormatsPreferring(NAMEID_FORMAT.persistent),
    });
    const idp = new DOMParser().parseFromString(forSp, 'text/xml').documentElement!.getElementsByTagNameNS(NS.md, 'IDPSSODescriptor')[0]!;
    assert.deepEqual(
      childElements(idp, NS.md, 'NameIDFormat').map((e) => e.textContent),
      [NAMEID_FORMAT.persistent, NAMEID_FORMAT.emailAddress, NAMEID_FORMAT.transient, NAMEID_FORMAT.unspecified],
    );
    // Only the NameIDFormats differ from the global document.
    assert.equal(forSp.replace(/(<md:NameIDFormat>[^<]+<\/md:NameIDFormat>\s*)+/, ''), xml.replace(/(<md:NameIDFormat>[^<]+<\/md:NameIDFormat>\s*)+/, ''));
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
