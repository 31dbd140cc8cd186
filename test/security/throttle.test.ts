/**
 * Login abuse controls: failed sign-ins throttled per account and per client
 * address, 429 with Retry-After, a configurable lockout, a success that resets the
 * account, counts kept in the store across restarts. The IdP's clock is set by
 * hand, so every Retry-After and every expiry is exact.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import request from 'supertest';
import type { ConfigInput } from '../../src/config/schema.js';
import { DB_FILE } from '../../src/store/db.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, setCookies, type Agent } from '../helpers/http.js';
import { ManualClock, alertText, assertRefused, loginFrom } from './support.js';

const LIMITS = { maxFailuresPerAccount: 5, maxFailuresPerIp: 12, windowSeconds: 600, lockoutSeconds: 120 };
const withLimits = (c: ConfigInput): ConfigInput => ({ ...c, loginThrottle: LIMITS });
const LOCKED = /^Too many failed sign-ins\. Try again in 2 minutes\.$/;

describe('login throttling', () => {
  const clock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp(withLimits, { clock });
  });
  after(() => idp.close());
  // Every test starts with no count anywhere: a day later, every window and lockout is over.
  beforeEach(() => clock.advance(86_400_000));

  async function attempt(email: string, password: string): Promise<request.Response> {
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    return agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email, password });
  }

  async function failTimes(n: number, email: (i: number) => string): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await attempt(email(i), 'wrong-password');
      assert.equal(res.status, 401, `failure ${i + 1} of ${n} is an ordinary 401`);
    }
  }

  function assertLocked(res: request.Response, retryAfter = LIMITS.lockoutSeconds): void {
    assertRefused(res, { status: 429, message: LOCKED, cookies: ['mockidp.sid'] });
    assert.equal(res.headers['retry-after'], String(retryAfter));
    assert.match(res.text, /<form method="post" action="\/login"/, 'the login form is shown again');
  }

  it('locks an account after maxFailuresPerAccount failures, whatever the spelling of its email, even for the right password', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount, (i) => ['alice@example.com', 'ALICE@example.com', ' alice@EXAMPLE.com', '\uff41lice@example.com', 'Alice@Example.Com'][i]!);
    assertLocked(await attempt('alice@example.com', 'alice-password'));
    // Another account from the same address is not affected.
    await login(request.agent(idp.url), 'bob@example.com', 'bob-password');
  });

  it('answers with Retry-After counting down, and lets the account in once the lockout is over', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount, () => 'alice@example.com');
    clock.advance(45_000);
    const res = await attempt('alice@example.com', 'alice-password');
    assertRefused(res, { status: 429, message: /^Too many failed sign-ins\. Try again in 2 minutes\.$/, cookies: ['mockidp.sid'] });
    assert.equal(res.headers['retry-after'], '75');
    clock.advance(74_000);
    assert.equal((await attempt('alice@example.com', 'alice-password')).headers['retry-after'], '1');
    clock.advance(1_000);
    const ok = await attempt('alice@example.com', 'alice-password');
    assert.equal(ok.status, 303, 'the lockout is over');
    assert.ok(setCookies(ok).some((c) => c.startsWith('mockidp.sid=')));
  });

  it('locks an unknown account exactly like a known one (no hint that it does not exist)', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount, () => 'nobody@example.com');
    const unknown = await attempt('nobody@example.com', 'whatever');
    await failTimes(LIMITS.maxFailuresPerAccount, () => 'bob@example.com');
    const known = await attempt('bob@example.com', 'whatever');
    assertLocked(unknown);
    assertLocked(known);
    assert.equal(alertText(unknown.text), alertText(known.text));
  });

  it('resets an account on a successful sign-in', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount - 1, () => 'alice@example.com');
    await login(request.agent(idp.url), 'alice@example.com', 'alice-password');
    await failTimes(LIMITS.maxFailuresPerAccount - 1, () => 'alice@example.com');
    // Without the reset this would be the ninth failure in the window, far past the limit.
    await login(request.agent(idp.url), 'alice@example.com', 'alice-password');
  });

  it('forgets failures older than windowSeconds', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount - 1, () => 'alice@example.com');
    clock.advance(LIMITS.windowSeconds * 1000);
    await failTimes(LIMITS.maxFailuresPerAccount - 1, () => 'alice@example.com');
    await login(request.agent(idp.url), 'alice@example.com', 'alice-password');
  });

  it('locks a client address after maxFailuresPerIp failures spread over many accounts, and only that address', async () => {
    await failTimes(LIMITS.maxFailuresPerIp, (i) => `spray-${i}@example.com`);
    // 127.0.0.1 is locked, even for a right password of an account that never failed.
    assertLocked(await attempt('bob@example.com', 'bob-password'));
    // Another client (source address 127.0.0.2) is not.
    const other = await loginFrom('127.0.0.2', idp.url, 'bob@example.com', 'bob-password');
    assert.equal(other.status, 303, other.text.slice(0, 300));
    clock.advance(LIMITS.lockoutSeconds * 1000);
    await login(request.agent(idp.url), 'bob@example.com', 'bob-password');
  });

  it('does not let a client dodge the address count with X-Forwarded-For (no trusted proxy on an http baseUrl)', async () => {
    for (let i = 0; i < LIMITS.maxFailuresPerIp; i++) {
      const agent = request.agent(idp.url);
      const form = await agent.get('/login').expect(200);
      await agent
        .post('/login')
        .set('X-Forwarded-For', `203.0.113.${i}`)
        .type('form')
        .send({ csrf: csrfFrom(form.text), email: `spoofed-${i}@example.com`, password: 'guess' })
        .expect(401);
    }
    assertLocked(await attempt('bob@example.com', 'bob-password'));
  });

  it('locks an account for every client address', async () => {
    await failTimes(LIMITS.maxFailuresPerAccount, () => 'alice@example.com');
    const res = await loginFrom('127.0.0.2', idp.url, 'alice@example.com', 'alice-password');
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], String(LIMITS.lockoutSeconds));
  });

  it('does not clear an address on a success: one valid account must not unlock unlimited guessing', async () => {
    await failTimes(LIMITS.maxFailuresPerIp - 2, (i) => `spray-${i}@example.com`);
    await login(request.agent(idp.url), 'bob@example.com', 'bob-password');
    await failTimes(2, (i) => `spray-more-${i}@example.com`);
    assertLocked(await attempt('erin@example.com', 'erin-password'));
  });

  it('counts a burst of parallel guesses before hashing: exactly maxFailuresPerAccount get an answer, the rest 429', async () => {
    const agents: { agent: Agent; csrf: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const agent = request.agent(idp.url);
      agents.push({ agent, csrf: csrfFrom((await agent.get('/login').expect(200)).text) });
    }
    const results = await Promise.all(
      agents.map(({ agent, csrf }) => agent.post('/login').type('form').send({ csrf, email: 'alice@example.com', password: 'guess' })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(15).fill(429)]);
  });

  it('does not count requests refused before the password is checked', async () => {
    const agent = request.agent(idp.url);
    const csrf = csrfFrom((await agent.get('/login').expect(200)).text);
    for (let i = 0; i < LIMITS.maxFailuresPerAccount + 2; i++) {
      await agent.post('/login').type('form').send({ csrf, email: 'alice@example.com', password: 'p'.repeat(10 * 1024) }).expect(400);
      await agent.post('/login').type('form').send({ csrf, email: 'alice@example.com' }).expect(400);
      await agent.post('/login').type('form').send({ email: 'alice@example.com', password: 'x' }).expect(403);
      await agent.post('/login').type('form').send({ csrf, email: 'alice\u202e@example.com', password: 'x' }).expect(400);
    }
    await login(request.agent(idp.url), 'alice@example.com', 'alice-password');
  });

  it('keeps the counts in the store: a restarted IdP still refuses a locked account', async () => {
    const dataIdp = await startTestIdp(withLimits, { clock });
    const ports: [number, number] = [dataIdp.running.idpPort, dataIdp.running.demoPort!];
    const guess = async (url: string) => {
      const agent = request.agent(url);
      const form = await agent.get('/login').expect(200);
      return agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'guess' });
    };
    for (let i = 0; i < LIMITS.maxFailuresPerAccount; i++) assert.equal((await guess(dataIdp.url)).status, 401);
    await dataIdp.close();
    const restarted = await startTestIdp(withLimits, { clock, dataDir: dataIdp.dataDir, ports });
    try {
      const res = await guess(restarted.url);
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], String(LIMITS.lockoutSeconds));
    } finally {
      await restarted.close();
    }
  });

  it('waits for another process writing to the store instead of failing (a sign-in during `mock-idp users add`)', async () => {
    // Another process takes the store's write lock, writes, and commits a second later.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = require('better-sqlite3')(process.argv[1]); db.pragma('busy_timeout = 5000');
         db.prepare('BEGIN IMMEDIATE').run();
         db.prepare("INSERT INTO kv (key, value) VALUES ('lock-holder', 'x') ON CONFLICT(key) DO UPDATE SET value = 'y'").run();
         process.stdout.write('locked\\n');
         setTimeout(() => { db.prepare('COMMIT').run(); db.close(); }, 1000);`,
        path.join(idp.dataDir, DB_FILE),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => holder.once('exit', r));
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      holder.once('exit', () => reject(new Error('the lock holder exited before locking')));
    });
    // Counting this failed attempt is a read-then-write transaction on the store while the other process holds it.
    const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'wrong-password' });
    assert.equal(res.status, 401, res.text.slice(0, 300));
    await exited;
    await login(request.agent(idp.url), 'alice@example.com', 'alice-password');
  });

  it('can be turned off', async () => {
    const open = await startTestIdp((c) => ({ ...c, loginThrottle: { enabled: false } }), { clock });
    try {
      for (let i = 0; i < 12; i++) {
        const agent = request.agent(open.url);
        const form = await agent.get('/login').expect(200);
        await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'guess' }).expect(401);
      }
      await login(request.agent(open.url), 'alice@example.com', 'alice-password');
    } finally {
      await open.close();
    }
  });
});
