/**
 * POST /api/keys/rotate on a running IdP: what signs changes at once (JWT through
 * the routes and the fast path, SAML Responses), what is published keeps the
 * retired keys (JWKS, SAML metadata), and the refusals (no token, the bundled
 * keys, deterministicSeed) leave the keys as they were.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import request from 'supertest';
import type { AppContext } from '../../src/http/context.js';
import { fastPath } from '../../src/http/fast-path.js';
import type { RotationAnswer } from '../../src/http/keys-api.js';
import { sessionSecret } from '../../src/http/session.js';
import { KEY_FILES, loadKeystore } from '../../src/keys/keystore.js';
import { silentLogger } from '../../src/logger.js';
import { SqliteSessionStore } from '../../src/store/session-store.js';
import { startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { jwtFromLocation, login } from '../helpers/http.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';
import { ACS, autoPost, startSamlIdp } from '../saml/http-support.js';

const TOKEN = 'an-admin-token-for-the-rotation-tests';
const GRACE = 3600;

function certificatesIn(metadata: string): string[] {
  return [...metadata.matchAll(/<ds:X509Certificate>([^<]+)</g)].map((m) => m[1]!);
}

const pemOf = (base64: string) => `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

function authnRequestQuery(): string {
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="_req-${crypto.randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${ACS}">` +
    `<saml:Issuer>https://sp.example.test/metadata</saml:Issuer></samlp:AuthnRequest>`;
  return new URLSearchParams({ SAMLRequest: zlib.deflateRawSync(Buffer.from(xml)).toString('base64') }).toString();
}

describe('rotating the keys of a running IdP (POST /api/keys/rotate)', () => {
  let idp: TestIdp;
  let ctx: AppContext;
  let keysDir: string;
  const rotate = () => request(idp.url).post('/api/keys/rotate').set('Authorization', `Bearer ${TOKEN}`);
  const jwks = async () => (await request(idp.url).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;

  before(async () => {
    keysDir = tempDir('mock-idp-keys-');
    idp = await startSamlIdp({ edit: (c) => ({ ...c, keysDir, keyRotationGraceSeconds: GRACE, adminToken: TOKEN }) });
    ctx = idp.running.idp.context;
  });
  after(() => idp.close());

  it('signs the next token with a new kid, and a token signed before still verifies against the JWKS', async () => {
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const oldToken = (await agent.get('/sso/token/desk').expect(200)).body.token as string;
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    await jwks(); // served once before, as an SP would have fetched it

    const res = await rotate().expect(200).expect('content-type', /json/);
    const answer = res.body as RotationAnswer;
    assert.deepEqual(
      answer.keys.map((k) => [k.use, k.alg]),
      [['jwt', 'RS256'], ['jwt', 'ES256'], ['saml', undefined]],
    );
    const rs = answer.keys[0]!;
    assert.deepEqual(rs.retired, { kid: oldKid });
    assert.deepEqual(rs.current, { kid: ctx.keystore.jwtKey('RS256').kid });
    assert.equal(Date.parse(rs.retiredUntil!), Math.floor(Date.parse(answer.rotatedAt) / 1000) * 1000 + GRACE * 1000);
    assert.equal(answer.graceSeconds, GRACE);
    assert.doesNotMatch(res.text, /PRIVATE|"d":/, 'no key material in the answer');

    const newToken = (await agent.get('/sso/token/desk').expect(200)).body.token as string;
    const newKid = decodeProtectedHeader(newToken).kid;
    assert.notEqual(newKid, oldKid);
    assert.deepEqual(rs.current, { kid: newKid });
    const published = await jwks();
    assert.ok(published.keys.some((k) => k.kid === oldKid) && published.keys.some((k) => k.kid === newKid), 'the JWKS has both kids');
    const keySet = createLocalJWKSet(published);
    await jwtVerify(oldToken, keySet, { algorithms: ['RS256'], audience: 'desk' });
    await jwtVerify(newToken, keySet, { algorithms: ['RS256'], audience: 'desk' });
  });

  it('publishes the new SAML certificate first in the metadata and signs Responses with it', async () => {
    const before = certificatesIn((await request(idp.url).get('/saml/metadata').expect(200)).text);
    const answer = (await rotate().expect(200)).body as RotationAnswer;

    const metadata = (await request(idp.url).get('/saml/metadata').expect(200)).text;
    const certs = certificatesIn(metadata);
    assert.equal(certs[0], ctx.keystore.saml.certificateBase64, 'the new certificate first');
    assert.notEqual(certs[0], before[0]);
    assert.equal(certs[1], before[0], 'then the one just retired, still published');
    const saml = answer.keys[2]!;
    const x509 = (b64: string) => new crypto.X509Certificate(pemOf(b64));
    assert.deepEqual(saml.current, { sha256: x509(certs[0]!).fingerprint256, serialNumber: x509(certs[0]!).serialNumber });
    assert.deepEqual(saml.retired, { sha256: x509(before[0]!).fingerprint256, serialNumber: x509(before[0]!).serialNumber });
    assert.equal((await request(idp.url).get('/saml/cert.pem').expect(200)).text, ctx.keystore.saml.certificatePem);

    const built = await request(idp.url).post('/api/saml/responses').set('Authorization', `Bearer ${TOKEN}`).send({ sp: 'saml-sp', user: 'alice@example.com' }).expect(201);
    const xml = built.body.xml as string;
    for (const signatureOf of ['root', 'Assertion'] as const) {
      const verified = await xmlsecVerify(xml, { certificatePem: pemOf(certs[0]!), mode: 'configured-key', signatureOf });
      assert.ok(verified.ok, `xmlsec1 verifies the ${signatureOf} signature with the new certificate: ${verified.stderr}`);
    }
    const withOld = await xmlsecVerify(xml, { certificatePem: pemOf(before[0]!), mode: 'configured-key', signatureOf: 'root' });
    assert.equal(withOld.ok, false, 'not signed with the retired key');
  });

  it('makes the sign-in fast path sign with the new keys too', async () => {
    const toApp: string[] = [];
    const { app } = idp.running.idp;
    const handler: http.RequestListener = fastPath({
      ctx,
      app: (req, res) => {
        toApp.push(`${req.method} ${req.url}`);
        app(req, res);
      },
      store: new SqliteSessionStore(ctx.db, { defaultTtlMs: ctx.config.sessionTtlSeconds * 1000 }),
      secret: sessionSecret(ctx.config.sessionSecret, ctx.db),
      ttlSeconds: ctx.config.sessionTtlSeconds,
      logger: silentLogger,
      securityHeaders: () => [],
    });
    const agent = request.agent(handler);
    await login(agent, 'alice@example.com', 'alice-password');
    const jwtUrl = `/sso/jwt/es?redirect_url=${encodeURIComponent('https://es.example.test/consumer')}`;
    const kidOf = async () => decodeProtectedHeader(jwtFromLocation((await agent.get(jwtUrl).expect(302)).headers.location as string)).kid;
    await kidOf(); // the first sign-in to the SP is the app's (the session notes the SP)
    autoPost(await agent.get(`/saml/sso?${authnRequestQuery()}`).expect(200)); // and the first SAML one (the NameID)
    toApp.length = 0;
    assert.equal(await kidOf(), ctx.keystore.jwtKey('ES256').kid);
    assert.deepEqual(toApp, [], 'the fast path answered');

    await rotate().expect(200);
    toApp.length = 0;
    const token = jwtFromLocation((await agent.get(jwtUrl).expect(302)).headers.location as string);
    const samlPost = autoPost(await agent.get(`/saml/sso?${authnRequestQuery()}`).expect(200));
    assert.deepEqual(toApp, [], 'the fast path answered both');
    assert.equal(decodeProtectedHeader(token).kid, ctx.keystore.jwtKey('ES256').kid, 'the new ES256 key');
    await jwtVerify(token, createLocalJWKSet(await jwks()), { algorithms: ['ES256'] });
    const verified = await xmlsecVerify(samlPost.xml, { certificatePem: ctx.keystore.saml.certificatePem, mode: 'configured-key', signatureOf: 'root' });
    assert.ok(verified.ok, `the SAML Response is signed with the new key: ${verified.stderr}`);
  });

  it('answers 401 without the admin token and rotates nothing', async () => {
    const kid = ctx.keystore.jwtKey('RS256').kid;
    const res = await request(idp.url).post('/api/keys/rotate').expect(401);
    assert.equal(res.body.error, 'unauthorized');
    await request(idp.url).post('/api/keys/rotate').set('Authorization', `Bearer ${TOKEN}-wrong`).expect(401);
    assert.equal(ctx.keystore.jwtKey('RS256').kid, kid);
  });

  it('answers two rotations at once one after the other, leaving one current set in the folder', async () => {
    const first = ctx.keystore.jwtKey('RS256').kid;
    const retiredBefore = fs.readdirSync(path.join(keysDir, 'retired')).length;
    const [a, b] = (await Promise.all([rotate(), rotate()])).map((r) => {
      assert.equal(r.status, 200, r.text);
      return (r.body as RotationAnswer).keys[0]!;
    });
    // Either may have gone first; the later one retired what the earlier made current.
    const [earlier, later] = a!.retired && 'kid' in a!.retired && a!.retired.kid === first ? [a!, b!] : [b!, a!];
    assert.deepEqual(earlier.retired, { kid: first });
    assert.deepEqual(later.retired, earlier.current);
    assert.deepEqual(later.current, { kid: ctx.keystore.jwtKey('RS256').kid });
    assert.deepEqual(fs.readdirSync(keysDir).filter((f) => f.endsWith('.pem')).sort(), Object.values(KEY_FILES).sort());
    assert.equal(fs.readdirSync(path.join(keysDir, 'retired')).length, retiredBefore + 2 * 4, 'two rotations of four files each, none overwritten');
    const onDisk = await loadKeystore({ keysDir, graceSeconds: GRACE });
    assert.equal(onDisk.jwtKey('RS256').kid, ctx.keystore.jwtKey('RS256').kid, 'the folder holds the keys the server signs with');
    assert.equal(onDisk.saml.certificatePem, ctx.keystore.saml.certificatePem);
    const kids = (await jwks()).keys.map((k) => k.kid);
    for (const name of [{ kid: first }, earlier.current, later.current]) assert.ok('kid' in name && kids.includes(name.kid), `the JWKS publishes ${JSON.stringify(name)}`);
  });
});

describe('refused key rotations', () => {
  it('refuses with 409 when the IdP uses the development keys shipped with the package', async () => {
    const idp = await startTestIdp((c) => ({ ...c, adminToken: TOKEN }));
    try {
      const kid = idp.running.idp.context.keystore.jwtKey('RS256').kid;
      const res = await request(idp.url).post('/api/keys/rotate').set('Authorization', `Bearer ${TOKEN}`).expect(409);
      assert.equal(res.body.error, 'conflict');
      assert.match(res.body.message, /are the development keys shipped with mock-idp: rotating them would change the package's own files\. Set keysDir \(or KEYS_DIR\) to a folder of your own and restart/);
      assert.equal(idp.running.idp.context.keystore.jwtKey('RS256').kid, kid);
    } finally {
      await idp.close();
    }
  });

  it('refuses with 409 under deterministicSeed, where a new key would be the one it retires', async () => {
    const keysDir = tempDir('mock-idp-keys-');
    await loadKeystore({ keysDir }); // keys there already: the seed would only be used to make new ones
    const idp = await startTestIdp((c) => ({ ...c, keysDir, deterministicSeed: 'rotation-test-seed', adminToken: TOKEN }));
    try {
      const res = await request(idp.url).post('/api/keys/rotate').set('Authorization', `Bearer ${TOKEN}`).expect(409);
      assert.match(res.body.message, /^deterministicSeed is set: new keys would be derived from the same seed.* change deterministicSeed \(or remove it\) and empty keysDir/);
      assert.ok(!fs.existsSync(path.join(keysDir, 'retired')), 'nothing was moved');
    } finally {
      await idp.close();
    }
  });
});
