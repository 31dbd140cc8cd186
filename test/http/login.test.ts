import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, setCookies } from '../helpers/http.js';

describe('login, sessions and logout', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  it('sets an HttpOnly, SameSite=Lax session cookie and changes the session id at login', async () => {
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    const before = setCookies(form).find((c) => c.startsWith('mockidp.sid='));
    assert.ok(before, 'the form creates a session for its CSRF token');
    assert.match(before, /HttpOnly/);
    assert.match(before, /SameSite=Lax/);
    assert.doesNotMatch(before, /Secure/, 'not Secure on an http baseUrl');
    const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password' }).expect(303);
    const after = setCookies(res).find((c) => c.startsWith('mockidp.sid='));
    assert.ok(after);
    assert.notEqual(after.split(';')[0], before.split(';')[0], 'a new session id after login');
    assert.equal(res.headers.location, '/');
    const home = await agent.get('/').expect(200);
    assert.match(home.text, /Alice Agent/);
  });

  it('answers a wrong password and an unknown user with the same 401 message', async () => {
    const wrong = await login(request.agent(idp.url), 'alice@example.com', 'nope', '', 401);
    const unknown = await login(request.agent(idp.url), 'nobody@example.com', 'nope', '', 401);
    const msg = (t: string) => /<p class="error" role="alert">([^<]+)<\/p>/.exec(t)?.[1];
    assert.equal(msg(wrong.text), 'Incorrect email or password.');
    assert.equal(msg(unknown.text), msg(wrong.text));
    assert.equal(setCookies(wrong).filter((c) => c.startsWith('mockidp.sid=')).length, 0, 'no new session');
  });

  it('compares emails case-insensitively after NFKC normalization', async () => {
    await login(request.agent(idp.url), '  ALICE@Example.COM ', 'alice-password');
    // U+FF41 (fullwidth a) normalizes to "a" under NFKC.
    await login(request.agent(idp.url), '\uff41lice@example.com', 'alice-password');
  });

  it('refuses a disabled user even with the right password', async () => {
    const res = await login(request.agent(idp.url), 'dave@example.com', 'dave-password', '', 401);
    assert.match(res.text, /This account is disabled/);
  });

  it('refuses a POST without the CSRF token, or with a wrong one', async () => {
    const agent = request.agent(idp.url);
    await agent.get('/login').expect(200);
    const missing = await agent.post('/login').type('form').send({ email: 'alice@example.com', password: 'alice-password' }).expect(403);
    assert.match(missing.text, /The form has expired or was not sent from this site/);
    await agent.post('/login').type('form').send({ csrf: 'x'.repeat(32), email: 'alice@example.com', password: 'alice-password' }).expect(403);
    await agent.get('/').expect(303);
  });

  it('refuses a cross-site form POST', async () => {
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    await agent
      .post('/login')
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password' })
      .expect(403);
  });

  it('asks for missing fields and ignores non-string fields', async () => {
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    const csrf = csrfFrom(form.text);
    const res = await agent.post('/login').type('form').send(`csrf=${csrf}&email[$ne]=x&password=alice-password`).expect(400);
    assert.match(res.text, /Enter your email and password/);
    await agent.post('/login').type('form').send({ csrf, email: 'alice@example.com' }).expect(400);
  });

  it('refuses an overlong password before hashing it and a too large body with 413', async () => {
    const agent = request.agent(idp.url);
    const form = await agent.get('/login').expect(200);
    const csrf = csrfFrom(form.text);
    const long = await agent.post('/login').type('form').send({ csrf, email: 'alice@example.com', password: 'a'.repeat(10_000) }).expect(400);
    assert.match(long.text, /too long/);
    const huge = await agent.post('/login').type('form').send({ csrf, email: 'alice@example.com', password: 'a'.repeat(1_000_000) }).expect(413);
    assert.match(huge.text, /The request body is too large/);
    assert.doesNotMatch(huge.text, /at .*node_modules/);
  });

  it('continues only to local paths after login', async () => {
    const agent = request.agent(idp.url);
    const res = await login(agent, 'alice@example.com', 'alice-password', '//evil.example/x');
    assert.equal(res.headers.location, '/');
    const res2 = await login(request.agent(idp.url), 'alice@example.com', 'alice-password', '/\\evil.example');
    assert.equal(res2.headers.location, '/');
  });

  it('ends the session with POST /logout', async () => {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const home = await agent.get('/').expect(200);
    const out = await agent.post('/logout').type('form').send({ csrf: csrfFrom(home.text) }).expect(303);
    assert.equal(out.headers.location, '/signed-out');
    assert.match((await agent.get('/signed-out').expect(200)).text, /You are signed out/);
    await agent.get('/').expect(303);
  });

  it('sends the browser to a registered logoutUrl only on GET /logout', async () => {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const bad = await agent.get(`/logout?redirect_url=${encodeURIComponent('https://evil.example/')}`).expect(400);
    assert.match(bad.text, /not the logoutUrl of any registered service provider/);
    await agent.get('/').expect(200);
    const ok = await agent.get(`/logout?redirect_url=${encodeURIComponent(`${idp.spUrl}/`)}`).expect(303);
    assert.equal(ok.headers.location, `${idp.spUrl}/`);
    await agent.get('/').expect(303);
  });

  it('keeps sessions across a restart (they live in SQLite, not in memory)', async () => {
    const first = await startTestIdp();
    const agent = request.agent(first.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const ports: [number, number] = [first.running.idpPort, first.running.demoPort!];
    await first.close();
    const second = await startTestIdp((c) => c, { dataDir: first.dataDir, ports });
    try {
      const home = await agent.get('/').expect(200);
      assert.match(home.text, /Alice Agent/);
    } finally {
      await second.close();
    }
  });

  it('signs out a user disabled since they signed in', async () => {
    const first = await startTestIdp();
    const agent = request.agent(first.url);
    await login(agent, 'bob@example.com', 'bob-password');
    const ports: [number, number] = [first.running.idpPort, first.running.demoPort!];
    await first.close();
    const second = await startTestIdp(
      (c) => ({ ...c, users: c.users!.map((u) => (u.email === 'bob@example.com' ? { ...u, disabled: true } : u)) }),
      { dataDir: first.dataDir, ports },
    );
    try {
      await agent.get('/').expect(303);
    } finally {
      await second.close();
    }
  });

  it('renders unknown paths as a 404 page, or JSON when asked', async () => {
    const html = await request(idp.url).get('/nope').expect(404);
    assert.match(html.text, /There is nothing at \/nope/);
    const json = await request(idp.url).get('/nope').set('Accept', 'application/json').expect(404);
    assert.equal(json.body.error, 'not_found');
    assert.ok(json.body.requestId);
  });

  it('answers /healthz', async () => {
    const res = await request(idp.url).get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('sends security headers: CSP without inline script, framing limited to registered origins', async () => {
    const res = await request(idp.url).get('/login').expect(200);
    const csp = res.headers['content-security-policy'] as string;
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, new RegExp(`frame-ancestors 'self' ${idp.spUrl}`));
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cache-control'], 'no-store');
  });
});

describe('the user picker and the login throttle', () => {
  it('refuses to pick an account locked by wrong passwords: 429 with Retry-After and the password form message', async () => {
    const idp = await startTestIdp((c) => ({ ...c, showUserPicker: true, loginThrottle: { maxFailuresPerAccount: 3, maxFailuresPerIp: 1000, windowSeconds: 600, lockoutSeconds: 120 } }));
    try {
      for (let i = 0; i < 3; i++) await login(request.agent(idp.url), 'bob@example.com', 'wrong', '', 401);
      const typed = await login(request.agent(idp.url), 'bob@example.com', 'bob-password', '', 429);
      const msg = (t: string) => /<p class="error" role="alert">([^<]+)<\/p>/.exec(t)?.[1];
      const agent = request.agent(idp.url);
      const form = await agent.get('/login').expect(200);
      const picked = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), pick: 'bob@example.com', continue: '' }).expect(429);
      assert.equal(msg(picked.text), 'Too many failed sign-ins. Try again in 2 minutes.');
      assert.equal(msg(picked.text), msg(typed.text), 'the same message as the password form');
      assert.equal(picked.headers['retry-after'], '120');
      await agent.get('/').expect(303);
      // Another account is not locked: the picker signs it in.
      await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), pick: 'alice@example.com', continue: '' }).expect(303);
    } finally {
      await idp.close();
    }
  });
});
