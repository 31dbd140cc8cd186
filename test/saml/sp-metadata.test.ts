import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fixedClock } from '../../src/clock.js';
import { LIMITS } from '../../src/limits.js';
import { parseSpMetadata, SpMetadataError, summarizeSpMetadata, type SpMetadata } from '../../src/saml/sp-metadata.js';
import { clock, fixture, FIXTURES } from './support.js';

const DIR = path.resolve(FIXTURES, '..', 'sp-metadata');
const read = (name: string): string => fs.readFileSync(path.join(DIR, name), 'utf8');
const parse = (name: string): Promise<SpMetadata> => parseSpMetadata(read(name), `metadataFile ${name}`, clock);

/** The test certificates, as the parser must give them back: one PEM block, 64 columns. */
const SIGNING_PEM = fixture('sp-signing.crt.pem');
const ENCRYPTION_PEM = fixture('sp-encryption.crt.pem');

const B = 'urn:oasis:names:tc:SAML:2.0:bindings:';
const MD = '{urn:oasis:names:tc:SAML:2.0:metadata}';

/** Asserts a refusal: an SpMetadataError whose message is exactly `message`. */
async function refuses(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SpMetadataError, `expected an SpMetadataError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('parseSpMetadata: real SPs', () => {
  it('reads a OneLogin (python3-saml) SP: one ACS, both KeyDescriptors with the same certificate, Organization and ContactPerson', async () => {
    const md = await parse('onelogin.sp.xml');
    assert.deepEqual(md, {
      entityId: 'https://sp.example.com/metadata/',
      acs: [{ binding: `${B}HTTP-POST`, location: 'https://sp.example.com/?acs', index: 1, isDefault: undefined }],
      slo: [{ binding: `${B}HTTP-Redirect`, location: 'https://sp.example.com/?sls', responseLocation: undefined }],
      signingCertificates: [SIGNING_PEM],
      encryptionCertificates: [SIGNING_PEM],
      encryptionMethods: [],
      nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      authnRequestsSigned: true,
      wantAssertionsSigned: true,
      validUntil: Date.parse('2030-01-03T00:00:00Z'),
    });
  });

  it('reads a Shibboleth SP: every ACS binding and index, isDefault, both uses, the EncryptionMethods, SAML 1 beside SAML 2', async () => {
    const md = await parse('shibboleth.sp.xml');
    const S = 'https://sp.example.org/Shibboleth.sso';
    assert.equal(md.entityId, 'https://sp.example.org/shibboleth');
    assert.deepEqual(md.acs, [
      { binding: `${B}HTTP-POST`, location: `${S}/SAML2/POST`, index: 1, isDefault: true },
      { binding: `${B}HTTP-POST-SimpleSign`, location: `${S}/SAML2/POST-SimpleSign`, index: 2, isDefault: undefined },
      { binding: `${B}HTTP-Artifact`, location: `${S}/SAML2/Artifact`, index: 3, isDefault: undefined },
      { binding: `${B}PAOS`, location: `${S}/SAML2/ECP`, index: 4, isDefault: false },
      { binding: 'urn:oasis:names:tc:SAML:1.0:profiles:browser-post', location: `${S}/SAML/POST`, index: 5, isDefault: undefined },
      { binding: 'urn:oasis:names:tc:SAML:1.0:profiles:artifact-01', location: `${S}/SAML/Artifact`, index: 6, isDefault: undefined },
    ]);
    assert.deepEqual(md.slo, [
      { binding: `${B}SOAP`, location: `${S}/SLO/SOAP`, responseLocation: undefined },
      { binding: `${B}HTTP-Redirect`, location: `${S}/SLO/Redirect`, responseLocation: undefined },
      { binding: `${B}HTTP-POST`, location: `${S}/SLO/POST`, responseLocation: `${S}/SLO/POST/Response` },
      { binding: `${B}HTTP-Artifact`, location: `${S}/SLO/Artifact`, responseLocation: undefined },
    ]);
    assert.deepEqual(md.signingCertificates, [SIGNING_PEM]);
    assert.deepEqual(md.encryptionCertificates, [ENCRYPTION_PEM]);
    assert.deepEqual(md.encryptionMethods, [
      'http://www.w3.org/2009/xmlenc11#aes128-gcm',
      'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
      'http://www.w3.org/2009/xmlenc11#rsa-oaep',
      'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    ]);
    assert.deepEqual(md.nameIdFormats, ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient', 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent']);
    assert.equal(md.authnRequestsSigned, undefined);
    assert.equal(md.wantAssertionsSigned, undefined);
  });

  it('reads a mod_auth_mellon SP: unprefixed names, a KeyDescriptor without use (both), 1/0 booleans, a NameIDFormat with spaces around', async () => {
    const md = await parse('mellon.sp.xml');
    const M = 'https://sp.example.net/mellon';
    assert.equal(md.entityId, `${M}/metadata`);
    assert.deepEqual(
      md.acs.map((a) => [a.index, a.binding.replace(B, ''), a.isDefault]),
      [
        [0, 'HTTP-POST', true],
        [1, 'HTTP-Artifact', undefined],
        [2, 'PAOS', undefined],
      ],
    );
    assert.deepEqual(md.signingCertificates, [ENCRYPTION_PEM]);
    assert.deepEqual(md.encryptionCertificates, [ENCRYPTION_PEM]);
    assert.deepEqual(md.nameIdFormats, ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient']);
    assert.equal(md.authnRequestsSigned, true);
    assert.equal(md.wantAssertionsSigned, false);
  });

  it('gives every certificate as a PEM block of 64 columns that node:crypto reads', async () => {
    const md = await parse('onelogin.sp.xml');
    const pem = md.signingCertificates[0]!;
    const lines = pem.trimEnd().split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines.at(-1), '-----END CERTIFICATE-----');
    assert.ok(lines.slice(1, -1).every((l) => l.length <= 64 && /^[A-Za-z0-9+/=]+$/.test(l)));
    assert.equal(new crypto.X509Certificate(pem).subject, "CN=mock-idp test fixture sp-signing (TEST KEY\\, PUBLIC)");
  });

  it('accepts an EntitiesDescriptor holding one SP beside an IdP, and takes the SP', async () => {
    const md = await parse('entities.one-sp.xml');
    assert.equal(md.entityId, 'https://sp-one.test');
    assert.deepEqual(md.acs, [{ binding: `${B}HTTP-POST`, location: 'https://sp-one.test/acs', index: 0, isDefault: undefined }]);
  });

  it('summarizes what it read, one line per endpoint', async () => {
    assert.deepEqual(summarizeSpMetadata(await parse('mellon.sp.xml')), [
      'entityID https://sp.example.net/mellon/metadata',
      'ACS 0 (default): HTTP-POST https://sp.example.net/mellon/postResponse',
      'ACS 1: HTTP-Artifact https://sp.example.net/mellon/artifactResponse',
      'ACS 2: PAOS https://sp.example.net/mellon/paosResponse',
      'SLO: HTTP-Redirect https://sp.example.net/mellon/logout',
      'SLO: SOAP https://sp.example.net/mellon/logout',
      'certificates: 1 for signing, 1 for encryption',
      'NameID formats: urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      'AuthnRequestsSigned=true, WantAssertionsSigned=false',
    ]);
  });
});

describe('parseSpMetadata: hostile and broken documents', () => {
  it('refuses a DOCTYPE with entities before parsing, naming the source', async () => {
    await refuses(parse('doctype-entity.xml'), 'metadataFile doctype-entity.xml: The SP metadata contains a DOCTYPE or an entity declaration, which are not accepted.');
  });

  it('refuses a document over the size limit before parsing it (even when it is not XML at all)', async () => {
    const limit = LIMITS.spMetadataBytes;
    const huge = `<${'x'.repeat(limit)}`;
    await refuses(parseSpMetadata(huge, 'metadataUrl https://sp.test/md', clock), `metadataUrl https://sp.test/md: The SP metadata is too large: ${limit + 1} bytes of XML, at most ${limit} are accepted.`);
    // Valid metadata padded past the limit by a comment: refused by its size alone.
    const padded = read('onelogin.sp.xml').replace('<md:SPSSODescriptor', `<!-- ${'p'.repeat(limit)} --><md:SPSSODescriptor`);
    await refuses(parseSpMetadata(padded, 'sp.xml', clock), /^sp\.xml: The SP metadata is too large: \d+ bytes of XML, at most 524288 are accepted\.$/);
  });

  it('refuses text that is not XML', async () => {
    await refuses(parse('not-xml.txt'), 'metadataFile not-xml.txt: The SP metadata is not well-formed XML (missing root element).');
  });

  it('refuses an AuthnRequest given as metadata, naming the root element it found', async () => {
    await refuses(
      parseSpMetadata(fixture('authn-request.minimal.xml'), 'metadata', clock),
      'metadata: the root element is "{urn:oasis:names:tc:SAML:2.0:protocol}AuthnRequest", not SAML metadata: ' +
        "an SP's metadata is an md:EntityDescriptor (or an md:EntitiesDescriptor holding one), with md = urn:oasis:names:tc:SAML:2.0:metadata.",
    );
  });

  it("refuses an IdP's metadata, saying that it describes an IdP", async () => {
    await refuses(
      parseSpMetadata(fixture('metadata.idp.xml'), 'metadataFile idp.xml', clock),
      'metadataFile idp.xml: the EntityDescriptor "https://idp.example.test/saml/metadata" has no SPSSODescriptor for SAML 2.0 (it describes an IdP?).',
    );
  });

  it('refuses an SPSSODescriptor for SAML 1.1 only', async () => {
    await refuses(
      parse('saml11-only.xml'),
      'metadataFile saml11-only.xml: the EntityDescriptor "https://sp.test/metadata" has no SPSSODescriptor for SAML 2.0 ' +
        '(protocolSupportEnumeration must include urn:oasis:names:tc:SAML:2.0:protocol).',
    );
  });

  it('refuses an EntitiesDescriptor of several SPs, naming their entityIDs and asking for one', async () => {
    await refuses(
      parse('entities.two-sps.xml'),
      'metadataFile entities.two-sps.xml: the EntitiesDescriptor holds 2 SPs ("https://sp-one.test", "https://sp-two.test"); ' +
        'give the metadata of one SP, its EntityDescriptor alone.',
    );
  });

  it('refuses an SPSSODescriptor without an AssertionConsumerService in its own words', async () => {
    await refuses(
      parse('missing-acs.xml'),
      'metadataFile missing-acs.xml: the SPSSODescriptor of the EntityDescriptor "https://sp.test/metadata" lists no AssertionConsumerService: ' +
        'the IdP would have nowhere to send the Response.',
    );
  });

  it("refuses an ACS without index with xmllint's words, the source and the line", async () => {
    await refuses(
      parse('missing-acs-index.xml'),
      `metadataFile missing-acs-index.xml line 4: Element '${MD}AssertionConsumerService': The attribute 'index' is required but missing.`,
    );
  });

  it('refuses an isDefault that is not an xs:boolean', async () => {
    await refuses(
      parse('isdefault-not-boolean.xml'),
      `metadataFile isdefault-not-boolean.xml line 4: Element '${MD}AssertionConsumerService', attribute 'isDefault': 'yes' is not a valid value of the atomic type 'xs:boolean'.`,
    );
  });

  it('quotes at most the first three schema errors and counts the others', async () => {
    const one = (line: number) => `metadataFile schema-errors.many.xml line ${line}: Element '${MD}AssertionConsumerService': The attribute 'index' is required but missing.`;
    await refuses(parse('schema-errors.many.xml'), `${one(4)} ${one(5)} ${one(6)} (and 2 more schema errors)`);
  });

  it('refuses repeated ACS indexes, saying which', async () => {
    await refuses(
      parse('duplicate-acs-index.xml'),
      'metadataFile duplicate-acs-index.xml: the SPSSODescriptor of the EntityDescriptor "https://sp.test/metadata" repeats AssertionConsumerService indexes: ' +
        '1 (2 times), 3 (2 times); each index must be unique.',
    );
  });

  it('refuses a certificate node:crypto cannot read, naming its KeyDescriptor', async () => {
    await refuses(
      parse('broken-certificate.xml'),
      /^metadataFile broken-certificate\.xml: the X509Certificate of the KeyDescriptor 2 \(use="encryption"\) of the SPSSODescriptor of the EntityDescriptor "https:\/\/sp\.test\/metadata" is not a readable certificate \(.+\)\.$/,
    );
  });

  it('refuses metadata whose validUntil has passed, and reads it while still valid', async () => {
    await refuses(
      parse('expired.xml'),
      'metadataFile expired.xml: the EntityDescriptor "https://sp.test/metadata" expired on 2029-12-31T23:59:59Z (its validUntil): get the SP\'s current metadata.',
    );
    const before = await parseSpMetadata(read('expired.xml'), 'expired.xml', fixedClock('2029-12-31T00:00:00Z'));
    assert.equal(before.entityId, 'https://sp.test/metadata');
    // The validUntil of an enclosing EntitiesDescriptor counts too.
    await refuses(
      parseSpMetadata(read('entities.one-sp.xml'), 'federation.xml', fixedClock('2030-07-01T00:00:00Z')),
      'federation.xml: the EntitiesDescriptor "urn:example:federation" expired on 2030-06-01T00:00:00Z (its validUntil): get the SP\'s current metadata.',
    );
  });

  it('never fetches a schema named by the document (xsi:schemaLocation)', async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests += 1;
      res.end('<schema xmlns="http://www.w3.org/2001/XMLSchema"/>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const xml = read('missing-acs-index.xml').replace(
        'entityID=',
        `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:oasis:names:tc:SAML:2.0:metadata http://127.0.0.1:${port}/md.xsd" entityID=`,
      );
      await refuses(parseSpMetadata(xml, 'sp.xml', clock), /^sp\.xml line 4: .*The attribute 'index' is required but missing\.$/);
      assert.equal(requests, 0);
    } finally {
      server.close();
    }
  });
});
