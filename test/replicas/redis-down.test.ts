/**
 * Redis going away under a running IdP (store: redis): a real redis-server and
 * a real IdP process on 127.0.0.1. While Redis is stopped or paused (SIGSTOP),
 * what needs it answers a clear 503 within a few seconds, every request on a
 * kept-alive connection is answered, /readyz says so; once Redis is back (same
 * port, same append-only folder) the same browser sessions and the SAML request
 * written before the outage carry on. The IdP is never restarted.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exitOf, waitForOutput } from '../cli/process.js';
import { csrfFrom, hiddenField } from '../helpers/http.js';
import { freePort, tempDir } from '../helpers/idp.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { redirectQuery } from '../saml/support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';
const ACS = 'https://sp.example.test/acs';
const CONSUMER = 'http://localhost:9/consumer';
const SSO = `/sso/jwt/sp?redirect_url=${encodeURIComponent(CONSUMER)}`;
/** What "a few seconds" is: COMMAND_TIMEOUT_MS (2 s) and some room. */
const PROMPT_MS = 3_000;

interface Answer {
  status: number;
  ms: number;
  text: string;
  headers: http.IncomingHttpHeaders;
  /** Which connection answered (1, 2, … per browser). */
  socket: number;
}

/** A browser: one kept-alive connection at a time, one session cookie; a request left without an answer fails the test. */
function browser(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new WeakMap<object, number>();
  let opened = 0;
  let cookie: string | undefined;
  const send = (method: 'GET' | 'POST', target: string, form?: Record<string, string>): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const body = form && new URLSearchParams(form).toString();
      const headers: Record<string, string> = { Accept: 'text/html' };
      if (cookie) headers.Cookie = cookie;
      if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
      const req = http.request(base + target, { method, agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', reject);
        res.on('end', () => {
          const set = res.headers['set-cookie']?.[0];
          if (set) cookie = set.split(';')[0];
          resolve({ status: res.statusCode!, ms: performance.now() - started, text, headers: res.headers, socket: sockets.get(req.socket!) ?? 0 });
        });
      });
      req.on('socket', (s) => {
        if (!sockets.has(s)) sockets.set(s, ++opened);
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${target}: no answer within 10 s`)));
      req.on('error', (err) => reject(new Error(`${method} ${target}: ${err.message}`)));
      req.end(body);
    });
  return {
    send,
    get: (target: string) => send('GET', target),
    post: (target: string, form: Record<string, string>) => send('POST', target, form),
    get cookie() {
      return cookie;
    },
    close: () => agent.destroy(),
  };
}
type Browser = ReturnType<typeof browser>;

function authnRequest(id: string): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${ACS}">` +
    `<saml:Issuer>${SP_ENTITY}</saml:Issuer></samlp:AuthnRequest>`
  );
}

/** A clear 503 page, soon: the store's sentence, Retry-After, no stack, no new session cookie. */
function assertClear503(a: Answer, what: string): void {
  assert.equal(a.status, 503, `${what}: ${a.status} ${a.text.slice(0, 200)}`);
  assert.ok(a.ms < PROMPT_MS, `${what} answered in ${Math.round(a.ms)} ms`);
  assert.match(a.text, /The (session store|shared store \(Redis\)) is unavailable right now\. Try again in a moment\./, what);
  assert.doesNotMatch(a.text, /\bat .*\.(ts|js):\d+/, `${what}: no stack trace`);
  assert.equal(a.headers['retry-after'], '5', what);
  assert.equal(a.headers['set-cookie'], undefined, `${what}: the browser keeps its session cookie`);
}

describe('Redis going away under a running IdP', () => {
  const dir = tempDir('mock-idp-redis-down-');
  let redis: TestRedis;
  let idp: ChildProcess;
  let idpPid: number;
  let base: string;
  let output = '';
  const browsers: Browser[] = [];
  const open = (): Browser => {
    const b = browser(base);
    browsers.push(b);
    return b;
  };

  /** Polls /readyz until it answers 200 (Redis reconnects within ~2 s). */
  const ready = async (): Promise<void> => {
    const probe = open();
    for (let i = 0; i < 50; i++) {
      if ((await probe.get('/readyz')).status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('/readyz did not answer 200 within 5 s of Redis coming back');
  };

  const signedIn = async (): Promise<Browser> => {
    const b = open();
    const form = await b.get('/login');
    assert.equal(form.status, 200);
    const done = await b.post('/login', { csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password' });
    assert.equal(done.status, 303, done.text.slice(0, 200));
    return b;
  };

  before(async () => {
    redis = await startTestRedis();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = path.join(dir, 'idp.yaml');
    fs.writeFileSync(
      config,
      `host: 127.0.0.1
baseUrl: ${base}
passwordHashCost: 10
store: redis
sessionSecret: "the-session-secret-of-this-test-0123"
users:
  - { email: alice@example.com, password: alice-password, name: Alice }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "${CONSUMER}" ], secret: "redis-down-shared-secret-0123456789", audience: sp }
  - id: saml-sp
    saml: { entityId: "${SP_ENTITY}", acsUrls: [ "${ACS}" ] }
`,
    );
    idp = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'serve', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PORT: String(port), DATA_DIR: path.join(dir, 'data'), REDIS_URL: redis.url, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    });
    idp.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    idp.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitForOutput(idp, /mock-idp is running/);
    idpPid = idp.pid!;
  });

  after(async () => {
    for (const b of browsers) b.close();
    if (redis.pid !== undefined) process.kill(redis.pid, 'SIGCONT');
    if (idp.exitCode === null && idp.signalCode === null) {
      idp.kill('SIGTERM');
      await exitOf(idp);
    }
    await redis.stop();
  });

  it('answers the login POST of a SAML sign-in with a clear 503 while Redis is stopped, and completes the same sign-in once Redis is back', async () => {
    const b = open();
    const id = `_req-${crypto.randomUUID()}`;
    const sso = await b.get(`/saml/sso?${redirectQuery(authnRequest(id), { relayState: 'rs-1' })}`);
    assert.equal(sso.status, 303);
    const form = await b.get(sso.headers.location!);
    assert.equal(form.status, 200);
    const fields = { csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password', continue: hiddenField(form.text, 'continue')! };
    assert.match(fields.continue, /^\/saml\/continue\//);

    await redis.stop();
    assertClear503(await b.post('/login', fields), 'POST /login with Redis stopped');

    await redis.start();
    await ready();
    // The same form sent again: the session (its CSRF token) and the parked AuthnRequest outlived the restart.
    const retried = await b.post('/login', fields);
    assert.equal(retried.status, 303, retried.text.slice(0, 300));
    assert.equal(retried.headers.location, fields.continue);
    const post = await b.get(fields.continue);
    assert.equal(post.status, 200, post.text.slice(0, 300));
    const xml = Buffer.from(hiddenField(post.text, 'SAMLResponse')!, 'base64').toString('utf8');
    assert.match(xml, new RegExp(`InResponseTo="${id}"`));
    assert.match(xml, /StatusCode Value="urn:oasis:names:tc:SAML:2\.0:status:Success"/);
    assert.equal(hiddenField(post.text, 'RelayState'), 'rs-1');
  });

  it('answers every request on one kept-alive connection while Redis is stopped: 503 where Redis is needed (GET /login too), the rest as usual', async () => {
    const alice = await signedIn();
    await redis.stop();
    const anonymous = open();
    const down: [string, () => Promise<Answer>][] = [
      ['GET /login', () => anonymous.get('/login')],
      ['GET /login signed in', () => alice.get('/login')],
      ['GET / signed in', () => alice.get('/')],
      ['GET /sso/jwt/sp signed in', () => alice.get(SSO)],
      ['GET /saml/sso', () => anonymous.get(`/saml/sso?${redirectQuery(authnRequest(`_req-${crypto.randomUUID()}`))}`)],
      ['POST /saml/sso', () => anonymous.post('/saml/sso', { SAMLRequest: Buffer.from(authnRequest(`_req-${crypto.randomUUID()}`)).toString('base64') })],
      ['GET /saml/idp-init/saml-sp signed in', () => alice.get('/saml/idp-init/saml-sp')],
      ['GET /flows', () => anonymous.get('/flows')],
      ['GET /logout signed in', () => alice.get('/logout')],
    ];
    for (const [what, send] of down) {
      const a = await send();
      assertClear503(a, what);
      if (what === 'GET /login') assert.doesNotMatch(a.text, /name="csrf"/, 'no form whose token could not be kept');
    }
    const notReady = await anonymous.get('/readyz');
    assert.equal(notReady.status, 503);
    assert.match((JSON.parse(notReady.text) as { checks: { redis: string } }).checks.redis, /^redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable \(connect ECONNREFUSED/);
    // What does not need Redis, with or without a session cookie.
    for (const target of ['/healthz', '/static/style.css', '/saml/metadata', '/.well-known/jwks.json', '/debug/decode']) {
      for (const b of [anonymous, alice]) {
        const a = await b.get(target);
        assert.equal(a.status, 200, `${target}: ${a.status}`);
      }
    }
    assert.deepEqual(new Set((await Promise.all([anonymous.get('/healthz'), alice.get('/healthz')])).map((a) => a.socket)), new Set([1]), 'each browser kept its one connection');

    await redis.start();
    await ready();
    const back = await alice.get(SSO);
    assert.equal(back.status, 302, 'the session signed in before the outage still works');
    assert.match(back.headers.location!, /^http:\/\/localhost:9\/consumer\?jwt=/);
    assert.equal((await anonymous.get('/login')).status, 200);
  });

  it('answers 503 within a few seconds while Redis is paused (SIGSTOP), and recovers with the same session on SIGCONT', async () => {
    const alice = await signedIn();
    const anonymous = open();
    const pid = redis.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      assertClear503(await alice.get(SSO), 'GET /sso/jwt/sp with Redis paused');
      const notReady = await anonymous.get('/readyz');
      assert.equal(notReady.status, 503);
      assert.ok(notReady.ms < PROMPT_MS, `/readyz answered in ${Math.round(notReady.ms)} ms`);
      assert.match(notReady.text, /redis at redis:\/\/127\.0\.0\.1:\d+\/? (does not answer|is unreachable)/);
      assertClear503(await anonymous.get('/login'), 'GET /login with Redis paused');
      assertClear503(await alice.get('/'), 'GET / with Redis paused');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await ready();
    const back = await alice.get(SSO);
    assert.equal(back.status, 302);
    assert.match(back.headers.location!, /jwt=/);
  });

  it('was the same IdP process all along, and logged the outages in a few warn lines without errors or stacks', () => {
    assert.equal(idp.exitCode, null, 'the IdP is running');
    assert.equal(idp.signalCode, null);
    assert.equal(idp.pid, idpPid);
    process.kill(idpPid, 0);
    const lines = output.split('\n').filter((l) => l.startsWith('{'));
    const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.deepEqual(records.filter((r) => r.level >= 50), [], 'no error lines');
    const warnings = records.filter((r) => r.level === 40);
    assert.ok(warnings.length >= 3 && warnings.length <= 6, `one warn line per outage (3 of them): ${JSON.stringify(warnings)}`);
    assert.ok(warnings.every((r) => r.msg === 'redis unavailable; reconnecting'), JSON.stringify(warnings));
    assert.doesNotMatch(output, /\n\s+at .*:\d+:\d+/, 'no stack trace in the output');
    assert.doesNotMatch(output, /Unhandled|unhandled/);
  });
});
