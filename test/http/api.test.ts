import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, jwtFromLocation } from '../helpers/http.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';

const TOKEN = 'an-admin-token-for-the-tests';

describe('the control API', () => {
  let idp: TestIdp;
  const api = (method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string) => request(idp.url)[method](path).set('Authorization', `Bearer ${TOKEN}`);

  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, adminToken: TOKEN }));
  });
  after(() => idp.close());

  it('is off without adminToken', async () => {
    const off = await startTestIdp();
    try {
      const res = await request(off.url).get('/api/users').set('Authorization', `Bearer ${TOKEN}`).expect(404);
      assert.match(res.body.message, /The control API is off: set adminToken/);
    } finally {
      await off.close();
    }
  });

  it('answers 401 unauthorized without the bearer token or with a wrong one', async () => {
    const none = await request(idp.url).get('/api/users').expect(401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="mock-idp"');
    assert.deepEqual(Object.keys(none.body).sort(), ['error', 'message', 'requestId']);
    assert.equal(none.body.error, 'unauthorized');
    assert.equal(none.body.message, 'Send Authorization: Bearer <adminToken>.');
    const wrong = await request(idp.url).get('/api/users').set('Authorization', `Bearer ${TOKEN}x`).expect(401);
    assert.equal(wrong.body.error, 'unauthorized', 'not not_signed_in: that one is for a browser without an IdP session');
    assert.equal(wrong.body.message, 'The bearer token is not the adminToken.');
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="mock-idp"');
    const basic = await request(idp.url).get('/api/users').set('Authorization', `Basic ${TOKEN}`).expect(401);
    assert.equal(basic.body.error, 'unauthorized');
    await request(idp.url).post('/api/reset').expect(401);
    assert.ok(idp.running.idp.context.users.find('alice@example.com'), 'nothing was reset');
  });

  it('lists, creates, changes and deletes users, and the changes take effect', async () => {
    const list = await api('get', '/api/users').expect(200);
    assert.ok((list.body.users as { email: string }[]).some((u) => u.email === 'alice@example.com'));
    assert.ok(!JSON.stringify(list.body).includes('password'), 'no password or hash in the answer');

    const created = await api('post', '/api/users').send({ email: 'new@example.com', password: 'new-password', name: 'New', attributes: { siteId: '5' } }).expect(201);
    assert.deepEqual(created.body, { email: 'new@example.com', name: 'New', attributes: { siteId: '5' }, disabled: false });
    await api('post', '/api/users').send({ email: 'NEW@example.com', password: 'x' }).expect(409);

    const agent = request.agent(idp.url);
    const form = await agent.get('/login');
    await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'new@example.com', password: 'new-password' }).expect(303);

    const patched = await api('patch', '/api/users/new@example.com').send({ disabled: true }).expect(200);
    assert.equal(patched.body.disabled, true);
    await agent.get('/').expect(303); // signed out: the user is disabled now
    await api('delete', '/api/users/new@example.com').expect(204);
    await api('get', '/api/users/new@example.com').expect(404);
  });

  it('answers a bad body with a 400 that names the field', async () => {
    const bad = await api('post', '/api/users').send({ email: 'x@example.com', password: 5, extra: 1 }).expect(400);
    assert.equal(bad.body.error, 'bad_request');
    assert.match(bad.body.message, /password: Invalid input: expected string, received number/);
    assert.match(bad.body.message, /extra: unknown key/);
    const patch = await api('patch', '/api/users/alice@example.com').send({ disabled: 'yes' }).expect(400);
    assert.match(patch.body.message, /disabled: Invalid input: expected boolean/);
    const sp = await api('post', '/api/service-providers').send({ id: 'x', jwt: { redirectUrls: ['javascript:alert(1)'], algorithm: 'HS512' } }).expect(400);
    assert.match(sp.body.message, /jwt\.redirectUrls\[0\]: must be an absolute http\(s\) URL/);
    assert.match(sp.body.message, /jwt\.algorithm: Invalid option/);
    const notJson = await api('post', '/api/users').set('Content-Type', 'application/json').send('{"email":').expect(400);
    assert.equal(notJson.body.error, 'bad_request');
  });

  it('registers a service provider at run time: SSO works at once with the generated secret, then changes and goes away', async () => {
    const consumer = 'https://runtime.example.test/sso/jwt/consumer';
    const created = await api('post', '/api/service-providers').send({ id: 'runtime', name: 'Runtime SP', jwt: { redirectUrls: [consumer] } }).expect(201);
    const secret = created.body.generatedSecret as string;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await api('get', '/api/service-providers/runtime').expect(200)).body.generatedSecret, undefined, 'shown once');

    const session = await api('post', '/api/sessions').send({ email: 'alice@example.com' }).expect(201);
    const sso = `/sso/jwt/runtime?redirect_url=${encodeURIComponent(consumer)}`;
    const res = await request(idp.url).get(sso).set('Cookie', session.body.cookieHeader).expect(302);
    assert.match(res.headers['content-security-policy'] as string, /form-action 'self' [^;]*https:\/\/runtime\.example\.test/);
    await jwtVerify(jwtFromLocation(res.headers.location), new TextEncoder().encode(secret), { algorithms: ['HS256'], audience: 'runtime' });

    await api('put', '/api/service-providers/runtime').send({ jwt: { redirectUrls: [consumer], secret: 'a-new-runtime-secret-0123', audience: 'changed' } }).expect(200);
    const again = await request(idp.url).get(sso).set('Cookie', session.body.cookieHeader).expect(302);
    await jwtVerify(jwtFromLocation(again.headers.location), new TextEncoder().encode('a-new-runtime-secret-0123'), { algorithms: ['HS256'], audience: 'changed' });
    const listed = await api('get', '/api/service-providers').expect(200);
    assert.equal((listed.body.serviceProviders as { id: string; jwt?: { secret?: string } }[]).find((s) => s.id === 'runtime')!.jwt!.secret, '********');

    await api('delete', '/api/service-providers/runtime').expect(204);
    await request(idp.url).get(sso).set('Cookie', session.body.cookieHeader).expect(404);
    await api('put', '/api/service-providers/nope').send({ jwt: { redirectUrls: [consumer] } }).expect(404);
  });

  it('mints tokens and SAML responses for an SP and a user', async () => {
    const minted = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'bob@example.com', claims: { siteId: '42', name: null } }).expect(201);
    const { payload } = await jwtVerify(minted.body.token as string, new TextEncoder().encode(HS_SECRET), { algorithms: ['HS256'], audience: 'Comm100', issuer: 'jwt server' });
    assert.equal(payload.email, 'bob@example.com');
    assert.equal(payload.siteId, '42');
    assert.equal(payload.name, undefined);
    const unknown = await api('post', '/api/tokens').send({ sp: 'nope', user: 'bob@example.com' }).expect(404);
    assert.match(unknown.body.message, /There is no service provider "nope" \(known: comm100, desk, es/);

    await api('post', '/api/service-providers').send({ id: 'saml-api', saml: { entityId: 'saml-api', acsUrls: ['https://saml-api.example.test/acs'] } }).expect(201);
    const saml = await api('post', '/api/saml/responses').send({ sp: 'saml-api', user: 'alice@example.com', inResponseTo: '_req1' }).expect(201);
    assert.equal(saml.body.acsUrl, 'https://saml-api.example.test/acs');
    const xml = Buffer.from(saml.body.samlResponse as string, 'base64').toString();
    assert.equal(xml, saml.body.xml);
    assert.match(xml, /InResponseTo="_req1"/);
    const verified = await xmlsecVerify(xml, { certificatePem: idp.running.idp.context.keystore.saml.certificatePem, mode: 'configured-key', signatureOf: 'Assertion' });
    assert.ok(verified.ok, verified.stderr);
    await api('delete', '/api/service-providers/saml-api').expect(204);
  });

  it('injects faults through the API and lists every flow at /api/events', async () => {
    const minted = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', faults: ['wrong-audience'] }).expect(201);
    assert.equal(minted.body.claims.aud, 'urn:mock-idp:fault:wrong-audience');
    await assert.rejects(jwtVerify(minted.body.token as string, new TextEncoder().encode(HS_SECRET), { audience: 'Comm100' }), /unexpected "aud" claim value/);
    const bad = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', faults: 'expird' }).expect(400);
    assert.match(bad.body.message, /Unknown JWT fault "expird"\. Did you mean "expired"\?/);
    const events = await api('get', '/api/events?limit=5&sp=comm100').expect(200);
    const latest = events.body.events[0] as { sp: { id: string }; protocol: string; faults: string[] };
    assert.equal(latest.sp.id, 'comm100');
    assert.equal(latest.protocol, 'jwt');
    assert.deepEqual(latest.faults, ['wrong-audience']);
    assert.ok(!JSON.stringify(events.body).includes(HS_SECRET), 'no secret in the history');
    await api('get', '/api/events?limit=zero').expect(400);
  });

  it('takes the faults as "fault" too, the spelling the README and the sign-in URLs use, a string or a list', async () => {
    const expired = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', fault: 'expired' }).expect(201);
    await assert.rejects(jwtVerify(expired.body.token as string, new TextEncoder().encode(HS_SECRET), { audience: 'Comm100' }), /"exp" claim timestamp check failed/);
    const two = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', fault: ['wrong-audience', 'missing-jti'] }).expect(201);
    assert.equal(two.body.claims.aud, 'urn:mock-idp:fault:wrong-audience');
    assert.equal(two.body.claims.jti, undefined);

    const both = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', fault: 'expired', faults: ['expired'] }).expect(400);
    assert.equal(both.body.error, 'bad_request');
    assert.match(both.body.message, /Give the faults as either "fault" or "faults", not both/);
    const unknown = await api('post', '/api/tokens').send({ sp: 'comm100', user: 'alice@example.com', fault: 'expird' }).expect(400);
    assert.match(unknown.body.message, /Unknown JWT fault "expird"\. Did you mean "expired"\?/);

    await api('post', '/api/service-providers').send({ id: 'saml-fault', saml: { entityId: 'saml-fault', acsUrls: ['https://saml-fault.example.test/acs'] } }).expect(201);
    try {
      const saml = await api('post', '/api/saml/responses').send({ sp: 'saml-fault', user: 'alice@example.com', fault: 'unsigned' }).expect(201);
      assert.deepEqual(saml.body.faults, ['unsigned']);
      assert.doesNotMatch(saml.body.xml as string, /<ds:Signature/);
      const samlBoth = await api('post', '/api/saml/responses').send({ sp: 'saml-fault', user: 'alice@example.com', fault: 'unsigned', faults: 'expired' }).expect(400);
      assert.match(samlBoth.body.message, /not both/);
    } finally {
      await api('delete', '/api/service-providers/saml-fault').expect(204);
    }
  });

  it('documents both spellings of the faults in the OpenAPI request schemas', async () => {
    const { body } = await request(idp.url).get('/api/openapi.json').expect(200);
    for (const name of ['TokenRequest', 'SamlResponseRequest']) {
      const props = body.components.schemas[name].properties as Record<string, { description: string }>;
      assert.ok(props.faults && props.fault, name);
      assert.match(props.faults.description, /expired/);
    }
    assert.match(body.components.schemas.TokenRequest.properties.faults.description, /clock-skew=<seconds>/);
    assert.match(body.components.schemas.SamlResponseRequest.properties.faults.description, /signature-wrapping/);
  });

  it('resets to the config file and keeps changes across a restart until then', async () => {
    await api('post', '/api/users').send({ email: 'keep@example.com', password: 'pw' }).expect(201);
    await api('post', '/api/service-providers').send({ id: 'kept', jwt: { redirectUrls: ['https://kept.example.test/c'], secret: 'kept-secret-0123456789' } }).expect(201);
    const ports: [number, number] = [idp.running.idpPort, idp.running.demoPort!];
    await idp.close();
    idp = await startTestIdp((c) => ({ ...c, adminToken: TOKEN }), { dataDir: idp.dataDir, ports });
    assert.ok((await api('get', '/api/users/keep@example.com').expect(200)).body);
    await api('get', '/api/service-providers/kept').expect(200);

    await api('post', '/api/reset').expect(204);
    await api('get', '/api/users/keep@example.com').expect(404);
    await api('get', '/api/service-providers/kept').expect(404);
    await api('get', '/api/service-providers/comm100').expect(200);
  });

  it('describes itself in an OpenAPI document', async () => {
    const res = await request(idp.url).get('/api/openapi.json').expect(200);
    assert.equal(res.body.openapi, '3.1.0');
    for (const path of ['/api/users', '/api/users/{email}', '/api/service-providers', '/api/service-providers/{id}', '/api/tokens', '/api/saml/responses', '/api/sessions', '/api/reset', '/api/events']) {
      assert.ok(res.body.paths[path], path);
    }
    assert.deepEqual(res.body.components.schemas.User.required.sort(), ['email', 'password']);
  });
});

describe('headless sign-in and the user picker', () => {
  it('refuses login_hint unless allowLoginHint is on, saying how to turn it on (as fault= without allowFaults)', async () => {
    const idp = await startTestIdp();
    try {
      const consumer = `${idp.spUrl}/sso/jwt/consumer`;
      const res = await request(idp.url).get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}&login_hint=alice@example.com`).expect(400);
      assert.match(res.text, /login_hint parameter is refused\. Set allowLoginHint: true in the IdP config/);
      const plain = await request(idp.url).get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(303);
      assert.match(plain.headers.location as string, /^\/login\?continue=/);
    } finally {
      await idp.close();
    }
  });

  it('signs the hinted user in without the form with allowLoginHint, for JWT and SAML', async () => {
    const idp = await startTestIdp((c) => ({
      ...c,
      allowLoginHint: true,
      serviceProviders: [...c.serviceProviders!, { id: 'saml-hint', saml: { entityId: 'saml-hint', acsUrls: ['https://hint.example.test/acs'] } }],
    }));
    try {
      const consumer = `${idp.spUrl}/sso/jwt/consumer`;
      const res = await request(idp.url).get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}&login_hint=BOB@example.com`).expect(302);
      const { payload } = await jwtVerify(jwtFromLocation(res.headers.location), new TextEncoder().encode(HS_SECRET), { algorithms: ['HS256'] });
      assert.equal(payload.email, 'bob@example.com');
      const disabled = await request(idp.url).get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}&login_hint=dave@example.com`).expect(400);
      assert.match(disabled.text, /login_hint does not name an active user/);

      const saml = await request(idp.url).get('/saml/idp-init/saml-hint?login_hint=alice@example.com');
      assert.equal(saml.status, 303, 'IdP-initiated SSO takes no hint: it needs a session');
    } finally {
      await idp.close();
    }
  });

  it('lists the users on the login form with showUserPicker, and a click signs one in', async () => {
    const idp = await startTestIdp((c) => ({ ...c, showUserPicker: true }));
    try {
      const agent = request.agent(idp.url);
      const form = await agent.get('/login').expect(200);
      const picks = [...form.text.matchAll(/name="pick" value="([^"]+)"/g)].map((m) => m[1]);
      assert.deepEqual(picks, ['alice@example.com', 'bob@example.com', 'carol@example.com', 'erin@example.com'], 'disabled users are not listed');
      await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), pick: 'bob@example.com', continue: '' }).expect(303);
      assert.match((await agent.get('/').expect(200)).text, /Bob Builder/);
      const bad = request.agent(idp.url);
      const f2 = await bad.get('/login');
      await bad.post('/login').type('form').send({ csrf: csrfFrom(f2.text), pick: 'dave@example.com' }).expect(400);
    } finally {
      await idp.close();
    }
  });

  it('refuses a pick when the picker is off', async () => {
    const idp = await startTestIdp();
    try {
      const agent = request.agent(idp.url);
      const form = await agent.get('/login').expect(200);
      assert.doesNotMatch(form.text, /name="pick"/);
      const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), pick: 'alice@example.com' }).expect(400);
      assert.match(res.text, /The user picker is off/);
      await agent.get('/').expect(303);
    } finally {
      await idp.close();
    }
  });
});
