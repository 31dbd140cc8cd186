/**
 * Interoperability: xmlsec1 (Debian's xmlsec1, libxmlsec1 over OpenSSL) verifies the
 * signatures of our messages and decrypts our encrypted assertions. xmlsec1 1.2 does not
 * know xmlenc11#rsa-oaep (an SP's keyEncryptionAlgorithm rsa-oaep-sha256): those are
 * decrypted by pyca/cryptography (test/helpers/pyca_xmlenc.py), and by xmlsec1 where it does.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildLogoutRequest, deliver } from '../../src/saml/logout.js';
import { buildResponse, buildStatusResponse, type ResponseInput } from '../../src/saml/response.js';
import { pycaDecrypt } from '../helpers/pyca-xmlenc.js';
import { xmlsecDecrypt, xmlsecVerify, type XmlsecVerifyOptions } from '../helpers/xmlsec.js';
import { IDP_KEYS, SP_ENCRYPTION, UNRELATED, alice, idpContext, spOf, testConfig } from './support.js';

type SamlOverrides = Parameters<typeof testConfig>[0];

function input(overrides: SamlOverrides = {}): ResponseInput {
  const sp = spOf(testConfig(overrides), 'comm100');
  return { sp, user: alice, acsUrl: sp.saml.acsUrls[0]!, inResponseTo: '_req-0001', sessionIndex: '_session-0001', authnInstant: Date.parse('2030-01-01T00:00:10Z') };
}

async function verify(xml: string, signatureOf: XmlsecVerifyOptions['signatureOf'], certificatePem = IDP_KEYS.certificatePem) {
  const configured = await xmlsecVerify(xml, { certificatePem, mode: 'configured-key', signatureOf });
  const keyInfo = await xmlsecVerify(xml, { certificatePem, mode: 'keyinfo-trusted', signatureOf });
  return { configured: configured.ok, keyInfo: keyInfo.ok, detail: `${configured.stdout}${configured.stderr}` };
}

describe('xmlsec1 --verify on our Responses', () => {
  before(async () => {
    const probe = await xmlsecVerify('<x/>', { certificatePem: IDP_KEYS.certificatePem, mode: 'configured-key', signatureOf: 'root' });
    assert.notEqual(probe.code, null, 'xmlsec1 must be installed (apt-get install xmlsec1)');
  });

  it('verifies the assertion signature of a signed-assertion Response, which has no Response signature', async () => {
    const { xml } = await buildResponse(idpContext(), input());
    const assertion = await verify(xml, 'Assertion');
    assert.deepEqual([assertion.configured, assertion.keyInfo], [true, true], assertion.detail);
    assert.equal((await verify(xml, 'root')).configured, false);
  });

  it('verifies the Response signature of a signed-response Response', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true, signAssertion: false }));
    const response = await verify(xml, 'root');
    assert.deepEqual([response.configured, response.keyInfo], [true, true], response.detail);
    assert.equal((await verify(xml, 'Assertion')).configured, false);
  });

  it('verifies both signatures when both are signed', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true }));
    for (const which of ['root', 'Assertion'] as const) {
      const result = await verify(xml, which);
      assert.deepEqual([result.configured, result.keyInfo], [true, true], `${which}: ${result.detail}`);
    }
  });

  it('verifies RSA-SHA512 signatures', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true, signatureAlgorithm: 'rsa-sha512' }));
    for (const which of ['root', 'Assertion'] as const) assert.equal((await verify(xml, which)).configured, true, which);
  });

  it('rejects them with another certificate, and once the content is changed', async () => {
    const { xml } = await buildResponse(idpContext(), input({ signResponse: true }));
    const other = await verify(xml, 'root', UNRELATED.certificatePem);
    assert.deepEqual([other.configured, other.keyInfo], [false, false]);
    const tampered = xml.replace('>alice@example.com</saml:NameID>', '>mallory@example.com</saml:NameID>');
    assert.equal((await verify(tampered, 'root')).configured, false);
    assert.equal((await verify(tampered, 'Assertion')).configured, false);
  });

  it('verifies the status-only Response', async () => {
    const sp = spOf(testConfig(), 'comm100');
    const { xml } = buildStatusResponse(idpContext(), { sp, acsUrl: sp.saml.acsUrls[0]!, status: { code: 'Responder', subCode: 'NoPassive' } });
    assert.equal((await verify(xml, 'root')).configured, true);
  });

  it('decrypts an encrypted assertion with the SP key, and the assertion inside verifies', async () => {
    const { xml } = await buildResponse(idpContext(), input({ encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem, signResponse: true }));
    assert.equal((await verify(xml, 'root')).configured, true);
    const decrypted = await xmlsecDecrypt(xml, SP_ENCRYPTION.privateKeyPem);
    assert.equal(decrypted.ok, true, decrypted.stderr);
    assert.match(decrypted.xml, /<saml:EncryptedAssertion[^>]*><saml:Assertion /);
    assert.match(decrypted.xml, />alice@example\.com<\/saml:NameID>/);
    const assertion = await verify(decrypted.xml, 'Assertion');
    assert.equal(assertion.configured, true, assertion.detail);
    const wrongKey = await xmlsecDecrypt(xml, UNRELATED.privateKeyPem);
    assert.equal(wrongKey.ok, false);
  });
});

describe('the two key transports of an encrypted assertion, decrypted by independent implementations', () => {
  const encrypted = (keyEncryptionAlgorithm: 'rsa-oaep-mgf1p' | 'rsa-oaep-sha256') =>
    input({ encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem, keyEncryptionAlgorithm });

  it('pyca/cryptography decrypts the default (rsa-oaep-mgf1p, SHA-1) and the assertion inside verifies with xmlsec1', async () => {
    const { xml } = await buildResponse(idpContext(), encrypted('rsa-oaep-mgf1p'));
    const decrypted = await pycaDecrypt(xml, SP_ENCRYPTION.privateKeyPem);
    assert.deepEqual([decrypted.data, decrypted.key_transport, decrypted.digest, decrypted.mgf], [
      'http://www.w3.org/2009/xmlenc11#aes256-gcm',
      'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
      'http://www.w3.org/2000/09/xmldsig#sha1',
      null,
    ]);
    assert.equal((await verify(decrypted.plaintext, 'root')).configured, true);
  });

  it('pyca/cryptography decrypts xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA-256, and the assertion inside verifies with xmlsec1', async () => {
    const { xml } = await buildResponse(idpContext(), encrypted('rsa-oaep-sha256'));
    const decrypted = await pycaDecrypt(xml, SP_ENCRYPTION.privateKeyPem);
    assert.deepEqual([decrypted.data, decrypted.key_transport, decrypted.digest, decrypted.mgf], [
      'http://www.w3.org/2009/xmlenc11#aes256-gcm',
      'http://www.w3.org/2009/xmlenc11#rsa-oaep',
      'http://www.w3.org/2001/04/xmlenc#sha256',
      'http://www.w3.org/2009/xmlenc11#mgf1sha256',
    ]);
    assert.match(decrypted.plaintext, /^<saml:Assertion [\s\S]*>alice@example\.com<\/saml:NameID>/);
    const assertion = await verify(decrypted.plaintext, 'root');
    assert.equal(assertion.configured, true, assertion.detail);
  });

  it('is what the URIs say: the key does not decrypt as MGF1-SHA-1 or with a SHA-1 digest, nor with another key', async () => {
    const { xml } = await buildResponse(idpContext(), encrypted('rsa-oaep-sha256'));
    await assert.rejects(pycaDecrypt(xml.replace('xmlenc11#mgf1sha256', 'xmlenc11#mgf1sha1'), SP_ENCRYPTION.privateKeyPem), /does not decrypt with RSA-OAEP, sha256 digest and MGF1-sha1/);
    await assert.rejects(
      pycaDecrypt(xml.replace('<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"', '<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"'), SP_ENCRYPTION.privateKeyPem),
      /does not decrypt with RSA-OAEP, sha1 digest and MGF1-sha256/,
    );
    await assert.rejects(pycaDecrypt(xml, UNRELATED.privateKeyPem), /does not decrypt/);
  });
});

describe('xmlsec1 --verify on our logout messages', () => {
  it('verifies a LogoutRequest sent with HTTP-POST', async () => {
    const sp = spOf(testConfig(), 'comm100');
    const delivery = deliver(idpContext(), buildLogoutRequest(idpContext(), { sp, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }, sessionIndex: '_s' }), 'SAMLRequest', 'post');
    assert.equal(delivery.binding, 'post');
    if (delivery.binding !== 'post') return;
    const xml = Buffer.from(delivery.fields.SAMLRequest!, 'base64').toString('utf8');
    assert.equal((await verify(xml, 'root')).configured, true);
  });
});
