/**
 * The soak test (`npm run soak`; `npm test` runs the 60 s versions): a real
 * `mock-idp serve` process with the demo SP, on 127.0.0.1, under a steady mix of
 * browser flows for a bounded time:
 *   - JWT SSO with redirect delivery (Comm100-like), then the SP's remote logout;
 *   - JWT SSO with form-POST delivery (Desk-like), then sign-out at both;
 *   - SAML SP-initiated SSO through the demo SP (saml2-js), then single logout;
 *   - SAML IdP-initiated SSO; the Contact-JWT token endpoint; metadata and JWKS;
 *   - bad inputs: hostile redirect_url, broken or oversized SAML messages, wrong
 *     passwords, missing CSRF, defective tokens at the SP, oversized bodies.
 * With `--replicas N` (N ≥ 2) the same flows run against N IdP processes that
 * share one redis-server (`store: redis`, one sessionSecret, one keysDir; see
 * ./processes.ts): the first replica is the public URL and serves the demo SP,
 * and the soak's browser sends every IdP request to the next replica in turn (no
 * sticky sessions), so each step of a flow lands on another process. SP requests
 * go to the demo SP.
 * Every 30 s it reports requests, errors by status, p99 latency and each IdP's RSS.
 * Pass: no 5xx, no IdP process dies (an unhandled rejection would kill it) or logs
 * anything at error level, every flow ends as expected, and each IdP's RSS grows
 * less than 10% after the warm-up (the first minute, or the first half of a
 * shorter run): the peak RSS of the last third of the rest is compared with that
 * of its first third. With replicas it also prints Redis's used_memory at the
 * start and the end, for information. It stops by itself, and stops only the
 * processes it started, also on a failure and on SIGINT/SIGTERM.
 *
 *   npm run soak                                      # 10 minutes, one process
 *   npm run soak -- --duration 60s                    # the short version npm test runs
 *   npm run soak -- --replicas 2 --duration 60s       # two replicas on Redis; npm test runs it too
 *   npm run soak -- --replicas 2 --duration 10m       # the longer replica run, before a release
 *   options: --duration 600|90s|10m  --rate FLOWS_PER_SECOND (8)  --replicas N (1)  --report-every SECONDS (30)  --keep
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { freePort } from '../helpers/idp.js';
import { startTarget, type IdpProcess } from './processes.js';

// ---- options -------------------------------------------------------------------

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text} (use 600, 90s or 10m)`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    rate: { type: 'string', default: '8' },
    replicas: { type: 'string', default: '1' },
    'report-every': { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
  },
});
const DURATION_S = seconds(opts.duration!);
const RATE = Number(opts.rate);
const REPORT_S = seconds(opts['report-every']!);
const REPLICAS = Number(opts.replicas);
/** RSS is compared from here on: the first minute, or the first half of a shorter run (V8 sizes its heap in the first ~45 s). */
const WARMUP_S = Math.min(60, DURATION_S / 2);
const MAX_FLOWS_IN_FLIGHT = 64;
const REQUEST_TIMEOUT_MS = 15_000;
if (!(DURATION_S > 0 && DURATION_S <= 24 * 3600) || !(RATE > 0 && RATE <= 200)) throw new Error('--duration must be in (0, 24h], --rate in (0, 200]');
if (!(Number.isInteger(REPLICAS) && REPLICAS >= 1 && REPLICAS <= 8)) throw new Error('--replicas must be a whole number from 1 to 8');

// ---- the IdP processes ------------------------------------------------------------

const idpPort = await freePort();
const spPort = await freePort();
const IDP = `http://127.0.0.1:${idpPort}`;
const SP = `http://127.0.0.1:${spPort}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-idp-soak-'));
const USERS = ['alice', 'bob', 'erin', 'frank'].map((n) => ({ email: `${n}@example.com`, password: `${n}-password` }));

const target = await startTarget({
  work,
  replicas: REPLICAS,
  idpPort,
  config: {
    baseUrl: IDP,
    host: '127.0.0.1',
    dataDir: './data',
    passwordHashCost: 10,
    // Wrong passwords for random unknown emails lock those accounts; the shared 127.0.0.1 must not be locked.
    loginThrottle: { maxFailuresPerAccount: 5, maxFailuresPerIp: 1_000_000 },
    users: USERS.map((u) => ({ ...u, name: u.email.split('@')[0], attributes: { siteId: '10000' } })),
    serviceProviders: [
      {
        id: 'comm100',
        logoutUrl: `${SP}/`,
        jwt: { redirectUrls: [`${SP}/sso/jwt/consumer`], secret: 'soak-shared-secret-0123456789abcdef', issuer: 'jwt server', audience: 'Comm100', ttlSeconds: 1800 },
        saml: { entityId: 'comm100', acsUrls: [`${SP}/saml/acs`], sloUrl: `${SP}/saml/slo` },
      },
      { id: 'desk', logoutUrl: `${SP}/desk/`, jwt: { redirectUrls: [`${SP}/desk/sso/jwt/consumer`], algorithm: 'RS256', audience: 'desk', delivery: 'post' } },
    ],
  },
  demo: { enabled: true, spPort, spBaseUrl: SP, agents: USERS.map((u) => ({ email: u.email, active: true })) },
});
const IDPS = target.idps;
const someExit = (): IdpProcess | undefined => IDPS.find((idp) => idp.exit);

// ---- a small browser: cookies per origin, no redirect following unless asked ------
// With replicas, a request to the IdP's public origin goes to the next replica in turn
// (what a load balancer without sticky sessions does); its cookies stay the public origin's.

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  url: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const stats = {
  requests: 0,
  byStatus: new Map<number, number>(),
  latencies: [] as number[],
  timeouts: 0,
  flowsOk: 0,
  flowsFailed: new Map<string, number>(),
  skipped: 0,
  /** With replicas: requests and 5xx per replica. */
  byReplica: new Map<string, { requests: number; fiveXx: number }>(IDPS.map((idp) => [idp.name, { requests: 0, fiveXx: 0 }])),
};
let intervalStats = { requests: 0, latencies: [] as number[] };

const IDP_ORIGIN = new URL(IDP).origin;
let browsersMade = 0;

class Browser {
  readonly #jar = new Map<string, Map<string, string>>();
  /** The replica the next IdP request goes to; each browser starts at another one. */
  #nextReplica = browsersMade++ % IDPS.length;

  async request(method: string, url: string, options: { form?: Record<string, string>; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Res> {
    try {
      return await this.#send(method, url, options);
    } catch (err) {
      // A kept-alive socket the server closed just as it was reused: the request never reached it (Node's documented retry case).
      if ((err as { reusedSocket?: boolean }).reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return this.#send(method, url, options);
      throw err;
    }
  }

  #send(method: string, url: string, options: { form?: Record<string, string>; body?: string | Buffer; headers?: Record<string, string> }): Promise<Res> {
    const u = new URL(url);
    const idp = u.origin === IDP_ORIGIN ? IDPS[this.#nextReplica++ % IDPS.length]! : undefined;
    const to = idp && IDPS.length > 1 ? new URL(`${u.pathname}${u.search}`, idp.url) : u;
    const cookies = this.#jar.get(u.origin);
    const headers: Record<string, string> = { ...options.headers };
    if (cookies && cookies.size > 0) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | Buffer | undefined = options.body;
    if (options.form) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request(to, { method, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - started;
          stats.requests++;
          intervalStats.requests++;
          stats.latencies.push(ms);
          intervalStats.latencies.push(ms);
          const status = res.statusCode ?? 0;
          stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
          const perReplica = idp && stats.byReplica.get(idp.name);
          if (perReplica) {
            perReplica.requests++;
            if (status >= 500) perReplica.fiveXx++;
          }
          this.#store(u.origin, res.headers['set-cookie']);
          resolve({ status, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), url });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => {
        stats.timeouts++;
        req.destroy(new Error(`${method} ${u.pathname} timed out`));
      });
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(body);
    });
  }

  get(url: string, headers?: Record<string, string>): Promise<Res> {
    return this.request('GET', url, headers ? { headers } : {});
  }

  post(url: string, form: Record<string, string>): Promise<Res> {
    return this.request('POST', url, { form });
  }

  /** GETs and follows redirects (at most 8), the way a browser would. */
  async follow(url: string): Promise<Res> {
    let res = await this.get(url);
    for (let hop = 0; hop < 8 && res.status >= 300 && res.status < 400; hop++) res = await this.get(new URL(String(res.headers.location), res.url).href);
    return res;
  }

  #store(origin: string, setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const jar = this.#jar.get(origin) ?? new Map<string, string>();
      this.#jar.set(origin, jar);
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()) || attrs.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
}

class FlowError extends Error {}

function expect(res: Res, status: number, what: string): Res {
  if (res.status === status) return res;
  // What the page says is wrong (an IdP or SP error page, the login form's error), else its first characters.
  const alert = /role="alert"[^>]*>([^<]+)</.exec(res.text)?.[1];
  throw new FlowError(`${what}: expected ${status}, got ${res.status} ${(alert ?? res.text.slice(0, 160)).replace(/\s+/g, ' ')}`);
}

const field = (html: string, name: string): string => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new FlowError(`no ${name} field in the page`);
  return m[1]!.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
};
const formAction = (html: string): string => {
  const m = /<form method="post" action="([^"]+)"[^>]*data-auto-submit>/.exec(html);
  if (!m) throw new FlowError('no auto-POST form in the page');
  return m[1]!.replace(/&amp;/g, '&');
};
const hiddenFields = (html: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]!] = field(html, m[1]!);
  return out;
};
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

/** Signs in through the IdP's form, on the login page a redirect led to. */
async function signIn(b: Browser, loginPage: Res, user = pick(USERS)): Promise<Res> {
  expect(loginPage, 200, 'login form');
  const next = field(loginPage.text, 'continue');
  const posted = expect(await b.post(`${IDP}/login`, { csrf: field(loginPage.text, 'csrf'), email: user.email, password: user.password, continue: next }), 303, 'sign-in');
  return posted;
}

// ---- the flows ------------------------------------------------------------------

const flows: Record<string, () => Promise<void>> = {
  async jwtRedirect() {
    const b = new Browser();
    const start = expect(await b.get(`${SP}/sso/start?siteid=10000`), 302, 'SP start');
    const loginPage = await b.follow(String(start.headers.location));
    const signedIn = await signIn(b, loginPage);
    const toSp = expect(await b.get(new URL(String(signedIn.headers.location), IDP).href), 302, 'token redirect');
    const agentPage = await b.follow(String(toSp.headers.location));
    if (!agentPage.url.endsWith('/agent') || agentPage.status !== 200) throw new FlowError(`SP agent page: ${agentPage.status} at ${agentPage.url}`);
    const out = expect(await b.post(`${SP}/logout`, {}), 303, 'SP logout');
    const back = await b.follow(String(out.headers.location));
    expect(back, 200, 'signed out at the SP');
  },

  async jwtPost() {
    const b = new Browser();
    const consumer = `${SP}/desk/sso/jwt/consumer`;
    const loginPage = await b.follow(`${IDP}/sso/jwt/desk?redirect_url=${encodeURIComponent(consumer)}&relayState=%2Fdesk%2Fagent`);
    const signedIn = await signIn(b, loginPage);
    const page = expect(await b.get(new URL(String(signedIn.headers.location), IDP).href), 200, 'auto-POST page');
    const consumed = expect(await b.post(formAction(page.text), hiddenFields(page.text)), 303, 'SP consumer');
    expect(await b.get(new URL(String(consumed.headers.location), SP).href), 200, 'Desk agent page');
    const home = expect(await b.get(`${IDP}/`), 200, 'IdP console');
    expect(await b.post(`${IDP}/logout`, { csrf: field(home.text, 'csrf') }), 303, 'IdP logout');
    expect(await b.post(`${SP}/desk/logout`, {}), 303, 'Desk logout');
  },

  async samlSpInitiated() {
    const b = new Browser();
    const loginPage = await b.follow(`${SP}/saml/login`);
    const signedIn = await signIn(b, loginPage);
    const page = expect(await b.get(new URL(String(signedIn.headers.location), IDP).href), 200, 'SAML auto-POST page');
    const acs = expect(await b.post(formAction(page.text), hiddenFields(page.text)), 303, 'ACS');
    expect(await b.get(new URL(String(acs.headers.location), SP).href), 200, 'SAML agent page');
    const out = expect(await b.post(`${SP}/saml/logout`, {}), 303, 'SP logout');
    const done = await b.follow(String(out.headers.location));
    if (done.status !== 200 || !done.url.startsWith(SP)) throw new FlowError(`single logout ended with ${done.status} at ${done.url}`);
  },

  async samlIdpInitiated() {
    const b = new Browser();
    const loginPage = await b.follow(`${IDP}/saml/idp-init/comm100?RelayState=%2Fsaml%2Fagent`);
    const signedIn = await signIn(b, loginPage);
    const page = expect(await b.get(new URL(String(signedIn.headers.location), IDP).href), 200, 'IdP-initiated page');
    expect(await b.post(formAction(page.text), hiddenFields(page.text)), 303, 'ACS (unsolicited)');
    expect(await b.post(`${SP}/saml/logout`, {}), 303, 'SP logout');
  },

  async tokenEndpoint() {
    const b = new Browser();
    const loginPage = await b.follow(`${IDP}/login`);
    await signIn(b, loginPage);
    const res = expect(await b.get(`${IDP}/sso/token/comm100`, { origin: SP }), 200, 'token endpoint');
    if (!/"token":"eyJ/.test(res.text)) throw new FlowError('no token in the JSON');
    const home = expect(await b.get(`${IDP}/`), 200, 'IdP console');
    expect(await b.post(`${IDP}/logout`, { csrf: field(home.text, 'csrf') }), 303, 'IdP logout');
  },

  async publicDocuments() {
    const b = new Browser();
    expect(await b.get(`${IDP}/saml/metadata`), 200, 'metadata');
    expect(await b.get(`${IDP}/.well-known/jwks.json`), 200, 'JWKS');
    expect(await b.get(`${IDP}/healthz`), 200, 'healthz');
    expect(await b.get(`${IDP}/readyz`), 200, 'readyz');
  },

  async badInput() {
    const b = new Browser();
    const bomb = zlib.deflateRawSync(Buffer.alloc(4 * 1024 * 1024, 0x20), { level: 9 }).toString('base64');
    const cases: [string, () => Promise<Res>, number][] = [
      ['javascript: redirect_url', () => b.get(`${IDP}/sso/jwt/comm100?redirect_url=${encodeURIComponent('javascript:alert(1)')}`), 400],
      ['unregistered redirect_url', () => b.get(`${IDP}/sso/jwt/comm100?redirect_url=${encodeURIComponent('https://evil.example/x')}`), 400],
      ['bad base64 SAMLRequest', () => b.get(`${IDP}/saml/sso?SAMLRequest=%%%`), 400],
      ['DEFLATE bomb', () => b.get(`${IDP}/saml/sso?SAMLRequest=${encodeURIComponent(bomb)}`), 400],
      ['DOCTYPE SAMLRequest', () => b.post(`${IDP}/saml/sso`, { SAMLRequest: Buffer.from('<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>').toString('base64') }), 400],
      ['unknown path', () => b.get(`${IDP}/nowhere/${crypto.randomUUID()}`), 404],
      ['missing CSRF', () => b.post(`${IDP}/login`, { email: 'alice@example.com', password: 'x' }), 403],
      ['oversized body', () => b.request('POST', `${IDP}/login`, { form: { csrf: 'x', password: 'p'.repeat(100 * 1024) } }), 413],
      ['defective token at the SP', () => b.get(`${SP}/sso/jwt/consumer?jwt=eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0.`), 401],
      ['forged SAMLResponse at the SP', () => b.post(`${SP}/saml/acs`, { SAMLResponse: Buffer.from('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>').toString('base64') }), 401],
      [
        'wrong password for an unknown account',
        async () => {
          const form = expect(await b.get(`${IDP}/login`), 200, 'login form');
          return b.post(`${IDP}/login`, { csrf: field(form.text, 'csrf'), email: `nobody-${Math.floor(Math.random() * 50)}@example.com`, password: 'guess' });
        },
        401,
      ],
    ];
    const [name, send, status] = pick(cases);
    const res = await send();
    // Repeated wrong passwords for the same unknown account end in a lockout: 429 is as expected as 401.
    if (res.status !== status && !(status === 401 && res.status === 429)) throw new FlowError(`${name}: expected ${status}, got ${res.status}`);
  },
};

const WEIGHTS: [keyof typeof flows, number][] = [
  ['jwtRedirect', 3],
  ['jwtPost', 2],
  ['samlSpInitiated', 2],
  ['samlIdpInitiated', 1],
  ['tokenEndpoint', 1],
  ['publicDocuments', 1],
  ['badInput', 3],
];
const WEIGHTED = WEIGHTS.flatMap(([name, w]) => Array<keyof typeof flows>(w).fill(name));

// ---- run ------------------------------------------------------------------------

const unhandled: string[] = [];
process.on('unhandledRejection', (err) => unhandled.push(`load generator: ${String(err)}`));

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

function statusSummary(): string {
  const errors = [...stats.byStatus].filter(([s]) => s >= 400).sort(([a], [b]) => a - b);
  return errors.length ? errors.map(([s, n]) => `${s}×${n}`).join(' ') : 'none';
}

const mb = (x: number | undefined): string => x?.toFixed(1) ?? '?';
const redisAtStart = await target.redisUsedMemory();
if (IDPS.length === 1) {
  console.log(`soak: ${DURATION_S} s of mixed traffic at ${RATE} flows/s against ${IDP} (demo SP ${SP}); reports every ${REPORT_S} s; IdP pid ${IDPS[0]!.pid}, log ${IDPS[0]!.logFile}`);
} else {
  console.log(
    `soak: ${DURATION_S} s of mixed traffic at ${RATE} flows/s against ${IDPS.length} replicas on Redis ${target.redis!.url} (public URL ${IDP}, demo SP ${SP} in replica a); every IdP request to the next replica; reports every ${REPORT_S} s` +
      IDPS.map((idp) => `\n  replica ${idp.name}: ${idp.url}, pid ${idp.pid}, log ${idp.logFile}`).join('') +
      `\n  Redis used_memory at the start: ${mb(redisAtStart === undefined ? undefined : redisAtStart / 2 ** 20)} MB`,
  );
}

const rssSamples = new Map<string, { t: number; mb: number }[]>(IDPS.map((idp) => [idp.name, []]));
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
let inFlight = 0;
const running = new Set<Promise<void>>();

const sampler = setInterval(() => {
  for (const idp of IDPS) {
    const rss = idp.rssMb();
    if (rss !== undefined) rssSamples.get(idp.name)!.push({ t: elapsed(), mb: rss });
  }
}, 1_000);

const rssNow = (): string => (IDPS.length === 1 ? `${mb(IDPS[0]!.rssMb())} MB` : `${IDPS.map((idp) => `${idp.name} ${mb(idp.rssMb())}`).join(' / ')} MB`);
let lastReport = 0;
const reporter = setInterval(() => {
  const now = elapsed();
  const failed = [...stats.flowsFailed.values()].reduce((a, b) => a + b, 0);
  console.log(
    `[${now.toFixed(0).padStart(4)} s] requests ${stats.requests} (+${intervalStats.requests}, ${(intervalStats.requests / (now - lastReport)).toFixed(1)}/s)` +
      `  flows ${stats.flowsOk} ok, ${failed} failed  errors by status: ${statusSummary()}  5xx: ${[...stats.byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0)}` +
      `  p99 ${p99(intervalStats.latencies).toFixed(0)} ms  RSS ${rssNow()}`,
  );
  intervalStats = { requests: 0, latencies: [] };
  lastReport = now;
}, REPORT_S * 1000);

// A steady rate: one flow every 1/RATE s, whatever the answers' speed (up to a cap in flight).
const interval = 1000 / RATE;
let nextAt = performance.now();
while (elapsed() < DURATION_S && !someExit()) {
  nextAt += interval;
  if (inFlight >= MAX_FLOWS_IN_FLIGHT) {
    stats.skipped++;
  } else {
    const name = pick(WEIGHTED);
    inFlight++;
    const p = flows[name]!()
      .then(() => {
        stats.flowsOk++;
      })
      .catch((err: unknown) => {
        const key = `${name}: ${err instanceof FlowError ? err.message.replace(/\d+/g, 'N').slice(0, 120) : String(err).slice(0, 120)}`;
        stats.flowsFailed.set(key, (stats.flowsFailed.get(key) ?? 0) + 1);
      })
      .finally(() => {
        inFlight--;
        running.delete(p);
      });
    running.add(p);
  }
  const wait = nextAt - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

// Let the flows in flight finish (each request has its own timeout), then stop the IdPs (and Redis).
await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + 5_000))]);
clearInterval(sampler);
clearInterval(reporter);
const diedDuringRun = IDPS.filter((idp) => idp.exit).map((idp) => (IDPS.length === 1 ? `the IdP ${idp.exit}` : `replica ${idp.name} ${idp.exit}`));
const finalRss = new Map(IDPS.map((idp) => [idp.name, idp.rssMb()]));
const redisAtEnd = await target.redisUsedMemory();
await target.stop();
agent.destroy();

// ---- verdict --------------------------------------------------------------------

// RSS swings by a third with V8's GC cycle, so single samples and medians are noise. The highest sample of a
// window (the heap just before a major GC, which V8 sizes from the live data) tracks what is really kept:
// compare the peak of the first window after the warm-up with the peak of the last window.
function rssGrowth(samples: { t: number; mb: number }[], final: number | undefined) {
  const runEnd = samples.at(-1)?.t ?? 0;
  const windowS = Math.max(15, (runEnd - WARMUP_S) / 3);
  const peak = (xs: number[]): number | undefined => (xs.length ? Math.max(...xs) : undefined);
  const base = peak(samples.filter((x) => x.t >= WARMUP_S && x.t < WARMUP_S + windowS).map((x) => x.mb));
  const end = peak(samples.filter((x) => x.t > runEnd - windowS).map((x) => x.mb)) ?? final;
  return { windowS, base, end, growth: base !== undefined && end !== undefined ? end / base - 1 : undefined };
}
const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(x * 100).toFixed(1)}%`);

const fiveXx = [...stats.byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
const failedFlows = [...stats.flowsFailed.values()].reduce((a, b) => a + b, 0);
const problems: string[] = [];
for (const died of diedDuringRun) problems.push(`${died} during the run (an unhandled rejection or exception kills it)`);
if (fiveXx > 0) {
  const where = IDPS.length === 1 ? '' : ` (${IDPS.map((idp) => `${idp.name}: ${stats.byReplica.get(idp.name)!.fiveXx}`).join(', ')})`;
  problems.push(`${fiveXx} responses were 5xx${where}`);
}
for (const idp of IDPS) {
  const errorLines = fs
    .readFileSync(idp.logFile, 'utf8')
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l) || /unhandled|uncaught/i.test(l));
  const who = IDPS.length === 1 ? 'the IdP' : `replica ${idp.name}`;
  if (errorLines.length > 0) problems.push(`${who} logged ${errorLines.length} error lines, first: ${errorLines[0]!.slice(0, 300)}`);
}
if (unhandled.length > 0) problems.push(`${unhandled.length} unhandled rejections in the load generator, first: ${unhandled[0]}`);
if (failedFlows > 0) problems.push(`${failedFlows} flows did not end as expected: ${[...stats.flowsFailed].map(([k, n]) => `${n}× ${k}`).join('; ')}`);
if (stats.timeouts > 0) problems.push(`${stats.timeouts} requests timed out`);
const rss = IDPS.map((idp) => ({ idp, ...rssGrowth(rssSamples.get(idp.name)!, finalRss.get(idp.name)) }));
for (const { idp, base, end, growth } of rss) {
  const whose = IDPS.length === 1 ? 'RSS' : `replica ${idp.name}'s RSS`;
  if (growth === undefined) problems.push(`${whose} could not be sampled`);
  else if (growth >= 0.1) problems.push(`${whose} grew ${pct(growth)} after the warm-up (peak ${mb(base)} MB after ${WARMUP_S.toFixed(0)} s -> peak ${mb(end)} MB at the end)`);
}

const windowS = rss[0]!.windowS;
const rssLines =
  IDPS.length === 1
    ? `\n  RSS peak of the first ${windowS.toFixed(0)} s after the warm-up (${WARMUP_S.toFixed(0)} s): ${mb(rss[0]!.base)} MB, of the last ${windowS.toFixed(0)} s: ${mb(rss[0]!.end)} MB, growth ${pct(rss[0]!.growth)}`
    : `\n  RSS peak of the first ${windowS.toFixed(0)} s after the warm-up (${WARMUP_S.toFixed(0)} s) -> of the last ${windowS.toFixed(0)} s, per replica:` +
      rss.map(({ idp, base, end, growth }) => `\n    ${idp.name}: ${mb(base)} MB -> ${mb(end)} MB, growth ${pct(growth)}; ${stats.byReplica.get(idp.name)!.requests} requests`).join('') +
      `\n  Redis used_memory (for information): ${mb(redisAtStart === undefined ? undefined : redisAtStart / 2 ** 20)} MB at the start, ${mb(redisAtEnd === undefined ? undefined : redisAtEnd / 2 ** 20)} MB at the end`;
console.log(
  `\nsoak summary: ${stats.requests} requests in ${elapsed().toFixed(0)} s (${(stats.requests / elapsed()).toFixed(1)}/s), ${stats.flowsOk} flows ok, ${failedFlows} failed, ${stats.skipped} skipped (too many in flight)` +
    `\n  errors by status: ${statusSummary()}; 5xx: ${fiveXx}; overall p99 ${p99(stats.latencies).toFixed(0)} ms` +
    rssLines,
);
const logs = IDPS.length === 1 ? 'IdP log and data' : 'replica logs, configs and data';
if (problems.length > 0) {
  console.log(`\nFAIL\n  - ${problems.join('\n  - ')}\n  ${logs} kept in ${work}`);
  process.exitCode = 1;
} else {
  const what = IDPS.length === 1 ? 'RSS growth under 10%' : `RSS growth under 10% on each of the ${IDPS.length} replicas`;
  console.log(`\nPASS: no 5xx, no unhandled rejection, no error logged, every flow as expected, ${what}`);
  if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`  ${logs} kept in ${work}`);
}
