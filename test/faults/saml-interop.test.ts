/**
 * SAML faults against independent verifiers: the OneLogin python toolkit in strict
 * mode (Debian's python3-onelogin-saml2) as the SP, and xmlsec1 for the signatures.
 * Every fault a correct SP must refuse is refused by the toolkit; for the others
 * (SHA-1, a replayed ID, a comment in the NameID) the verifiers show that the
 * message is otherwise sound, so the fault is the only thing an SP can object to.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import { resolveConfig } from '../../src/config/load.js';
import { FAULT_VALUES, SAML_FAULTS, type SamlFault } from '../../src/faults/catalog.js';
import { processFaultKeys } from '../../src/faults/keys.js';
import { buildFaultedResponse } from '../../src/faults/saml.js';
import { encodePost } from '../../src/saml/binding.js';
import { randomSamlId } from '../../src/saml/ids.js';
import { findSpByEntityId } from '../../src/saml/inbound.js';
import { buildMetadata } from '../../src/saml/metadata.js';
import { ONELOGIN, oneLoginAvailable, runOneLogin } from '../helpers/onelogin.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';
import { FIXTURES, IDP_BASE_URL, IDP_ENTITY_ID, IDP_KEYS, SP_SIGNING, alice } from '../saml/support.js';

const SP_HOST = 'sp.onelogin.test:8081';
const SP_ENTITY_ID = `http://${SP_HOST}/metadata`;
const ACS_URL = `http://${SP_HOST}/acs`;
const REQUEST_ID = '_onelogin-request-0001';
const METADATA = buildMetadata({ entityId: IDP_ENTITY_ID, baseUrl: IDP_BASE_URL, certificateBase64: IDP_KEYS.certificateBase64 });

const config = resolveConfig(
  { baseUrl: IDP_BASE_URL, serviceProviders: [{ id: 'onelogin', saml: { entityId: SP_ENTITY_ID, acsUrls: [ACS_URL], signResponse: true, signAssertion: true } }] },
  { source: 'fault interop test', baseDir: FIXTURES },
);
const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID)!;
const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

const settings = {
  strict: true,
  debug: false,
  sp: {
    entityId: SP_ENTITY_ID,
    assertionConsumerService: { url: ACS_URL, binding: ONELOGIN.POST },
    NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    x509cert: pemBody(SP_SIGNING.certificatePem),
    privateKey: SP_SIGNING.privateKeyPem,
  },
  idp: { entityId: 'placeholder', singleSignOnService: { url: 'http://placeholder.invalid/', binding: ONELOGIN.REDIRECT }, x509cert: '' },
  security: { wantAssertionsSigned: true, wantMessagesSigned: false, wantNameId: true, signatureAlgorithm: ONELOGIN.RSA_SHA256, digestAlgorithm: ONELOGIN.SHA256 },
};

interface Verdict {
  errors: string[];
  reason: string | null;
  authenticated: boolean;
  nameid: string | null;
  assertion_id: string | null;
}

/** The toolkit's ACS receiving the Response by HTTP-POST, for its AuthnRequest REQUEST_ID. */
function oneLogin(xml: string): Promise<Verdict> {
  return runOneLogin<Verdict>({
    action: 'process_response',
    settings,
    idp_metadata: METADATA,
    request_data: { https: 'off', http_host: SP_HOST, script_name: '/acs', get_data: {}, post_data: { SAMLResponse: encodePost(xml) } },
    request_id: REQUEST_ID,
  });
}

async function build(faults: SamlFault[], lastAssertionId?: string) {
  return buildFaultedResponse(
    { entityId: IDP_ENTITY_ID, credentials: IDP_KEYS, clock: systemClock, newId: randomSamlId },
    { sp, user: alice, acsUrl: ACS_URL, inResponseTo: REQUEST_ID, sessionIndex: '_session-faults', authnInstant: Date.now() - 5000 },
    {
      faults,
      lastAssertionId,
      wrongCredentials: faults.some((f) => f.name === 'wrong-certificate') ? await processFaultKeys().saml() : undefined,
    },
  );
}

async function xmlsec(xml: string, signatureOf: 'root' | 'Assertion') {
  const r = await xmlsecVerify(xml, { certificatePem: IDP_KEYS.certificatePem, mode: 'configured-key', signatureOf });
  return { ok: r.ok, detail: `${r.stdout}${r.stderr}` };
}

function refused(verdict: Verdict, reason: RegExp): void {
  assert.equal(verdict.authenticated, false, `the toolkit accepted it: ${JSON.stringify(verdict)}`);
  assert.notDeepEqual(verdict.errors, []);
  assert.match(verdict.reason ?? '', reason);
}

describe('SAML faults against the OneLogin toolkit (strict) and xmlsec1', () => {
  before(async () => {
    assert.equal(await oneLoginAvailable(), true, 'python3-onelogin-saml2 must be installed for /usr/bin/python3');
    const probe = await xmlsecVerify('<x/>', { certificatePem: IDP_KEYS.certificatePem, mode: 'configured-key', signatureOf: 'root' });
    assert.notEqual(probe.code, null, 'xmlsec1 must be installed');
  });

  it('accepts the Response without a fault (the control), and xmlsec1 verifies both signatures', async () => {
    const { xml } = await build([]);
    const verdict = await oneLogin(xml);
    assert.deepEqual([verdict.errors, verdict.authenticated, verdict.nameid], [[], true, 'alice@example.com'], verdict.reason ?? '');
    assert.equal((await xmlsec(xml, 'root')).ok, true);
    assert.equal((await xmlsec(xml, 'Assertion')).ok, true);
  });

  const mustReject: [SamlFault['name'], RegExp][] = [
    ['unsigned', /not signed/i],
    ['bad-signature', /Signature validation failed/],
    ['wrong-certificate', /Signature validation failed/],
    ['expired', /Could not validate timestamp: expired/],
    ['not-yet-valid', /Could not validate timestamp: not yet valid/],
    ['wrong-audience', new RegExp(`${SP_ENTITY_ID} is not a valid audience for this Response`)],
    ['wrong-recipient', /A valid SubjectConfirmation was not found on this Response/],
    ['wrong-destination', new RegExp(`The response was received at ${ACS_URL} instead of ${FAULT_VALUES.destination}`)],
    ['wrong-in-response-to', new RegExp(`The InResponseTo of the Response: ${FAULT_VALUES.inResponseTo}, does not match the ID of the AuthNRequest sent by the SP: ${REQUEST_ID}`)],
    ['signature-wrapping', /SAML Response must contain 1 assertion/],
  ];
  for (const [name, reason] of mustReject) {
    it(`the toolkit refuses ${name} (${SAML_FAULTS[name].violates})`, async () => {
      const { xml } = await build([{ name }]);
      refused(await oneLogin(xml), reason);
    });
  }

  it('xmlsec1 refuses the signatures of unsigned, bad-signature and wrong-certificate Responses', async () => {
    for (const name of ['unsigned', 'bad-signature', 'wrong-certificate'] as const) {
      const { xml } = await build([{ name }]);
      assert.equal((await xmlsec(xml, 'root')).ok, false, `${name}: Response signature`);
      assert.equal((await xmlsec(xml, 'Assertion')).ok, false, `${name}: Assertion signature`);
    }
  });

  it('sha1-signature: xmlsec1 verifies the signatures (only the algorithm is wrong) and they are RSA-SHA1', async () => {
    const { xml } = await build([{ name: 'sha1-signature' }]);
    assert.equal((await xmlsec(xml, 'root')).ok, true);
    assert.equal((await xmlsec(xml, 'Assertion')).ok, true);
    assert.equal(xml.match(/<ds:SignatureMethod Algorithm="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#rsa-sha1"\/>/g)?.length, 2);
  });

  it('replayed-assertion: a stateless SP accepts it (only a replay cache can tell); the assertion ID is the earlier one', async () => {
    const first = await build([]);
    assert.equal((await oneLogin(first.xml)).authenticated, true);
    const replayed = await build([{ name: 'replayed-assertion' }], first.assertionId);
    const verdict = await oneLogin(replayed.xml);
    assert.equal(verdict.authenticated, true, verdict.reason ?? '');
    assert.equal(verdict.assertion_id, first.assertionId);
  });

  it('comment-in-nameid: the signatures verify, and the toolkit reads the whole NameID, not the part before the comment', async () => {
    const { xml } = await build([{ name: 'comment-in-nameid' }]);
    assert.match(xml, /alice@example<!--/);
    assert.equal((await xmlsec(xml, 'root')).ok, true);
    assert.equal((await xmlsec(xml, 'Assertion')).ok, true);
    const verdict = await oneLogin(xml);
    assert.equal(verdict.authenticated, true, verdict.reason ?? '');
    assert.equal(verdict.nameid, 'alice@example.com');
  });
});
