/**
 * Interoperability: the OneLogin python toolkit (Debian's python3-onelogin-saml2,
 * strict mode) is the service provider. It reads the IdP's metadata, sends its own
 * AuthnRequests and LogoutRequests, and validates our Responses, LogoutRequests and
 * LogoutResponses with its own checks (schema, signatures, Destination, Recipient,
 * audience, InResponseTo, time window).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { systemClock } from '../../src/clock.js';
import { resolveConfig, type ResolvedConfig } from '../../src/config/load.js';
import { receiveAuthnRequest } from '../../src/saml/authn-request.js';
import { encodePost } from '../../src/saml/binding.js';
import { randomSamlId } from '../../src/saml/ids.js';
import { findSpByEntityId, type SamlServiceProvider } from '../../src/saml/inbound.js';
import { buildLogoutRequest, buildLogoutResponse, deliver, receiveLogoutRequest, receiveLogoutResponse } from '../../src/saml/logout.js';
import { buildMetadata } from '../../src/saml/metadata.js';
import { buildResponse, buildStatusResponse, type SamlIdpContext } from '../../src/saml/response.js';
import { login as loginAs, type Agent } from '../helpers/http.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { ONELOGIN, oneLoginAvailable, runOneLogin } from '../helpers/onelogin.js';
import { autoPost } from './http-support.js';
import { FIXTURES, IDP_BASE_URL, IDP_ENTITY_ID, IDP_KEYS, SP_ENCRYPTION, SP_SIGNING, UNRELATED, alice, type TestKeyPair } from './support.js';

const SP_HOST = 'sp.onelogin.test:8081';
const SP_ENTITY_ID = `http://${SP_HOST}/metadata`;
const ACS_URL = `http://${SP_HOST}/acs`;
const SP_SLO_URL = `http://${SP_HOST}/slo`;
const SSO_URL = `${IDP_BASE_URL}/saml/sso`;
const SLO_URL = `${IDP_BASE_URL}/saml/slo`;

const METADATA = buildMetadata({ entityId: IDP_ENTITY_ID, baseUrl: IDP_BASE_URL, certificateBase64: IDP_KEYS.certificateBase64 });

interface Variant {
  signResponse?: boolean;
  signAssertion?: boolean;
  encrypt?: boolean;
  signRequests?: boolean;
}

/** The IdP side: the OneLogin SP registered with the options of the variant. */
function idpConfig(v: Variant): ResolvedConfig {
  return resolveConfig(
    {
      baseUrl: IDP_BASE_URL,
      serviceProviders: [
        {
          id: 'onelogin',
          saml: {
            entityId: SP_ENTITY_ID,
            acsUrls: [ACS_URL],
            sloUrl: SP_SLO_URL,
            signResponse: v.signResponse ?? false,
            signAssertion: v.signAssertion ?? true,
            encryptAssertion: v.encrypt ?? false,
            encryptionCert: v.encrypt ? SP_ENCRYPTION.certificatePem : null,
            requestSigningCert: v.signRequests ? SP_SIGNING.certificatePem : null,
          },
        },
      ],
    },
    { source: 'interop test', baseDir: FIXTURES },
  );
}

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
}

/** The SP side: OneLogin settings asking for exactly what the variant produces. */
function oneLoginSettings(v: Variant): Record<string, unknown> {
  const spKeys: TestKeyPair = v.encrypt ? SP_ENCRYPTION : SP_SIGNING;
  return {
    strict: true,
    debug: false,
    sp: {
      entityId: SP_ENTITY_ID,
      assertionConsumerService: { url: ACS_URL, binding: ONELOGIN.POST },
      singleLogoutService: { url: SP_SLO_URL, binding: ONELOGIN.REDIRECT },
      NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      x509cert: pemBody(spKeys.certificatePem),
      privateKey: spKeys.privateKeyPem,
    },
    // Replaced by what the toolkit reads from our metadata (idp_metadata).
    idp: { entityId: 'placeholder', singleSignOnService: { url: 'http://placeholder.invalid/', binding: ONELOGIN.REDIRECT }, x509cert: '' },
    security: {
      authnRequestsSigned: v.signRequests ?? false,
      logoutRequestSigned: v.signRequests ?? false,
      logoutResponseSigned: v.signRequests ?? false,
      wantAssertionsSigned: v.signAssertion ?? true,
      wantMessagesSigned: v.signResponse ?? false,
      wantAssertionsEncrypted: v.encrypt ?? false,
      wantNameId: true,
      signatureAlgorithm: ONELOGIN.RSA_SHA256,
      digestAlgorithm: ONELOGIN.SHA256,
      rejectDeprecatedAlgorithm: true,
    },
  };
}

function idpContext(credentials: TestKeyPair = IDP_KEYS): SamlIdpContext {
  return { entityId: IDP_ENTITY_ID, credentials, clock: systemClock, newId: randomSamlId };
}

interface LoginOutput {
  request_id: string;
  request_xml: string;
  url?: string;
  saml_request?: string;
  relay_state: string;
}

interface ProcessOutput {
  errors: string[];
  reason: string | null;
  authenticated: boolean;
  nameid: string | null;
  nameid_format: string | null;
  nameid_nq: string | null;
  nameid_spnq: string | null;
  attributes: Record<string, string[]>;
  session_index: string | null;
  assertion_id: string | null;
  message_id: string | null;
}

/** The toolkit's ACS receiving an HTTP-POST of our Response. */
function acs(v: Variant, responseXml: string, requestId: string | undefined, relayState?: string): Promise<ProcessOutput> {
  const post: Record<string, string> = { SAMLResponse: encodePost(responseXml) };
  if (relayState !== undefined) post.RelayState = relayState;
  return runOneLogin<ProcessOutput>({
    action: 'process_response',
    settings: oneLoginSettings(v),
    idp_metadata: METADATA,
    request_data: { https: 'off', http_host: SP_HOST, script_name: '/acs', get_data: {}, post_data: post },
    request_id: requestId ?? null,
  });
}

/** SP-initiated SSO: the toolkit's AuthnRequest in, our Response out, the toolkit's verdict back. */
async function spInitiated(v: Variant, binding: 'redirect' | 'post', credentials: TestKeyPair = IDP_KEYS) {
  const config = idpConfig(v);
  const login = await runOneLogin<LoginOutput>({
    action: 'login',
    binding,
    settings: oneLoginSettings(v),
    idp_metadata: METADATA,
    relay_state: 'https://sp.onelogin.test/after login?x=1&y=2',
  });
  const request =
    binding === 'redirect'
      ? receiveAuthnRequest({ binding, rawQuery: new URL(login.url!).search.slice(1) }, { serviceProviders: config.serviceProviders, ssoUrl: SSO_URL })
      : receiveAuthnRequest(
          { binding, body: { SAMLRequest: login.saml_request!, RelayState: login.relay_state } },
          { serviceProviders: config.serviceProviders, ssoUrl: SSO_URL },
        );
  assert.equal(request.id, login.request_id);
  assert.equal(request.relayState, login.relay_state);
  assert.equal(request.signed, v.signRequests ?? false);
  const built = await buildResponse(idpContext(credentials), {
    sp: request.sp,
    user: alice,
    acsUrl: request.acsUrl,
    inResponseTo: request.id,
    sessionIndex: '_session-interop',
    authnInstant: Date.now() - 5000,
  });
  const result = await acs(v, built.xml, login.request_id, request.relayState);
  return { login, request, built, result };
}

function assertAccepted(result: ProcessOutput): void {
  assert.deepEqual(result.errors, [], `the toolkit refused the Response: ${result.reason ?? ''}`);
  assert.equal(result.authenticated, true);
  assert.equal(result.nameid, 'alice@example.com');
  assert.equal(result.nameid_format, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
  assert.deepEqual(result.attributes, { email: ['alice@example.com'], name: ['Alice Agent'] });
  assert.equal(result.session_index, '_session-interop');
}

describe('the OneLogin toolkit as the SP', () => {
  before(async () => {
    assert.equal(await oneLoginAvailable(), true, 'python3-onelogin-saml2 must be installed for /usr/bin/python3 (apt-get install python3-onelogin-saml2)');
  });

  it('reads our metadata: entity ID, SSO and SLO endpoints, signing certificate', async () => {
    const parsed = await runOneLogin<{ idp: Record<string, { url?: string; binding?: string } | string> }>({ action: 'parse_metadata', idp_metadata: METADATA });
    assert.deepEqual(parsed.idp, {
      entityId: IDP_ENTITY_ID,
      singleSignOnService: { url: SSO_URL, binding: ONELOGIN.REDIRECT },
      singleLogoutService: { url: SLO_URL, binding: ONELOGIN.REDIRECT },
      x509cert: IDP_KEYS.certificateBase64,
    });
  });

  it('finds our metadata valid against the SAML metadata schema', async () => {
    const result = await runOneLogin<{ valid: boolean; errors: string[] }>({ action: 'validate_schema', schema: 'saml-schema-metadata-2.0.xsd', xml: METADATA });
    assert.deepEqual(result, { valid: true, errors: [] });
  });

  describe('SP-initiated SSO', () => {
    it('accepts a signed-assertion Response to its HTTP-Redirect AuthnRequest', async () => {
      const { result, built } = await spInitiated({}, 'redirect');
      assertAccepted(result);
      assert.equal(result.assertion_id, built.assertionId);
      assert.equal(result.message_id, built.responseId);
    });

    it('accepts a signed-assertion Response to its HTTP-POST AuthnRequest', async () => {
      assertAccepted((await spInitiated({}, 'post')).result);
    });

    it('accepts a signed-response Response (assertion unsigned)', async () => {
      assertAccepted((await spInitiated({ signResponse: true, signAssertion: false }, 'redirect')).result);
      assertAccepted((await spInitiated({ signResponse: true, signAssertion: false }, 'post')).result);
    });

    it('accepts a Response with both signed', async () => {
      assertAccepted((await spInitiated({ signResponse: true, signAssertion: true }, 'redirect')).result);
    });

    it('accepts an encrypted (and signed) assertion, decrypting it with the SP key', async () => {
      assertAccepted((await spInitiated({ encrypt: true }, 'redirect')).result);
      assertAccepted((await spInitiated({ encrypt: true, signResponse: true }, 'post')).result);
    });

    it('signs its AuthnRequests and we verify them, in both bindings', async () => {
      const redirect = await spInitiated({ signRequests: true }, 'redirect');
      assert.match(redirect.login.url!, /[?&]Signature=/);
      assertAccepted(redirect.result);
      const post = await spInitiated({ signRequests: true }, 'post');
      assert.match(post.login.request_xml, /<ds:Signature/);
      assertAccepted(post.result);
    });

    it('refuses a Response signed with a key other than the one in our metadata', async () => {
      const { result } = await spInitiated({}, 'redirect', UNRELATED);
      assert.deepEqual(result.errors, ['invalid_response']);
      assert.equal(result.reason, 'Signature validation failed. SAML Response rejected');
    });

    it('refuses a Response answering another AuthnRequest', async () => {
      const { built } = await spInitiated({}, 'redirect');
      const result = await acs({}, built.xml, '_some-other-request');
      assert.deepEqual(result.errors, ['invalid_response']);
      assert.match(result.reason ?? '', /does not match the ID of the AuthNRequest sent by the SP: _some-other-request/);
    });

    it('refuses an assertion changed after signing', async () => {
      const { built, login } = await spInitiated({}, 'redirect');
      const tampered = built.xml.replace('>alice@example.com</saml:NameID>', '>mallory@example.com</saml:NameID>');
      const result = await acs({}, tampered, login.request_id);
      assert.deepEqual(result.errors, ['invalid_response']);
    });

    it('reads our NoPassive status Response as a failure with its status', async () => {
      const config = idpConfig({});
      const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID)!;
      const { xml } = buildStatusResponse(idpContext(), { sp, acsUrl: ACS_URL, inResponseTo: '_req', status: { code: 'Responder', subCode: 'NoPassive' } });
      const result = await acs({}, xml, '_req');
      assert.deepEqual(result.errors, ['invalid_response']);
      assert.equal(result.reason, 'The status code of the Response was not Success, was Responder -> urn:oasis:names:tc:SAML:2.0:status:NoPassive');
    });
  });

  describe('IdP-initiated SSO', () => {
    async function unsolicited(v: Variant) {
      const config = idpConfig(v);
      const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID) as SamlServiceProvider;
      const built = await buildResponse(idpContext(), {
        sp,
        user: alice,
        acsUrl: sp.saml.acsUrls[0]!,
        sessionIndex: '_session-interop',
        authnInstant: Date.now() - 5000,
      });
      assert.doesNotMatch(built.xml, /InResponseTo/);
      return acs(v, built.xml, undefined, 'deep/link');
    }

    it('accepts an unsolicited signed-assertion Response', async () => {
      assertAccepted(await unsolicited({}));
    });

    it('accepts an unsolicited signed-response Response', async () => {
      assertAccepted(await unsolicited({ signResponse: true, signAssertion: false }));
    });

    it('accepts an unsolicited encrypted assertion', async () => {
      assertAccepted(await unsolicited({ encrypt: true }));
    });
  });

  describe('single logout', () => {
    const v: Variant = { signRequests: true };

    it('SP-initiated: we read its signed LogoutRequest and it accepts our signed LogoutResponse', async () => {
      const config = idpConfig(v);
      const logout = await runOneLogin<{ url: string; request_id: string }>({
        action: 'logout',
        settings: oneLoginSettings(v),
        idp_metadata: METADATA,
        name_id: 'alice@example.com',
        session_index: '_session-interop',
        relay_state: 'https://sp.onelogin.test/bye now',
      });
      const url = new URL(logout.url);
      assert.equal(`${url.origin}${url.pathname}`, SLO_URL);
      const request = receiveLogoutRequest({ binding: 'redirect', rawQuery: url.search.slice(1) }, { serviceProviders: config.serviceProviders, sloUrl: SLO_URL, now: Date.now() });
      assert.equal(request.id, logout.request_id);
      assert.equal(request.signed, true);
      assert.equal(request.nameId, 'alice@example.com');
      assert.deepEqual(request.sessionIndexes, ['_session-interop']);

      const response = buildLogoutResponse(idpContext(), { sp: request.sp, inResponseTo: request.id });
      const delivery = deliver(idpContext(), response, 'SAMLResponse', 'redirect', request.relayState);
      const back = new URL(delivery.url);
      const result = await runOneLogin<{ errors: string[]; reason: string | null }>({
        action: 'process_slo',
        settings: { ...oneLoginSettings(v), security: { ...(oneLoginSettings(v).security as object), wantMessagesSigned: true } },
        idp_metadata: METADATA,
        request_id: logout.request_id,
        request_data: { https: 'off', http_host: SP_HOST, script_name: '/slo', get_data: Object.fromEntries(back.searchParams), post_data: {} },
      });
      assert.deepEqual(result, { errors: [], reason: null, url: null });
    });

    it('IdP-initiated: it accepts our signed LogoutRequest and we read its signed LogoutResponse', async () => {
      const config = idpConfig(v);
      const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID)!;
      const built = buildLogoutRequest(idpContext(), { sp, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }, sessionIndex: '_session-interop' });
      const delivery = deliver(idpContext(), built, 'SAMLRequest', 'redirect', 'after logout ~*');
      const result = await runOneLogin<{ errors: string[]; reason: string | null; url: string }>({
        action: 'process_slo',
        settings: { ...oneLoginSettings(v), security: { ...(oneLoginSettings(v).security as object), wantMessagesSigned: true } },
        idp_metadata: METADATA,
        request_data: { https: 'off', http_host: SP_HOST, script_name: '/slo', get_data: Object.fromEntries(new URL(delivery.url).searchParams), post_data: {} },
      });
      assert.deepEqual(result.errors, [], result.reason ?? '');
      const answer = new URL(result.url);
      assert.equal(`${answer.origin}${answer.pathname}`, SLO_URL);
      const response = receiveLogoutResponse({ binding: 'redirect', rawQuery: answer.search.slice(1) }, { serviceProviders: config.serviceProviders, sloUrl: SLO_URL, now: Date.now() });
      assert.equal(response.inResponseTo, built.id);
      assert.equal(response.success, true);
      assert.equal(response.signed, true);
      assert.equal(response.relayState, 'after logout ~*');
    });

    it('refuses our LogoutRequest when it is signed with a key other than the one in our metadata', async () => {
      const config = idpConfig(v);
      const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID)!;
      const built = buildLogoutRequest(idpContext(UNRELATED), { sp, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' } });
      const delivery = deliver(idpContext(UNRELATED), built, 'SAMLRequest', 'redirect');
      const result = await runOneLogin<{ errors: string[] }>({
        action: 'process_slo',
        settings: oneLoginSettings(v),
        idp_metadata: METADATA,
        request_data: { https: 'off', http_host: SP_HOST, script_name: '/slo', get_data: Object.fromEntries(new URL(delivery.url).searchParams), post_data: {} },
      });
      assert.deepEqual(result.errors, ['invalid_logout_request_signature', 'Signature validation failed. Logout Request rejected']);
    });

    it('finds our logout messages valid against the SAML protocol schema', async () => {
      const config = idpConfig(v);
      const sp = findSpByEntityId(config.serviceProviders, SP_ENTITY_ID)!;
      const request = deliver(idpContext(), buildLogoutRequest(idpContext(), { sp, nameId: { value: 'alice@example.com', format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' }, sessionIndex: '_s' }), 'SAMLRequest', 'post');
      const response = deliver(idpContext(), buildLogoutResponse(idpContext(), { sp, inResponseTo: '_r' }), 'SAMLResponse', 'post');
      for (const d of [request, response]) {
        assert.equal(d.binding, 'post');
        if (d.binding !== 'post') continue;
        const xml = Buffer.from(Object.values(d.fields)[0]!, 'base64').toString('utf8');
        const result = await runOneLogin<{ valid: boolean; errors: string[] }>({ action: 'validate_schema', schema: 'saml-schema-protocol-2.0.xsd', xml });
        assert.deepEqual(result, { valid: true, errors: [] });
      }
    });
  });
});

describe('the OneLogin toolkit in its default settings, configured from our metadata only, asking for transient NameIDs', () => {
  const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
  let idp: TestIdp;
  let metadata: string;
  // Only what an SP must say of itself; the IdP is what the toolkit reads from our live metadata, the security settings are its defaults.
  // The toolkit's metadata parser sets the SP's NameIDFormat to the IdP's first; the SP says transient on top (sp_overrides).
  const settings = {
    strict: true,
    sp: {
      entityId: SP_ENTITY_ID,
      assertionConsumerService: { url: ACS_URL, binding: ONELOGIN.POST },
      singleLogoutService: { url: SP_SLO_URL, binding: ONELOGIN.REDIRECT },
    },
  };
  const sp_overrides = { NameIDFormat: TRANSIENT };

  before(async () => {
    assert.equal(await oneLoginAvailable(), true, 'python3-onelogin-saml2 must be installed for /usr/bin/python3 (apt-get install python3-onelogin-saml2)');
    // Registered by the IdP with its defaults (emailAddress): the AuthnRequest's NameIDPolicy chooses transient.
    idp = await startTestIdp((c) => ({ ...c, serviceProviders: [...(c.serviceProviders ?? []), { id: 'onelogin', saml: { entityId: SP_ENTITY_ID, acsUrls: [ACS_URL], sloUrl: SP_SLO_URL } }] }));
    metadata = (await request(idp.url).get('/saml/metadata').expect(200)).text;
  });
  after(() => idp?.close());

  /** One SP-initiated sign-in: the toolkit's AuthnRequest to the IdP in the signed-in browser, the auto-POST back to the toolkit's ACS. */
  async function signIn(agent: Agent): Promise<ProcessOutput> {
    const login = await runOneLogin<LoginOutput>({ action: 'login', binding: 'redirect', settings, sp_overrides, idp_metadata: metadata, relay_state: 'https://sp.onelogin.test/home' });
    assert.match(login.request_xml, /<samlp:NameIDPolicy\s+Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:transient"\s+AllowCreate="true"/);
    const url = new URL(login.url!);
    assert.equal(`${url.origin}${url.pathname}`, `${idp.url}/saml/sso`);
    const post = autoPost(await agent.get(`${url.pathname}${url.search}`));
    assert.equal(post.action, ACS_URL);
    return runOneLogin<ProcessOutput>({
      action: 'process_response',
      settings,
      sp_overrides,
      idp_metadata: metadata,
      request_data: { https: 'off', http_host: SP_HOST, script_name: '/acs', get_data: {}, post_data: post.fields },
      request_id: login.request_id,
    });
  }

  it('signs in with a transient NameID qualified by the IdP and itself, the same one again in the session, and signs out with it', async () => {
    const agent = request.agent(idp.url);
    await loginAs(agent, 'alice@example.com', 'alice-password');
    assert.equal((await agent.get('/login?continue=%2Fsigned-in')).status, 303);
    const first = await signIn(agent);
    assert.deepEqual(first.errors, [], `the toolkit refused the Response: ${first.reason ?? ''}`);
    assert.equal(first.authenticated, true);
    assert.equal(first.nameid_format, TRANSIENT);
    assert.match(first.nameid!, /^_[0-9a-f]{40}$/);
    assert.equal(first.nameid_nq, idp.config.saml.entityId);
    assert.equal(first.nameid_spnq, SP_ENTITY_ID);
    assert.deepEqual(first.attributes, { email: ['alice@example.com'], name: ['Alice Agent'] });
    const second = await signIn(agent);
    assert.deepEqual(second.errors, []);
    assert.equal(second.nameid, first.nameid);

    // The toolkit's LogoutRequest names the NameID as it received it; the IdP recognises it and answers Success.
    const logout = await runOneLogin<{ url: string; request_id: string }>({
      action: 'logout',
      settings,
      sp_overrides,
      idp_metadata: metadata,
      name_id: first.nameid,
      session_index: first.session_index,
      name_id_format: first.nameid_format,
      nq: first.nameid_nq,
      spnq: first.nameid_spnq,
      relay_state: 'https://sp.onelogin.test/bye',
    });
    const sloUrl = new URL(logout.url);
    assert.equal(`${sloUrl.origin}${sloUrl.pathname}`, `${idp.url}/saml/slo`);
    const answered = await agent.get(`${sloUrl.pathname}${sloUrl.search}`).expect(303);
    const back = new URL(answered.headers.location as string);
    assert.equal(`${back.origin}${back.pathname}`, SP_SLO_URL);
    const slo = await runOneLogin<{ errors: string[]; reason: string | null }>({
      action: 'process_slo',
      settings,
      sp_overrides,
      idp_metadata: metadata,
      request_id: logout.request_id,
      request_data: { https: 'off', http_host: SP_HOST, script_name: '/slo', get_data: Object.fromEntries(back.searchParams), post_data: {} },
    });
    assert.deepEqual(slo, { errors: [], reason: null, url: null });
    // And the IdP session is over: the login page no longer sends the browser straight on.
    assert.equal((await agent.get('/login?continue=%2Fsigned-in')).status, 200);
  });
});
