import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import xmlenc from 'xml-encryption';
import { NS } from '../../src/saml/constants.js';
import { buildResponse, buildStatusResponse, type ResponseInput } from '../../src/saml/response.js';
import { childElements } from '../../src/saml/xml.js';
import { IDP_ENTITY_ID, IDP_KEYS, SP_ENCRYPTION, UNRELATED, alice, fixture, idpContext, spOf, testConfig } from './support.js';

type SamlOverrides = Parameters<typeof testConfig>[0];

function input(overrides: SamlOverrides = {}, extra: Partial<ResponseInput> = {}): ResponseInput {
  const sp = spOf(testConfig(overrides), 'comm100');
  return {
    sp,
    user: alice,
    acsUrl: sp.saml.acsUrls[0]!,
    inResponseTo: '_req-minimal-0001',
    sessionIndex: '_session-0001',
    authnInstant: Date.parse('2030-01-01T00:00:10Z'),
    ...extra,
  };
}

function parse(xml: string): Element {
  return new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
}

function child(el: Element, ns: string, name: string): Element {
  const found = childElements(el, ns, name);
  assert.equal(found.length, 1, `exactly one ${name} in ${el.localName}`);
  return found[0]!;
}

function names(el: Element): string[] {
  return childElements(el).map((c) => c.localName!);
}

/** Verifies the signature that is a child of the element with this ID, with a given certificate. */
function signatureVerifies(xml: string, signedElement: Element, certificatePem: string): boolean {
  const signature = child(signedElement, NS.ds, 'Signature');
  const verifier = new SignedXml({ publicCert: certificatePem, getCertFromKeyInfo: () => null });
  verifier.loadSignature(signature.toString());
  try {
    return verifier.checkSignature(xml);
  } catch {
    return false;
  }
}

function decrypt(encryptedData: string, keyPem: string): Promise<string> {
  return new Promise((resolve, reject) =>
    xmlenc.decrypt(encryptedData, { key: keyPem }, (err, result) => (err || result === undefined ? reject(err) : resolve(result))),
  );
}

describe('the Response for a signed-in user', () => {
  it('is exactly the expected XML with a signed assertion (the default)', async () => {
    const built = await buildResponse(idpContext(), input());
    assert.equal(built.xml + '\n', fixture('response.signed-assertion.xml'));
    assert.equal(built.responseId, '_id00000000000000000000000000000000000001');
    assert.equal(built.assertionId, '_id00000000000000000000000000000000000002');
    assert.equal(built.nameId, 'alice@example.com');
  });

  it('is exactly the expected XML with a signed response and an unsigned assertion', async () => {
    const built = await buildResponse(idpContext(), input({ signResponse: true, signAssertion: false }));
    assert.equal(built.xml + '\n', fixture('response.signed-response.xml'));
  });

  it('is exactly the expected XML with both signed', async () => {
    const built = await buildResponse(idpContext(), input({ signResponse: true }));
    assert.equal(built.xml + '\n', fixture('response.signed-both.xml'));
  });

  it('has the layout and values of the contract', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true }));
    const response = parse(xml);
    assert.equal(response.namespaceURI, NS.samlp);
    assert.equal(response.localName, 'Response');
    assert.equal(response.getAttribute('Version'), '2.0');
    assert.equal(response.getAttribute('Destination'), 'https://sp.example.test/acs');
    assert.equal(response.getAttribute('InResponseTo'), '_req-minimal-0001');
    assert.equal(response.getAttribute('IssueInstant'), '2030-01-01T00:00:30Z');
    assert.deepEqual(names(response), ['Issuer', 'Signature', 'Status', 'Assertion']);
    assert.equal(child(response, NS.saml, 'Issuer').textContent, IDP_ENTITY_ID);
    assert.equal(child(child(response, NS.samlp, 'Status'), NS.samlp, 'StatusCode').getAttribute('Value'), 'urn:oasis:names:tc:SAML:2.0:status:Success');

    const assertion = child(response, NS.saml, 'Assertion');
    assert.deepEqual(names(assertion), ['Issuer', 'Signature', 'Subject', 'Conditions', 'AuthnStatement', 'AttributeStatement']);
    assert.notEqual(assertion.getAttribute('ID'), response.getAttribute('ID'));
    for (const id of [assertion.getAttribute('ID')!, response.getAttribute('ID')!]) assert.match(id, /^_/);
    assert.equal(child(assertion, NS.saml, 'Issuer').textContent, IDP_ENTITY_ID);

    const subject = child(assertion, NS.saml, 'Subject');
    const nameId = child(subject, NS.saml, 'NameID');
    assert.equal(nameId.textContent, 'alice@example.com');
    assert.equal(nameId.getAttribute('Format'), 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    const confirmation = child(subject, NS.saml, 'SubjectConfirmation');
    assert.equal(confirmation.getAttribute('Method'), 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
    const data = child(confirmation, NS.saml, 'SubjectConfirmationData');
    assert.equal(data.getAttribute('Recipient'), 'https://sp.example.test/acs');
    assert.equal(data.getAttribute('InResponseTo'), '_req-minimal-0001');
    assert.equal(data.getAttribute('NotOnOrAfter'), '2030-01-01T00:05:30Z');
    assert.equal(data.hasAttribute('NotBefore'), false);

    const conditions = child(assertion, NS.saml, 'Conditions');
    assert.equal(conditions.getAttribute('NotBefore'), '2030-01-01T00:00:30Z');
    assert.equal(conditions.getAttribute('NotOnOrAfter'), '2030-01-01T00:05:30Z');
    assert.equal(child(child(conditions, NS.saml, 'AudienceRestriction'), NS.saml, 'Audience').textContent, 'comm100');

    const authn = child(assertion, NS.saml, 'AuthnStatement');
    assert.equal(authn.getAttribute('AuthnInstant'), '2030-01-01T00:00:10Z');
    assert.equal(authn.getAttribute('SessionIndex'), '_session-0001');
    assert.equal(
      child(child(authn, NS.saml, 'AuthnContext'), NS.saml, 'AuthnContextClassRef').textContent,
      'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    );

    const attributes = childElements(child(assertion, NS.saml, 'AttributeStatement'), NS.saml, 'Attribute');
    assert.deepEqual(
      attributes.map((a) => [a.getAttribute('Name'), a.getAttribute('NameFormat'), childElements(a, NS.saml, 'AttributeValue').map((v) => v.textContent)]),
      [
        ['email', 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', ['alice@example.com']],
        ['name', 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', ['Alice Agent']],
      ],
    );
  });

  it('carries signatures that verify with the IdP certificate and not with another', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true }));
    const response = parse(xml);
    const assertion = child(response, NS.saml, 'Assertion');
    assert.equal(signatureVerifies(xml, response, IDP_KEYS.certificatePem), true);
    assert.equal(signatureVerifies(xml, assertion, IDP_KEYS.certificatePem), true);
    assert.equal(signatureVerifies(xml, response, UNRELATED.certificatePem), false);
    const tampered = xml.replace('>alice@example.com</saml:NameID>', '>mallory@example.com</saml:NameID>');
    assert.equal(signatureVerifies(tampered, parse(tampered), IDP_KEYS.certificatePem), false);
    assert.equal(signatureVerifies(tampered, child(parse(tampered), NS.saml, 'Assertion'), IDP_KEYS.certificatePem), false);
  });

  it('signs with RSA-SHA512 and SHA-512 digests when the SP asks for it', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signatureAlgorithm: 'rsa-sha512' }));
    assert.match(xml, /<ds:SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmldsig-more#rsa-sha512"\/>/);
    assert.match(xml, /<ds:DigestMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha512"\/>/);
    assert.doesNotMatch(xml, /sha1|sha256/);
    assert.equal(signatureVerifies(xml, child(parse(xml), NS.saml, 'Assertion'), IDP_KEYS.certificatePem), true);
  });

  it('has no InResponseTo at all when unsolicited (IdP-initiated)', async () => {
    const { xml } = await buildResponse(idpContext(), input({}, { inResponseTo: undefined }));
    assert.doesNotMatch(xml, /InResponseTo/);
  });

  it('goes to the requested registered ACS URL', async () => {
    const { xml } = await buildResponse(idpContext(), input({}, { acsUrl: 'https://sp.example.test/acs/second' }));
    assert.match(xml, /Destination="https:\/\/sp\.example\.test\/acs\/second"/);
    assert.match(xml, /Recipient="https:\/\/sp\.example\.test\/acs\/second"/);
  });

  it('refuses to build a Response for an ACS URL the SP did not register', async () => {
    await assert.rejects(buildResponse(idpContext(), input({}, { acsUrl: 'https://attacker.example.test/acs' })), {
      code: 'invalid_acs_url',
      message: '"https://attacker.example.test/acs" is not a registered ACS URL of the service provider "comm100".',
    });
  });

  it('escapes every value and keeps multi-valued attributes', async () => {
    const user = { email: 'o\'brien+x@example.com', name: '<script>alert("x")</script> & co', attributes: { roles: ['a<b', 'c&d'], empty: [] } };
    const { xml } = await buildResponse(
      idpContext(),
      input({ attributes: { email: 'email', name: 'name', 'urn:oid:1.3.6.1.4.1.5923.1.1.1.7': 'roles', empty: 'empty', missing: 'nope' } }, { user }),
    );
    assert.match(xml, /<saml:AttributeValue>&lt;script&gt;alert\("x"\)&lt;\/script&gt; &amp; co<\/saml:AttributeValue>/);
    assert.doesNotMatch(xml, /<script>/);
    const statement = child(child(parse(xml), NS.saml, 'Assertion'), NS.saml, 'AttributeStatement');
    const attributes = childElements(statement, NS.saml, 'Attribute');
    assert.deepEqual(
      attributes.map((a) => [a.getAttribute('Name'), a.getAttribute('NameFormat'), childElements(a).map((v) => v.textContent)]),
      [
        ['email', 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', ["o'brien+x@example.com"]],
        ['name', 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', ['<script>alert("x")</script> & co']],
        ['urn:oid:1.3.6.1.4.1.5923.1.1.1.7', 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri', ['a<b', 'c&d']],
      ],
    );
  });

  it('leaves the AttributeStatement out when no mapped value exists', async () => {
    const { xml } = await buildResponse(idpContext(), input({ attributes: { missing: 'nope' } }));
    assert.doesNotMatch(xml, /AttributeStatement/);
  });

  it('takes the NameID from the configured field, in the configured format', async () => {
    const { xml, nameId } = await buildResponse(idpContext(), input({ nameId: 'agentId', nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' }));
    assert.equal(nameId, '1001');
    assert.match(xml, /<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">1001<\/saml:NameID>/);
  });

  it('writes a chosen NameID with its Format and qualifiers', async () => {
    const chosen = { value: 'pseudonym-1', format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', nameQualifier: IDP_ENTITY_ID, spNameQualifier: 'comm100' } as const;
    const { xml, nameId, subject } = await buildResponse(idpContext(), input({}, { nameId: chosen }));
    assert.equal(nameId, 'pseudonym-1');
    assert.deepEqual(subject, chosen);
    assert.match(
      xml,
      new RegExp(`<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" NameQualifier="${IDP_ENTITY_ID}" SPNameQualifier="comm100">pseudonym-1</saml:NameID>`),
    );
  });

  it('will not make a persistent or transient NameID out of a user field', async () => {
    await assert.rejects(buildResponse(idpContext(), input({ nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' })), TypeError);
  });

  it('refuses a NameID field the user lacks, or that has several values', async () => {
    await assert.rejects(buildResponse(idpContext(), input({ nameId: 'employeeNumber' })), {
      code: 'bad_request',
      message: 'The user alice@example.com has no single value for "employeeNumber", which service provider "comm100" uses as its NameID.',
    });
    await assert.rejects(buildResponse(idpContext(), input({ nameId: 'roles' })), { code: 'bad_request' });
  });

  it('refuses control characters rather than produce XML that is not well-formed', async () => {
    await assert.rejects(buildResponse(idpContext(), input({}, { user: { ...alice, name: 'bell\u0007' } })));
  });

  it('uses fresh random IDs of at least 128 bits by default', async () => {
    const { randomSamlId } = await import('../../src/saml/ids.js');
    const a = await buildResponse(idpContext({ newId: randomSamlId }), input());
    const b = await buildResponse(idpContext({ newId: randomSamlId }), input());
    for (const id of [a.responseId, a.assertionId, b.responseId, b.assertionId]) assert.match(id, /^_[0-9a-f]{40}$/);
    assert.equal(new Set([a.responseId, a.assertionId, b.responseId, b.assertionId]).size, 4);
  });
});

describe('the encrypted assertion', () => {
  const encrypted = { encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem };

  it('replaces the Assertion with an EncryptedAssertion (AES-256-GCM, RSA-OAEP) that holds the signed assertion', async () => {
    const { xml } = await buildResponse(idpContext(), input(encrypted));
    const response = parse(xml);
    assert.deepEqual(names(response), ['Issuer', 'Status', 'EncryptedAssertion']);
    assert.doesNotMatch(xml, /alice@example\.com/);
    const encryptedData = child(child(response, NS.saml, 'EncryptedAssertion'), NS.xenc, 'EncryptedData');
    assert.equal(child(encryptedData, NS.xenc, 'EncryptionMethod').getAttribute('Algorithm'), 'http://www.w3.org/2009/xmlenc11#aes256-gcm');
    assert.match(xml, /<e:EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p">/);

    const assertionXml = await decrypt(encryptedData.toString(), SP_ENCRYPTION.privateKeyPem);
    const assertion = parse(assertionXml);
    assert.equal(assertion.localName, 'Assertion');
    assert.equal(child(child(assertion, NS.saml, 'Subject'), NS.saml, 'NameID').textContent, 'alice@example.com');
    assert.equal(signatureVerifies(assertionXml, assertion, IDP_KEYS.certificatePem), true);
  });

  /** The EncryptedKey's EncryptionMethod as an SP reads it: the key transport, its DigestMethod and xenc11:MGF. */
  function keyTransport(encryptedData: Element) {
    const method = child(child(child(encryptedData, NS.ds, 'KeyInfo'), NS.xenc, 'EncryptedKey'), NS.xenc, 'EncryptionMethod');
    return {
      algorithm: method.getAttribute('Algorithm'),
      children: childElements(method).map((e) => `${e.namespaceURI} ${e.localName} ${e.getAttribute('Algorithm')}`),
    };
  }

  it('encrypts the key with rsa-oaep-mgf1p and a SHA-1 digest by default, naming no MGF (that URI fixes MGF1-SHA-1)', async () => {
    const { xml } = await buildResponse(idpContext(), input(encrypted));
    assert.deepEqual(keyTransport(child(child(parse(xml), NS.saml, 'EncryptedAssertion'), NS.xenc, 'EncryptedData')), {
      algorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
      children: ['http://www.w3.org/2000/09/xmldsig# DigestMethod http://www.w3.org/2000/09/xmldsig#sha1'],
    });
  });

  it('encrypts the key with xmlenc11#rsa-oaep, SHA-256 and MGF1-SHA-256 for an SP whose keyEncryptionAlgorithm is rsa-oaep-sha256', async () => {
    const { xml } = await buildResponse(idpContext(), input({ ...encrypted, keyEncryptionAlgorithm: 'rsa-oaep-sha256' }));
    const encryptedData = child(child(parse(xml), NS.saml, 'EncryptedAssertion'), NS.xenc, 'EncryptedData');
    assert.equal(child(encryptedData, NS.xenc, 'EncryptionMethod').getAttribute('Algorithm'), 'http://www.w3.org/2009/xmlenc11#aes256-gcm');
    // In the order of XML Encryption 1.1's example (5.5.2): the MGF, then the DigestMethod.
    assert.deepEqual(keyTransport(encryptedData), {
      algorithm: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
      children: [
        'http://www.w3.org/2009/xmlenc11# MGF http://www.w3.org/2009/xmlenc11#mgf1sha256',
        'http://www.w3.org/2000/09/xmldsig# DigestMethod http://www.w3.org/2001/04/xmlenc#sha256',
      ],
    });
    const assertionXml = await decrypt(encryptedData.toString(), SP_ENCRYPTION.privateKeyPem);
    assert.equal(signatureVerifies(assertionXml, parse(assertionXml), IDP_KEYS.certificatePem), true);
    await assert.rejects(decrypt(encryptedData.toString(), UNRELATED.privateKeyPem));
  });

  it('cannot be decrypted with another key', async () => {
    const { xml } = await buildResponse(idpContext(), input(encrypted));
    const encryptedData = child(child(parse(xml), NS.saml, 'EncryptedAssertion'), NS.xenc, 'EncryptedData');
    await assert.rejects(decrypt(encryptedData.toString(), UNRELATED.privateKeyPem));
  });

  it('is signed inside and, when asked, the Response around it too', async () => {
    const { xml } = await buildResponse(idpContext(), input({ ...encrypted, signResponse: true }));
    const response = parse(xml);
    assert.deepEqual(names(response), ['Issuer', 'Signature', 'Status', 'EncryptedAssertion']);
    assert.equal(signatureVerifies(xml, response, IDP_KEYS.certificatePem), true);
  });
});

describe('the status-only Response', () => {
  it('is exactly the expected XML for NoPassive, signed', () => {
    const sp = spOf(testConfig(), 'comm100');
    const { xml, responseId } = buildStatusResponse(idpContext(), {
      sp,
      acsUrl: sp.saml.acsUrls[0]!,
      inResponseTo: '_req-passive-0001',
      status: { code: 'Responder', subCode: 'NoPassive', message: 'The user is not signed in and the request is passive.' },
    });
    assert.equal(xml + '\n', fixture('response.status-no-passive.xml'));
    assert.equal(responseId, '_id00000000000000000000000000000000000001');
    assert.equal(signatureVerifies(xml, parse(xml), IDP_KEYS.certificatePem), true);
  });

  it('carries a top-level code alone when there is no second-level one', () => {
    const sp = spOf(testConfig(), 'comm100');
    const { xml } = buildStatusResponse(idpContext(), { sp, acsUrl: sp.saml.acsUrls[0]!, status: { code: 'Requester' } });
    const status = child(parse(xml), NS.samlp, 'Status');
    assert.deepEqual(names(status), ['StatusCode']);
    const code = child(status, NS.samlp, 'StatusCode');
    assert.equal(code.getAttribute('Value'), 'urn:oasis:names:tc:SAML:2.0:status:Requester');
    assert.deepEqual(names(code), []);
    assert.doesNotMatch(xml, /InResponseTo|Assertion/);
  });

  it('names AuthnFailed under Responder', () => {
    const sp = spOf(testConfig(), 'comm100');
    const { xml } = buildStatusResponse(idpContext(), { sp, acsUrl: sp.saml.acsUrls[0]!, status: { code: 'Responder', subCode: 'AuthnFailed' } });
    assert.match(xml, /<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2\.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2\.0:status:AuthnFailed"\/><\/samlp:StatusCode>/);
  });
});
