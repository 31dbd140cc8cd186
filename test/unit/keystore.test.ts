import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { KEY_FILES, loadKeystore } from '../../src/keys/keystore.js';
import { bundledKeysDir } from '../../src/paths.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/idp.js';

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
