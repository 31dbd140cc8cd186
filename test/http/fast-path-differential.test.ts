/**
 * The sign-in fast path against the app it stands in front of. Two IdPs with one
 * config (a fixed clock and a deterministicSeed, so tokens, SAML IDs and session
 * indexes come out equal): one served by the Express app alone (`idp.app`), one by
 * the full handler (`idp.handler`: the fast path, then the app). Each has the same
 * browsers (sessions of the same users, signed in to the same SPs); the same corpus
 * of requests goes to both in the same order, and every answer must have the same
 * status, headers and body, apart from what is per response by nature (`comparable`
 * says what and why), the same request log line and the same flow history. The
 * fast path must answer a good part of the corpus itself, or the comparison proves
 * nothing. What differs today is listed, precisely, in KNOWN_DIFFERENCES.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import signature from 'cookie-signature';
import { createIdp, type Idp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { JWT_FAULT_NAMES, SAML_FAULT_NAMES } from '../../src/faults/catalog.js';
import { SESSION_COOKIE } from '../../src/http/session.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { SP_SIGNING, UNRELATED, redirectQuery } from '../saml/support.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const HOST = 'idp.example.test';
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
const config: ConfigInput = {
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

/** One side of the comparison: an IdP, the listener serving it, its browsers' cookies, its log. */
interface Side {
  name: 'app' | 'handler';
  idp: Idp;
  server: http.Server;
  port: number;
  /** Session cookie (`name=value`) of each named browser; absent: no cookie. */
  jar: Map<string, string>;
  /** The log lines, parsed. */
  log: Record<string, unknown>[];
  /** For each request answered: whether the Express app saw it (pino-http gave it an id). */
  reachedApp: boolean[];
}

async function startSide(name: Side['name']): Promise<Side> {
  const log: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) log.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const resolved = resolveConfig(config, { source: 'differential test config', baseDir: process.cwd() });
  const idp = await createIdp(resolved, { logger: createLogger({ level: 'info', destination }) });
  const listener = name === 'app' ? idp.app : idp.handler;
  const reachedApp: boolean[] = [];
  const server = http.createServer((req, res) => {
    // Express gives every response it handles res.locals; the fast path writes on the bare node response.
    res.on('finish', () => reachedApp.push((res as { locals?: unknown }).locals !== undefined));
    listener(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, idp, server, port: (server.address() as AddressInfo).port, jar: new Map(), log, reachedApp };
}

/** Resolves once the side has finished `count` answers, and written their log lines. */
async function finished(side: Side, count: number): Promise<void> {
  for (let turns = 0; side.reachedApp.length < count; turns++) {
    if (turns > 10_000) throw new Error(`${side.name}: answer ${count} never finished`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
}

interface Answer {
  status: number;
  /** Lower-case name → values, in the order sent. */
  headers: Record<string, string[]>;
  body: string;
}

/** The cookie a probe sends: a browser's, or one made for the case. */
type CookieChoice = { browser: string } | { raw: (side: Side) => string } | 'none';

interface Probe {
  name: string;
  method?: 'GET' | 'HEAD' | 'POST';
  path: string;
  cookie: CookieChoice;
  accept?: string;
  /** Done to both IdPs before the request is sent. */
  before?: (idp: Idp) => Promise<void> | void;
}

function send(side: Side, probe: Probe): Promise<Answer> {
  const headers: Record<string, string> = { Host: HOST };
  if (probe.accept !== undefined) headers.Accept = probe.accept;
  const cookie = probe.cookie === 'none' ? undefined : 'browser' in probe.cookie ? side.jar.get(probe.cookie.browser) : probe.cookie.raw(side);
  if (cookie !== undefined) headers.Cookie = cookie;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: side.port, method: probe.method ?? 'GET', path: probe.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const grouped: Record<string, string[]> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) (grouped[res.rawHeaders[i]!.toLowerCase()] ??= []).push(res.rawHeaders[i + 1]!);
        resolve({ status: res.statusCode!, headers: grouped, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Keeps a browser's session cookie as a browser would: replaced by a Set-Cookie, dropped when cleared. */
function remember(side: Side, probe: Probe, answer: Answer): void {
  if (probe.cookie === 'none' || !('browser' in probe.cookie)) return;
  for (const line of answer.headers['set-cookie'] ?? []) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    if (pair!.slice(0, eq) !== SESSION_COOKIE) continue;
    if (pair!.slice(eq + 1) === '' || /Expires=Thu, 01 Jan 1970/.test(line)) side.jar.delete(probe.cookie.browser);
    else side.jar.set(probe.cookie.browser, pair!);
  }
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** The request id as the error page and a JSON error show it (a jti elsewhere on a page is compared). */
const REQUEST_ID = new RegExp(`(<dt>Request id</dt><dd><code>|"requestId":")${UUID}`, 'g');
/** Keys of parked requests (review holds, requests waiting for a sign-in): 18 random bytes, base64url. */
const PARKED = /\/(review|saml\/continue)\/[A-Za-z0-9_-]{24}/g;
const CSRF = /name="csrf" value="[A-Za-z0-9_-]+"/g;

function maskBody(body: string): string {
  return body
    .replace(REQUEST_ID, '$1<request-id>')
    .replace(PARKED, '/$1/<key>')
    .replace(/%2F(review|saml%2Fcontinue)%2F[A-Za-z0-9_-]{24}/g, '%2F$1%2F<key>')
    .replace(CSRF, 'name="csrf" value="<csrf>"');
}

/**
 * What of an answer the comparison holds equal. Left out or masked, each for a reason:
 * - Date: the time of the answer (the real clock, not the IdP's).
 * - X-Request-Id, and request ids in error pages and JSON errors: a random UUID per answer.
 * - Set-Cookie's session id and Expires: each IdP's sessions have their own random ids, and
 *   express-session computes Expires from the real clock; the rest of the cookie is compared.
 * - Keys of parked requests (/review/<key>, /saml/continue/<key>) and CSRF tokens: random.
 * - ETag's value: a hash of the body, which is compared itself (masked); its presence is compared.
 */
function comparable(answer: Answer): Answer {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(answer.headers)) {
    if (name === 'date' || name === 'x-request-id') continue;
    if (name === 'set-cookie') {
      headers[name] = values.map((v) => v.replace(/^([^=]+)=[^;]*/, (_m, n: string) => `${n}=<session>`).replace(/Expires=[^;]+/, 'Expires=<expires>'));
      continue;
    }
    if (name === 'etag') {
      headers[name] = values.map(() => '<etag of the body>');
      continue;
    }
    headers[name] = values.map(maskBody);
  }
  return { status: answer.status, headers, body: maskBody(answer.body) };
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
const forged = (browser: string) => (side: Side): string => side.jar.get(browser)!.replace(/\.[^.]+$/, '.forged-signature');

function corpus(): Probe[] {
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
  add({ name: 'an unsigned cookie', path: jwt('hs', CONSUMER), cookie: { raw: (side) => side.jar.get('alice')!.replace('s%3A', '') } });
  add({ name: 'the session cookie twice', path: jwt('hs', CONSUMER), cookie: { raw: (side) => `${side.jar.get('alice')!}; ${side.jar.get('alice')!}` } });
  add({ name: 'the cookie beside others', path: jwt('hs', CONSUMER), cookie: { raw: (side) => `theme=dark; ${side.jar.get('alice')!}; _ga=GA1.2.3` } });

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

/** One request of the corpus as the two IdPs answered it. */
interface Exchange {
  probe: Probe;
  app: Answer;
  handler: Answer;
  /** Whether the fast path answered it (the app never saw it). */
  byFastPath: boolean;
  /** The log lines the request left, masked (`comparableLog`). */
  log: { app: string[]; handler: string[] };
}

/** A log line without what is per request by nature: the time, the request id's value, the milliseconds. */
function comparableLog(line: Record<string, unknown>): string {
  const { time: _time, responseTime, reqId, req, ...rest } = line as { time?: unknown; responseTime?: unknown; reqId?: unknown; req?: { id?: unknown } };
  return JSON.stringify({
    ...rest,
    ...(reqId === undefined ? {} : { reqId: '<id>' }),
    ...(req === undefined ? {} : { req: { ...req, ...(req.id === undefined ? {} : { id: '<id>' }) } }),
    ...(responseTime === undefined ? {} : { responseTime: '<ms>' }),
  });
}

interface Difference {
  probe: string;
  what: string;
  app: unknown;
  handler: unknown;
}

/** Where two texts part, with some text around it: enough to read, short enough to print. */
function firstDifference(a: string, b: string): { app: string; handler: string } {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const around = (s: string) => `…${s.slice(Math.max(0, i - 60), i + 60)}… (at ${i} of ${s.length})`;
  return { app: around(a), handler: around(b) };
}

function differences(exchange: Exchange): Difference[] {
  const probe = exchange.probe.name;
  const [a, b] = [comparable(exchange.app), comparable(exchange.handler)];
  const found: Difference[] = [];
  if (a.status !== b.status) found.push({ probe, what: 'status', app: a.status, handler: b.status });
  for (const name of new Set([...Object.keys(a.headers), ...Object.keys(b.headers)])) {
    const [x, y] = [a.headers[name], b.headers[name]];
    if (JSON.stringify(x) !== JSON.stringify(y)) found.push({ probe, what: `header ${name}`, app: x, handler: y });
  }
  if (a.body !== b.body) found.push({ probe, what: 'body', ...firstDifference(a.body, b.body) });
  if (JSON.stringify(exchange.log.app) !== JSON.stringify(exchange.log.handler)) found.push({ probe, what: 'log', app: exchange.log.app, handler: exchange.log.handler });
  return found;
}

/**
 * What differs today, each with its reason; a rule matches only its own difference,
 * precisely, and a rule that no longer matches anything fails the test too. Empty since
 * the fast path became a transport over the app's own decision, answer builders and log
 * line: it once listed a weak ETag on the SAML page, the body of a redirect for
 * Accept: application/json, Location encoding of {, } and `, IDs consumed by a replayed
 * AuthnRequest, and pino-http's extra reqId.
 */
const KNOWN_DIFFERENCES: { why: string; matches: (d: Difference, e: Exchange) => boolean }[] = [];

/** The flow history (what /flows shows), without the random part of each flow's id. */
async function flowHistory(side: Side): Promise<string> {
  return JSON.stringify(await side.idp.context.flows.list({ limit: 10_000 })).replace(/"id":"([0-9a-z]{6})-[0-9a-f]{8}"/g, '"id":"$1-<random>"');
}

describe('the fast path, request by request against the app alone', () => {
  let app: Side;
  let handler: Side;
  const probes = corpus();
  const exchanges: Exchange[] = [];
  const found: { difference: Difference; exchange: Exchange }[] = [];
  /** The flow histories before the replayed AuthnRequest (which KNOWN_DIFFERENCES explains). */
  let flowsBeforeReplay: { app: string; handler: string } | undefined;

  before(async () => {
    app = await startSide('app');
    handler = await startSide('handler');
    assert.notEqual(handler.idp.handler, handler.idp.app, 'MOCK_IDP_FAST_PATH=0 turns the fast path off, and this test compares it with the app: run it without');
    for (const side of [app, handler]) {
      // Signed in a minute before the IdP's now: ForceAuthn then asks for the password again.
      for (const browser of ['alice', 'frank', 'dave']) {
        const { cookieHeader } = await side.idp.context.sessions.issue(`${browser}@example.com`, NOW - 60_000);
        side.jar.set(browser, cookieHeader);
      }
    }
    for (const probe of probes) {
      if (probe.name === 'an AuthnRequest ID') flowsBeforeReplay = { app: await flowHistory(app), handler: await flowHistory(handler) };
      for (const side of [app, handler]) await probe.before?.(side.idp);
      const logFrom = { app: app.log.length, handler: handler.log.length };
      const a = await send(app, probe);
      remember(app, probe, a);
      const b = await send(handler, probe);
      remember(handler, probe, b);
      // The server side of an answer (its 'finish', the request line) may come after the client has read it.
      await finished(app, exchanges.length + 1);
      await finished(handler, exchanges.length + 1);
      const exchange: Exchange = {
        probe,
        app: a,
        handler: b,
        byFastPath: handler.reachedApp.at(-1) === false,
        log: { app: app.log.slice(logFrom.app).map(comparableLog), handler: handler.log.slice(logFrom.handler).map(comparableLog) },
      };
      exchanges.push(exchange);
      for (const difference of differences(exchange)) found.push({ difference, exchange });
    }
  });

  after(async () => {
    for (const side of [app, handler]) {
      await new Promise<void>((resolve) => side.server.close(() => resolve()));
      await side.idp.close();
    }
  });

  it('answers every request of the corpus with the same status, headers, body and log line, apart from the known differences', () => {
    const unexplained = found.filter(({ difference, exchange }) => !KNOWN_DIFFERENCES.some((k) => k.matches(difference, exchange))).map((f) => f.difference);
    assert.deepEqual(unexplained, []);
  });

  it('still shows each known difference (take a fixed one off KNOWN_DIFFERENCES)', () => {
    for (const known of KNOWN_DIFFERENCES) {
      const seen = found.filter(({ difference, exchange }) => known.matches(difference, exchange));
      assert.ok(seen.length > 0, `no longer seen: ${known.why}`);
    }
  });

  it('records the same flow history', () => {
    assert.ok(flowsBeforeReplay);
    assert.equal(flowsBeforeReplay.handler, flowsBeforeReplay.app);
    assert.equal(JSON.parse(flowsBeforeReplay.app).length > 100, true, 'the corpus leaves a flow history to compare');
  });

  it('was answered by the fast path in a good part, and by the app alone in full', () => {
    assert.equal(app.reachedApp.length, probes.length);
    assert.ok(app.reachedApp.every(Boolean), 'the app alone saw every request');
    assert.equal(handler.reachedApp.length, probes.length);
    const byFastPath = exchanges.filter((e) => e.byFastPath);
    const names = byFastPath.map((e) => e.probe.name);
    // Some of what it must take: plain repeated sign-ins of both protocols, signed and unsigned SAML, with and without relay state.
    for (const name of ['a repeated JWT sign-in (no Accept)', 'a JWT sign-in with relayState (a browser)', 'a repeated RS256 sign-in (curl)', 'a repeated SAML sign-in (a browser)', 'a repeated signed SAML sign-in (no Accept)']) {
      assert.ok(names.includes(name), `the fast path answered "${name}"`);
    }
    assert.ok(byFastPath.length >= 40, `the fast path answered ${byFastPath.length} of ${probes.length} requests`);
    console.log(`corpus: ${probes.length} requests; the fast path answered ${byFastPath.length}, the app the other ${probes.length - byFastPath.length}`);
  });
});

describe('MOCK_IDP_FAST_PATH=0', () => {
  it('makes the handler the Express app itself', async () => {
    const before = process.env.MOCK_IDP_FAST_PATH;
    process.env.MOCK_IDP_FAST_PATH = '0';
    let idp: Idp | undefined;
    try {
      idp = await createIdp(resolveConfig(config, { source: 'differential test config', baseDir: process.cwd() }), { logger: silentLogger });
      assert.equal(idp.handler, idp.app);
    } finally {
      if (before === undefined) delete process.env.MOCK_IDP_FAST_PATH;
      else process.env.MOCK_IDP_FAST_PATH = before;
      await idp?.close();
    }
  });
});
