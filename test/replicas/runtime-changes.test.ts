/**
 * Run-time changes on every replica: real IdP processes (each its own data
 * directory) share one real redis-server. A user added, disabled or deleted
 * through the control API on one replica, an SP added on another, a user added
 * with `mock-idp users add`, and POST /api/reset: each is seen on every replica
 * within a second, and by a replica started after them. With Redis away, a
 * change is a 503 and nothing changes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { tempDir } from '../helpers/idp.js';
import { jwtFromLocation, login } from '../helpers/http.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { exitOf, waitForOutput } from '../cli/process.js';
import { startReplica, stopChild, type Replica } from '../helpers/replicas.js';

const TOKEN = 'replicas-admin-token-0123456789';
const SECRET = 'replica-shared-secret-0123456789';
const CONSUMER = 'http://localhost:9/consumer';

/** Polls until `check` resolves; fails with its last error after `withinMs`. */
async function within(withinMs: number, check: () => Promise<unknown>): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('run-time changes on every replica', () => {
  const dir = tempDir('mock-idp-runtime-');
  const config = path.join(dir, 'idp.yaml');
  let redis: TestRedis;
  const started: ChildProcess[] = [];
  let a: Replica;
  let b: Replica;

  const env = (name: string) => ({ ...process.env, DATA_DIR: path.join(dir, `data-${name}`), REDIS_URL: redis.url, LOG_LEVEL: 'warn' });

  async function replica(name: string): Promise<Replica> {
    const r = await startReplica(name, config, env(name));
    started.push(r.child);
    return r;
  }

  const api = (r: Replica, method: 'get' | 'post' | 'patch' | 'put' | 'delete', url: string) => request(r.url)[method](url).set('Authorization', `Bearer ${TOKEN}`);

  /** Signs in on a replica and returns the token it sends to an SP (verified with `secret`). */
  async function tokenFrom(r: Replica, email: string, password: string, sp: string, secret: string) {
    const agent = request.agent(r.url);
    await login(agent, email, password);
    const res = await agent.get(`/sso/jwt/${sp}?redirect_url=${encodeURIComponent(CONSUMER)}`).expect(302);
    const { payload } = await jwtVerify(jwtFromLocation(res.headers.location), new TextEncoder().encode(secret), { algorithms: ['HS256'] });
    return payload;
  }

  before(async () => {
    redis = await startTestRedis();
    fs.writeFileSync(
      config,
      `host: 127.0.0.1
passwordHashCost: 10
store: redis
adminToken: ${TOKEN}
sessionSecret: "the-same-session-secret-on-every-replica"
users:
  - { email: alice@example.com, password: alice-password, name: Alice }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "${CONSUMER}" ], secret: "${SECRET}", audience: sp }
`,
    );
    [a, b] = await Promise.all([replica('a'), replica('b')]);
  });

  after(async () => {
    await Promise.all(started.map(stopChild));
    await redis?.stop();
  });

  it('shows users and SPs changed on one replica on the others within a second, at the start of a new one, and until a reset', async () => {
    await api(a, 'post', '/api/users').send({ email: 'bob@example.com', password: 'bob-password', name: 'Bob' }).expect(201);
    await within(1_000, () => api(b, 'get', '/api/users/bob@example.com').expect(200));
    assert.equal((await tokenFrom(b, 'bob@example.com', 'bob-password', 'sp', SECRET)).email, 'bob@example.com', 'signs in on the other replica');

    await api(b, 'patch', '/api/users/bob@example.com').send({ disabled: true }).expect(200);
    await within(1_000, async () => assert.equal((await api(a, 'get', '/api/users/bob@example.com').expect(200)).body.disabled, true));
    const refused = await login(request.agent(a.url), 'bob@example.com', 'bob-password', '', 401);
    assert.match(refused.text, /This account is disabled/);

    await api(a, 'delete', '/api/users/bob@example.com').expect(204);
    await within(1_000, () => api(b, 'get', '/api/users/bob@example.com').expect(404));

    // No secret given: the one B generates (and shows once) is the one A signs with.
    const added = await api(b, 'post', '/api/service-providers').send({ id: 'added', jwt: { redirectUrls: [CONSUMER], audience: 'added' } }).expect(201);
    const generated = added.body.generatedSecret as string;
    assert.ok(generated, 'B generated a secret');
    await within(1_000, () => api(a, 'get', '/api/service-providers/added').expect(200));
    assert.equal((await tokenFrom(a, 'alice@example.com', 'alice-password', 'added', generated)).aud, 'added');

    const cli = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'users', 'add', '--config', config, '--email', 'cli@example.com', '--password', 'cli-password'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env('cli'),
    });
    started.push(cli);
    const [out, code] = await Promise.all([waitForOutput(cli, /added cli@example\.com/), exitOf(cli)]);
    assert.equal(code, 0, out);
    await within(1_000, () => api(a, 'get', '/api/users/cli@example.com').expect(200));
    assert.equal((await tokenFrom(a, 'cli@example.com', 'cli-password', 'sp', SECRET)).email, 'cli@example.com', 'a user added from the command line signs in on a running replica');

    const c = await replica('c');
    const users = (await api(c, 'get', '/api/users').expect(200)).body.users as { email: string }[];
    assert.deepEqual(users.map((u) => u.email).sort(), ['alice@example.com', 'cli@example.com'], 'a replica started later has the changes (bob deleted, cli added)');
    assert.equal((await tokenFrom(c, 'alice@example.com', 'alice-password', 'added', generated)).aud, 'added', 'and the SP, with its generated secret');

    await api(a, 'post', '/api/reset').expect(204);
    for (const r of [b, c]) {
      await within(1_000, async () => {
        const listed = (await api(r, 'get', '/api/users').expect(200)).body.users as { email: string }[];
        assert.deepEqual(listed.map((u) => u.email), ['alice@example.com']);
      });
      const sps = (await api(r, 'get', '/api/service-providers').expect(200)).body.serviceProviders as { id: string }[];
      assert.deepEqual(sps.map((sp) => sp.id), ['sp'], 'back to the config file\'s SPs');
    }

    await redis.stop();
    const down = await api(a, 'post', '/api/users').send({ email: 'dave@example.com', password: 'dave-password' }).expect(503);
    assert.equal(down.body.error, 'service_unavailable');
    await api(a, 'get', '/api/users/dave@example.com').expect(404);
  });
});
