/**
 * The Contact JWT faults (a token that identifies a website visitor to a messenger
 * widget): missing-identity, missing-exp and old-shared-token, compared with the
 * same token minted without them (same clock and jti); the faults that apply to
 * every JWT (expired, wrong-key, alg-none) keep the identity; and the one rule that
 * offers the Contact JWT faults only to SPs with jwt.identityClaim.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { before, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import { fixedClock } from '../../src/clock.js';
import { resolveConfig } from '../../src/config/load.js';
import { CONTACT_JWT_FAULT_NAMES, type JwtFault } from '../../src/faults/catalog.js';
import { parseJwtFaults } from '../../src/faults/parse.js';
import { Issuer, faultsFor } from '../../src/issue/issuer.js';
import { samlIdpContext } from '../../src/issue/saml-idp.js';
import { JwtSigner } from '../../src/jwt/signer.js';
import { loadKeystore, type Keystore } from '../../src/keys/keystore.js';
import { bundledKeysDir } from '../../src/paths.js';
import type { JwtSp } from '../../src/sps.js';
import { MemoryStateStore } from '../../src/state/memory.js';
import type { User } from '../../src/users/store.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const NOW_S = NOW / 1000;
const SHARED_TOKEN = 'the-current-shared-token-of-the-messenger';
const OLD_SHARED_TOKEN = 'the-shared-token-before-the-reset-0123';
const AGENT_SECRET = 'an-agent-sso-secret-without-identity';

const config = resolveConfig(
  {
    baseUrl: 'https://idp.example.test',
    serviceProviders: [
      {
        id: 'messenger',
        jwt: { redirectUrls: ['https://sp.example.test/securemessage/widget'], algorithm: 'HS256', secret: SHARED_TOKEN, audience: 'messenger', ttlSeconds: 600, identityClaim: 'identity', claims: { 'comm100.name': 'name' } },
      },
      { id: 'messenger-rs', jwt: { redirectUrls: ['https://sp.example.test/securemessage/widget'], algorithm: 'RS256', ttlSeconds: 600, identityClaim: 'identity' } },
      { id: 'agent', jwt: { redirectUrls: ['https://sp.example.test/sso/jwt/consumer'], algorithm: 'HS256', secret: AGENT_SECRET } },
    ],
  },
  { source: 'contact jwt fault test', baseDir: process.cwd() },
);
const alice = { email: 'alice@example.com', name: 'Alice Customer', attributes: {}, disabled: false } as unknown as User;
const sp = (id: string) => config.serviceProviders.find((s) => s.id === id) as unknown as JwtSp;
const segments = (token: string) => token.split('.') as [string, string, string];
const hs = (secret: string) => new TextEncoder().encode(secret);

let keystore: Keystore;
/** What the services remember: the messenger's shared token before its reset. */
const previous = new Map([['messenger', OLD_SHARED_TOKEN]]);
let issuer: Issuer;
let forgetful: Issuer;

function issuerWith(previousSecret: ((spId: string) => string | undefined) | undefined): Issuer {
  const clock = fixedClock(NOW);
  const jwtSigner = new JwtSigner({
    serviceProviders: config.serviceProviders,
    keystore,
    secrets: new Map([
      ['messenger', SHARED_TOKEN],
      ['agent', AGENT_SECRET],
    ]),
    clock,
    newJti: () => 'jti-fixed',
  });
  return new Issuer({
    jwtSigner: () => jwtSigner,
    samlIdp: () => samlIdpContext({ config, keystore, clock, ids: { samlId: () => '_id' } }),
    keystore,
    clock,
    state: new MemoryStateStore({ now: () => NOW }),
    ...(previousSecret ? { previousSecret } : {}),
  });
}

const mint = (id: string, faults: JwtFault[] = [], by = issuer) => by.jwt(sp(id), alice, { faults });

describe('Contact JWT faults', () => {
  before(async () => {
    keystore = await loadKeystore({ keysDir: bundledKeysDir });
    issuer = issuerWith((id) => previous.get(id));
    forgetful = issuerWith(undefined);
  });

  it('without a fault, a Contact JWT carries the identity claim and exp, signed with the shared token', async () => {
    const { token, claims } = await mint('messenger');
    assert.deepEqual(claims, { iss: 'https://idp.example.test', aud: 'messenger', sub: 'alice@example.com', email: 'alice@example.com', name: 'Alice Customer', 'comm100.name': 'Alice Customer', identity: 'alice@example.com', jti: 'jti-fixed', iat: NOW_S, nbf: NOW_S, exp: NOW_S + 600 });
    const { payload } = await jwtVerify(token, hs(SHARED_TOKEN), { algorithms: ['HS256'], requiredClaims: ['exp', 'identity'], currentDate: new Date(NOW) });
    assert.equal(payload.identity, 'alice@example.com');
  });

  it('missing-identity leaves out only the SP\'s identity claim; the signature is the shared token\'s', async () => {
    const base = await mint('messenger');
    const faulty = await mint('messenger', [{ name: 'missing-identity' }]);
    const { identity, ...rest } = base.claims;
    assert.equal(identity, 'alice@example.com');
    assert.deepEqual(faulty.claims, rest);
    assert.deepEqual(faulty.header, { alg: 'HS256', typ: 'JWT' });
    await assert.rejects(jwtVerify(faulty.token, hs(SHARED_TOKEN), { algorithms: ['HS256'], requiredClaims: ['identity'], currentDate: new Date(NOW) }), /missing required "identity" claim/);
  });

  it('missing-exp leaves out only exp, so a verifier that requires exp refuses it', async () => {
    const base = await mint('messenger');
    const faulty = await mint('messenger', [{ name: 'missing-exp' }]);
    const { exp, ...rest } = base.claims;
    assert.equal(exp, NOW_S + 600);
    assert.deepEqual(faulty.claims, rest);
    await assert.rejects(jwtVerify(faulty.token, hs(SHARED_TOKEN), { algorithms: ['HS256'], requiredClaims: ['exp'], currentDate: new Date(NOW) }), /missing required "exp" claim/);
  });

  it('old-shared-token keeps header and claims and signs them with the previous shared token', async () => {
    const base = await mint('messenger');
    const faulty = await mint('messenger', [{ name: 'old-shared-token' }]);
    const [h, p, s] = segments(faulty.token);
    assert.equal(`${h}.${p}`, segments(base.token).slice(0, 2).join('.'));
    assert.equal(s, crypto.createHmac('sha256', Buffer.from(OLD_SHARED_TOKEN, 'utf8')).update(`${h}.${p}`).digest('base64url'));
    assert.notEqual(s, segments(base.token)[2]);
    await assert.rejects(jwtVerify(faulty.token, hs(SHARED_TOKEN), { algorithms: ['HS256'], currentDate: new Date(NOW) }), /signature verification failed/);
    // What it is made to fool: an Authorize API still verifying with the token before the reset.
    await jwtVerify(faulty.token, hs(OLD_SHARED_TOKEN), { algorithms: ['HS256'], currentDate: new Date(NOW) });
  });

  it('refuses old-shared-token when no earlier shared token is known, or when the SP signs RS256', async () => {
    await assert.rejects(mint('messenger', [{ name: 'old-shared-token' }], forgetful), /old-shared-token signs with the shared token messenger had before its jwt\.secret last changed, and this process has seen no such change since it started/);
    await assert.rejects(mint('messenger-rs', [{ name: 'old-shared-token' }]), /old-shared-token signs with the previous HS256 shared token; messenger-rs uses RS256, which has no shared token\./);
  });

  it('expired, wrong-key and alg-none apply to a Contact JWT as to any JWT, the identity kept', async () => {
    const expired = await mint('messenger', [{ name: 'expired' }]);
    assert.equal(expired.claims.identity, 'alice@example.com');
    assert.equal(expired.claims.exp, NOW_S - 600);
    await assert.rejects(jwtVerify(expired.token, hs(SHARED_TOKEN), { algorithms: ['HS256'], currentDate: new Date(NOW) }), /"exp" claim timestamp check failed/);
    const wrongKey = await mint('messenger', [{ name: 'wrong-key' }]);
    assert.equal(segments(wrongKey.token)[1], segments((await mint('messenger')).token)[1]);
    await assert.rejects(jwtVerify(wrongKey.token, hs(SHARED_TOKEN), { algorithms: ['HS256'], currentDate: new Date(NOW) }), /signature verification failed/);
    const none = await mint('messenger', [{ name: 'alg-none' }]);
    assert.deepEqual(none.header, { alg: 'none', typ: 'JWT' });
    assert.equal(none.claims.identity, 'alice@example.com');
  });

  it('refuses the Contact JWT faults for an SP without jwt.identityClaim, naming the key', async () => {
    for (const name of CONTACT_JWT_FAULT_NAMES) {
      await assert.rejects(mint('agent', [{ name }]), new RegExp(`${name} is a Contact JWT fault, for SPs whose tokens identify a visitor \\(jwt\\.identityClaim\\); agent has no jwt\\.identityClaim\\.`));
    }
  });

  it('offers the Contact JWT faults only to SPs with an identityClaim, and old-shared-token only when an earlier shared token is known', () => {
    const names = (id: string, known: Parameters<typeof faultsFor>[2] = {}) => faultsFor('jwt', config.serviceProviders.find((s) => s.id === id), known).map((f) => f.name);
    const knows = { previousHsSecret: (id: string) => previous.get(id) };
    assert.ok(names('messenger', knows).includes('old-shared-token'));
    assert.deepEqual(
      CONTACT_JWT_FAULT_NAMES.filter((n) => names('messenger', knows).includes(n)),
      ['missing-identity', 'missing-exp', 'old-shared-token'],
    );
    assert.ok(!names('messenger', { previousHsSecret: () => undefined }).includes('old-shared-token'));
    assert.ok(names('messenger', { previousHsSecret: () => undefined }).includes('missing-identity'));
    assert.deepEqual(CONTACT_JWT_FAULT_NAMES.filter((n) => names('messenger-rs', knows).includes(n)), ['missing-identity', 'missing-exp']);
    assert.deepEqual(CONTACT_JWT_FAULT_NAMES.filter((n) => names('agent', knows).includes(n)), []);
  });

  it('parses them, and refuses combinations that contradict each other', () => {
    assert.deepEqual(parseJwtFaults('missing-identity,missing-exp'), [{ name: 'missing-identity' }, { name: 'missing-exp' }]);
    assert.throws(() => parseJwtFaults('expired,missing-exp'), /The faults expired and missing-exp cannot be combined: one sets exp and the other removes it\./);
    assert.throws(() => parseJwtFaults('old-shared-token,bad-signature'), /cannot be combined: they all replace the signature/);
    assert.throws(() => parseJwtFaults('old-shared-tokn'), /Did you mean "old-shared-token"\?/);
  });
});
