/**
 * What the fast-path differential test sends: the config both of its IdPs run
 * with, and the corpus of requests, in order. A probe names its browser (whose
 * session cookie the test keeps as a browser would) or the cookie to send.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import signature from 'cookie-signature';
import type { Idp } from '../../src/app.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { JWT_FAULT_NAMES, SAML_FAULT_NAMES } from '../../src/faults/catalog.js';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { SP_SIGNING, UNRELATED, redirectQuery } from '../saml/support.js';

export const NOW = Date.parse('2030-01-01T00:00:00Z');
export const HOST = 'idp.example.test';
const SESSION_SECRET = 'differential-session-secret-0123456789';
const CONSUMER = 'https://sp.example.test/sso/jwt/consumer';
const RS_CONSUMER = 'https://rs.example.test/consumer';
const SP_ENTITY = 'https://sp.example.test/metadata';
const ACS = 'https://sp.example.test/saml/acs';
const ACS_2 = 'https://sp.example.test/saml/acs2';
const SIGNER_ENTITY = 'https://signer.example.test/metadata';
const SIGNER_ACS = 'https://signer.example.test/acs';

// ES256 is left out: ECDSA signatures are randomized, so two IdPs never sign alike.
// So is assertion encryption (a random key and IV per Response).
export const config: ConfigInput = {
  baseUrl: `http://${HOST}`,
  dataDir: ':memory:',
  clock: new Date(NOW).toISOString(),
  deterministicSeed: 'fast-path-differential',
  sessionSecret: SESSION_SECRET,
  passwordHashCost: 10,
  allowFaults: true,
  allowLoginHint: true,
  users: [
    { email: 'alice@example.com', password: 'alice-password', name: 'Alice Agent', attributes: { siteId: '10000', groups: ['admins', 'agents'] } },
    { email: 'bob@example.com', password: 'bob-password', name: 'Bob Builder', attributes: { siteId: '10000' } },
    { email: 'frank@example.com', password: 'frank-password', name: 'Frank Later Disabled' },
    { email: 'dave@example.com', password: 'dave-password', name: 'Dave Disabled', disabled: true },
  ],
  serviceProviders: [
    {
      id: 'hs',
      name: 'HS SP',
      jwt: {
        redirectUrls: [CONSUMER],
        algorithm: 'HS256',
        secret: 'differential-hs-secret-0123456789abcdef',
        issuer: 'jwt server',
        audience: 'hs-sp',
        claims: { name: 'name', siteId: 'siteId' },
      },
    },
    { id: 'rs', name: 'RS SP', jwt: { redirectUrls: [RS_CONSUMER], algorithm: 'RS256', claims: { groups: 'groups' } } },
    { id: 'post', name: 'POST SP', jwt: { redirectUrls: ['https://post.example.test/consumer'], algorithm: 'RS256', delivery: 'post' } },
    { id: 'reviewed', name: 'Reviewed SP', review: true, jwt: { redirectUrls: ['https://reviewed.example.test/consumer'], secret: 'differential-reviewed-secret-0123456789' } },
    { id: 'saml-sp', name: 'SAML SP', saml: { entityId: SP_ENTITY, acsUrls: [ACS, ACS_2], signResponse: true } },
    { id: 'signer', name: 'Signing SP', saml: { entityId: SIGNER_ENTITY, acsUrls: [SIGNER_ACS], requestSigningCert: SP_SIGNING.certificatePem } },
  ],
};

/** The cookie a probe sends: a browser's, or one made for the case. */
export type CookieChoice = { browser: string } | { raw: (jar: ReadonlyMap<string, string>) => string } | 'none';

export interface Probe {
  name: string;
  method?: 'GET' | 'HEAD' | 'POST';
  path: string;
  cookie: CookieChoice;
  accept?: string;
  /** Done to both IdPs before the request is sent. */
  before?: (idp: Idp) => Promise<void> | void;
}

interface AuthnRequestParts {
  issuer?: string;
  /** null: no AssertionConsumerServiceURL. */
  acs?: string | null;
  version?: string;
  instant?: string;
  /** More attributes of the AuthnRequest element. */
  extra?: string;
  /** Children after the Issuer. */
  body?: string;
}

function authnRequest(o: AuthnRequestParts & { id: string }): string {
  const acs = o.acs === null ? '' : ` AssertionConsumerServiceURL="${o.acs ?? ACS}"`;
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${o.id}" Version="${o.version ?? '2.0'}" IssueInstant="${o.instant ?? new Date(NOW).toISOString()}"${acs}${o.extra ?? ''}>` +
    `<saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>${o.body ?? ''}</samlp:AuthnRequest>`
  );
}

let requestIds = 0;
/** A fresh AuthnRequest ID: the same for both sides, as the probe is built once. */
const nextId = () => `_differential-${String(++requestIds).padStart(4, '0')}`;

function samlSso(o: AuthnRequestParts & { relayState?: string; id?: string } = {}): string {
  return `/saml/sso?${redirectQuery(authnRequest({ ...o, id: o.id ?? nextId() }), o.relayState === undefined ? {} : { relayState: o.relayState })}`;
}

function signedSso(o: { relayState?: string; key?: string; id?: string } = {}): string {
  const xml = authnRequest({ id: o.id ?? nextId(), issuer: SIGNER_ENTITY, acs: SIGNER_ACS });
  return `/saml/sso?${redirectQuery(xml, { ...(o.relayState === undefined ? {} : { relayState: o.relayState }), sign: { privateKeyPem: o.key ?? SP_SIGNING.privateKeyPem } })}`;
}

const jwt = (sp: string, redirectUrl: string, extra = '') => `/sso/jwt/${sp}?redirect_url=${encodeURIComponent(redirectUrl)}${extra}`;

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ACCEPTS: [string, string | undefined][] = [
  ['no Accept', undefined],
  ['a browser', HTML],
  ['curl', '*/*'],
  ['a JSON client', 'application/json'],
];

/** A session cookie of this IdP for a session id it never issued, correctly signed. */
const unknownSession = (): string => `${SESSION_COOKIE}=${encodeURIComponent(`s:${signature.sign('never-issued-session-id-000000000', SESSION_SECRET)}`)}`;
/** A browser's own cookie with its signature spoiled. */
const forged = (browser: string) => (jar: ReadonlyMap<string, string>): string => jar.get(browser)!.replace(/\.[^.]+$/, '.forged-signature');

export function corpus(): Probe[] {
  const alice = { browser: 'alice' };
  const probes: Probe[] = [];
  const add = (p: Probe) => probes.push(p);
  /** The probe once per Accept header; a path given as a function is made anew for each (a fresh AuthnRequest ID). */
  const eachAccept = (p: Omit<Probe, 'accept' | 'path'> & { path: string | (() => string) }) => {
    for (const [what, accept] of ACCEPTS) {
      const path = typeof p.path === 'string' ? p.path : p.path();
      add({ ...p, path, name: `${p.name} (${what})`, ...(accept === undefined ? {} : { accept }) });
    }
  };

  // First sign-ins: the session notes the SP (and the SAML NameID), so they are the app's.
  for (const browser of ['alice', 'frank']) {
    add({ name: `${browser}: first JWT sign-in to hs`, path: jwt('hs', CONSUMER), cookie: { browser } });
    add({ name: `${browser}: first JWT sign-in to rs`, path: jwt('rs', RS_CONSUMER), cookie: { browser } });
    add({ name: `${browser}: first SAML sign-in to saml-sp`, path: samlSso(), cookie: { browser } });
    add({ name: `${browser}: first SAML sign-in to signer`, path: signedSso(), cookie: { browser } });
  }
  add({ name: 'dave (disabled): a JWT sign-in', path: jwt('hs', CONSUMER), cookie: { browser: 'dave' } });

  // Repeated JWT sign-ins, the fast path's own.
  eachAccept({ name: 'a repeated JWT sign-in', path: jwt('hs', CONSUMER), cookie: alice });
  eachAccept({ name: 'a JWT sign-in with relayState', path: jwt('hs', CONSUMER, '&relayState=%2Fagent%3Fx%3D1'), cookie: alice });
  eachAccept({ name: 'a JWT sign-in with RelayState', path: jwt('hs', CONSUMER, '&RelayState=rs-%C3%A9%20%22q%22'), cookie: alice });
  eachAccept({ name: 'a redirect_url with its own query', path: jwt('hs', `${CONSUMER}?site=1&lang=en`, '&relayState=%2Fagent'), cookie: alice });
  add({ name: 'a redirect_url whose query has its own relayState', path: jwt('hs', `${CONSUMER}?relayState=own`, '&relayState=given'), cookie: alice });
  add({ name: 'a redirect_url whose query has braces and a backtick', path: jwt('hs', `${CONSUMER}?filter={"a":1}&t=\`x\``), cookie: alice });
  add({ name: 'a redirect_url whose query has quotes and a caret', path: jwt('hs', `${CONSUMER}?q='it'&r=a^b|c`), cookie: alice });
  add({ name: 'a redirect_url with a fragment', path: jwt('hs', `${CONSUMER}?a=1#frag`), cookie: alice });
  add({ name: 'a redirect_url with an empty query', path: jwt('hs', `${CONSUMER}?`), cookie: alice });
  add({ name: 'relayState before redirect_url', path: `/sso/jwt/hs?relayState=first&redirect_url=${encodeURIComponent(CONSUMER)}`, cookie: alice });
  add({ name: 'an empty relayState', path: jwt('hs', CONSUMER, '&relayState='), cookie: alice });
  add({ name: 'a relayState of 2048 characters', path: jwt('hs', CONSUMER, `&relayState=${'r'.repeat(2048)}`), cookie: alice });
  eachAccept({ name: 'a repeated RS256 sign-in', path: jwt('rs', RS_CONSUMER), cookie: alice });
  add({ name: 'frank: a repeated JWT sign-in', path: jwt('hs', CONSUMER), cookie: { browser: 'frank' } });
  add({ name: 'HEAD of a repeated JWT sign-in', method: 'HEAD', path: jwt('hs', CONSUMER), cookie: alice });
  add({ name: 'POST to the JWT sign-in URL', method: 'POST', path: jwt('hs', CONSUMER), cookie: alice });

  // Everything else about JWT: the app's, and the same through the handler.
  for (const fault of JWT_FAULT_NAMES) {
    add({ name: `fault=${fault}`, path: jwt('hs', CONSUMER, `&fault=${fault === 'clock-skew' ? 'clock-skew%3D120' : fault}`), cookie: alice });
  }
  add({ name: 'fault=wrong-key on RS256', path: jwt('rs', RS_CONSUMER, '&fault=wrong-key'), cookie: alice });
  add({ name: 'two faults', path: jwt('hs', CONSUMER, '&fault=wrong-audience,missing-jti'), cookie: alice });
  add({ name: 'an unknown fault', path: jwt('hs', CONSUMER, '&fault=expird'), cookie: alice });
  add({ name: 'a SAML fault on a JWT sign-in', path: jwt('hs', CONSUMER, '&fault=unsigned'), cookie: alice });
  add({ name: 'an empty fault=', path: jwt('hs', CONSUMER, '&fault='), cookie: alice });
  eachAccept({ name: 'review=1', path: jwt('hs', CONSUMER, '&review=1'), cookie: alice });
  add({ name: 'an SP with review on', path: jwt('reviewed', 'https://reviewed.example.test/consumer'), cookie: alice });
  add({ name: 'POST delivery', path: jwt('post', 'https://post.example.test/consumer'), cookie: alice });
  add({ name: 'login_hint of the signed-in user', path: jwt('hs', CONSUMER, '&login_hint=alice%40example.com'), cookie: alice });
  add({ name: 'login_hint of a user nobody knows', path: jwt('hs', CONSUMER, '&login_hint=nobody%40example.com'), cookie: alice });
  add({ name: 'login_hint of a disabled user', path: jwt('hs', CONSUMER, '&login_hint=dave%40example.com'), cookie: alice });
  add({ name: 'login_hint twice', path: jwt('hs', CONSUMER, '&login_hint=alice%40example.com&login_hint=bob%40example.com'), cookie: alice });
  add({ name: 'login_hint signs bob in (a new browser)', path: jwt('hs', CONSUMER, '&login_hint=bob%40example.com'), cookie: { browser: 'bob' } });
  add({ name: 'bob: a repeated JWT sign-in after login_hint', path: jwt('hs', CONSUMER), cookie: { browser: 'bob' } });
  add({ name: 'an unknown parameter', path: jwt('hs', CONSUMER, '&unknown=1'), cookie: alice });
  add({ name: 'the SP id percent-encoded', path: `/sso/jwt/h%73?redirect_url=${encodeURIComponent(CONSUMER)}`, cookie: alice });
  add({ name: 'a trailing slash', path: `/sso/jwt/hs/?redirect_url=${encodeURIComponent(CONSUMER)}`, cookie: alice });
  add({ name: 'no SP id (matched by redirect_url)', path: `/sso/jwt?redirect_url=${encodeURIComponent(CONSUMER)}`, cookie: alice });
  eachAccept({ name: 'an unregistered redirect_url', path: jwt('hs', 'https://evil.example/consumer'), cookie: alice });
  add({ name: 'a redirect_url of another path', path: jwt('hs', 'https://sp.example.test/elsewhere'), cookie: alice });
  add({ name: 'a javascript: redirect_url', path: jwt('hs', 'javascript:alert(1)'), cookie: alice });
  add({ name: 'no redirect_url', path: '/sso/jwt/hs', cookie: alice });
  add({ name: 'an empty redirect_url', path: '/sso/jwt/hs?redirect_url=', cookie: alice });
  add({ name: 'redirect_url twice', path: `${jwt('hs', CONSUMER)}&redirect_url=${encodeURIComponent(CONSUMER)}`, cookie: alice });
  add({ name: 'an oversized redirect_url', path: jwt('hs', `${CONSUMER}?pad=${'p'.repeat(4000)}`), cookie: alice });
  add({ name: 'relayState twice', path: jwt('hs', CONSUMER, '&relayState=a&relayState=b'), cookie: alice });
  add({ name: 'relayState and RelayState', path: jwt('hs', CONSUMER, '&relayState=a&RelayState=b'), cookie: alice });
  add({ name: 'an oversized relayState', path: jwt('hs', CONSUMER, `&relayState=${'r'.repeat(2049)}`), cookie: alice });
  eachAccept({ name: 'an unknown SP', path: jwt('nope', CONSUMER), cookie: alice });
  add({ name: 'a SAML-only SP', path: jwt('saml-sp', CONSUMER), cookie: alice });
  eachAccept({ name: 'no cookie', path: jwt('hs', CONSUMER), cookie: 'none' });
  add({ name: 'a bad cookie signature', path: jwt('hs', CONSUMER), cookie: { raw: forged('alice') } });
  add({ name: 'a signed cookie of no session', path: jwt('hs', CONSUMER), cookie: { raw: unknownSession } });
  add({ name: 'an unsigned cookie', path: jwt('hs', CONSUMER), cookie: { raw: (jar) => jar.get('alice')!.replace('s%3A', '') } });
  add({ name: 'the session cookie twice', path: jwt('hs', CONSUMER), cookie: { raw: (jar) => `${jar.get('alice')!}; ${jar.get('alice')!}` } });
  add({ name: 'the cookie beside others', path: jwt('hs', CONSUMER), cookie: { raw: (jar) => `theme=dark; ${jar.get('alice')!}; _ga=GA1.2.3` } });

  // Repeated SAML HTTP-Redirect sign-ins, the fast path's own.
  eachAccept({ name: 'a repeated SAML sign-in', path: () => samlSso(), cookie: alice });
  eachAccept({ name: 'a SAML sign-in with RelayState', path: () => samlSso({ relayState: 'https://sp.example.test/deep?a=1&b=<x> "y" é' }), cookie: alice });
  add({ name: 'a SAML sign-in to the second ACS', path: samlSso({ acs: ACS_2 }), cookie: alice });
  add({ name: 'a SAML sign-in naming no ACS (the default one)', path: samlSso({ acs: null }), cookie: alice });
  add({ name: 'a SAML sign-in with the unspecified NameID format', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"/>' }), cookie: alice });
  eachAccept({ name: 'a repeated signed SAML sign-in', path: () => signedSso({ relayState: 'rs-signed' }), cookie: alice });
  add({ name: 'frank: a repeated SAML sign-in', path: samlSso(), cookie: { browser: 'frank' } });

  // Everything else about SAML.
  for (const fault of SAML_FAULT_NAMES) add({ name: `SAML fault=${fault}`, path: `${samlSso()}&fault=${fault}`, cookie: alice });
  add({ name: 'a JWT fault on a SAML sign-in', path: `${samlSso()}&fault=alg-none`, cookie: alice });
  eachAccept({ name: 'SAML review=1', path: () => `${samlSso()}&review=1`, cookie: alice });
  add({ name: 'SAML login_hint', path: `${samlSso()}&login_hint=alice%40example.com`, cookie: alice });
  add({ name: 'SAML with an unknown parameter', path: `${samlSso()}&foo=1`, cookie: alice });
  eachAccept({ name: 'a SAMLRequest that is not DEFLATE', path: '/saml/sso?SAMLRequest=bm90IGRlZmxhdGVk', cookie: alice });
  add({ name: 'a SAMLRequest that is not base64', path: '/saml/sso?SAMLRequest=%25%25%25', cookie: alice });
  add({ name: 'an empty SAMLRequest', path: '/saml/sso?SAMLRequest=', cookie: alice });
  add({ name: 'no SAMLRequest', path: '/saml/sso', cookie: alice });
  add({ name: 'SAMLRequest twice', path: `${samlSso()}&SAMLRequest=x`, cookie: alice });
  add({ name: 'a SAMLRequest that is not XML', path: `/saml/sso?SAMLRequest=${encodeURIComponent(zlib.deflateRawSync('not xml').toString('base64'))}`, cookie: alice });
  add({ name: 'an unknown issuer', path: samlSso({ issuer: 'https://stranger.example.test/metadata' }), cookie: alice });
  add({ name: 'an unregistered ACS', path: samlSso({ acs: 'https://evil.example/acs' }), cookie: alice });
  add({ name: 'another Destination', path: samlSso({ extra: ' Destination="https://elsewhere.example/sso"' }), cookie: alice });
  add({ name: 'a SAML 1.1 Version', path: samlSso({ version: '1.1' }), cookie: alice });
  add({ name: 'an IssueInstant that is no date', path: samlSso({ instant: 'yesterday' }), cookie: alice });
  add({ name: 'an AuthnRequest of a day ago', path: samlSso({ instant: new Date(NOW - 86_400_000).toISOString() }), cookie: alice });
  add({ name: 'an AuthnRequest with no ID', path: samlSso({ id: '' }), cookie: alice });
  add({ name: 'an artifact ProtocolBinding', path: samlSso({ extra: ' ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"' }), cookie: alice });
  eachAccept({ name: 'ForceAuthn', path: () => samlSso({ extra: ' ForceAuthn="true"' }), cookie: alice });
  add({ name: 'ForceAuthn and IsPassive', path: samlSso({ extra: ' ForceAuthn="true" IsPassive="true"' }), cookie: alice });
  add({ name: 'IsPassive alone', path: samlSso({ extra: ' IsPassive="true"' }), cookie: alice });
  add({ name: 'IsPassive without a session', path: samlSso({ extra: ' IsPassive="true"' }), cookie: 'none' });
  add({ name: 'a NameIDPolicy of another format', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>' }), cookie: alice });
  // NameID formats: a format new to the session's memory is a session write (the app's); the same again is the fast path's.
  add({ name: 'persistent again', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>' }), cookie: alice });
  add({ name: 'persistent with AllowCreate="false", established above', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="false"/>' }), cookie: alice });
  add({ name: 'persistent with AllowCreate="false", never established for bob', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="false"/>' }), cookie: { browser: 'bob' } });
  add({ name: 'a transient NameID, new to the session', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/>' }), cookie: alice });
  eachAccept({ name: 'the session’s transient NameID again', path: () => samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"/>' }), cookie: alice });
  add({ name: 'an unsupported NameID format', path: samlSso({ body: '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"/>' }), cookie: alice });
  add({ name: 'another SPNameQualifier', path: samlSso({ body: '<samlp:NameIDPolicy SPNameQualifier="https://group.example.test"/>' }), cookie: alice });
  add({ name: 'back to the default NameID format', path: samlSso(), cookie: alice });
  add({ name: 'a signing SP’s request unsigned', path: samlSso({ issuer: SIGNER_ENTITY, acs: SIGNER_ACS }), cookie: alice });
  add({ name: 'a signing SP’s request signed with another key', path: signedSso({ key: UNRELATED.privateKeyPem }), cookie: alice });
  add({ name: 'SAML RelayState twice', path: `${samlSso({ relayState: 'a' })}&RelayState=b`, cookie: alice });
  add({ name: 'an oversized SAML RelayState', path: samlSso({ relayState: 'r'.repeat(4097) }), cookie: alice });
  eachAccept({ name: 'SAML without a cookie', path: () => samlSso(), cookie: 'none' });
  add({ name: 'SAML with a bad cookie signature', path: samlSso(), cookie: { raw: forged('alice') } });
  add({ name: 'SAML with a signed cookie of no session', path: samlSso(), cookie: { raw: unknownSession } });
  add({ name: 'bob: a SAML sign-in to an SP his session never signed in to', path: samlSso(), cookie: { browser: 'bob' } });
  add({ name: 'dave (disabled): a SAML sign-in', path: samlSso(), cookie: { browser: 'dave' } });

  // A user disabled after signing in: the sessions stay, the sign-ins stop.
  const disableFrank = async (idp: Idp) => {
    await idp.context.users.update('frank@example.com', { disabled: true });
  };
  add({ name: 'frank, disabled since: a JWT sign-in', path: jwt('hs', CONSUMER), cookie: { browser: 'frank' }, before: disableFrank });
  add({ name: 'frank, disabled since: a SAML sign-in', path: samlSso(), cookie: { browser: 'frank' } });

  // The same sign-ins once more at the end: both IdPs still mint alike after everything above.
  add({ name: 'a repeated JWT sign-in, at the end', path: jwt('hs', CONSUMER, '&relayState=end'), cookie: alice });
  add({ name: 'a repeated SAML sign-in, at the end', path: samlSso({ relayState: 'end' }), cookie: alice });

  // Last, as what it changes shows in every later sign-in (see KNOWN_DIFFERENCES).
  const replayedId = nextId();
  add({ name: 'an AuthnRequest ID', path: samlSso({ id: replayedId }), cookie: alice });
  add({ name: 'the same AuthnRequest ID again (replayed)', path: samlSso({ id: replayedId }), cookie: alice });
  add({ name: 'a SAML sign-in after the replay', path: samlSso(), cookie: alice });
  assert.equal(new Set(probes.map((p) => p.name)).size, probes.length, 'every probe has a name of its own');
  return probes;
}

