/** What check-config and the control API show of a config: never a secret, never a private key. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MASK, maskSecrets } from '../../src/config/mask.js';

describe('maskSecrets', () => {
  it('masks secret keys at any depth and a private key PEM under any key, and keeps the rest', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB…\n-----END PRIVATE KEY-----\n';
    const masked = maskSecrets({
      sessionSecret: 's3cret',
      tls: { cert: '-----BEGIN CERTIFICATE-----\nMIIC…', key: pem },
      serviceProviders: [{ id: 'a', jwt: { secret: 'hs-secret', privateKey: 'keys/a.pem' } }, { id: 'b', jwt: { signingKey: '-----BEGIN EC PRIVATE KEY-----\n…' } }],
      users: [{ email: 'a@example.com', password: 'pw' }],
    });
    assert.deepEqual(masked, {
      sessionSecret: MASK,
      tls: { cert: '-----BEGIN CERTIFICATE-----\nMIIC…', key: MASK },
      serviceProviders: [{ id: 'a', jwt: { secret: MASK, privateKey: MASK } }, { id: 'b', jwt: { signingKey: MASK } }],
      users: [{ email: 'a@example.com', password: MASK }],
    });
  });
});
