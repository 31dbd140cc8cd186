/**
 * Defective tokens and assertions at the demo service provider, which people copy:
 * every fault of the fault-injection list (issue 4), crafted here by hand with jose
 * and xml-crypto and the IdP's own (development) keys, is refused with a clear
 * page, no SP session and no stack; a valid token or assertion right after is
 * accepted. When the IdP grows fault injection (`fault=` / POST /api/tokens), the
 * crafted defects below should come from it instead.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { SignJWT, base64url, exportJWK, exportSPKI, type JWTPayload } from 'jose';
import request from 'supertest';
import { SignedXml } from 'xml-crypto';
import { NS } from '../../src/saml/constants.js';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { login, setCookies } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';
import { UNRELATED } from '../saml/support.js';
import { XSS, assertRefused } from './support.js';

const now = () => Math.floor(Date.now() / 1000);
const HS_KEY = new TextEncoder().encode(HS_SECRET);

describe('defective tokens and assertions at the demo SP', () => {
  let idp: TestIdp;
  let rsa: { key: crypto.KeyObject; kid: string };
  let saml: { privateKeyPem: string; certificatePem: string };
  let idpEntityId: string;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: [
        ...(c.serviceProviders ?? []),
        {
          id: 'demo-saml',
          name: 'Demo SAML (test)',
          saml: { entityId: 'demo-saml', acsUrls: [`${c.demo!.spBaseUrl!}/saml/acs`], sloUrl: `${c.demo!.spBaseUrl!}/saml/slo` },
        },
      ],
    }));
    const keystore = idp.running.idp.context.keystore;
    const signing = keystore.jwtKey('RS256');
    rsa = { key: signing.privateKey, kid: signing.kid };
    saml = keystore.saml;
    idpEntityId = idp.config.saml.entityId;
  });
  after(() => idp.close());

  describe('JWT', () => {
    const comm100Claims = (over: JWTPayload = {}): JWTPayload => ({
      iss: 'jwt server',
      aud: 'Comm100',
      sub: 'comm100',
      email: 'alice@example.com',
      name: 'Alice Agent',
      jti: crypto.randomUUID(),
      iat: now(),
      nbf: now(),
      exp: now() + 1800,
      ...over,
    });
    const deskClaims = (over: JWTPayload = {}): JWTPayload => ({
      iss: idp.url,
      aud: 'desk',
      sub: 'alice@example.com',
      email: 'alice@example.com',
      jti: crypto.randomUUID(),
      iat: now(),
      nbf: now(),
      exp: now() + 600,
      ...over,
    });
    const without = (claims: JWTPayload, name: string): JWTPayload => {
      const copy = { ...claims };
      delete copy[name];
      return copy;
    };
    const hs = (claims: JWTPayload, key: Uint8Array = HS_KEY) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
    const rs = (claims: JWTPayload, key: crypto.KeyObject = rsa.key, header: Record<string, unknown> = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: rsa.kid, ...header }).sign(key);
    /** HS256 by hand, for headers jose refuses to write. */
    const hsRaw = (header: Record<string, unknown>, claims: JWTPayload) => {
      const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}`;
      return `${input}.${crypto.createHmac('sha256', HS_KEY).update(input).digest('base64url')}`;
    };
    const unsigned = (claims: JWTPayload, alg = 'none') =>
      `${base64url.encode(JSON.stringify({ alg, typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    const flipSignature = (token: string) => {
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s!, 'base64url');
      sig[0] ^= 0x01;
      return `${h}.${p}.${sig.toString('base64url')}`;
    };
    const otherRsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

    /** Sends a token to the Comm100-like consumer (GET) or the Desk-like one (POST). */
    const consume = (tenant: 'comm100' | 'desk', token: string) =>
      tenant === 'comm100'
        ? request(idp.spUrl).get(`/sso/jwt/consumer?jwt=${encodeURIComponent(token)}&relayState=%2Fagent`)
        : request(idp.spUrl).post('/desk/sso/jwt/consumer').type('form').send({ jwt: token, relayState: '/desk/agent' });

    const valid = async (tenant: 'comm100' | 'desk') => {
      const res = await consume(tenant, tenant === 'comm100' ? await hs(comm100Claims()) : await rs(deskClaims()));
      assert.equal(res.status, 303, res.text.slice(0, 300));
      assert.ok(setCookies(res).some((c) => c.startsWith(tenant === 'comm100' ? 'demosp.sid=' : 'demosp-desk.sid=')));
    };

    type Fault = [name: string, tenant: 'comm100' | 'desk', token: () => Promise<string> | string, message: RegExp, status?: number];
    const FAULTS: Fault[] = [
      ['expired', 'comm100', () => hs(comm100Claims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })), /has expired/],
      ['expired', 'desk', () => rs(deskClaims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })), /has expired/],
      ['not-yet-valid', 'comm100', () => hs(comm100Claims({ nbf: now() + 3600 })), /"nbf" claim is not acceptable/],
      ['wrong-audience', 'comm100', () => hs(comm100Claims({ aud: 'Another SP' })), /"aud" claim is not acceptable/],
      ['wrong-audience', 'desk', () => rs(deskClaims({ aud: 'Comm100' })), /"aud" claim is not acceptable/],
      ['wrong-issuer', 'comm100', () => hs(comm100Claims({ iss: 'https://evil.example' })), /"iss" claim is not acceptable/],
      ['wrong-issuer', 'desk', () => rs(deskClaims({ iss: 'https://evil.example' })), /"iss" claim is not acceptable/],
      ['bad-signature', 'comm100', async () => flipSignature(await hs(comm100Claims())), /signature does not verify/],
      ['bad-signature', 'desk', async () => flipSignature(await rs(deskClaims())), /signature does not verify/],
      ['wrong-key (another secret)', 'comm100', () => hs(comm100Claims(), new TextEncoder().encode('another-secret-0123456789abcdef')), /signature does not verify/],
      ['wrong-key (another RSA key, the IdP kid)', 'desk', () => rs(deskClaims(), otherRsa.privateKey), /signature does not verify/],
      ['wrong-key (an unknown kid)', 'desk', () => rs(deskClaims(), otherRsa.privateKey, { kid: 'attacker-key' }), /No key in the IdP JWKS matches/],
      ['wrong-key (the key embedded in the header as jwk)', 'desk', async () => rs(deskClaims(), otherRsa.privateKey, { kid: undefined, jwk: await exportJWK(otherRsa.publicKey) }), /signature does not verify/],
      ['wrong-key (a jku header pointing elsewhere)', 'desk', () => rs(deskClaims(), otherRsa.privateKey, { jku: 'https://evil.example/jwks.json' }), /signature does not verify/],
      ['alg-none', 'comm100', () => unsigned(comm100Claims()), /algorithm this SP does not accept/],
      ['alg-none', 'desk', () => unsigned(deskClaims()), /algorithm this SP does not accept/],
      ['alg-none spelled NoNe', 'comm100', () => unsigned(comm100Claims(), 'NoNe'), /algorithm this SP does not accept/],
      [
        'hs-rs-confusion (HS256 signed with the RSA public key)',
        'desk',
        async () => hs(deskClaims(), new TextEncoder().encode(await exportSPKI(crypto.createPublicKey(rsa.key)))),
        /algorithm this SP does not accept/,
      ],
      ['an RS256 token at the HS256 SP', 'comm100', () => rs(comm100Claims()), /algorithm this SP does not accept/],
      ['missing-email', 'comm100', () => hs(without(comm100Claims(), 'email')), /"email" claim is not acceptable \(missing\)/],
      ['missing-email', 'desk', () => rs(without(deskClaims(), 'email')), /"email" claim is not acceptable \(missing\)/],
      ['missing-jti', 'comm100', () => hs(without(comm100Claims(), 'jti')), /"jti" claim is not acceptable \(missing\)/],
      ['missing-exp', 'comm100', () => hs(without(comm100Claims(), 'exp')), /"exp" claim is not acceptable/],
      ['an email that is an object', 'comm100', () => hs(comm100Claims({ email: { $ne: '' } as unknown as string })), /lacks an email/],
      ['clock-skew=120 (every time 120 s ahead)', 'comm100', () => hs(comm100Claims({ iat: now() + 120, nbf: now() + 120, exp: now() + 1920 })), /"nbf" claim is not acceptable/],
      ['clock-skew=-1900 (every time 1900 s behind)', 'comm100', () => hs(comm100Claims({ iat: now() - 1900, nbf: now() - 1900, exp: now() - 100 })), /has expired/],
      ['an unknown critical header', 'comm100', () => hsRaw({ alg: 'HS256', crit: ['x-evil'], 'x-evil': 1 }, comm100Claims()), /rejected \(ERR_JOSE_NOT_SUPPORTED\)/],
      ['an unencoded payload (b64: false)', 'comm100', () => hsRaw({ alg: 'HS256', b64: false, crit: ['b64'] }, comm100Claims()), /malformed/],
      ['a token that is not a JWT', 'comm100', () => `${XSS}.${XSS}.${XSS}`, /malformed/],
      ['an empty token', 'comm100', () => '', /No jwt parameter/, 400],
      ['a 60 KB token', 'desk', () => `eyJhbGciOiJSUzI1NiJ9.${'A'.repeat(60 * 1024)}.x`, /malformed/],
    ];

    for (const [name, tenant, token, message, status] of FAULTS) {
      it(`refuses ${name} at the ${tenant} consumer, then accepts a valid token`, async () => {
        const res = await consume(tenant, await token());
        assertRefused(res, { status: status ?? 401, message, echo: [XSS, '<script>'] }, `${name} (${tenant})`);
        assert.match(res.text, /Sign-in failed|No jwt/);
        await valid(tenant);
      });
    }

    it('refuses replayed-jti: the same valid token a second time', async () => {
      for (const tenant of ['comm100', 'desk'] as const) {
        const token = tenant === 'comm100' ? await hs(comm100Claims()) : await rs(deskClaims());
        assert.equal((await consume(tenant, token)).status, 303);
        assertRefused(await consume(tenant, token), { status: 401, message: /already used \(replayed jti\)/ }, `replay at ${tenant}`);
        await valid(tenant);
      }
    });

    it('still signs an agent in with a token the IdP minted, after all of that', async () => {
      const agent = request.agent(idp.url);
      await login(agent, 'alice@example.com', 'alice-password');
      const consumer = `${idp.spUrl}/sso/jwt/consumer?relayState=%2Fagent`;
      const res = await agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
      const location = new URL(res.headers.location as string);
      const sp = request.agent(idp.spUrl);
      await sp.get(location.pathname + location.search).expect(303);
      assert.match((await sp.get('/agent').expect(200)).text, /Alice Agent/);
    });
  });

  describe('SAML', () => {
    const acs = () => `${idp.spUrl}/saml/acs`;
    const instant = (offsetSeconds = 0) => new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

    interface AssertionOptions {
      id?: string;
      issuer?: string;
      /** Raw XML of the NameID's content (escape it yourself). */
      nameIdXml?: string;
      audience?: string;
      recipient?: string;
      inResponseTo?: string | undefined;
      notBefore?: number;
      notOnOrAfter?: number;
    }

    /** An Assertion as the IdP would write it (times in seconds from now). */
    function assertionXml(o: AssertionOptions = {}): { xml: string; id: string } {
      const id = o.id ?? `_a${crypto.randomUUID()}`;
      const irt = o.inResponseTo === undefined ? '' : ` InResponseTo="${esc(o.inResponseTo)}"`;
      const xml =
        `<saml:Assertion xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" IssueInstant="${instant()}">` +
        `<saml:Issuer>${esc(o.issuer ?? idpEntityId)}</saml:Issuer>` +
        `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameIdXml ?? 'alice@example.com'}</saml:NameID>` +
        `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${instant(o.notOnOrAfter ?? 300)}" Recipient="${esc(o.recipient ?? acs())}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
        `<saml:Conditions NotBefore="${instant(o.notBefore ?? 0)}" NotOnOrAfter="${instant(o.notOnOrAfter ?? 300)}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience ?? 'demo-saml')}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
        `<saml:AuthnStatement AuthnInstant="${instant()}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
        `</saml:Assertion>`;
      return { xml, id };
    }

    /** Signs the element with this ID (enveloped, exclusive c14n, after its Issuer), as an IdP does. */
    function sign(xml: string, id: string, o: { key?: { privateKeyPem: string; certificatePem: string }; sha1?: boolean } = {}): string {
      const key = o.key ?? saml;
      const sig = new SignedXml({
        privateKey: key.privateKeyPem,
        publicCert: key.certificatePem,
        signatureAlgorithm: o.sha1 ? 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
      });
      sig.addReference({
        xpath: `//*[@ID='${id}']`,
        digestAlgorithm: o.sha1 ? 'http://www.w3.org/2000/09/xmldsig#sha1' : 'http://www.w3.org/2001/04/xmlenc#sha256',
        transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
      });
      sig.computeSignature(xml, { prefix: 'ds', location: { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' } });
      return sig.getSignedXml();
    }

    /** A Response around assertions (already signed or not), optionally with Extensions. */
    function responseXml(inner: string, o: { destination?: string; inResponseTo?: string | undefined; status?: string; extensions?: string } = {}): string {
      const irt = o.inResponseTo === undefined ? '' : ` InResponseTo="${esc(o.inResponseTo)}"`;
      return (
        `<samlp:Response xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="_r${crypto.randomUUID()}" Version="2.0" IssueInstant="${instant()}" Destination="${esc(o.destination ?? acs())}"${irt}>` +
        `<saml:Issuer>${esc(idpEntityId)}</saml:Issuer>` +
        (o.extensions === undefined ? '' : `<samlp:Extensions>${o.extensions}</samlp:Extensions>`) +
        `<samlp:Status><samlp:StatusCode Value="${o.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/></samlp:Status>` +
        inner +
        `</samlp:Response>`
      );
    }

    /** An AuthnRequest ID the demo SP has really sent (it keeps them, to check InResponseTo). */
    async function outstandingRequestId(): Promise<string> {
      const res = await request(idp.spUrl).get('/saml/login').expect(302);
      const value = new URL(res.headers.location as string).searchParams.get('SAMLRequest')!;
      const xml = zlib.inflateRawSync(Buffer.from(value, 'base64')).toString('utf8');
      return /ID="([^"]+)"/.exec(xml)![1]!;
    }

    /** A signed assertion answering a fresh request of the SP, in its Response: what a good IdP sends. */
    async function goodResponse(): Promise<string> {
      const requestId = await outstandingRequestId();
      const a = assertionXml({ inResponseTo: requestId });
      return responseXml(sign(a.xml, a.id), { inResponseTo: requestId });
    }

    const postAcs = (xml: string | undefined, extra: Record<string, string> = {}) =>
      request(idp.spUrl)
        .post('/saml/acs')
        .type('form')
        .send({ ...(xml === undefined ? {} : { SAMLResponse: Buffer.from(xml).toString('base64') }), RelayState: '/saml/agent', ...extra });

    async function valid(): Promise<void> {
      const res = await postAcs(await goodResponse());
      assert.equal(res.status, 303, res.text.slice(0, 400));
      assert.equal(res.headers.location, '/saml/agent');
      assert.ok(setCookies(res).some((c) => c.startsWith('demosp-saml.sid=')));
    }

    type Fault = [name: string, build: () => Promise<string | undefined>, message: RegExp, status?: number | number[]];
    const solicited = async (o: AssertionOptions & { sha1?: boolean; key?: typeof UNRELATED } = {}, r: { destination?: string; status?: string } = {}) => {
      const requestId = await outstandingRequestId();
      const a = assertionXml({ inResponseTo: requestId, ...o });
      return responseXml(sign(a.xml, a.id, { ...(o.sha1 ? { sha1: true } : {}), ...(o.key ? { key: o.key } : {}) }), { inResponseTo: requestId, ...r });
    };

    const FAULTS: Fault[] = [
      [
        'unsigned',
        async () => {
          const requestId = await outstandingRequestId();
          return responseXml(assertionXml({ inResponseTo: requestId }).xml, { inResponseTo: requestId });
        },
        /signature check failed/,
      ],
      ['bad-signature (the NameID changed after signing)', async () => (await solicited()).replace('>alice@example.com<', '>bob@example.com<'), /signature check failed/],
      ['wrong-certificate (signed with a key the IdP does not publish)', () => solicited({ key: UNRELATED }), /signature check failed/],
      ['expired', () => solicited({ notBefore: -900, notOnOrAfter: -600 }), /is no longer valid/],
      ['not-yet-valid', () => solicited({ notBefore: 600, notOnOrAfter: 900 }), /is not yet valid/],
      ['wrong-audience', () => solicited({ audience: 'another-sp' }), /not valid for this audience/],
      ['an audience carrying markup', () => solicited({ audience: XSS }), /not valid for this audience/],
      ['wrong-recipient', () => solicited({ recipient: `${idp.spUrl}/saml/other-acs` }), /Recipient/],
      ['wrong-destination', () => solicited({}, { destination: `${idp.spUrl}/saml/other-acs` }), /not to this ACS/],
      [
        'wrong-in-response-to',
        async () => {
          const a = assertionXml({ inResponseTo: '_never-sent' });
          return responseXml(sign(a.xml, a.id), { inResponseTo: '_never-sent' });
        },
        /answers no AuthnRequest this SP sent/,
      ],
      ['sha1-signature', () => solicited({ sha1: true }), /never SHA-1/],
      [
        'signature-wrapping (the signed assertion moved under Extensions, a forged one beside it)',
        async () => {
          const requestId = await outstandingRequestId();
          const original = assertionXml({ inResponseTo: requestId, nameIdXml: 'erin@example.com' });
          const forged = assertionXml({ inResponseTo: requestId, id: original.id });
          return responseXml(forged.xml, { inResponseTo: requestId, extensions: sign(original.xml, original.id) });
        },
        /Expected 1 Assertion or 1 EncryptedAssertion; found 2/,
      ],
      [
        'signature-wrapping (the forged assertion first, the signed one after it)',
        async () => {
          const requestId = await outstandingRequestId();
          const original = assertionXml({ inResponseTo: requestId, nameIdXml: 'erin@example.com' });
          const forged = assertionXml({ inResponseTo: requestId });
          return responseXml(forged.xml + sign(original.xml, original.id), { inResponseTo: requestId });
        },
        /Expected 1 Assertion or 1 EncryptedAssertion; found 2/,
      ],
      [
        'signature-wrapping (the signed original inside the forged assertion)',
        async () => {
          const requestId = await outstandingRequestId();
          const inner = assertionXml({ inResponseTo: requestId, nameIdXml: 'erin@example.com' });
          const signedInner = sign(inner.xml, inner.id);
          const forged = assertionXml({ inResponseTo: requestId, id: inner.id }).xml.replace('</saml:Subject>', `</saml:Subject><saml:Advice>${signedInner}</saml:Advice>`);
          return responseXml(forged, { inResponseTo: requestId });
        },
        /Expected 1 Assertion or 1 EncryptedAssertion; found 2/,
      ],
      // Refused either as a NameID split by a comment, or as the unknown agent "alice@example.com.evil.test": never as alice.
      ['comment-in-nameid (alice@example.com<!---->.evil.test, signed)', () => solicited({ nameIdXml: 'alice@example.com<!---->.evil.test' }), /split by an XML comment|does not exist in Comm100/, [401, 403]],
      ['another Issuer, signed with the IdP key', () => solicited({ issuer: 'https://evil-idp.example' }), /not by the IdP of the metadata/],
      ['a Requester status', () => solicited({}, { status: 'urn:oasis:names:tc:SAML:2.0:status:Requester' }), /was not success/],
      ['a DOCTYPE with an external entity', async () => `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${await solicited()}`, /contains a DOCTYPE or an entity declaration/, 400],
      [
        'deeply nested XML under a valid signature check',
        async () => (await solicited()).replace('<saml:AuthnContext>', `<saml:AuthnContext>${'<x>'.repeat(5000)}${'</x>'.repeat(5000)}`),
        /signature check failed/,
      ],
      ['no SAMLResponse', async () => undefined, /No SAMLResponse was posted/, 400],
      ['a SAMLResponse that is not XML', async () => XSS, /Expected 1 Response; found 0/],
    ];

    for (const [name, build, message, status] of FAULTS) {
      it(`refuses ${name}, then accepts a valid assertion`, async () => {
        const res = await postAcs(await build());
        assertRefused(res, { status: status ?? 401, message, echo: [XSS, '<script>'] }, name);
        await valid();
      });
    }

    it('refuses replayed-assertion: the same unsolicited assertion a second time', async () => {
      const a = assertionXml();
      const xml = responseXml(sign(a.xml, a.id));
      assert.equal((await postAcs(xml)).status, 303);
      assertRefused(await postAcs(xml), { status: 401, message: /already used \(replayed assertion ID\)/ });
      await valid();
    });

    it('refuses a solicited Response posted twice (its request is answered once)', async () => {
      const xml = await goodResponse();
      assert.equal((await postAcs(xml)).status, 303);
      assertRefused(await postAcs(xml), { status: 401, message: /answers no AuthnRequest this SP sent|already used/ });
    });

    it('still signs an agent in through the real IdP, after all of that', async () => {
      const sp = request.agent(idp.spUrl);
      const start = await sp.get('/saml/login').expect(302);
      const agent = request.agent(idp.url);
      await login(agent, 'alice@example.com', 'alice-password');
      const url = new URL(start.headers.location as string);
      const page = autoPost(await agent.get(url.pathname + url.search));
      await sp.post(new URL(page.action).pathname).type('form').send(page.fields).expect(303);
      assert.match((await sp.get('/saml/agent').expect(200)).text, /Alice Agent/);
    });
  });
});
