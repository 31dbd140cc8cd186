/**
 * SAML faults, one by one: each Response is compared with the one built without
 * the fault (same clock, same IDs), signatures left aside, and must differ in
 * exactly the place the fault names; the signatures are checked with xml-crypto
 * (the signing certificate pinned, never the one in KeyInfo).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser, type Element, type Node } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { IdpError } from '../../src/errors.js';
import { FAULT_TIME_MARGIN_SECONDS, FAULT_VALUES, SAML_FAULT_NAMES, type SamlFault } from '../../src/faults/catalog.js';
import { buildFaultedResponse } from '../../src/faults/saml.js';
import { processFaultKeys } from '../../src/faults/keys.js';
import { NS } from '../../src/saml/constants.js';
import { buildResponse, type ResponseInput } from '../../src/saml/response.js';
import { samlInstant } from '../../src/saml/xml.js';
import { IDP_KEYS, NOW, SP_ENCRYPTION, alice, idpContext, spOf, testConfig } from '../saml/support.js';

type Overrides = Parameters<typeof testConfig>[0];

function input(overrides: Overrides = {}): ResponseInput {
  const sp = spOf(testConfig(overrides), 'comm100');
  return { sp, user: alice, acsUrl: sp.saml.acsUrls[0]!, inResponseTo: '_req-0001', sessionIndex: '_session-0001', authnInstant: NOW - 20_000 };
}

async function build(faults: SamlFault[], overrides: Overrides = {}, lastAssertionId?: string) {
  const wrongCredentials = faults.some((f) => f.name === 'wrong-certificate') ? await processFaultKeys().saml() : undefined;
  return buildFaultedResponse(idpContext(), input(overrides), { faults, lastAssertionId, wrongCredentials });
}

/** The document as lines "path@attr=value", "path=text", "path<!--comment-->", signatures left out. */
function facts(xml: string): string[] {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const out: string[] = [];
  const walk = (el: Element, path: string): void => {
    const here = `${path}/${el.localName}`;
    for (let i = 0; i < el.attributes.length; i++) {
      const a = el.attributes.item(i)!;
      if (!a.name.startsWith('xmlns')) out.push(`${here}@${a.name}=${a.value}`);
    }
    for (let n: Node | null = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1) {
        if ((n as Element).namespaceURI === NS.ds && (n as Element).localName === 'Signature') continue;
        walk(n as Element, here);
      } else if (n.nodeType === 3 && (n.nodeValue ?? '').trim() !== '') out.push(`${here}=${n.nodeValue}`);
      else if (n.nodeType === 8) out.push(`${here}<!--${n.nodeValue}-->`);
    }
  };
  walk(doc.documentElement!, '');
  return out;
}

/** Lines only in a (-) and only in b (+). */
function diff(a: string, b: string): { removed: string[]; added: string[] } {
  const fa = facts(a);
  const fb = facts(b);
  return { removed: fa.filter((l) => !fb.includes(l)), added: fb.filter((l) => !fa.includes(l)) };
}

interface SignatureCheck {
  on: string;
  valid: boolean;
  method: string;
  digest: string;
  keyInfoIsIdp: boolean;
}

/** Every signature, verified with the IdP certificate only (xml-crypto, KeyInfo ignored). */
function signatures(xml: string, certificatePem = IDP_KEYS.certificatePem): SignatureCheck[] {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return Array.from(doc.getElementsByTagNameNS(NS.ds, 'Signature')).map((sig) => {
    const verifier = new SignedXml({ publicCert: certificatePem, getCertFromKeyInfo: () => null });
    let valid = false;
    try {
      verifier.loadSignature(sig.toString());
      valid = verifier.checkSignature(xml);
    } catch {
      valid = false;
    }
    const cert = (sig.getElementsByTagNameNS(NS.ds, 'X509Certificate')[0]?.textContent ?? '').replace(/\s+/g, '');
    return {
      on: (sig.parentNode as Element).localName!,
      valid,
      method: sig.getElementsByTagNameNS(NS.ds, 'SignatureMethod')[0]!.getAttribute('Algorithm')!,
      digest: sig.getElementsByTagNameNS(NS.ds, 'DigestMethod')[0]!.getAttribute('Algorithm')!,
      keyInfoIsIdp: cert === IDP_KEYS.certificateBase64,
    };
  });
}

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

describe('SAML faults', () => {
  it('without a fault, the pipeline gives byte for byte what buildResponse gives, for every signing choice', async () => {
    for (const overrides of [{}, { signResponse: true }, { signResponse: true, signAssertion: false }, { signatureAlgorithm: 'rsa-sha512' as const }]) {
      const plain = await buildResponse(idpContext(), input(overrides));
      const piped = await build([], overrides);
      assert.equal(piped.xml, plain.xml, JSON.stringify(overrides));
      assert.deepEqual([piped.responseId, piped.assertionId, piped.nameId], [plain.responseId, plain.assertionId, plain.nameId]);
    }
    assert.deepEqual(signatures((await build([])).xml).map((s) => [s.on, s.valid]), [['Assertion', true]]);
  });

  it('unsigned leaves every signature out and changes nothing else', async () => {
    for (const overrides of [{}, { signResponse: true }]) {
      const base = await build([], overrides);
      const faulty = await build([{ name: 'unsigned' }], overrides);
      assert.deepEqual(diff(base.xml, faulty.xml), { removed: [], added: [] });
      assert.deepEqual(signatures(faulty.xml), []);
      assert.deepEqual(faulty.signed, { response: false, assertion: false });
    }
  });

  it('bad-signature flips a bit of every SignatureValue: the content is the same, no signature verifies', async () => {
    for (const overrides of [{}, { signResponse: true }, { signResponse: true, signAssertion: false }]) {
      const base = await build([], overrides);
      const faulty = await build([{ name: 'bad-signature' }], overrides);
      assert.deepEqual(diff(base.xml, faulty.xml), { removed: [], added: [] });
      const checks = signatures(faulty.xml);
      assert.deepEqual(checks.map((c) => c.on), signatures(base.xml).map((c) => c.on));
      assert.ok(checks.every((c) => !c.valid), JSON.stringify(checks));
    }
  });

  it("wrong-certificate signs with another key and puts that key's certificate in KeyInfo", async () => {
    const base = await build([]);
    const faulty = await build([{ name: 'wrong-certificate' }]);
    assert.deepEqual(diff(base.xml, faulty.xml), { removed: [], added: [] });
    const [check] = signatures(faulty.xml);
    assert.deepEqual([check!.valid, check!.keyInfoIsIdp], [false, false]);
    const other = await processFaultKeys().saml();
    assert.equal(signatures(faulty.xml, other.certificatePem)[0]!.valid, true, 'valid with the certificate it carries');
  });

  for (const [name, shift] of [
    ['expired', -(300 + FAULT_TIME_MARGIN_SECONDS) * 1000],
    ['not-yet-valid', FAULT_TIME_MARGIN_SECONDS * 1000],
  ] as const) {
    it(`${name} shifts every instant by ${shift / 1000} s and keeps a valid signature`, async () => {
      const base = await build([]);
      const faulty = await build([{ name }]);
      const at = (ms: number) => samlInstant(ms);
      const lines = (t: (ms: number) => number) => [
        `/Response@IssueInstant=${at(t(NOW))}`,
        `/Response/Assertion@IssueInstant=${at(t(NOW))}`,
        `/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@NotOnOrAfter=${at(t(NOW + 300_000))}`,
        `/Response/Assertion/Conditions@NotBefore=${at(t(NOW))}`,
        `/Response/Assertion/Conditions@NotOnOrAfter=${at(t(NOW + 300_000))}`,
        `/Response/Assertion/AuthnStatement@AuthnInstant=${at(t(NOW - 20_000))}`,
      ];
      assert.deepEqual(diff(base.xml, faulty.xml), { removed: lines((ms) => ms), added: lines((ms) => ms + shift) });
      assert.equal(signatures(faulty.xml)[0]!.valid, true);
      if (name === 'expired') assert.ok(NOW + 300_000 + shift <= NOW - FAULT_TIME_MARGIN_SECONDS * 1000, 'NotOnOrAfter is 10 minutes past');
    });
  }

  const valueCases: { fault: SamlFault['name']; removed: string[]; added: string[] }[] = [
    {
      fault: 'wrong-audience',
      removed: ['/Response/Assertion/Conditions/AudienceRestriction/Audience=comm100'],
      added: [`/Response/Assertion/Conditions/AudienceRestriction/Audience=${FAULT_VALUES.audience}`],
    },
    {
      fault: 'wrong-recipient',
      removed: ['/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient=https://sp.example.test/acs'],
      added: [`/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@Recipient=${FAULT_VALUES.recipient}`],
    },
    { fault: 'wrong-destination', removed: ['/Response@Destination=https://sp.example.test/acs'], added: [`/Response@Destination=${FAULT_VALUES.destination}`] },
    {
      fault: 'wrong-in-response-to',
      removed: ['/Response@InResponseTo=_req-0001', '/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@InResponseTo=_req-0001'],
      added: [`/Response@InResponseTo=${FAULT_VALUES.inResponseTo}`, `/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@InResponseTo=${FAULT_VALUES.inResponseTo}`],
    },
  ];
  for (const c of valueCases) {
    it(`${c.fault} changes only ${c.added.map((l) => l.split('=')[0]).join(' and ')}, signed anew (Response and Assertion signatures valid)`, async () => {
      const base = await build([], { signResponse: true });
      const faulty = await build([{ name: c.fault }], { signResponse: true });
      assert.deepEqual(diff(base.xml, faulty.xml), { removed: c.removed, added: c.added });
      assert.deepEqual(signatures(faulty.xml).map((s) => [s.on, s.valid]), [['Response', true], ['Assertion', true]]);
    });
  }

  it('wrong-in-response-to adds an InResponseTo to an IdP-initiated Response', async () => {
    const sp = spOf(testConfig(), 'comm100');
    const unsolicited = { sp, user: alice, acsUrl: sp.saml.acsUrls[0]!, sessionIndex: '_s', authnInstant: NOW };
    const base = await buildFaultedResponse(idpContext(), unsolicited, { faults: [] });
    const faulty = await buildFaultedResponse(idpContext(), unsolicited, { faults: [{ name: 'wrong-in-response-to' }] });
    assert.deepEqual(diff(base.xml, faulty.xml).added, [
      `/Response@InResponseTo=${FAULT_VALUES.inResponseTo}`,
      `/Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData@InResponseTo=${FAULT_VALUES.inResponseTo}`,
    ]);
  });

  it('replayed-assertion gives the Assertion the last ID and signs it anew; without an earlier assertion it says so', async () => {
    await assert.rejects(build([{ name: 'replayed-assertion' }]), (err: unknown) => {
      assert.ok(err instanceof IdpError);
      assert.equal(err.code, 'invalid_fault');
      assert.match(err.message, /replayed-assertion reuses the ID of the last fault-free assertion sent to comm100, and none was sent since mock-idp started/);
      return true;
    });
    const base = await build([]);
    const faulty = await build([{ name: 'replayed-assertion' }], {}, '_an-earlier-assertion-id');
    assert.equal(faulty.assertionId, '_an-earlier-assertion-id');
    assert.deepEqual(diff(base.xml, faulty.xml), { removed: [`/Response/Assertion@ID=${base.assertionId}`], added: ['/Response/Assertion@ID=_an-earlier-assertion-id'] });
    assert.match(faulty.xml, /<ds:Reference URI="#_an-earlier-assertion-id">/);
    assert.equal(signatures(faulty.xml)[0]!.valid, true);
  });

  it('sha1-signature signs with RSA-SHA1 and SHA-1 digests; the signatures verify and nothing else changes', async () => {
    const base = await build([], { signResponse: true });
    const faulty = await build([{ name: 'sha1-signature' }], { signResponse: true });
    assert.deepEqual(diff(base.xml, faulty.xml), { removed: [], added: [] });
    const checks = signatures(faulty.xml);
    assert.deepEqual(checks.map((c) => [c.on, c.valid, c.method, c.digest]), [
      ['Response', true, 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1'],
      ['Assertion', true, 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1'],
    ]);
    assert.ok(signatures(base.xml).every((c) => c.method === RSA_SHA256 && c.digest === SHA256));
  });

  it('signature-wrapping moves the signed Assertion under Extensions and puts an unsigned copy with a new ID in its place', async () => {
    for (const overrides of [{}, { signResponse: true, signAssertion: false }]) {
      const base = await build([], overrides);
      const faulty = await build([{ name: 'signature-wrapping' }], overrides);
      const doc = new DOMParser().parseFromString(faulty.xml, 'text/xml');
      const root = doc.documentElement!;
      const children = Array.from(root.childNodes).filter((n) => n.nodeType === 1).map((n) => (n as Element).localName);
      assert.deepEqual(children, ['Issuer', 'Extensions', 'Status', 'Assertion'], 'no Response signature: it would cover the forged assertion');
      const [original] = Array.from(doc.getElementsByTagNameNS(NS.samlp, 'Extensions')[0]!.childNodes).filter((n) => n.nodeType === 1) as Element[];
      const forged = Array.from(root.childNodes).filter((n) => n.nodeType === 1).pop() as Element;
      assert.equal(original!.getAttribute('ID'), base.assertionId);
      assert.notEqual(forged.getAttribute('ID'), base.assertionId);
      assert.equal(forged.getElementsByTagNameNS(NS.ds, 'Signature').length, 0);
      // The forged copy says the same as the original, apart from its ID.
      const strip = (xml: string) => facts(xml).filter((l) => !l.includes('@ID='));
      assert.deepEqual(strip(forged.toString()), strip(original!.toString()));
      assert.deepEqual(signatures(faulty.xml).map((s) => [s.on, s.valid]), [['Assertion', true]], 'the original signature still verifies');
    }
    await assert.rejects(
      build([{ name: 'signature-wrapping' }], { encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem }),
      /signature-wrapping needs a plain assertion, and comm100 has its assertions encrypted/,
    );
  });

  it('comment-in-nameid splits the NameID text with a comment; the signatures still verify', async () => {
    const base = await build([], { signResponse: true });
    const faulty = await build([{ name: 'comment-in-nameid' }], { signResponse: true });
    assert.deepEqual(diff(base.xml, faulty.xml), {
      removed: ['/Response/Assertion/Subject/NameID=alice@example.com'],
      added: ['/Response/Assertion/Subject/NameID=alice@example', `/Response/Assertion/Subject/NameID<!--${FAULT_VALUES.nameIdComment}-->`, '/Response/Assertion/Subject/NameID=.com'],
    });
    assert.match(faulty.xml, />alice@example<!--mock-idp fault: comment-in-nameid-->\.com<\/saml:NameID>/);
    assert.deepEqual(signatures(faulty.xml).map((s) => [s.on, s.valid]), [['Response', true], ['Assertion', true]]);
  });

  it('encrypts after the faults for an SP that wants encrypted assertions, keeping the assertion in the clear for display', async () => {
    const overrides = { encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem, signResponse: true };
    const faulty = await build([{ name: 'wrong-audience' }], overrides);
    assert.match(faulty.xml, /<saml:EncryptedAssertion><xenc:EncryptedData /);
    assert.doesNotMatch(faulty.xml, /<saml:Assertion /);
    assert.match(faulty.assertionXml, new RegExp(`<saml:Audience>${FAULT_VALUES.audience}</saml:Audience>`));
    assert.deepEqual(signatures(faulty.xml).map((s) => [s.on, s.valid]), [['Response', true]]);
  });

  it('covers every SAML fault of the catalogue in this file', () => {
    const tested = new Set<string>(['unsigned', 'bad-signature', 'wrong-certificate', 'expired', 'not-yet-valid', ...valueCases.map((c) => c.fault), 'replayed-assertion', 'sha1-signature', 'signature-wrapping', 'comment-in-nameid']);
    assert.deepEqual([...SAML_FAULT_NAMES].filter((n) => !tested.has(n)), []);
  });
});
