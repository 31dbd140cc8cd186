import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, exportJWK, jwtVerify } from 'jose';
import { KEY_FILES, loadKeystore } from '../../src/keys/keystore.js';
import { bundledKeysDir } from '../../src/paths.js';
import { ConfigError, IdpError } from '../../src/errors.js';
import { tempDir } from '../helpers/idp.js';

/** A fixed now, on a whole second, for the names of retired files. */
const NOW = Date.parse('2030-01-01T00:00:00Z');

describe('the keystore', () => {
  it('generates fresh keys and a 10-year self-signed certificate into an empty folder, then reuses them', async () => {
    const dir = tempDir('mock-idp-keys-');
    const first = await loadKeystore({ keysDir: dir });
    assert.deepEqual(first.generated.map((f) => path.basename(f)).sort(), Object.values(KEY_FILES).sort());
    assert.equal(first.usesDevKeys, false);
    assert.equal(fs.statSync(path.join(dir, KEY_FILES.RS256)).mode & 0o777, 0o600);
    const cert = new crypto.X509Certificate(first.saml.certificatePem);
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 86_400_000);
    assert.ok(years > 9.9 && years < 10.1, `valid ${years} years`);
    assert.equal((cert.publicKey.asymmetricKeyDetails?.modulusLength), 2048);
    assert.ok(cert.checkPrivateKey(first.saml.privateKey));

    const second = await loadKeystore({ keysDir: dir });
    assert.deepEqual(second.generated, []);
    assert.equal(second.jwtKey('RS256').kid, first.jwtKey('RS256').kid);
    assert.equal(second.saml.certificateBase64, first.saml.certificateBase64);
  });

  it('labels the bundled development keys and their kids', async () => {
    const ks = await loadKeystore({ keysDir: bundledKeysDir });
    assert.equal(ks.usesDevKeys, true);
    assert.match(ks.jwtKey('ES256').kid, /^dev-CHANGE-ME-/);
    for (const file of Object.values(KEY_FILES)) {
      assert.match(fs.readFileSync(path.join(bundledKeysDir, file), 'utf8'), /^DEVELOPMENT KEY - CHANGE-ME/);
    }
  });

  it('derives each kid from the RFC 7638 thumbprint of the published key, as jose computes it', async () => {
    const ks = await loadKeystore({ keysDir: tempDir('mock-idp-keys-') });
    for (const alg of ['RS256', 'ES256'] as const) {
      const key = ks.jwtKey(alg);
      const published = ks.jwks().keys.find((k) => k.kid === key.kid);
      assert.ok(published, `the JWKS publishes the ${alg} key`);
      assert.equal(key.kid, await calculateJwkThumbprint(await exportJWK(key.publicKey)));
    }
  });

  it('refuses a key of the wrong type with a message naming the file', async () => {
    const dir = tempDir('mock-idp-keys-');
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    fs.writeFileSync(path.join(dir, KEY_FILES.RS256), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(loadKeystore({ keysDir: dir }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /jwt-rs256\.key\.pem: a RS256 key must be RSA, this one is ec/);
      return true;
    });
  });

  it('refuses a certificate that does not belong to the key', async () => {
    const dir = tempDir('mock-idp-keys-');
    await loadKeystore({ keysDir: dir });
    fs.copyFileSync(path.join(bundledKeysDir, KEY_FILES.samlCert), path.join(dir, KEY_FILES.samlCert));
    await assert.rejects(loadKeystore({ keysDir: dir }), /saml-signing\.crt\.pem does not belong to the private key/);
  });
});

describe('rotating the keystore in place', () => {
  it('retires the current keys to retired/, signs with new ones and keeps publishing the retired ones', async () => {
    const dir = tempDir('mock-idp-keys-');
    const ks = await loadKeystore({ keysDir: dir, graceSeconds: 3600, now: NOW });
    const before = { rs: ks.jwtKey('RS256').kid, es: ks.jwtKey('ES256').kid, cert: ks.saml.certificatePem, revision: ks.revision };

    const rotations = await ks.rotate();

    assert.notEqual(ks.jwtKey('RS256').kid, before.rs);
    assert.notEqual(ks.jwtKey('ES256').kid, before.es);
    assert.notEqual(ks.saml.certificatePem, before.cert, 'the saml property answers with the new credentials');
    assert.notEqual(ks.revision, before.revision, 'documents derived from the keys see a new revision');
    const sec = NOW / 1000;
    assert.deepEqual(
      rotations.map((r) => [r.what, r.retiredFile && path.relative(dir, r.retiredFile), r.retiredUntil]),
      [
        ['JWT RS256 key', `retired/jwt-rs256.key.${sec}.pem`, sec + 3600],
        ['JWT ES256 key', `retired/jwt-es256.key.${sec}.pem`, sec + 3600],
        ['SAML signing key and certificate', `retired/saml-signing.crt.${sec}.pem`, sec + 3600],
      ],
    );
    assert.deepEqual(rotations[0]!.retired, { kid: before.rs });
    assert.deepEqual(rotations[0]!.current, { kid: ks.jwtKey('RS256').kid });
    const oldCert = new crypto.X509Certificate(before.cert);
    assert.deepEqual(rotations[2]!.retired, { sha256: oldCert.fingerprint256, serialNumber: oldCert.serialNumber });
    assert.ok(!JSON.stringify(rotations).includes('PRIVATE KEY'), 'a rotation is described without key material');

    const kids = ks.jwks().keys.map((k) => k.kid);
    for (const kid of [before.rs, before.es, ks.jwtKey('RS256').kid, ks.jwtKey('ES256').kid]) assert.ok(kids.includes(kid), `the JWKS publishes ${kid}`);
    assert.deepEqual(ks.retired.jwt.map((k) => k.kid).sort(), [before.rs, before.es].sort());
    assert.deepEqual(ks.retired.samlCertificates.map((c) => c.certificatePem), [before.cert]);

    // What is on disk is what the keystore signs with: a fresh load agrees.
    const reloaded = await loadKeystore({ keysDir: dir, graceSeconds: 3600, now: NOW });
    assert.deepEqual(reloaded.generated, []);
    assert.equal(reloaded.jwtKey('RS256').kid, ks.jwtKey('RS256').kid);
    assert.equal(reloaded.saml.certificatePem, ks.saml.certificatePem);
    assert.deepEqual(reloaded.jwks(), ks.jwks());
  });

  it('stops publishing a retired key when its grace period ends, without a restart', async () => {
    let now = NOW;
    const ks = await loadKeystore({ keysDir: tempDir('mock-idp-keys-'), graceSeconds: 60, now: () => now });
    const old = ks.jwtKey('RS256').kid;
    await ks.rotate();
    assert.ok(ks.jwks().keys.some((k) => k.kid === old));
    const revision = ks.revision;
    now += 59_000;
    assert.ok(ks.jwks().keys.some((k) => k.kid === old), 'still inside the grace period');
    assert.equal(ks.revision, revision);
    now += 1_000;
    assert.ok(!ks.jwks().keys.some((k) => k.kid === old), 'gone once it ends');
    assert.deepEqual(ks.retired, { jwt: [], samlCertificates: [] });
    assert.notEqual(ks.revision, revision, 'the SAML metadata is rebuilt without the retired certificate');
  });

  it('makes concurrent rotations one after the other, and two in the same second keep both retired keys', async () => {
    const dir = tempDir('mock-idp-keys-');
    const ks = await loadKeystore({ keysDir: dir, graceSeconds: 3600, now: NOW });
    const first = ks.jwtKey('RS256').kid;
    const [a, b] = await Promise.all([ks.rotate(), ks.rotate()]);
    assert.deepEqual(a![0]!.retired, { kid: first });
    assert.deepEqual(b![0]!.retired, a![0]!.current, 'the second rotation retired what the first made current');
    assert.deepEqual(b![0]!.current, { kid: ks.jwtKey('RS256').kid });
    const sec = NOW / 1000;
    assert.deepEqual(fs.readdirSync(path.join(dir, 'retired')).filter((f) => f.startsWith('jwt-rs256')).sort(), [`jwt-rs256.key.${sec}.pem`, `jwt-rs256.key.${sec + 1}.pem`]);
    const rsKids = ks.jwks().keys.filter((k) => k.alg === 'RS256').map((k) => k.kid);
    assert.equal(new Set(rsKids).size, 3, 'the current key and both retired ones are published');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.pem')).sort(), Object.values(KEY_FILES).sort(), 'one current set in the folder');
  });

  it('refuses to rotate the bundled development keys and keys under deterministicSeed, and leaves the folder as it was', async () => {
    const bundled = await loadKeystore({ keysDir: bundledKeysDir });
    await assert.rejects(bundled.rotate(), (err: unknown) => {
      assert.ok(err instanceof IdpError);
      assert.equal(err.status, 409);
      assert.match(err.message, /development keys shipped with mock-idp/);
      return true;
    });
    const dir = tempDir('mock-idp-keys-');
    await loadKeystore({ keysDir: dir });
    const seeded = await loadKeystore({ keysDir: dir, seed: 'a seed' });
    const kid = seeded.jwtKey('RS256').kid;
    await assert.rejects(seeded.rotate(), /deterministicSeed is set: new keys would be derived from the same seed/);
    assert.equal(seeded.jwtKey('RS256').kid, kid);
    assert.ok(!fs.existsSync(path.join(dir, 'retired')), 'nothing was moved');
  });
});

describe('the key set seam (exportKeySet, adoptKeySet)', () => {
  it('gives another keystore the same signing keys and published keys, as plain JSON, without writing its folder', async () => {
    const a = await loadKeystore({ keysDir: tempDir('mock-idp-keys-'), graceSeconds: 3600, now: NOW });
    await a.rotate();
    const exported = a.exportKeySet();
    const travelled = JSON.parse(JSON.stringify(exported)) as typeof exported;
    assert.deepEqual(travelled, exported, 'plain JSON');
    assert.deepEqual(exported.retired.jwt.map((k) => 'd' in k.publicJwk), [false, false], 'retired keys travel without their private part');

    const dir = tempDir('mock-idp-keys-');
    const b = await loadKeystore({ keysDir: dir, graceSeconds: 3600, now: NOW });
    const filesBefore = fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]);
    const revision = b.revision;
    b.adoptKeySet(travelled);
    assert.deepEqual(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]), filesBefore, 'nothing written');
    assert.notEqual(b.revision, revision);
    for (const alg of ['RS256', 'ES256'] as const) assert.equal(b.jwtKey(alg).kid, a.jwtKey(alg).kid);
    assert.equal(b.saml.certificatePem, a.saml.certificatePem);
    assert.deepEqual(b.jwks(), a.jwks());
    assert.deepEqual(b.retired, a.retired);

    // A token signed by one verifies with the other's JWKS.
    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: b.jwtKey('RS256').kid }).sign(b.jwtKey('RS256').privateKey);
    await jwtVerify(token, createLocalJWKSet(a.jwks()));
  });

  it('keeps the development-key label, so kids and the start-up warning stay the same', async () => {
    const dev = await loadKeystore({ keysDir: bundledKeysDir });
    const other = await loadKeystore({ keysDir: tempDir('mock-idp-keys-') });
    other.adoptKeySet(dev.exportKeySet());
    assert.equal(other.usesDevKeys, true);
    assert.equal(other.jwtKey('ES256').kid, dev.jwtKey('ES256').kid);
    assert.match(other.jwtKey('ES256').kid, /^dev-CHANGE-ME-/);
  });

  it('refuses a set that is not one, naming the field, and keeps the keys it had', async () => {
    const ks = await loadKeystore({ keysDir: tempDir('mock-idp-keys-') });
    const kid = ks.jwtKey('RS256').kid;
    const good = ks.exportKeySet();
    const cases: [unknown, RegExp][] = [
      [{ ...good, format: 'other' }, /from redis: not a key set: format: /],
      [{ ...good, jwt: good.jwt.filter((k) => k.alg === 'RS256') }, /from redis: jwt: no ES256 key, which this IdP signs with/],
      [{ ...good, jwt: [{ alg: 'RS256', privateKeyPem: good.jwt.find((k) => k.alg === 'ES256')!.privateKeyPem }, good.jwt[1]] }, /jwt\[0\] \(RS256\): a RS256 key must be RSA/],
      [{ ...good, saml: { ...good.saml, certificatePem: fs.readFileSync(path.join(bundledKeysDir, KEY_FILES.samlCert), 'utf8') } }, /saml\.certificatePem does not belong to the private key/],
      [{ ...good, retired: { jwt: [{ alg: 'RS256', publicJwk: { kty: 'RSA', kid: 'k', n: 'x', e: 'AQAB', d: 'y' }, retiredAt: 1 }], samlCertificates: [] } }, /retired\.jwt\[0\]\.publicJwk: a retired key travels as a public key only/],
    ];
    for (const [set, message] of cases) {
      assert.throws(() => ks.adoptKeySet(set as typeof good, 'from redis'), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    }
    assert.equal(ks.jwtKey('RS256').kid, kid);
  });
});
