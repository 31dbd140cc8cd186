/**
 * The fast signing path (c14n.ts trees signed by sign.ts `signElement`) against the
 * reference, xml-crypto (`signXml`), on the same input: the output must be the same
 * text, byte for byte, for every user value and signing choice, including values
 * with XML's special characters, whitespace that parsers normalize, and non-ASCII.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { canonicalXml, element, serializeXml } from '../../src/saml/c14n.js';
import { NS } from '../../src/saml/constants.js';
import { buildAssertion, buildResponse, buildResponseTree, type ResponseInput, type SamlUser } from '../../src/saml/response.js';
import { signElement, signXml } from '../../src/saml/sign.js';
import { childElements } from '../../src/saml/xml.js';
import { SignedXml } from 'xml-crypto';
import { IDP_KEYS, alice, idpContext, spOf, testConfig } from './support.js';

type SamlOverrides = Parameters<typeof testConfig>[0];

/** An InResponseTo with every character an attribute value escapes (buildResponse takes any string). */
const REQUEST_ID = '_req <&>"\'\t\n\r-0001';

const ACS_WITH_QUERY = 'https://sp.example.test/acs?tenant=a&lang=fr';

/** Maps every field the users below have, under both attribute name formats. */
const MAPPING: SamlOverrides = {
  acsUrls: [ACS_WITH_QUERY, 'https://sp.example.test/acs'],
  attributes: { email: 'email', name: 'name', title: 'title', 'urn:oid:2.5.4.42': 'givenName', roles: 'roles', note: 'note' },
};

const USERS: Record<string, SamlUser> = {
  plain: alice,
  'XML special characters': {
    email: "o'brien+x@example.com",
    name: '<script>alert("x")</script> & co',
    attributes: { title: 'R&D <lead> "quoted" \'single\'', givenName: ']]> & ]]&gt;', roles: ['a<b', 'c&d', 'e>f', '"g"'], note: '&amp; stays &amp;' },
  },
  'non-ASCII': {
    email: 'zoë@example.com',
    name: 'Zoë Ångström-Straße',
    attributes: { title: '日本語の肩書き', givenName: 'Ελένη', roles: ['עברית', 'العربية', '🔐👩‍💻'], note: 'café — “quotes” ‘single’ € \u00a0nbsp' },
  },
  'whitespace a parser would normalize': {
    email: 'tabs@example.com',
    name: '  padded\twith\ttabs  ',
    attributes: { title: 'line\nbreak', givenName: 'carriage\rreturn', roles: ['crlf\r\nend', '\t', ' '], note: 'mixed \t\n\r end' },
  },
  'empty values': {
    email: 'empty@example.com',
    name: '',
    attributes: { title: '', roles: ['', 'x', ''], note: 'x' },
  },
};

const SIGNING: Record<string, SamlOverrides> = {
  'the assertion': {},
  'the response': { signResponse: true, signAssertion: false },
  'both': { signResponse: true, signAssertion: true },
  'both with RSA-SHA512': { signResponse: true, signAssertion: true, signatureAlgorithm: 'rsa-sha512' },
};

/** The input for a user; `unsolicited` leaves InResponseTo out (IdP-initiated). */
function input(user: SamlUser, overrides: SamlOverrides = {}, unsolicited = false): ResponseInput {
  const sp = spOf(testConfig({ ...MAPPING, ...overrides }), 'comm100');
  const inResponseTo = unsolicited ? undefined : REQUEST_ID;
  return { sp, user, acsUrl: ACS_WITH_QUERY, inResponseTo, sessionIndex: '_session-0001', authnInstant: Date.parse('2030-01-01T00:00:10Z') };
}

/** What xml-crypto makes of the same unsigned Response, signing as the SP's config says (the assertion first). */
function reference(user: SamlUser, overrides: SamlOverrides, unsolicited = false): string {
  const { sp } = input(user, overrides, unsolicited);
  const unsigned = buildResponseTree(idpContext(), input(user, overrides, unsolicited));
  const options = { credentials: IDP_KEYS, algorithm: sp.saml.signatureAlgorithm };
  let xml = serializeXml(unsigned.response);
  if (sp.saml.signAssertion) xml = signXml(xml, { id: unsigned.assertionId, ...options });
  if (sp.saml.signResponse) xml = signXml(xml, { id: unsigned.responseId, ...options });
  return xml;
}

function signatureVerifies(xml: string, signed: Element): boolean {
  const signature = childElements(signed, NS.ds, 'Signature')[0];
  if (!signature) return false;
  const verifier = new SignedXml({ publicCert: IDP_KEYS.certificatePem, getCertFromKeyInfo: () => null });
  verifier.loadSignature(signature.toString());
  return verifier.checkSignature(xml);
}

/** The AttributeValues of the first Assertion, as an XML parser reads them back. */
function attributeValues(xml: string): Record<string, string[]> {
  const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
  const assertion = childElements(root, NS.saml, 'Assertion')[0]!;
  const statement = childElements(assertion, NS.saml, 'AttributeStatement')[0]!;
  const out: Record<string, string[]> = {};
  for (const attr of childElements(statement, NS.saml, 'Attribute')) {
    out[attr.getAttribute('Name')!] = childElements(attr, NS.saml, 'AttributeValue').map((v) => v.textContent ?? '');
  }
  return out;
}

describe('the fast signing path against xml-crypto', () => {
  for (const [userCase, user] of Object.entries(USERS)) {
    it(`signs a standalone assertion exactly as xml-crypto does (${userCase})`, () => {
      for (const algorithm of ['rsa-sha256', 'rsa-sha512', 'rsa-sha1'] as const) {
        const tree = buildAssertion(idpContext(), input(user), '_assertion-0001', { value: user.email, format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' });
        const expected = signXml(serializeXml(tree), { id: '_assertion-0001', credentials: IDP_KEYS, algorithm });
        signElement(tree, { credentials: IDP_KEYS, algorithm });
        assert.equal(serializeXml(tree), expected, algorithm);
      }
    });

    for (const [signingCase, overrides] of Object.entries(SIGNING)) {
      it(`builds the Response signing ${signingCase} exactly as xml-crypto signs it (${userCase})`, async () => {
        const fast = await buildResponse(idpContext(), input(user, overrides));
        assert.equal(fast.xml, reference(user, overrides));
      });
    }
  }

  it('builds an unsolicited Response (no InResponseTo) exactly as xml-crypto signs it', async () => {
    const overrides = SIGNING.both!;
    const fast = await buildResponse(idpContext(), input(alice, overrides, true));
    assert.doesNotMatch(fast.xml, /InResponseTo/);
    assert.equal(fast.xml, reference(alice, overrides, true));
  });

  it('gives back every value exactly, signatures verifying, when the text is parsed again', async () => {
    for (const user of Object.values(USERS)) {
      const { xml } = await buildResponse(idpContext(), input(user, SIGNING.both!));
      const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
      assert.equal(signatureVerifies(xml, root), true, `response signature for ${user.email}`);
      assert.equal(signatureVerifies(xml, childElements(root, NS.saml, 'Assertion')[0]!), true, `assertion signature for ${user.email}`);
      assert.equal(root.getAttribute('InResponseTo'), REQUEST_ID);
      assert.equal(root.getAttribute('Destination'), ACS_WITH_QUERY);

      const expected: Record<string, string[]> = {};
      const a = user.attributes;
      const add = (name: string, value: string | string[] | undefined): void => {
        const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
        if (values.length > 0) expected[name] = values;
      };
      add('email', user.email);
      add('name', user.name);
      add('title', a.title);
      add('urn:oid:2.5.4.42', a.givenName);
      add('roles', a.roles);
      add('note', a.note);
      assert.deepEqual(attributeValues(xml), expected);
    }
  });
});

describe('the canonical tree', () => {
  it('writes the document text the way xmldom serializes it, and the exc-c14n form the way xml-crypto canonicalizes it', () => {
    const tree = element(
      NS.saml,
      'saml:Assertion',
      { Version: '2.0', ID: '_a', Note: 'tab\tnl\ncr\r<&>"\'' },
      [element(NS.saml, 'saml:Issuer', {}, ['x & y < z > w\r\n']), element(NS.saml, 'saml:Empty'), element(NS.samlp, 'samlp:Other', { B: '2', A: '1' }, [], [['samlp', NS.samlp]])],
      [['saml', NS.saml]],
    );
    assert.equal(
      serializeXml(tree),
      `<saml:Assertion xmlns:saml="${NS.saml}" Version="2.0" ID="_a" Note="tab&#9;nl&#10;cr&#13;&lt;&amp;&gt;&quot;'">` +
        '<saml:Issuer>x &amp; y &lt; z &gt; w&#xD;\n</saml:Issuer><saml:Empty/>' +
        `<samlp:Other xmlns:samlp="${NS.samlp}" B="2" A="1"/></saml:Assertion>`,
    );
    assert.equal(
      canonicalXml(tree),
      `<saml:Assertion xmlns:saml="${NS.saml}" ID="_a" Note="tab&#x9;nl&#xA;cr&#xD;&lt;&amp;>&quot;'" Version="2.0">` +
        '<saml:Issuer>x &amp; y &lt; z &gt; w&#xD;\n</saml:Issuer><saml:Empty></saml:Empty>' +
        `<samlp:Other xmlns:samlp="${NS.samlp}" A="1" B="2"></samlp:Other></saml:Assertion>`,
    );
  });

  it('refuses a value XML cannot carry rather than write XML that is not well-formed', () => {
    assert.throws(() => element(NS.saml, 'saml:AttributeValue', {}, ['bell\u0007']), {
      code: 'bad_request',
      message: 'The text of saml:AttributeValue cannot be sent in XML: it contains the character U+0007, which XML 1.0 does not allow.',
    });
    assert.throws(() => element(NS.saml, 'saml:Attribute', { Name: 'lone \uD800 surrogate' }), { code: 'bad_request' });
    assert.throws(() => element(NS.saml, 'saml:Attribute', { Name: 'not a char \uFFFE' }), { code: 'bad_request' });
  });

  it('refuses to write an element whose prefix nobody declared', () => {
    assert.throws(() => serializeXml(element(NS.saml, 'saml:Issuer', {}, ['x'])), /prefix saml of saml:Issuer is not declared/);
  });
});
