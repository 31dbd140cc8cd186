import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS } from '../../src/saml/constants.js';
import { parseInstant, parseUntrustedXml, quote, samlInstant } from '../../src/saml/xml.js';
import { fixture } from './support.js';

describe('parseUntrustedXml', () => {
  it('parses a well-formed message with one root element', () => {
    const doc = parseUntrustedXml(fixture('authn-request.full.xml'), 'SAMLRequest');
    assert.equal(doc.documentElement?.localName, 'AuthnRequest');
    assert.equal(doc.documentElement?.getAttribute('ID'), '_req-full-0001');
  });

  it('refuses a DOCTYPE with an internal entity before parsing', () => {
    assert.throws(() => parseUntrustedXml(fixture('authn-request.doctype-entity.xml'), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest contains a DOCTYPE or an entity declaration, which are not accepted.',
    });
  });

  it('refuses the billion laughs at once, without expanding anything', () => {
    const started = process.hrtime.bigint();
    assert.throws(() => parseUntrustedXml(fixture('authn-request.billion-laughs.xml'), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest contains a DOCTYPE or an entity declaration, which are not accepted.',
    });
    assert.ok(process.hrtime.bigint() - started < 1_000_000_000n);
  });

  it('refuses an external entity (XXE)', () => {
    assert.throws(() => parseUntrustedXml(fixture('authn-request.external-entity.xml'), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest contains a DOCTYPE or an entity declaration, which are not accepted.',
    });
  });

  it('refuses a DOCTYPE written in lower case or with spaces', () => {
    assert.throws(() => parseUntrustedXml('<!doctype a><a/>', 'SAMLRequest'), { code: 'invalid_saml_request' });
    assert.throws(() => parseUntrustedXml('<! ENTITY x "y"><a/>', 'SAMLRequest'), { code: 'invalid_saml_request' });
  });

  it('refuses a reference to an undeclared entity', () => {
    assert.throws(() => parseUntrustedXml('<a>&x;</a>', 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: /^The SAMLRequest is not well-formed XML \(error: entity not found:&x;\)\.$/,
    });
  });

  it('refuses two root elements', () => {
    assert.throws(() => parseUntrustedXml(fixture('authn-request.two-roots.xml'), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest must have exactly one root element, it has several.',
    });
  });

  it('refuses text that is not XML', () => {
    assert.throws(() => parseUntrustedXml(fixture('authn-request.not-xml.txt'), 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not well-formed XML (missing root element).',
    });
  });

  it('refuses an empty document', () => {
    assert.throws(() => parseUntrustedXml('', 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not well-formed XML (missing root element).',
    });
  });

  it('refuses content after the root element', () => {
    assert.throws(() => parseUntrustedXml('<a/>junk', 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: 'The SAMLRequest is not well-formed XML (error: Extra content at the end of the document).',
    });
  });

  it('refuses mismatched tags and unbound prefixes', () => {
    assert.throws(() => parseUntrustedXml('<a><b></a>', 'SAMLRequest'), { code: 'invalid_saml_request' });
    assert.throws(() => parseUntrustedXml('<p:a/>', 'SAMLRequest'), { code: 'invalid_saml_request' });
  });

  it('refuses a document larger than the limit', () => {
    const big = `<a>${'x'.repeat(LIMITS.maxXmlBytes)}</a>`;
    assert.throws(() => parseUntrustedXml(big, 'SAMLRequest'), {
      code: 'invalid_saml_request',
      message: `The SAMLRequest is too large: ${LIMITS.maxXmlBytes + 7} bytes of XML, at most ${LIMITS.maxXmlBytes} are accepted.`,
    });
  });
});

describe('XML value helpers', () => {
  it('writes instants in UTC with whole seconds', () => {
    assert.equal(samlInstant(Date.parse('2030-01-01T00:00:30.999Z')), '2030-01-01T00:00:30Z');
  });

  it('parses xs:dateTime with Z or an offset and rejects anything else', () => {
    assert.equal(parseInstant('2030-01-01T00:00:00Z'), Date.parse('2030-01-01T00:00:00Z'));
    assert.equal(parseInstant('2030-01-01T01:00:00.5+01:00'), Date.parse('2030-01-01T00:00:00.5Z'));
    assert.equal(parseInstant('2030-01-01'), undefined);
    assert.equal(parseInstant('yesterday'), undefined);
  });

  it('quotes untrusted values visibly and cuts long ones', () => {
    assert.equal(quote('a"b\n<c>'), '"a\\"b\\n<c>"');
    assert.equal(quote('x'.repeat(200)).length, 122);
  });
});
