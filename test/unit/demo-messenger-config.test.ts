/** demo.messenger: its defaults come from the IdP SP that mints the Contact JWT, and a publicKey needs its key. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { demoMessenger } from '../../src/server.js';

const resolve = (sp: Record<string, unknown> | undefined, messenger: Record<string, unknown> = {}) =>
  resolveConfig(
    {
      baseUrl: 'http://localhost:9000',
      serviceProviders: sp ? [{ id: 'messenger', jwt: { redirectUrls: ['http://localhost:8081/securemessage/widget'], ...sp } }] : [],
      demo: { enabled: true, messenger },
    },
    { source: 'test', baseDir: process.cwd() },
  );

describe('demo.messenger', () => {
  it('takes the shared token and identity key from an HS256 messenger SP', () => {
    const config = resolve({ algorithm: 'HS256', secret: 'website-shared-token-0123456789abcdef', identityClaim: 'customer' });
    const m = demoMessenger(config, new Map([['messenger', 'website-shared-token-0123456789abcdef']]));
    assert.ok(m);
    assert.equal(m.validation, 'sharedToken');
    assert.equal(m.sharedToken, 'website-shared-token-0123456789abcdef');
    assert.equal(m.identityKey, 'customer');
    assert.equal(m.siteId, '10000');
    assert.equal(m.messengerId, 'ea5380a4-77c1-436e-a47a-37fd2c8af550');
    assert.deepEqual(m.allowedUrls, ['http://localhost:9000/website']);
    assert.equal(m.accessTokenTtlSeconds, 600);
  });

  it('verifies with the IdP JWKS for an RS256 messenger SP', () => {
    const m = demoMessenger(resolve({ algorithm: 'RS256' }), new Map());
    assert.equal(m?.validation, 'jwks');
    assert.equal(m?.jwksUrl, 'http://localhost:9000/.well-known/jwks.json');
    assert.equal(m?.identityKey, 'identity');
  });

  it('is off without the SP and without a validation method', () => {
    assert.equal(demoMessenger(resolve(undefined), new Map()), undefined);
  });

  it('refuses validation: publicKey without a publicKey, and an access token lifetime over an hour', () => {
    assert.throws(() => resolve(undefined, { validation: 'publicKey' }), /demo\.messenger\.publicKey.*required with validation: publicKey/s);
    assert.throws(() => resolve(undefined, { accessTokenTtlSeconds: 3601 }), /accessTokenTtlSeconds/);
  });
});
