import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import request from 'supertest';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { offsetClock } from '../../src/clock.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { HS_SECRET, demoLikeConfig, startTestIdp, tempDir } from '../helpers/idp.js';
import { login } from '../helpers/http.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';

const execFileP = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP(process.execPath, [...CLI, ...args], { env: { ...process.env, MOCK_IDP_CONFIG: '' } });
}

async function cliFails(args: string[], code: number, message: RegExp): Promise<void> {
  await assert.rejects(cli(...args), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, code, err.stderr);
    assert.match(err.stderr, message);
    return true;
  });
}

describe('mock-idp keys', () => {
  it('rotates keys so that tokens signed before the rotation still verify against the JWKS during the grace period', async () => {
    const keysDir = tempDir('mock-idp-keys-');
    const dataDir = tempDir();
    const withKeys = (c: ConfigInput): ConfigInput => ({ ...c, keysDir, keyRotationGraceSeconds: 3600 });

    const before = await startTestIdp(withKeys, { dataDir });
    const agent = request.agent(before.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const oldToken = (await agent.get('/sso/token/desk').expect(200)).body.token as string;
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    const oldCert = before.running.idp.context.keystore.saml.certificateBase64;
    const ports: [number, number] = [before.running.idpPort, before.running.demoPort!];
    await before.close();

    const { stdout } = await cli('keys', 'rotate', '--keys-dir', keysDir, '--data-dir', dataDir);
    assert.match(stdout, /JWT RS256 key: retired to .*retired\/jwt-rs256\.key\.\d+\.pem; a new one is current/);
    assert.match(stdout, new RegExp(`JWT RS256 key: .* is current \\(kid \\S+\\); the previous kid ${oldKid} stays published until \\d{4}-`));
    assert.match(stdout, /signs with the new keys after a restart; to rotate a running IdP at once, use keys rotate --url\./);

    const after = await startTestIdp(withKeys, { dataDir, ports });
    try {
      const jwks = (await request(after.url).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
      assert.ok(jwks.keys.some((k) => k.kid === oldKid), 'the retired key is still published');
      const newToken = (await agent.get('/sso/token/desk').expect(200)).body.token as string;
      const newKid = decodeProtectedHeader(newToken).kid!;
      assert.notEqual(newKid, oldKid, 'new tokens are signed with the new key');
      const keySet = createLocalJWKSet(jwks);
      await jwtVerify(oldToken, keySet, { algorithms: ['RS256'], audience: 'desk' });
      await jwtVerify(newToken, keySet, { algorithms: ['RS256'], audience: 'desk' });
      const metadata = (await request(after.url).get('/saml/metadata').expect(200)).text;
      const certs = [...metadata.matchAll(/<ds:X509Certificate>([^<]+)</g)].map((m) => m[1]);
      assert.deepEqual(certs, [after.running.idp.context.keystore.saml.certificateBase64, oldCert], 'the new SAML certificate first, the retired one still published');
    } finally {
      await after.close();
    }

    const later = await startTestIdp(withKeys, { dataDir, ports, clock: offsetClock(3601_000) });
    try {
      const jwks = (await request(later.url).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
      assert.ok(!jwks.keys.some((k) => k.kid === oldKid), 'after the grace period the retired key is gone');
    } finally {
      await later.close();
    }
    const { stdout: listed } = await cli('keys', 'list', '--keys-dir', keysDir, '--data-dir', dataDir);
    assert.match(listed, /retired, published until \d{4}-\d\d-\d\dT/);
  });

  it('refuses to rotate the bundled development keys', async () => {
    await cliFails(['keys', 'rotate', '--data-dir', tempDir()], 2, /would change the development keys shipped in/);
  });

  it('refuses to rotate keys under deterministicSeed, which would derive the same keys again', async () => {
    const config = path.join(tempDir(), 'seeded.yaml');
    fs.writeFileSync(config, 'deterministicSeed: a-seed\n');
    const keysDir = tempDir('mock-idp-keys-');
    await cliFails(['keys', 'rotate', '--config', config, '--keys-dir', keysDir, '--data-dir', tempDir()], 2, /keys rotate: deterministicSeed is set: new keys would be derived from the same seed/);
    assert.deepEqual(fs.readdirSync(keysDir), [], 'nothing generated or moved');
  });
});

describe('mock-idp mint and users', () => {
  it('mints a token with the server\'s secret and claim overrides', async () => {
    const config = path.join(tempDir(), 'idp.json');
    fs.writeFileSync(config, JSON.stringify(demoLikeConfig(8080, 8081, tempDir())));
    const { stdout } = await cli('mint', 'jwt', '--config', config, '--sp', 'comm100', '--user', 'ALICE@example.com', '--claim', 'siteId=99', '--claim', 'name=');
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(HS_SECRET), { algorithms: ['HS256'], issuer: 'jwt server', audience: 'Comm100' });
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.siteId, 99);
    assert.equal(payload.name, undefined);
    await cliFails(['mint', 'jwt', '--config', config, '--sp', 'nope', '--user', 'alice@example.com'], 2, /there is no service provider "nope" \(known: comm100, desk, es, messenger\)/);
    await cliFails(['mint', 'jwt', '--config', config, '--sp', 'comm100'], 2, /mint jwt needs --sp ID and --user EMAIL/);
  });

  it('mints a signed SAML Response that xmlsec1 verifies', async () => {
    const dataDir = tempDir();
    const { stdout } = await cli('mint', 'saml', '--data-dir', dataDir, '--sp', 'comm100', '--user', 'alice@example.com', '--in-response-to', '_abc', '--json');
    const built = JSON.parse(stdout) as { samlResponse: string; xml: string; acsUrl: string };
    assert.equal(Buffer.from(built.samlResponse, 'base64').toString(), built.xml);
    assert.equal(built.acsUrl, 'http://localhost:8081/sso/saml/acs');
    assert.match(built.xml, /InResponseTo="_abc"/);
    const cert = fs.readFileSync(path.resolve('keys/saml-signing.crt.pem'), 'utf8');
    const verified = await xmlsecVerify(built.xml, { certificatePem: cert, mode: 'configured-key', signatureOf: 'Assertion' });
    assert.ok(verified.ok, verified.stderr);
    await cliFails(['mint', 'saml', '--data-dir', dataDir, '--sp', 'desk', '--user', 'alice@example.com'], 1, /Service provider "desk" has no saml section/);
  });

  it('adds and disables users in the store, and the server honours it', async () => {
    const dataDir = tempDir();
    await cli('users', 'add', '--data-dir', dataDir, '--email', 'zed@example.com', '--password', 'zed-password', '--name', 'Zed', '--attr', 'siteId=7');
    const idp = await startTestIdp((c) => c, { dataDir });
    try {
      await login(request.agent(idp.url), 'zed@example.com', 'zed-password');
    } finally {
      await idp.close();
    }
    const { stdout } = await cli('users', 'disable', 'zed@example.com', '--data-dir', dataDir);
    assert.equal(stdout, 'zed@example.com is disabled\n');
    const listed = await cli('users', 'list', '--data-dir', dataDir);
    assert.match(listed.stdout, /zed@example\.com\tZed\tdisabled\t\{"siteId":"7"\}/);
    const again = await startTestIdp((c) => c, { dataDir });
    try {
      await login(request.agent(again.url), 'zed@example.com', 'zed-password', '', 401);
    } finally {
      await again.close();
    }
    await cliFails(['users', 'add', '--data-dir', dataDir, '--email', 'zed@example.com', '--password', 'x'], 1, /already exists/);
    await cliFails(['users', 'add', '--data-dir', dataDir, '--email', 'not-an-email', '--password', 'x'], 2, /email: must be an email address/);
    await cliFails(['users', 'frobnicate', '--data-dir', dataDir], 2, /users takes one of list, add, disable, enable/);
  });
});
