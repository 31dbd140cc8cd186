import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startIdp, type ConfigInput } from 'mock-idp';

const config: ConfigInput = {
  // A fixed public URL: issuers and Destinations must not carry the random port.
  baseUrl: 'http://idp.example.test',
  clock: '2030-01-01T00:00:00Z',
  deterministicSeed: 'snapshot-seed',
  passwordHashCost: 10,
  users: [{ email: 'alice@example.com', password: 'pw', name: 'Alice' }],
  serviceProviders: [
    { id: 'hs', jwt: { redirectUrls: ['https://sp.example.test/c'], secret: 'hs-secret-0123456789abcdef' } },
    { id: 'rs', jwt: { redirectUrls: ['https://sp.example.test/r'], algorithm: 'RS256' } },
    { id: 'saml', saml: { entityId: 'saml-sp', acsUrls: ['https://sp.example.test/acs'], signResponse: true } },
  ],
};

async function mintAll(seedConfig: ConfigInput): Promise<string[]> {
  const idp = await startIdp({ config: seedConfig, port: 0 });
  try {
    return [
      await idp.mintJwt('hs', 'alice@example.com'),
      await idp.mintJwt('rs', 'alice@example.com'),
      (await idp.samlResponse('saml', 'alice@example.com', { inResponseTo: '_request' })).xml,
    ];
  } finally {
    await idp.close();
  }
}

describe('deterministic mode', () => {
  it('mints byte-for-byte the same tokens and assertions in two runs with a fixed clock and a seed', async () => {
    const first = await mintAll(config);
    const second = await mintAll(config);
    assert.deepEqual(second, first);
    const claims = decodeJwt(first[0]!);
    assert.equal(claims.iat, Date.parse('2030-01-01T00:00:00Z') / 1000);
    assert.match(String(claims.jti), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(first[2]!, /IssueInstant="2030-01-01T00:00:00(\.000)?Z"/);
  });

  it('gives other ids with another seed, and fresh random ones without a seed', async () => {
    const a = decodeJwt((await mintAll(config))[0]!);
    const b = decodeJwt((await mintAll({ ...config, deterministicSeed: 'another' }))[0]!);
    assert.notEqual(a.jti, b.jti);
    const { deterministicSeed: _seed, ...unseeded } = config;
    const [c, d] = [decodeJwt((await mintAll(unseeded))[0]!), decodeJwt((await mintAll(unseeded))[0]!)];
    assert.notEqual(c.jti, d.jti);
  });

  it('applies an offset clock in seconds', async () => {
    const idp = await startIdp({ config: { ...config, clock: -3600 } });
    try {
      const { iat } = decodeJwt(await idp.mintJwt('hs', 'alice@example.com'));
      const expected = Math.floor(Date.now() / 1000) - 3600;
      assert.ok(Math.abs(iat! - expected) <= 2, `iat ${iat} ~ ${expected}`);
    } finally {
      await idp.close();
    }
  });
});
