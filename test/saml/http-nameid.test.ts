/**
 * NameID formats over HTTP: what an SP receives for each format (its default, or
 * what its NameIDPolicy asks for), how persistent and transient values behave
 * across sign-ins, sessions, SPs, users and restarts, and single logout naming
 * exactly the NameID the SP received.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import type { ConfigInput } from '../../src/config/schema.js';
import { NAMEID_FORMAT, NS } from '../../src/saml/constants.js';
import type { TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, type Agent } from '../helpers/http.js';
import { SP_SLO, autoPost, redirectMessage, startSamlIdp } from './http-support.js';
import { redirectQuery } from './support.js';

const SP_ENTITY = 'https://sp.example.test/metadata';
const TRANSIENT_ENTITY = 'https://transient.example.test/metadata';
const TRANSIENT_ACS = 'https://transient.example.test/acs';
const TRANSIENT_SLO = 'https://transient.example.test/slo';
const PERSISTENT_ENTITY = 'https://persistent.example.test/metadata';
const PERSISTENT_ACS = 'https://persistent.example.test/acs';

/** SPs whose default formats are transient, persistent and unspecified (from the agentId attribute), besides saml-sp (emailAddress). */
function withFormatSps(c: ConfigInput): ConfigInput {
  return {
    ...c,
    serviceProviders: [
      ...(c.serviceProviders ?? []),
      { id: 'transient-sp', saml: { entityId: TRANSIENT_ENTITY, acsUrls: [TRANSIENT_ACS], sloUrl: TRANSIENT_SLO, nameIdFormat: NAMEID_FORMAT.transient } },
      { id: 'persistent-sp', saml: { entityId: PERSISTENT_ENTITY, acsUrls: [PERSISTENT_ACS], nameIdFormat: NAMEID_FORMAT.persistent } },
      { id: 'unspecified-sp', saml: { entityId: 'https://unspecified.example.test/metadata', acsUrls: ['https://unspecified.example.test/acs'], nameIdFormat: NAMEID_FORMAT.unspecified, nameId: 'agentId' } },
    ],
  };
}

function authnRequest(o: { issuer?: string; policy?: string } = {}): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="_req-${crypto.randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}">` +
    `<saml:Issuer>${o.issuer ?? SP_ENTITY}</saml:Issuer>${o.policy ?? ''}</samlp:AuthnRequest>`
  );
}

const policy = (format: string, extra = '') => `<samlp:NameIDPolicy Format="${format}"${extra}/>`;

function element(xml: string) {
  return new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
}

interface SeenNameId {
  value: string | null;
  format: string | null;
  nameQualifier: string | null;
  spNameQualifier: string | null;
}

function nameIdIn(root: ReturnType<typeof element>): SeenNameId {
  const el = root.getElementsByTagNameNS(NS.saml, 'NameID')[0];
  assert.ok(el, 'the message has a NameID');
  return { value: el.textContent, format: el.getAttribute('Format'), nameQualifier: el.getAttribute('NameQualifier'), spNameQualifier: el.getAttribute('SPNameQualifier') };
}

function statusCodes(xml: string): (string | null)[] {
  return Array.from(element(xml).getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => c.getAttribute('Value'));
}

describe('SAML NameID formats over HTTP', () => {
  let idp: TestIdp;
  let idpEntity: string;

  before(async () => {
    idp = await startSamlIdp({ edit: withFormatSps });
    idpEntity = idp.config.saml.entityId;
  });
  after(() => idp.close());

  async function browser(email = 'alice@example.com', password = `${email.split('@')[0]}-password`): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    return agent;
  }

  /** The NameID of the assertion an SP-initiated sign-in gives. */
  async function spInitiated(agent: Agent, o: { issuer?: string; policy?: string } = {}): Promise<SeenNameId> {
    return nameIdIn(element(autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest(o))}`)).xml));
  }

  async function idpInitiated(agent: Agent, spId: string): Promise<SeenNameId> {
    return nameIdIn(element(autoPost(await agent.get(`/saml/idp-init/${spId}`)).xml));
  }

  describe('each format, as the SP default or asked for by its NameIDPolicy', () => {
    it('emailAddress and unspecified: the user field, with no qualifiers', async () => {
      const agent = await browser();
      const none = { nameQualifier: null, spNameQualifier: null };
      assert.deepEqual(await spInitiated(agent), { value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress, ...none });
      assert.deepEqual(await spInitiated(agent, { policy: policy(NAMEID_FORMAT.unspecified) }), { value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress, ...none });
      assert.deepEqual(await idpInitiated(agent, 'unspecified-sp'), { value: '1001', format: NAMEID_FORMAT.unspecified, ...none });
    });

    it('persistent: an opaque pseudonym qualified by the IdP and the SP, whichever the SP default', async () => {
      const agent = await browser();
      const asked = await spInitiated(agent, { policy: policy(NAMEID_FORMAT.persistent) });
      assert.equal(asked.format, NAMEID_FORMAT.persistent);
      assert.equal(asked.nameQualifier, idpEntity);
      assert.equal(asked.spNameQualifier, SP_ENTITY);
      assert.match(asked.value!, /^[A-Za-z0-9_-]{43}$/);
      assert.doesNotMatch(asked.value!, /alice|example/i);
      // The same value at the next sign-in, asked again, from another session.
      assert.deepEqual(await spInitiated(await browser(), { policy: policy(NAMEID_FORMAT.persistent) }), asked);
    });

    it('transient: an opaque value qualified by the IdP and the SP', async () => {
      const agent = await browser();
      const seen = await spInitiated(agent, { policy: policy(NAMEID_FORMAT.transient, ' AllowCreate="false"') });
      assert.equal(seen.format, NAMEID_FORMAT.transient);
      assert.equal(seen.nameQualifier, idpEntity);
      assert.equal(seen.spNameQualifier, SP_ENTITY);
      assert.match(seen.value!, /^_[0-9a-f]{40}$/);
    });

    it('IdP-initiated SSO uses the SP default format', async () => {
      const agent = await browser();
      assert.equal((await idpInitiated(agent, 'transient-sp')).format, NAMEID_FORMAT.transient);
      assert.equal((await idpInitiated(agent, 'persistent-sp')).format, NAMEID_FORMAT.persistent);
      assert.equal((await idpInitiated(agent, 'saml-sp')).format, NAMEID_FORMAT.emailAddress);
    });

    it('refuses an SPNameQualifier that is not the SP itself', async () => {
      const agent = await browser();
      const post = autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest({ policy: policy(NAMEID_FORMAT.persistent, ' SPNameQualifier="https://group.example.test"') }))}`));
      assert.deepEqual(statusCodes(post.xml), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy']);
      assert.equal(element(post.xml).getElementsByTagNameNS(NS.saml, 'Assertion').length, 0);
      assert.equal((await spInitiated(agent, { policy: policy(NAMEID_FORMAT.persistent, ` SPNameQualifier="${SP_ENTITY}"`) })).spNameQualifier, SP_ENTITY);
    });
  });

  describe('persistent', () => {
    it('differs per SP and per user', async () => {
      const alice = await browser();
      const bob = await browser('bob@example.com');
      const aliceHere = await spInitiated(alice, { policy: policy(NAMEID_FORMAT.persistent) });
      const aliceThere = await idpInitiated(alice, 'persistent-sp');
      const bobHere = await spInitiated(bob, { policy: policy(NAMEID_FORMAT.persistent) });
      assert.equal(aliceThere.spNameQualifier, PERSISTENT_ENTITY);
      assert.equal(new Set([aliceHere.value, aliceThere.value, bobHere.value]).size, 3);
    });

    it('AllowCreate="false" is refused until a persistent NameID was issued for the user and SP, then answered', async () => {
      const erin = await browser('erin@example.com');
      const noCreate = authnRequest({ issuer: PERSISTENT_ENTITY, policy: policy(NAMEID_FORMAT.persistent, ' AllowCreate="false"') });
      const refused = autoPost(await erin.get(`/saml/sso?${redirectQuery(noCreate)}`));
      assert.equal(refused.action, PERSISTENT_ACS);
      assert.deepEqual(statusCodes(refused.xml), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy']);
      assert.match(element(refused.xml).getElementsByTagNameNS(NS.samlp, 'StatusMessage')[0]!.textContent!, /AllowCreate="false" forbids creating one/);

      // An AuthnRequest without AllowCreate creates it; from then on AllowCreate="false" gets it.
      const created = await spInitiated(erin, { issuer: PERSISTENT_ENTITY });
      const again = nameIdIn(element(autoPost(await erin.get(`/saml/sso?${redirectQuery(authnRequest({ issuer: PERSISTENT_ENTITY, policy: policy(NAMEID_FORMAT.persistent, ' AllowCreate="false"') }))}`)).xml));
      assert.deepEqual(again, created);
    });
  });

  describe('transient', () => {
    it('is the same for an SP within an IdP session, and new in a new session or for another SP', async () => {
      const agent = await browser();
      const first = await idpInitiated(agent, 'transient-sp');
      assert.deepEqual(await spInitiated(agent, { issuer: TRANSIENT_ENTITY }), first);
      assert.deepEqual(await idpInitiated(agent, 'transient-sp'), first);
      const otherSp = await spInitiated(agent, { policy: policy(NAMEID_FORMAT.transient) });
      assert.notEqual(otherSp.value, first.value);
      const otherSession = await idpInitiated(await browser(), 'transient-sp');
      assert.equal(otherSession.format, NAMEID_FORMAT.transient);
      assert.notEqual(otherSession.value, first.value);
    });
  });

  describe('single logout names the NameID the SP received', () => {
    function logoutRequest(issuer: string, nameId: SeenNameId): string {
      const attr = (name: string, v: string | null) => (v === null ? '' : ` ${name}="${v}"`);
      return (
        `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
        `ID="_lr-${crypto.randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${issuer}</saml:Issuer>` +
        `<saml:NameID${attr('Format', nameId.format)}${attr('NameQualifier', nameId.nameQualifier)}${attr('SPNameQualifier', nameId.spNameQualifier)}>${nameId.value}</saml:NameID></samlp:LogoutRequest>`
      );
    }

    async function idpInitiatedLogout(agent: Agent, slo: string): Promise<SeenNameId> {
      const page = await agent.get('/saml/logout').expect(200);
      const start = await agent.post('/saml/logout').type('form').send({ csrf: csrfFrom(page.text) }).expect(303);
      const { url, xml } = redirectMessage(start.headers.location as string, 'SAMLRequest');
      assert.equal(`${url.origin}${url.pathname}`, slo);
      return nameIdIn(element(xml));
    }

    it('IdP-initiated, after a transient sign-in: the LogoutRequest carries the transient NameID with its Format and qualifiers', async () => {
      const agent = await browser();
      const sent = await idpInitiated(agent, 'transient-sp');
      assert.deepEqual(await idpInitiatedLogout(agent, TRANSIENT_SLO), sent);
    });

    it('IdP-initiated, after a persistent sign-in: the LogoutRequest carries the persistent NameID', async () => {
      const agent = await browser();
      const sent = await spInitiated(agent, { policy: policy(NAMEID_FORMAT.persistent) });
      assert.equal(sent.format, NAMEID_FORMAT.persistent);
      assert.deepEqual(await idpInitiatedLogout(agent, SP_SLO), sent);
    });

    it('SP-initiated: the NameID sent (transient or persistent) signs out; another value, Format or qualifier is UnknownPrincipal', async () => {
      for (const [spId, issuer, slo, format] of [
        ['transient-sp', TRANSIENT_ENTITY, TRANSIENT_SLO, NAMEID_FORMAT.transient],
        ['saml-sp', SP_ENTITY, SP_SLO, NAMEID_FORMAT.persistent],
      ] as const) {
        const agent = await browser();
        const sent = spId === 'transient-sp' ? await idpInitiated(agent, spId) : await spInitiated(agent, { policy: policy(format) });
        assert.equal(sent.format, format);
        for (const wrong of [
          { ...sent, value: `${sent.value}x` },
          { ...sent, format: NAMEID_FORMAT.emailAddress },
          { ...sent, spNameQualifier: 'https://elsewhere.example.test' },
          { ...sent, value: 'alice@example.com', format: NAMEID_FORMAT.emailAddress, nameQualifier: null, spNameQualifier: null },
        ]) {
          const res = await agent.get(`/saml/slo?${redirectQuery(logoutRequest(issuer, wrong))}`).expect(303);
          const { xml } = redirectMessage(res.headers.location as string, 'SAMLResponse');
          assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal'], `${spId}: ${JSON.stringify(wrong)}`);
        }
        const res = await agent.get(`/saml/slo?${redirectQuery(logoutRequest(issuer, sent))}`).expect(303);
        const { url, xml } = redirectMessage(res.headers.location as string, 'SAMLResponse');
        assert.equal(`${url.origin}${url.pathname}`, slo);
        assert.deepEqual(statusCodes(xml), ['urn:oasis:names:tc:SAML:2.0:status:Success'], spId);
      }
    });
  });
});

describe('persistent NameIDs across an IdP restart', () => {
  it('are the same after the IdP is stopped and started again on its data directory', async () => {
    const first = await startSamlIdp({ edit: withFormatSps });
    const { dataDir } = first;
    const ports: [number, number] = [Number(new URL(first.url).port), Number(new URL(first.spUrl).port)];
    const signIn = async (idp: TestIdp) => {
      const agent = request.agent(idp.url);
      await login(agent, 'alice@example.com', 'alice-password');
      return nameIdIn(element(autoPost(await agent.get('/saml/idp-init/persistent-sp')).xml));
    };
    let before: SeenNameId;
    try {
      before = await signIn(first);
    } finally {
      await first.close();
    }
    const again = await startSamlIdp({ edit: withFormatSps, dataDir, ports });
    try {
      assert.deepEqual(await signIn(again), before);
    } finally {
      await again.close();
    }
    // Another data directory (another secret): another pseudonym.
    const elsewhere = await startSamlIdp({ edit: withFormatSps });
    try {
      const other = await signIn(elsewhere);
      assert.equal(other.format, NAMEID_FORMAT.persistent);
      assert.notEqual(other.value, before.value);
    } finally {
      await elsewhere.close();
    }
  });
});
