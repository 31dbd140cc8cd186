import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { describe, it } from 'node:test';
import {
  decodeBase64,
  decodeMessage,
  encodePost,
  encodeRedirect,
  formEncode,
  inflateMessage,
  parseRedirectQuery,
  verifyRedirectSignature,
} from '../../src/saml/binding.js';
import { LIMITS } from '../../src/saml/constants.js';
import { SP_SIGNING, UNRELATED, fixture, redirectQuery } from './support.js';

const xml = fixture('authn-request.minimal.xml');

describe('HTTP-Redirect decoding', () => {
  it('decodes base64 of raw DEFLATE and keeps the RelayState exactly', () => {
    const relayState = 'https://sp.example.test/after?x=1&y=a b+c%';
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: redirectQuery(xml, { relayState }) }, 'SAMLRequest');
    assert.equal(decoded.xml, xml);
    assert.equal(decoded.relayState, relayState);
    assert.equal(decoded.binding, 'redirect');
  });

  it('rebuilds the signed octets from the raw query values in the order the binding fixes', () => {
    const query = 'SigAlg=alg%2Fx&foo=bar&RelayState=r%20s&SAMLRequest=' + encodeURIComponent(zlib.deflateRawSync(xml).toString('base64')) + '&Signature=c2ln';
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: query }, 'SAMLRequest');
    const raw = query.split('&').find((p) => p.startsWith('SAMLRequest='))!;
    assert.deepEqual(decoded.redirectSignature, {
      signedOctets: `${raw}&RelayState=r%20s&SigAlg=alg%2Fx`,
      sigAlg: 'alg/x',
      signature: 'c2ln',
    });
  });

  it('accepts a base64 "+" that the sender left unencoded', () => {
    let deflated = zlib.deflateRawSync(xml);
    // Find a padding of the XML whose base64 contains a "+", then send it unencoded.
    for (let i = 0; !deflated.toString('base64').includes('+'); i++) deflated = zlib.deflateRawSync(`${xml}${' '.repeat(i)}`);
    const rawQuery = `SAMLRequest=${deflated.toString('base64').replace(/\//g, '%2F').replace(/=/g, '%3D')}`;
    assert.match(decodeMessage({ binding: 'redirect', rawQuery }, 'SAMLRequest').xml, /^<samlp:AuthnRequest /);
  });

  it('says so when the parameter is missing', () => {
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: 'RelayState=x' }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The request has no SAMLRequest parameter.',
    });
  });

  it('refuses a repeated SAMLRequest parameter', () => {
    const q = redirectQuery(xml);
    assert.throws(() => parseRedirectQuery(`${q}&${q}`), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest parameter appears more than once.',
    });
  });

  it('refuses bad base64', () => {
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: 'SAMLRequest=%%%not-base64!!' }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest parameter is not correctly URL-encoded.',
    });
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: 'SAMLRequest=not-base64!!' }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not valid base64.',
    });
    assert.throws(() => decodeBase64('abc', 'SAMLRequest'), { code: 'invalid_saml_request', message: 'The SAMLRequest is not valid base64.' });
  });

  it('refuses data that is not raw DEFLATE (plain base64 XML, or zlib-wrapped)', () => {
    const plain = Buffer.from(xml).toString('base64');
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: `SAMLRequest=${encodeURIComponent(plain)}` }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not valid DEFLATE data (the HTTP-Redirect binding uses raw DEFLATE).',
    });
    assert.throws(() => inflateMessage(zlib.deflateSync(xml), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not valid DEFLATE data (the HTTP-Redirect binding uses raw DEFLATE).',
    });
  });

  it('stops inflating a DEFLATE bomb at the size limit, quickly', () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(50 * 1024 * 1024, 0x20), { level: 9 });
    assert.ok(bomb.length < 100 * 1024, 'the bomb itself is small');
    const started = process.hrtime.bigint();
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: redirectQuery('', { deflated: bomb }) }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: `The SAMLRequest inflates to more than ${LIMITS.maxXmlBytes} bytes, which is not accepted.`,
    });
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
  });

  it('refuses an oversize parameter before decoding it', () => {
    const huge = 'A'.repeat(LIMITS.maxEncodedChars + 4);
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: `SAMLRequest=${huge}` }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: `The SAMLRequest is too large: ${huge.length} characters of base64, at most ${LIMITS.maxEncodedChars} are accepted.`,
    });
  });

  it('refuses inflated data that is not UTF-8', () => {
    const q = redirectQuery('', { deflated: zlib.deflateRawSync(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x2f, 0x3e])) });
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: q }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not UTF-8 text.',
    });
  });

  it('refuses a RelayState longer than the limit', () => {
    const relayState = 'r'.repeat(LIMITS.maxRelayStateChars + 1);
    assert.throws(() => decodeMessage({ binding: 'redirect', rawQuery: redirectQuery(xml, { relayState }) }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: `The RelayState is too long: ${relayState.length} characters, at most ${LIMITS.maxRelayStateChars} are accepted.`,
    });
  });
});

describe('HTTP-POST decoding', () => {
  it('names a DEFLATE-compressed POST message as the SP mistake it is (node-saml does it by default)', () => {
    const deflated = zlib.deflateRawSync(xml).toString('base64');
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: deflated } }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message:
        'The SAMLRequest looks DEFLATE-compressed: the HTTP-POST binding sends it base64-encoded but not compressed (SAML Bindings §3.5.4); only the HTTP-Redirect binding compresses. Turn off deflate for POST in the SP library.',
    });
    // Bytes that are neither XML nor DEFLATE of XML keep the plain message.
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64') } }, 'SAMLRequest'), {
      message: 'The SAMLRequest is not UTF-8 text.',
    });
  });

  it('decodes base64 of the XML, with line breaks as form encoders wrap it', () => {
    const wrapped = Buffer.from(xml).toString('base64').replace(/(.{76})/g, '$1\r\n');
    const decoded = decodeMessage({ binding: 'post', body: { SAMLRequest: wrapped, RelayState: 'state' } }, 'SAMLRequest');
    assert.equal(decoded.xml, xml);
    assert.equal(decoded.relayState, 'state');
    assert.equal(decoded.redirectSignature, undefined);
  });

  it('refuses a missing, repeated or non-text field', () => {
    assert.throws(() => decodeMessage({ binding: 'post', body: {} }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The form has no SAMLRequest field.',
    });
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: ['a', 'b'] } }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest field must appear once, as text.',
    });
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: encodePost(xml), RelayState: ['a', 'b'] } }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The RelayState field must appear once, as text.',
    });
  });

  it('refuses bad base64', () => {
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: '<xml/>' } }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not valid base64.',
    });
  });

  it('refuses an oversize message', () => {
    const big = Buffer.alloc(LIMITS.maxXmlBytes + 1, 0x20).toString('base64');
    assert.throws(() => decodeMessage({ binding: 'post', body: { SAMLRequest: big } }, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: `The SAMLRequest is too large: ${LIMITS.maxXmlBytes + 1} bytes of XML, at most ${LIMITS.maxXmlBytes} are accepted.`,
    });
  });
});

describe('HTTP-Redirect signatures', () => {
  const decode = (query: string) => decodeMessage({ binding: 'redirect', rawQuery: query }, 'SAMLRequest').redirectSignature!;

  it('verifies a signature made over the query string', () => {
    const q = redirectQuery(xml, { relayState: 'a b/c', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } });
    assert.doesNotThrow(() => verifyRedirectSignature(decode(q), [SP_SIGNING.certificatePem], 'AuthnRequest'));
  });

  it('verifies RSA-SHA512 too', () => {
    const q = redirectQuery(xml, {
      sign: { privateKeyPem: SP_SIGNING.privateKeyPem, sigAlg: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512', hash: 'sha512' },
    });
    assert.doesNotThrow(() => verifyRedirectSignature(decode(q), [SP_SIGNING.certificatePem], 'AuthnRequest'));
  });

  it('uses the values exactly as received, whatever their percent-encoding', () => {
    const deflated = zlib.deflateRawSync(xml).toString('base64');
    // Lower-case hex escapes, as some senders (ADFS) produce: a re-encoding verifier would fail.
    let query = `SAMLRequest=${encodeURIComponent(deflated).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`;
    query += `&SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256').toLowerCase()}`;
    const signature = signOctets(query);
    query += `&Signature=${encodeURIComponent(signature)}`;
    assert.doesNotThrow(() => verifyRedirectSignature(decode(query), [SP_SIGNING.certificatePem], 'AuthnRequest'));
  });

  it('says so when the signature holds only over the query re-encoded ("+" against "%20")', () => {
    const request = encodeURIComponent(zlib.deflateRawSync(xml).toString('base64'));
    const sigAlg = encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    // Signed with the space of the RelayState as "+", sent as "%20".
    const signature = signOctets(`SAMLRequest=${request}&RelayState=a+b&SigAlg=${sigAlg}`);
    const sent = `SAMLRequest=${request}&RelayState=a%20b&SigAlg=${sigAlg}&Signature=${encodeURIComponent(signature)}`;
    assert.throws(() => verifyRedirectSignature(decode(sent), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
      message:
        'The signature of the AuthnRequest verifies only over the query re-encoded (spaces as "+" rather than "%20", or other escapes changed): the SP must sign the query exactly as it sends it, the SAMLRequest, RelayState and SigAlg values as they appear in the URL (SAML Bindings §3.4.4.1).',
    });
    // Sent as signed, it verifies.
    assert.doesNotThrow(() => verifyRedirectSignature(decode(sent.replace('a%20b', 'a+b')), [SP_SIGNING.certificatePem], 'AuthnRequest'));
  });

  it('refuses a missing signature', () => {
    assert.throws(() => verifyRedirectSignature(decode(redirectQuery(xml)), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
      message:
        "The AuthnRequest is not signed: the HTTP-Redirect binding needs SigAlg and Signature parameters, and this service provider's messages must be signed (requestSigningCert is set).",
    });
  });

  it('refuses a signature by another key', () => {
    const q = redirectQuery(xml, { sign: { privateKeyPem: UNRELATED.privateKeyPem } });
    assert.throws(() => verifyRedirectSignature(decode(q), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
      message: "The signature of the AuthnRequest does not verify with the service provider's certificate (requestSigningCert).",
    });
  });

  it('refuses a query changed after signing (RelayState swapped)', () => {
    const q = redirectQuery(xml, { relayState: 'good', sign: { privateKeyPem: SP_SIGNING.privateKeyPem } });
    assert.throws(() => verifyRedirectSignature(decode(q.replace('RelayState=good', 'RelayState=evil')), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
    });
  });

  it('refuses RSA-SHA1', () => {
    const q = redirectQuery(xml, {
      sign: { privateKeyPem: SP_SIGNING.privateKeyPem, sigAlg: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', hash: 'sha1' },
    });
    assert.throws(() => verifyRedirectSignature(decode(q), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
      message: 'The SigAlg "http://www.w3.org/2000/09/xmldsig#rsa-sha1" is not accepted; sign with RSA-SHA256 or RSA-SHA512.',
    });
  });

  it('refuses a Signature that is not base64', () => {
    const q = `${redirectQuery(xml)}&SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')}&Signature=%21%21`;
    assert.throws(() => verifyRedirectSignature(decode(q), [SP_SIGNING.certificatePem], 'AuthnRequest'), {
      code: 'invalid_signature',
      message: 'The Signature parameter is not valid base64.',
    });
  });
});

describe('encoding outgoing messages', () => {
  it('form-encodes query values as most SAML libraries re-encode them', () => {
    assert.equal(formEncode("a b+c/d=e~f*g'h(i)j!k-_.l"), 'a+b%2Bc%2Fd%3De~f%2Ag%27h%28i%29j%21k-_.l');
  });

  it('builds a signed HTTP-Redirect URL that keeps the endpoint query and verifies', () => {
    const url = encodeRedirect({
      url: 'https://sp.example.test/slo?tenant=1',
      param: 'SAMLResponse',
      xml,
      relayState: 'back to /home',
      sign: { credentials: SP_SIGNING },
    });
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('tenant'), '1');
    assert.equal(parsed.searchParams.get('RelayState'), 'back to /home');
    assert.equal(parsed.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: parsed.search.slice(1) }, 'SAMLResponse');
    assert.equal(decoded.xml, xml);
    assert.doesNotThrow(() => verifyRedirectSignature(decoded.redirectSignature!, [SP_SIGNING.certificatePem], 'LogoutResponse'));
  });
});

function signOctets(octets: string): string {
  return crypto.sign('sha256', Buffer.from(octets), SP_SIGNING.privateKeyPem).toString('base64');
}
