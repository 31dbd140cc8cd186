/**
 * JWT faults, one by one: each makes exactly one defect (compared with the same
 * token minted without it, same clock and jti), and jose's jwtVerify with a pinned
 * algorithm, issuer and audience (an independent, careful verifier) refuses it.
 */
import assert from 'node:assert/strict';
import crypto, { type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { compactVerify, jwtVerify, type JWTPayload } from 'jose';
import { fixedClock } from '../../src/clock.js';
import { resolveConfig, type ResolvedServiceProvider } from '../../src/config/load.js';
import { IdpError } from '../../src/errors.js';
import { CONTACT_JWT_FAULT_NAMES, FAULT_TIME_MARGIN_SECONDS, FAULT_VALUES, JWT_FAULT_NAMES, type JwtFault } from '../../src/faults/catalog.js';
import { Issuer } from '../../src/issue/issuer.js';
import { samlIdpContext } from '../../src/issue/saml-idp.js';
import { MemoryStateStore } from '../../src/state/memory.js';
import type { JwtSp as JwtServiceProvider } from '../../src/sps.js';
import { loadKeystore, type Keystore } from '../../src/keys/keystore.js';
import { JwtSigner } from '../../src/jwt/signer.js';
import { bundledKeysDir } from '../../src/paths.js';
import type { User } from '../../src/users/store.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const NOW_S = NOW / 1000;
const SECRET = 'a-test-secret-for-the-hs256-service-provider';
const TTL = 300;

const config = resolveConfig(
  {
    baseUrl: 'https://idp.example.test',
    serviceProviders: [
      { id: 'hs', jwt: { redirectUrls: ['https://hs.example.test/consumer'], algorithm: 'HS256', secret: SECRET, issuer: 'jwt server', audience: 'Comm100', ttlSeconds: TTL } },
      { id: 'rs', jwt: { redirectUrls: ['https://rs.example.test/consumer'], algorithm: 'RS256', audience: 'desk', ttlSeconds: TTL } },
      { id: 'es', jwt: { redirectUrls: ['https://es.example.test/consumer'], algorithm: 'ES256', ttlSeconds: TTL } },
    ],
  },
  { source: 'jwt fault test', baseDir: process.cwd() },
);
const alice = { email: 'alice@example.com', name: 'Alice Agent', attributes: {}, disabled: false } as unknown as User;

let keystore: Keystore;
let injector: Issuer;

/** The IdP's issuer on its own memory store, with this signer. */
function issuerWith(jwtSigner: JwtSigner): Issuer {
  const clock = fixedClock(NOW);
  const ids = { samlId: () => '_id' };
  return new Issuer({ jwtSigner: () => jwtSigner, samlIdp: () => samlIdpContext({ config, keystore, clock, ids }), keystore, clock, state: new MemoryStateStore({ now: () => NOW }) });
}

function sp(id: string): JwtServiceProvider {
  return config.serviceProviders.find((s) => s.id === id) as ResolvedServiceProvider & JwtServiceProvider;
}

/** What the SP verifies with. */
function verificationKey(id: string): KeyObject {
  const s = sp(id);
  return s.jwt.algorithm === 'HS256' ? crypto.createSecretKey(Buffer.from(SECRET)) : keystore.jwtKeyFor(id, s.jwt.algorithm).publicKey;
}

/** jose's jwtVerify as a careful SP calls it: pinned algorithm, issuer and audience, required claims, the test clock. */
function joseVerify(id: string, token: string, clockTolerance = 0) {
  const s = sp(id);
  return jwtVerify(token, verificationKey(id), {
    algorithms: [s.jwt.algorithm],
    issuer: s.jwt.issuer,
    audience: s.jwt.audience,
    requiredClaims: ['jti', 'exp', 'email'],
    currentDate: new Date(NOW),
    clockTolerance,
  });
}

async function mint(id: string, faults: JwtFault[] = []) {
  return injector.jwt(sp(id), alice, { faults });
}

/** The claims that differ between two claim sets: name -> [before, after]. */
function changed(a: JWTPayload, b: JWTPayload): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out[k] = [a[k], b[k]];
  return out;
}

const segments = (token: string) => token.split('.') as [string, string, string];
const headerOf = (token: string) => JSON.parse(Buffer.from(segments(token)[0], 'base64url').toString('utf8')) as Record<string, unknown>;

describe('JWT faults', () => {
  before(async () => {
    keystore = await loadKeystore({ keysDir: bundledKeysDir });
    const jwtSigner = new JwtSigner({ serviceProviders: config.serviceProviders, keystore, secrets: new Map([['hs', SECRET]]), clock: fixedClock(NOW), newJti: () => 'jti-fixed' });
    injector = issuerWith(jwtSigner);
  });

  it('without a fault, the token is what the signer mints and jose accepts it, for each algorithm', async () => {
    for (const id of ['hs', 'rs', 'es']) {
      const { token, claims, faults } = await mint(id);
      assert.deepEqual(faults, []);
      assert.equal(claims.jti, 'jti-fixed');
      const { payload } = await joseVerify(id, token);
      assert.equal(payload.email, 'alice@example.com');
    }
  });

  const claimCases: { fault: JwtFault; expect: (base: JWTPayload) => Record<string, [unknown, unknown]>; jose: RegExp }[] = [
    {
      fault: { name: 'expired' },
      expect: (b) => {
        const d = NOW_S - FAULT_TIME_MARGIN_SECONDS - (b.exp as number);
        return { iat: [b.iat, (b.iat as number) + d], nbf: [b.nbf, (b.nbf as number) + d], exp: [b.exp, NOW_S - FAULT_TIME_MARGIN_SECONDS] };
      },
      jose: /"exp" claim timestamp check failed/,
    },
    {
      fault: { name: 'not-yet-valid' },
      expect: (b) => ({ iat: [b.iat, NOW_S + 600], nbf: [b.nbf, NOW_S + 600], exp: [b.exp, NOW_S + 600 + TTL] }),
      jose: /"nbf" claim timestamp check failed/,
    },
    { fault: { name: 'wrong-audience' }, expect: (b) => ({ aud: [b.aud, FAULT_VALUES.audience] }), jose: /unexpected "aud" claim value/ },
    { fault: { name: 'wrong-issuer' }, expect: (b) => ({ iss: [b.iss, FAULT_VALUES.issuer] }), jose: /unexpected "iss" claim value/ },
    { fault: { name: 'missing-email' }, expect: (b) => ({ email: [b.email, undefined] }), jose: /missing required "email" claim/ },
    { fault: { name: 'missing-jti' }, expect: (b) => ({ jti: [b.jti, undefined] }), jose: /missing required "jti" claim/ },
    {
      fault: { name: 'clock-skew', seconds: 3600 },
      expect: (b) => ({ iat: [b.iat, (b.iat as number) + 3600], nbf: [b.nbf, (b.nbf as number) + 3600], exp: [b.exp, (b.exp as number) + 3600] }),
      jose: /"nbf" claim timestamp check failed/,
    },
  ];

  for (const c of claimCases) {
    it(`${c.fault.name === 'clock-skew' ? 'clock-skew=3600' : c.fault.name} changes only ${Object.keys(c.expect({ iat: 1, nbf: 1, exp: 1, aud: 'a', iss: 'i', email: 'e', jti: 'j' })).join(', ')}, keeps a valid signature, and jose refuses it`, async () => {
      for (const id of ['hs', 'rs', 'es']) {
        const base = await mint(id);
        const faulty = await mint(id, [c.fault]);
        assert.deepEqual(changed(base.claims, faulty.claims), c.expect(base.claims), id);
        assert.deepEqual(headerOf(faulty.token), headerOf(base.token), `${id}: the header is unchanged`);
        await compactVerify(faulty.token, verificationKey(id));
        await assert.rejects(joseVerify(id, faulty.token), c.jose, id);
      }
    });
  }

  it('clock-skew within the SP\'s leeway is accepted by a tolerant SP, beyond it refused', async () => {
    const ahead = await mint('hs', [{ name: 'clock-skew', seconds: 20 }]);
    await joseVerify('hs', ahead.token, 30);
    await assert.rejects(joseVerify('hs', ahead.token, 0), /"nbf" claim timestamp check failed/);
    const behind = await mint('hs', [{ name: 'clock-skew', seconds: -(TTL + 20) }]);
    await joseVerify('hs', behind.token, 30);
    await assert.rejects(joseVerify('hs', behind.token, 0), /"exp" claim timestamp check failed/);
  });

  it('replayed-jti takes the jti of the last fault-free token sent to that SP, and nothing else changes', async () => {
    const fresh = issuerWith(new JwtSigner({ serviceProviders: config.serviceProviders, keystore, secrets: new Map([['hs', SECRET]]), clock: fixedClock(NOW), newJti: () => 'jti-new' }));
    await assert.rejects(fresh.jwt(sp('hs'), alice, { faults: [{ name: 'replayed-jti' }] }), (err: unknown) => {
      assert.ok(err instanceof IdpError);
      assert.equal(err.code, 'invalid_fault');
      assert.match(err.message, /replayed-jti reuses the jti of the last fault-free token sent to hs, and none was sent since mock-idp started/);
      return true;
    });
    await fresh.noteSent('hs', { jti: 'jti-sent-before' });
    await fresh.noteSent('rs', { jti: 'jti-of-another-sp' });
    const base = await fresh.jwt(sp('hs'), alice);
    const replayed = await fresh.jwt(sp('hs'), alice, { faults: [{ name: 'replayed-jti' }] });
    assert.deepEqual(changed(base.claims, replayed.claims), { jti: ['jti-new', 'jti-sent-before'] });
    // Stateless verifiers cannot tell: only an SP that remembers jtis refuses it (the demo SP does, see jwt-demo-sp.test.ts).
    const { payload } = await joseVerify('hs', replayed.token);
    assert.equal(payload.jti, 'jti-sent-before');
  });

  it('bad-signature flips one bit of the signature and keeps header and claims byte for byte', async () => {
    for (const id of ['hs', 'rs', 'es']) {
      const base = await mint(id);
      const faulty = await mint(id, [{ name: 'bad-signature' }]);
      const [h, p, s] = segments(faulty.token);
      assert.deepEqual([h, p], segments(base.token).slice(0, 2), id);
      assert.notEqual(s, segments(base.token)[2]);
      await assert.rejects(joseVerify(id, faulty.token), /signature verification failed/, id);
    }
  });

  it('wrong-key signs with another key of the same algorithm, keeping the header (kid included) and the claims', async () => {
    for (const id of ['hs', 'rs', 'es']) {
      const base = await mint(id);
      const faulty = await mint(id, [{ name: 'wrong-key' }]);
      assert.deepEqual(segments(faulty.token).slice(0, 2), segments(base.token).slice(0, 2), id);
      assert.equal(Buffer.from(segments(faulty.token)[2], 'base64url').length, Buffer.from(segments(base.token)[2], 'base64url').length);
      await assert.rejects(joseVerify(id, faulty.token), /signature verification failed/, id);
    }
  });

  it('alg-none sends an Unsecured JWT: header {alg: none, typ: JWT}, the same claims, no signature', async () => {
    for (const id of ['hs', 'rs']) {
      const base = await mint(id);
      const faulty = await mint(id, [{ name: 'alg-none' }]);
      const [h, p, s] = segments(faulty.token);
      assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'none', typ: 'JWT' });
      assert.equal(p, segments(base.token)[1]);
      assert.equal(s, '');
      await assert.rejects(joseVerify(id, faulty.token), /"alg" \(Algorithm\) Header Parameter value not allowed|Unsupported "alg"/, id);
    }
  });

  it("hs-rs-confusion signs HS256 with the SP's public key PEM as the secret, which a careless SP would accept", async () => {
    const base = await mint('rs');
    const faulty = await mint('rs', [{ name: 'hs-rs-confusion' }]);
    const [h, p, s] = segments(faulty.token);
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { ...headerOf(base.token), alg: 'HS256' });
    assert.equal(p, segments(base.token)[1]);
    const pem = keystore.jwtKeyFor('rs', 'RS256').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.equal(s, crypto.createHmac('sha256', pem).update(`${h}.${p}`).digest('base64url'), 'the HMAC of the public key PEM');
    await assert.rejects(joseVerify('rs', faulty.token), /"alg" \(Algorithm\) Header Parameter value not allowed/);
    // What it is made to fool: an SP that lets the header choose the algorithm and uses its key file as the secret.
    await jwtVerify(faulty.token, new TextEncoder().encode(pem), { currentDate: new Date(NOW) });
    await assert.rejects(mint('hs', [{ name: 'hs-rs-confusion' }]), /hs-rs-confusion attacks SPs that verify RS256 or ES256 tokens with a public key; hs uses HS256/);
  });

  it('covers every JWT fault of the catalogue in this file', () => {
    // The Contact JWT faults (missing-identity, missing-exp, old-shared-token): test/faults/contact-jwt.test.ts.
    const tested = new Set([...claimCases.map((c) => c.fault.name), 'replayed-jti', 'bad-signature', 'wrong-key', 'alg-none', 'hs-rs-confusion', ...CONTACT_JWT_FAULT_NAMES]);
    assert.deepEqual([...JWT_FAULT_NAMES].filter((n) => !tested.has(n)), []);
  });
});
