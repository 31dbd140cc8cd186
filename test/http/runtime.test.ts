import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import request from 'supertest';
import { createIdp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { HS_SECRET, demoLikeConfig, freePort, startTestIdp, tempDir } from '../helpers/idp.js';
import { csrfFrom, hiddenField, jwtFromLocation, login } from '../helpers/http.js';

function collector(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const text = () => chunks.join('');
  return { stream, text, lines: () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('runtime behaviour', () => {
  it('logs one line per request with a request id, and never a password, secret, token signature or private key', async () => {
    const log = collector();
    const idp = await startTestIdp((c) => c, { logger: createLogger({ level: 'info', destination: log.stream }) });
    const secrets: string[] = [HS_SECRET, 'alice-password', 'wrong-password-123'];
    try {
      const agent = request.agent(idp.url);
      await login(agent, 'alice@example.com', 'wrong-password-123', '', 401);
      await login(agent, 'alice@example.com', 'alice-password');
      const consumer = `${idp.spUrl}/sso/jwt/consumer?relayState=%2Fagent`;
      const sso = await agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
      const token = jwtFromLocation(sso.headers.location);
      secrets.push(token.split('.')[2]!);
      const desk = await agent.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
      secrets.push(hiddenField(desk.text, 'jwt')!.split('.')[2]!);
      const widget = await agent.get('/sso/token/desk').expect(200);
      secrets.push((widget.body.token as string).split('.')[2]!);
      // A token in a query string of ours is redacted, too.
      await agent.get(`/nope?jwt=${token}`).expect(404);
      const home = await agent.get('/').expect(200);
      await agent.post('/logout').type('form').send({ csrf: csrfFrom(home.text) }).expect(303);
      secrets.push(csrfFrom(home.text));
      const cookie = (sso.request as unknown as { cookies?: string }).cookies;
      if (cookie) secrets.push(cookie);
    } finally {
      await idp.close();
    }
    await new Promise((r) => setImmediate(r));
    const lines = log.lines();
    const requests = lines.filter((l) => l.msg === 'request completed');
    assert.ok(requests.length >= 10, `a line per request (${requests.length})`);
    for (const line of requests) {
      const req = line.req as { id: string; url: string };
      assert.match(req.id, /^[0-9a-f-]{36}$/);
      assert.equal(typeof (line.res as { statusCode: number }).statusCode, 'number');
    }
    assert.ok(requests.some((l) => (l.req as { url: string }).url === '/nope?jwt=%5Bredacted%5D'));
    const text = log.text();
    for (const s of secrets) assert.ok(!text.includes(s), `the log does not contain ${s.slice(0, 12)}…`);
    assert.doesNotMatch(text, /PRIVATE KEY|mockidp\.sid=/);
  });

  it('shows the request id of a failed request on its error page', async () => {
    const idp = await startTestIdp();
    try {
      const res = await request(idp.url).get('/sso/jwt/comm100').expect(400);
      const id = res.headers['x-request-id'] as string;
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.ok(res.text.includes(id));
    } finally {
      await idp.close();
    }
  });

  it('signs a config user in before the server has hashed their password, and /readyz says it is pending', async () => {
    const config = resolveConfig(demoLikeConfig(await freePort(), await freePort(), tempDir()), { source: 'test config', baseDir: process.cwd() });
    // An app that no server listens with: nothing has started the hashing (startAll does once it listens).
    const idp = await createIdp(config, { logger: silentLogger });
    try {
      const pending = await request(idp.handler).get('/readyz').expect(503);
      assert.equal(pending.body.checks.users, 'hashing or checking the passwords of 5 config user(s)');
      assert.equal(idp.context.users.find('bob@example.com')?.name, 'Bob Builder', 'the users are in the store at once');
      await login(request.agent(idp.handler), 'bob@example.com', 'bob-password');
      await login(request.agent(idp.handler), 'alice@example.com', 'wrong-password', '', 401);
      await idp.context.users.hashConfigPasswords();
      const ready = await request(idp.handler).get('/readyz').expect(200);
      assert.equal(ready.body.checks.users, 'ok');
    } finally {
      await idp.close();
    }
  });

  it('answers /readyz when the store, keys and config users are ready, and 503 when the store is gone', async () => {
    const idp = await startTestIdp();
    try {
      await idp.running.idp.context.users.hashConfigPasswords();
      const ok = await request(idp.url).get('/readyz').expect(200);
      assert.deepEqual(ok.body, { status: 'ready', checks: { store: 'ok', keys: 'ok', users: 'ok' } });
      idp.running.idp.context.db.close();
      const down = await request(idp.url).get('/readyz').expect(503);
      assert.equal(down.body.checks.store, 'the SQLite store does not answer');
      await request(idp.url).get('/healthz').expect(200);
    } finally {
      await idp.running.idpServer.close();
      await idp.running.demoServer?.close();
    }
  });
});
