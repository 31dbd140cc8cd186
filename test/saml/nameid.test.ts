import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDb } from '../../src/store/db.js';
import { nameIdSource, persistentSecret } from '../../src/issue/nameids.js';
import { NAMEID_FORMAT } from '../../src/saml/constants.js';
import { allowCreateStatus, chooseNameIdFormat, nameIdOf, namesSent, pairwisePseudonym, rememberedNameId, type NameIdSource } from '../../src/saml/nameid.js';
import { decideAuthnRequest, type SamlSignInInput } from '../../src/sso/saml.js';
import type { SamlSp } from '../../src/sps.js';
import { MemoryStateStore } from '../../src/state/index.js';
import type { User } from '../../src/users/store.js';
import { tempDir } from '../helpers/idp.js';
import { IDP_ENTITY_ID, NOW, alice, spOf, testConfig } from './support.js';

const SECRET = Buffer.alloc(32, 7);
const config = testConfig();
const comm100 = spOf(config, 'comm100');
const signer = spOf(config, 'https://signer.example.test/metadata');

function source(): NameIdSource & { drawn: number } {
  let n = 0;
  const s = nameIdSource({ secret: SECRET, idpEntityId: () => IDP_ENTITY_ID, newTransient: () => `_transient-${++n}`, durable: new MemoryStateStore({ now: () => NOW }) });
  return {
    ...s,
    get drawn() {
      return n;
    },
  };
}

describe('the NameID format of an AuthnRequest', () => {
  it("is the SP's default without a NameIDPolicy, or when it asks for none or for unspecified", () => {
    assert.deepEqual(chooseNameIdFormat(undefined, comm100), { format: NAMEID_FORMAT.emailAddress });
    assert.deepEqual(chooseNameIdFormat({ format: undefined, allowCreate: true }, comm100), { format: NAMEID_FORMAT.emailAddress });
    assert.deepEqual(chooseNameIdFormat({ format: NAMEID_FORMAT.unspecified, allowCreate: undefined }, comm100), { format: NAMEID_FORMAT.emailAddress });
    const persistentSp = spOf(testConfig({ nameIdFormat: NAMEID_FORMAT.persistent }), 'comm100');
    assert.deepEqual(chooseNameIdFormat({ format: NAMEID_FORMAT.unspecified, allowCreate: undefined }, persistentSp), { format: NAMEID_FORMAT.persistent });
  });

  it('is any supported format the NameIDPolicy asks for, whatever the SP default', () => {
    for (const format of [NAMEID_FORMAT.emailAddress, NAMEID_FORMAT.persistent, NAMEID_FORMAT.transient]) {
      assert.deepEqual(chooseNameIdFormat({ format, allowCreate: undefined }, comm100), { format });
    }
  });

  it('refuses an unsupported format with InvalidNameIDPolicy, naming the ones it issues', () => {
    const chosen = chooseNameIdFormat({ format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos', allowCreate: true }, comm100);
    assert.ok('status' in chosen);
    assert.equal(chosen.status.subCode, 'InvalidNameIDPolicy');
    assert.equal(
      chosen.status.message,
      'This IdP does not issue NameIDs in the format urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos; it issues urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress, urn:oasis:names:tc:SAML:2.0:nameid-format:persistent, urn:oasis:names:tc:SAML:2.0:nameid-format:transient, urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified.',
    );
  });

  it("accepts an SPNameQualifier that is the SP's own entity ID, and refuses any other (no affiliations)", () => {
    assert.deepEqual(chooseNameIdFormat({ format: NAMEID_FORMAT.persistent, allowCreate: true, spNameQualifier: 'comm100' }, comm100), { format: NAMEID_FORMAT.persistent });
    const chosen = chooseNameIdFormat({ format: NAMEID_FORMAT.persistent, allowCreate: true, spNameQualifier: 'https://affiliation.example.test' }, comm100);
    assert.ok('status' in chosen);
    assert.equal(chosen.status.code, 'Requester');
    assert.equal(chosen.status.subCode, 'InvalidNameIDPolicy');
    assert.match(chosen.status.message!, /"https:\/\/affiliation\.example\.test"; this IdP has no affiliations/);
  });
});

describe('the NameID value', () => {
  it('emailAddress and unspecified: the SP field, without qualifiers', () => {
    const s = source();
    assert.deepEqual(nameIdOf({ sp: comm100, user: alice, format: NAMEID_FORMAT.emailAddress, source: s }), { value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress });
    const agentIdSp = spOf(testConfig({ nameId: 'agentId' }), 'comm100');
    assert.deepEqual(nameIdOf({ sp: agentIdSp, user: alice, format: NAMEID_FORMAT.unspecified, source: s }), { value: '1001', format: NAMEID_FORMAT.unspecified });
  });

  it('persistent: an HMAC pseudonym of the SP and the email, qualified by the IdP and the SP', () => {
    const s = source();
    const id = nameIdOf({ sp: comm100, user: alice, format: NAMEID_FORMAT.persistent, source: s });
    assert.deepEqual(id, { value: pairwisePseudonym(SECRET, 'comm100', 'alice@example.com'), format: NAMEID_FORMAT.persistent, nameQualifier: IDP_ENTITY_ID, spNameQualifier: 'comm100' });
    assert.match(id.value, /^[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(id.value, /alice/i);
    // The email's case does not make another user; another SP or another secret gives another value.
    assert.equal(pairwisePseudonym(SECRET, 'comm100', 'Alice@Example.COM'), id.value);
    assert.notEqual(pairwisePseudonym(SECRET, 'https://signer.example.test/metadata', 'alice@example.com'), id.value);
    assert.notEqual(pairwisePseudonym(Buffer.alloc(32, 8), 'comm100', 'alice@example.com'), id.value);
    assert.notEqual(pairwisePseudonym(SECRET, 'comm100', 'bob@example.com'), id.value);
  });

  it('transient: a fresh value unless this session already sent one to the SP', () => {
    const s = source();
    const first = nameIdOf({ sp: comm100, user: alice, format: NAMEID_FORMAT.transient, source: s });
    assert.deepEqual(first, { value: '_transient-1', format: NAMEID_FORMAT.transient, nameQualifier: IDP_ENTITY_ID, spNameQualifier: 'comm100' });
    assert.deepEqual(nameIdOf({ sp: comm100, user: alice, format: NAMEID_FORMAT.transient, source: s, sent: first }), first);
    assert.equal(s.drawn, 1);
    // What the session sent in another format is no transient NameID to reuse.
    const email = { value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress } as const;
    assert.equal(nameIdOf({ sp: comm100, user: alice, format: NAMEID_FORMAT.transient, source: s, sent: email }).value, '_transient-2');
  });

  it('a session from before formats were remembered sent the SP default format', () => {
    assert.deepEqual(rememberedNameId({ nameId: 'alice@example.com' }, comm100), { value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress, nameQualifier: undefined, spNameQualifier: undefined });
    assert.equal(rememberedNameId(undefined, comm100), undefined);
  });

  it("an SP's LogoutRequest names the NameID sent when value, and Format and qualifiers where given, are equal", () => {
    const sent = { value: '_t', format: NAMEID_FORMAT.transient, nameQualifier: IDP_ENTITY_ID, spNameQualifier: 'comm100' } as const;
    assert.equal(namesSent(sent, { value: '_t' }), true);
    assert.equal(namesSent(sent, { value: '_t', format: NAMEID_FORMAT.transient, nameQualifier: IDP_ENTITY_ID, spNameQualifier: 'comm100' }), true);
    assert.equal(namesSent(sent, { value: '_u' }), false);
    assert.equal(namesSent(sent, { value: '_t', format: NAMEID_FORMAT.persistent }), false);
    assert.equal(namesSent(sent, { value: '_t', spNameQualifier: 'other' }), false);
    assert.equal(namesSent(sent, { value: '_t', nameQualifier: 'other-idp' }), false);
  });
});

describe('AllowCreate', () => {
  const never = () => Promise.reject(new Error('not asked'));

  it('only an explicit AllowCreate="false" on a persistent NameID needs one established', async () => {
    assert.equal(await allowCreateStatus({ format: NAMEID_FORMAT.persistent, allowCreate: undefined }, NAMEID_FORMAT.persistent, never), undefined);
    assert.equal(await allowCreateStatus({ format: NAMEID_FORMAT.persistent, allowCreate: true }, NAMEID_FORMAT.persistent, never), undefined);
    assert.equal(await allowCreateStatus({ format: NAMEID_FORMAT.transient, allowCreate: false }, NAMEID_FORMAT.transient, never), undefined);
    assert.equal(await allowCreateStatus({ format: NAMEID_FORMAT.emailAddress, allowCreate: false }, NAMEID_FORMAT.emailAddress, never), undefined);
    assert.deepEqual(await allowCreateStatus({ format: NAMEID_FORMAT.persistent, allowCreate: false }, NAMEID_FORMAT.persistent, () => Promise.resolve(false)), {
      code: 'Requester',
      subCode: 'InvalidNameIDPolicy',
      message:
        'The NameIDPolicy has AllowCreate="false", and this IdP has not yet issued a persistent NameID for this user to this service provider; AllowCreate="false" forbids creating one.',
    });
    assert.equal(await allowCreateStatus({ format: NAMEID_FORMAT.persistent, allowCreate: false }, NAMEID_FORMAT.persistent, () => Promise.resolve(true)), undefined);
  });

  it('the decision answers InvalidNameIDPolicy before the persistent NameID is established for the user and SP, and delivers it after', async () => {
    const s = source();
    const user: User = { ...alice, disabled: false } as unknown as User;
    const input = (sp: SamlSp): SamlSignInInput => ({
      sp,
      request: { id: '_r1', acsUrl: sp.saml.acsUrls[0]!, relayState: undefined, forceAuthn: false, isPassive: false, nameIdPolicy: { format: NAMEID_FORMAT.persistent, allowCreate: false } },
      receivedAt: NOW,
      choice: { faults: [], review: false },
      query: new URLSearchParams(),
      session: { user, authTime: NOW - 1000, sps: [], saml: undefined },
      env: { allowFaults: true, allowLoginHint: false, sps: { config, sp: () => undefined }, findUser: () => undefined, now: NOW, nameIds: s },
    });
    const before = await decideAuthnRequest(input(comm100 as SamlSp));
    assert.equal(before.kind, 'status');
    assert.equal(before.kind === 'status' && before.status.subCode, 'InvalidNameIDPolicy');

    await s.establish('comm100', 'Alice@example.com');
    const after = await decideAuthnRequest(input(comm100 as SamlSp));
    assert.equal(after.kind, 'deliver');
    assert.equal(after.kind === 'deliver' && after.nameId.value, pairwisePseudonym(SECRET, 'comm100', 'alice@example.com'));
    // Established for comm100 only.
    assert.equal((await decideAuthnRequest(input(signer as SamlSp))).kind, 'status');
  });
});

describe('the persistent-NameID secret', () => {
  it('is made once and kept in the data directory', async () => {
    const dir = tempDir();
    const db = openDb(dir);
    const first = await persistentSecret(db, undefined, undefined);
    assert.equal(first.length, 32);
    db.close();
    const again = openDb(dir);
    assert.deepEqual(await persistentSecret(again, undefined, undefined), first);
    again.close();
    const other = openDb(tempDir());
    assert.notDeepEqual(await persistentSecret(other, undefined, undefined), first);
    other.close();
  });

  it('is derived from deterministicSeed when there is one', async () => {
    const a = openDb(tempDir());
    const b = openDb(tempDir());
    assert.deepEqual(await persistentSecret(a, 'seed-1', undefined), await persistentSecret(b, 'seed-1', undefined));
    assert.notDeepEqual(await persistentSecret(a, 'seed-1', undefined), await persistentSecret(a, 'seed-2', undefined));
    a.close();
    b.close();
  });
});
