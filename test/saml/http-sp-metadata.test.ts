/**
 * An SP registered from its own metadata, end to end (issue 15 item 2): read from
 * a file (relative to the config file), a URL served here, the control API; then
 * sign-ins through the real routes, checked as the SP would check the Response.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import request from 'supertest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { LIMITS } from '../../src/limits.js';
import { createLogger } from '../../src/logger.js';
import { NS } from '../../src/saml/constants.js';
import { signXml } from '../../src/saml/sign.js';
import { startAll, type Running } from '../../src/server.js';
import { demoLikeConfig, freePort, tempDir } from '../helpers/idp.js';
import { login, unescapeHtml, type Agent } from '../helpers/http.js';
import { BINDING, spMetadataXml, startMetadataServer, type MetadataServer } from '../helpers/sp-metadata.js';
import { autoPost } from './http-support.js';
import { SP_ENCRYPTION, SP_SIGNING, UNRELATED, postBody, redirectQuery, type TestKeyPair } from './support.js';

const TOKEN = 'an-admin-token-for-the-sp-metadata-tests';
const RSA_OAEP_11 = 'http://www.w3.org/2009/xmlenc11#rsa-oaep';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const NOT_VERIFIED = /The signature of the AuthnRequest does not verify with the service provider's signing certificate \(from its metadata\)\./;
const SAMPLE_FIXTURES = path.resolve('test/fixtures/sp-metadata');

/** The SP whose metadata is a file: its default HTTP-POST ACS is not the first ACS listed. */
const FILE_SP = {
  entityId: 'https://file-sp.example.test/metadata',
  artifact: 'https://file-sp.example.test/saml/artifact',
  acs: 'https://file-sp.example.test/saml/acs',
  ecp: 'https://file-sp.example.test/saml/ecp',
  acsSecond: 'https://file-sp.example.test/saml/acs-second',
  slo: 'https://file-sp.example.test/saml/slo',
};
const FILE_METADATA = spMetadataXml({
  entityId: FILE_SP.entityId,
  authnRequestsSigned: true,
  encryption: { methods: [RSA_OAEP_11] },
  slo: [{ binding: BINDING.redirect, location: FILE_SP.slo }],
  nameIdFormats: [PERSISTENT],
  acs: [
    { index: 0, binding: BINDING.artifact, location: FILE_SP.artifact },
    { index: 1, binding: BINDING.post, location: FILE_SP.acs, isDefault: true },
    { index: 2, binding: BINDING.paos, location: FILE_SP.ecp },
    { index: 3, binding: BINDING.post, location: FILE_SP.acsSecond },
  ],
});

/** The SP whose metadata is a URL: requests need not be signed, but it has a signing key. */
const URL_SP = { entityId: 'https://url-sp.example.test/metadata', acs: 'https://url-sp.example.test/acs', added: 'https://url-sp.example.test/acs-added' };
const urlMetadata = (withAddedAcs: boolean) =>
  spMetadataXml({
    entityId: URL_SP.entityId,
    authnRequestsSigned: false,
    encryption: false,
    acs: [{ index: 0, binding: BINDING.post, location: URL_SP.acs }, ...(withAddedAcs ? [{ index: 1, binding: BINDING.post, location: URL_SP.added }] : [])],
  });

const OVERRIDE = { entityId: 'https://override.example.test/metadata', acs: 'https://override.example.test/acs' };
const ENC_ENTITY = 'https://enc.example.test/metadata';

function element(xml: string) {
  return new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
}

function first(root: ReturnType<typeof element>, ns: string, name: string) {
  const found = root.getElementsByTagNameNS(ns, name)[0];
  assert.ok(found, `the message has a ${name}`);
  return found;
}

function authnRequest(issuer: string, extra = '', id = `_md-${crypto.randomUUID()}`): { id: string; xml: string } {
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" IssueInstant="${new Date().toISOString()}"${extra}>` +
    `<saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`;
  return { id, xml };
}

/** The error page's text as a user reads it. */
function refusal(res: request.Response): string {
  assert.equal(res.status, 400, `expected a 400 page, got ${res.status}: ${res.text.slice(0, 300)}`);
  assert.doesNotMatch(res.text, /SAMLResponse|data-auto-submit/, 'nothing is posted to the SP');
  return unescapeHtml(res.text);
}

/** The Response's Destination, the SubjectConfirmationData's Recipient and the form's action agree: where the assertion goes. */
function deliveredTo(post: ReturnType<typeof autoPost>): string {
  const response = element(post.xml);
  const destination = response.getAttribute('Destination');
  assert.equal(destination, post.action, 'the Destination is where the form posts');
  if (response.getElementsByTagNameNS(NS.saml, 'Assertion').length > 0) {
    assert.equal(first(response, NS.saml, 'SubjectConfirmationData').getAttribute('Recipient'), post.action, 'the Recipient is where the form posts');
  }
  return post.action;
}

/** Decrypts an EncryptedAssertion as an SP with the sp-encryption key does: RSA-OAEP (SHA-256, MGF1-SHA-256) for the key, AES-256-GCM for the data. */
function decryptAssertion(responseXml: string, key: TestKeyPair): string {
  const response = element(responseXml);
  const encryptedKey = first(response, NS.xenc, 'EncryptedKey');
  const keyCipher = Buffer.from(first(encryptedKey, NS.xenc, 'CipherValue').textContent!.replace(/\s+/g, ''), 'base64');
  const aesKey = crypto.privateDecrypt({ key: key.privateKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, keyCipher);
  const data = Array.from(response.getElementsByTagNameNS(NS.xenc, 'EncryptedData'))[0]!;
  const dataMethod = Array.from(data.getElementsByTagNameNS(NS.xenc, 'EncryptionMethod')).find((m) => m.parentNode === data)!;
  assert.equal(dataMethod.getAttribute('Algorithm'), 'http://www.w3.org/2009/xmlenc11#aes256-gcm');
  const cipherValues = Array.from(data.getElementsByTagNameNS(NS.xenc, 'CipherValue'));
  const bytes = Buffer.from(cipherValues[cipherValues.length - 1]!.textContent!.replace(/\s+/g, ''), 'base64');
  const decipher = crypto.createDecipheriv('aes-256-gcm', aesKey, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
}

describe('a SAML SP registered from its metadata, end to end', () => {
  let dir: string;
  let running: Running;
  let url: string;
  let mdServer: MetadataServer;
  const logLines: string[] = [];
  const api = (method: 'get' | 'post', p: string) => request(url)[method](p).set('Authorization', `Bearer ${TOKEN}`);

  before(async () => {
    // A config file in its own folder, its metadataFile relative to it (not to the working directory).
    dir = tempDir('mock-idp-sp-metadata-');
    fs.mkdirSync(path.join(dir, 'metadata'));
    fs.writeFileSync(path.join(dir, 'metadata', 'file-sp.xml'), FILE_METADATA);
    mdServer = await startMetadataServer(urlMetadata(false));
    const base = demoLikeConfig(await freePort(), await freePort(), path.join(dir, 'data'));
    const config = {
      ...base,
      adminToken: TOKEN,
      serviceProviders: [
        ...base.serviceProviders!,
        { id: 'md-file', name: 'From a file', saml: { metadataFile: 'metadata/file-sp.xml' } },
        { id: 'md-url', name: 'From a URL', saml: { metadataUrl: mdServer.url } },
        { id: 'md-override', saml: { metadata: FILE_METADATA, entityId: OVERRIDE.entityId, acsUrls: [OVERRIDE.acs], nameIdFormat: EMAIL, sloUrl: null } },
        { id: 'md-enc', saml: { metadata: FILE_METADATA, entityId: ENC_ENTITY, encryptAssertion: true } },
      ],
    };
    const file = path.join(dir, 'mock-idp.json');
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    const resolved = await loadConfig({ file, env: {} });
    running = await startAll(resolved, { logger: createLogger({ level: 'warn', destination: { write: (line: string) => void logLines.push(line) } }) });
    url = resolved.baseUrl;
  });
  after(async () => {
    await running.close();
    await mdServer.close();
  });

  async function signedIn(): Promise<Agent> {
    const agent = request.agent(url);
    await login(agent, 'alice@example.com', 'alice-password');
    return agent;
  }

  /** An AuthnRequest over HTTP-Redirect, signed when `key` is given; the answer the browser gets. */
  function viaRedirect(agent: Agent, xml: string, key?: TestKeyPair) {
    return agent.get(`/saml/sso?${redirectQuery(xml, key ? { sign: { privateKeyPem: key.privateKeyPem } } : {})}`);
  }

  /** An AuthnRequest over HTTP-POST (an enveloped signature when `key` is given), then the continuation the browser follows. */
  async function viaPost(agent: Agent, request_: { id: string; xml: string }, key?: TestKeyPair): Promise<request.Response> {
    const xml = key ? signXml(request_.xml, { id: request_.id, credentials: key }) : request_.xml;
    const posted = await request(url).post('/saml/sso').type('form').send(postBody(xml));
    if (posted.status !== 303) return posted;
    return agent.get(posted.headers.location as string);
  }

  describe('reading the metadata', () => {
    it('reads metadataFile relative to the config file and shows what it took through the control API', async () => {
      const sp = (await api('get', '/api/service-providers/md-file').expect(200)).body as { fromMetadata: Record<string, unknown>; saml: Record<string, unknown> };
      assert.deepEqual(sp.saml, { metadataFile: 'metadata/file-sp.xml' }, 'the SP as written');
      assert.equal(sp.fromMetadata.metadataFile, path.join(dir, 'metadata', 'file-sp.xml'));
      assert.equal(sp.fromMetadata.entityId, FILE_SP.entityId);
      assert.deepEqual(sp.fromMetadata.taken, ['requestSigningCert', 'acsUrls', 'encryptionCert', 'entityId', 'nameIdFormat', 'keyEncryptionAlgorithm', 'sloUrl']);
      assert.ok((sp.fromMetadata.summary as string[]).includes(`ACS 1 (default): HTTP-POST ${FILE_SP.acs}`));
      const fromUrl = (await api('get', '/api/service-providers/md-url').expect(200)).body as { fromMetadata: Record<string, unknown> };
      assert.equal(fromUrl.fromMetadata.metadataUrl, mdServer.url);
      assert.deepEqual(fromUrl.fromMetadata.taken, ['request signing certificates (a signed request is verified)', 'acsUrls', 'entityId']);
    });
  });

  describe('where the Response goes', () => {
    it('signs a user in to the default HTTP-POST ACS of metadata read from a file', async () => {
      const agent = await signedIn();
      const { id, xml } = authnRequest(FILE_SP.entityId);
      const post = autoPost(await viaRedirect(agent, xml, SP_SIGNING));
      assert.equal(deliveredTo(post), FILE_SP.acs, 'the isDefault HTTP-POST ACS, not the Artifact ACS listed first');
      const response = element(post.xml);
      assert.equal(response.getAttribute('InResponseTo'), id);
      assert.equal(first(response, NS.saml, 'Audience').textContent, FILE_SP.entityId);
      assert.equal(first(response, NS.saml, 'NameID').getAttribute('Format'), PERSISTENT, "the metadata's NameIDFormat");
    });

    it('signs a user in to the ACS of metadata fetched from a URL', async () => {
      const agent = await signedIn();
      const post = autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId).xml));
      assert.equal(deliveredTo(post), URL_SP.acs);
      assert.equal(first(element(post.xml), NS.saml, 'Audience').textContent, URL_SP.entityId);
    });

    it('sends the Response to the second HTTP-POST ACS when the AssertionConsumerServiceIndex names it', async () => {
      const agent = await signedIn();
      const post = autoPost(await viaRedirect(agent, authnRequest(FILE_SP.entityId, ' AssertionConsumerServiceIndex="3"').xml, SP_SIGNING));
      assert.equal(deliveredTo(post), FILE_SP.acsSecond);
    });

    it('refuses an index naming an Artifact or a PAOS ACS, saying that it answers with HTTP-POST only', async () => {
      const agent = await signedIn();
      const artifact = refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId, ' AssertionConsumerServiceIndex="0"').xml, SP_SIGNING));
      assert.match(artifact, /The AssertionConsumerServiceIndex 0 of the service provider "md-file" uses the binding urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-Artifact; this IdP answers with HTTP-POST \(urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-POST\) only\./);
      const paos = refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId, ' AssertionConsumerServiceIndex="2"').xml, SP_SIGNING));
      assert.match(paos, /The AssertionConsumerServiceIndex 2 of the service provider "md-file" uses the binding urn:oasis:names:tc:SAML:2\.0:bindings:PAOS;/);
      const byUrl = refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId, ` AssertionConsumerServiceURL="${FILE_SP.artifact}"`).xml, SP_SIGNING));
      assert.match(byUrl, /The AssertionConsumerServiceURL "https:\/\/file-sp\.example\.test\/saml\/artifact" is not registered for the service provider "md-file"; it is registered with the binding urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-Artifact, and this IdP answers with HTTP-POST only\./);
    });

    it('refuses an unknown index, listing the indexes the SP has', async () => {
      const agent = await signedIn();
      const text = refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId, ' AssertionConsumerServiceIndex="9"').xml, SP_SIGNING));
      assert.match(
        text,
        /The AuthnRequest asks for the AssertionConsumerServiceIndex 9, which the service provider "md-file" does not have; its ACS indexes: 0 \(urn:oasis:names:tc:SAML:2\.0:bindings:HTTP-Artifact https:\/\/file-sp\.example\.test\/saml\/artifact\), 1 \(post https:\/\/file-sp\.example\.test\/saml\/acs\), 2 \(urn:oasis:names:tc:SAML:2\.0:bindings:PAOS https:\/\/file-sp\.example\.test\/saml\/ecp\), 3 \(post https:\/\/file-sp\.example\.test\/saml\/acs-second\)\./,
      );
    });
  });

  describe('signed AuthnRequests, verified with the certificate of the metadata', () => {
    it('AuthnRequestsSigned="true": accepts a request signed with the metadata’s signing key over both bindings', async () => {
      const agent = await signedIn();
      assert.equal(deliveredTo(autoPost(await viaRedirect(agent, authnRequest(FILE_SP.entityId).xml, SP_SIGNING))), FILE_SP.acs);
      const req = authnRequest(FILE_SP.entityId);
      const post = autoPost(await viaPost(agent, req, SP_SIGNING));
      assert.equal(element(post.xml).getAttribute('InResponseTo'), req.id);
      assert.equal(deliveredTo(post), FILE_SP.acs);
    });

    it('AuthnRequestsSigned="true": refuses an unsigned request and one signed by another key, over both bindings', async () => {
      const agent = await signedIn();
      assert.match(refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId).xml)), /The AuthnRequest is not signed: the HTTP-Redirect binding needs SigAlg and Signature parameters/);
      assert.match(refusal(await viaPost(agent, authnRequest(FILE_SP.entityId))), /The AuthnRequest is not signed, and this service provider's messages must be signed/);
      assert.match(refusal(await viaRedirect(agent, authnRequest(FILE_SP.entityId).xml, UNRELATED)), NOT_VERIFIED);
      const wrongPost = refusal(await viaPost(agent, authnRequest(FILE_SP.entityId), UNRELATED));
      assert.match(wrongPost, NOT_VERIFIED);
      assert.match(wrongPost, /<code>invalid_signature<\/code>/);
    });

    it('AuthnRequestsSigned="false" with a signing key: accepts an unsigned request, and a request signed with that key', async () => {
      const agent = await signedIn();
      assert.equal(deliveredTo(autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId).xml))), URL_SP.acs);
      assert.equal(deliveredTo(autoPost(await viaPost(agent, authnRequest(URL_SP.entityId)))), URL_SP.acs);
      assert.equal(deliveredTo(autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId).xml, SP_SIGNING))), URL_SP.acs);
    });

    it('AuthnRequestsSigned="false" with a signing key: refuses a request signed by another key, over both bindings', async () => {
      const agent = await signedIn();
      assert.match(refusal(await viaRedirect(agent, authnRequest(URL_SP.entityId).xml, UNRELATED)), NOT_VERIFIED);
      assert.match(refusal(await viaPost(agent, authnRequest(URL_SP.entityId), UNRELATED)), NOT_VERIFIED);
    });
  });

  describe('explicit config keys', () => {
    it('win over the metadata: entityId, acsUrls, nameIdFormat and sloUrl: null', async () => {
      const agent = await signedIn();
      // The metadata still says AuthnRequestsSigned="true": its signing key is still required.
      assert.match(refusal(await viaRedirect(agent, authnRequest(OVERRIDE.entityId).xml)), /The AuthnRequest is not signed/);
      const post = autoPost(await viaRedirect(agent, authnRequest(OVERRIDE.entityId).xml, SP_SIGNING));
      assert.equal(deliveredTo(post), OVERRIDE.acs);
      const response = element(post.xml);
      assert.equal(first(response, NS.saml, 'Audience').textContent, OVERRIDE.entityId);
      assert.equal(first(response, NS.saml, 'NameID').getAttribute('Format'), EMAIL);
      assert.equal(first(response, NS.saml, 'NameID').textContent, 'alice@example.com');
      // The metadata's ACS are not registered when acsUrls is given.
      assert.match(refusal(await viaRedirect(agent, authnRequest(OVERRIDE.entityId, ` AssertionConsumerServiceURL="${FILE_SP.acs}"`).xml, SP_SIGNING)), /is not registered for the service provider "md-override"/);
      assert.match(refusal(await viaRedirect(agent, authnRequest(OVERRIDE.entityId, ' AssertionConsumerServiceIndex="3"').xml, SP_SIGNING)), /its ACS indexes: 0 \(post https:\/\/override\.example\.test\/acs\)\./);
      const shown = (await api('get', '/api/service-providers/md-override').expect(200)).body as { fromMetadata: { taken: string[] } };
      assert.deepEqual(shown.fromMetadata.taken, ['requestSigningCert', 'encryptionCert', 'keyEncryptionAlgorithm']);
      assert.equal(running.idp.context.sp('md-override')!.saml!.sloUrl, null, 'no SingleLogoutService although the metadata has one');
    });
  });

  describe('encryption', () => {
    it('encrypts to the metadata’s encryption certificate with the key transport its EncryptionMethod names (xmlenc11#rsa-oaep)', async () => {
      const agent = await signedIn();
      const post = autoPost(await agent.get('/saml/idp-init/md-enc'));
      const response = element(post.xml);
      assert.equal(response.getElementsByTagNameNS(NS.saml, 'Assertion').length, 0, 'no assertion in the clear');
      assert.doesNotMatch(post.xml, /alice@example\.com/);
      const keyMethod = first(first(response, NS.xenc, 'EncryptedKey'), NS.xenc, 'EncryptionMethod');
      assert.equal(keyMethod.getAttribute('Algorithm'), RSA_OAEP_11);
      assert.equal(first(keyMethod, NS.ds, 'DigestMethod').getAttribute('Algorithm'), 'http://www.w3.org/2001/04/xmlenc#sha256');
      const assertion = decryptAssertion(post.xml, SP_ENCRYPTION);
      // The metadata's first NameIDFormat is persistent: a pseudonym, never the email; the email travels as an attribute.
      assert.match(assertion, /<saml:NameID Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:persistent"[^>]*>[A-Za-z0-9_-]{43}<\/saml:NameID>/);
      assert.match(assertion, /<saml:AttributeValue>alice@example\.com<\/saml:AttributeValue>/);
      assert.match(assertion, new RegExp(`<saml:Audience>${ENC_ENTITY.replace(/\./g, '\\.')}</saml:Audience>`));
    });
  });

  describe('the control API', () => {
    const API_SP = { entityId: 'https://api-sp.example.test/metadata', acs: 'https://api-sp.example.test/acs' };
    const apiMetadata = spMetadataXml({ entityId: API_SP.entityId, signingKey: false, encryption: false, acs: [{ index: 0, binding: BINDING.post, location: API_SP.acs }] });

    it('registers an SP from saml.metadata: 201 with what it took, and a sign-in works at once', async () => {
      const created = await api('post', '/api/service-providers').send({ id: 'md-api', saml: { metadata: apiMetadata } }).expect(201);
      const fromMetadata = created.body.fromMetadata as Record<string, unknown>;
      assert.equal(fromMetadata.metadata, 'inline');
      assert.equal(fromMetadata.entityId, API_SP.entityId);
      assert.deepEqual(fromMetadata.taken, ['acsUrls', 'entityId']);
      assert.deepEqual(fromMetadata.summary, [
        `entityID ${API_SP.entityId}`,
        `ACS 0: HTTP-POST ${API_SP.acs}`,
        'certificates: 0 for signing, 0 for encryption',
        'NameID formats: (none listed)',
        'AuthnRequestsSigned=(absent), WantAssertionsSigned=(absent)',
      ]);
      assert.ok(Math.abs(Date.parse(fromMetadata.readAt as string) - Date.now()) < 60_000);
      const agent = await signedIn();
      const post = autoPost(await viaRedirect(agent, authnRequest(API_SP.entityId).xml));
      assert.equal(deliveredTo(post), API_SP.acs);
    });

    /** The API's document padded with a comment to exactly one byte over the limit. */
    const oversize = () => apiMetadata.replace('</md:EntityDescriptor>', `<!--${'x'.repeat(LIMITS.spMetadataBytes + 1 - apiMetadata.length - 7)}--></md:EntityDescriptor>`);
    const hostile: [string, () => string, string][] = [
      ['a DOCTYPE', () => fs.readFileSync(path.join(SAMPLE_FIXTURES, 'doctype-entity.xml'), 'utf8'), 'The SP metadata contains a DOCTYPE or an entity declaration, which are not accepted.'],
      ['a document one byte over the size limit', oversize, `The SP metadata is too large: ${LIMITS.spMetadataBytes + 1} bytes of XML, at most ${LIMITS.spMetadataBytes} are accepted.`],
      [
        'an AuthnRequest instead of an EntityDescriptor',
        () => authnRequest(API_SP.entityId).xml,
        `the root element is "{${NS.samlp}}AuthnRequest", not SAML metadata: an SP's metadata is an md:EntityDescriptor (or an md:EntitiesDescriptor holding one), with md = ${NS.md}.`,
      ],
      [
        'no AssertionConsumerService',
        () => fs.readFileSync(path.join(SAMPLE_FIXTURES, 'missing-acs.xml'), 'utf8'),
        'the SPSSODescriptor of the EntityDescriptor "https://sp.test/metadata" lists no AssertionConsumerService: the IdP would have nowhere to send the Response.',
      ],
    ];
    for (const [what, doc, why] of hostile) {
      it(`refuses metadata with ${what} with a 400 that names the key and why, and registers nothing`, async () => {
        const res = await api('post', '/api/service-providers').send({ id: 'md-hostile', saml: { metadata: doc() } });
        assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 500));
        assert.match(res.headers['content-type'] as string, /^application\/json/);
        assert.equal(res.body.error, 'bad_request');
        const m = /^Invalid config in control API:\n {2}- serviceProviders\[\d+\] \("md-hostile"\)\.saml\.metadata: the document: (.*)$/s.exec(res.body.message as string);
        assert.ok(m, `the message names the key once: ${res.body.message}`);
        assert.equal(m[1], why);
        await api('get', '/api/service-providers/md-hostile').expect(404);
      });
    }

    it('refuses saml.metadataFile: the API does not read files on the IdP’s machine', async () => {
      const res = await api('post', '/api/service-providers').send({ id: 'md-by-path', saml: { metadataFile: path.join(dir, 'metadata', 'file-sp.xml') } }).expect(400);
      assert.equal(res.body.error, 'bad_request');
      assert.match(res.body.message, /saml\.metadataFile names a file on the IdP's machine, which the control API does not read: send the document itself as saml\.metadata/);
      await api('get', '/api/service-providers/md-by-path').expect(404);
    });
  });

  describe('the console', () => {
    it('shows, on the SP’s row, where its metadata was read from and what was taken', async () => {
      const agent = await signedIn();
      const home = unescapeHtml((await agent.get('/').expect(200)).text);
      const details = [...home.matchAll(/<details class="small" data-testid="sp-metadata">([\s\S]*?)<\/details>/g)].map((m) => m[1]!);
      const row = details.find((d) => d.includes(`Read from metadataFile ${path.join(dir, 'metadata', 'file-sp.xml')} at `));
      assert.ok(row, `a row reads from the file; rows: ${details.length}`);
      assert.match(row, /Taken from it: requestSigningCert, acsUrls, encryptionCert, entityId, nameIdFormat, keyEncryptionAlgorithm, sloUrl\./);
      assert.match(row, /<li><code>ACS 3: HTTP-POST https:\/\/file-sp\.example\.test\/saml\/acs-second<\/code><\/li>/);
      assert.match(row, /<li><code>AuthnRequestsSigned=true, WantAssertionsSigned=\(absent\)<\/code><\/li>/);
      assert.ok(details.some((d) => d.includes(`Read from metadataUrl ${mdServer.url} at `)));
      // The SPs written with entityId and acsUrls (the JWT ones here) have no such row; each metadata SP has one.
      assert.equal(details.length, running.idp.context.config.serviceProviders.filter((s) => s.saml?.fromMetadata).length);
      assert.ok(details.length >= 4);
    });
  });

  describe('refreshing a metadataUrl', () => {
    it('takes a changed document: an ACS added to it is accepted after the refresh', async () => {
      const agent = await signedIn();
      const before = refusal(await viaRedirect(agent, authnRequest(URL_SP.entityId, ' AssertionConsumerServiceIndex="1"').xml));
      assert.match(before, /does not have; its ACS indexes: 0 \(post https:\/\/url-sp\.example\.test\/acs\)\./);
      mdServer.serve(urlMetadata(true));
      const hits = mdServer.hits;
      const changed = await running.idp.context.refreshSpMetadata({ force: true });
      assert.deepEqual(changed, [mdServer.url]);
      assert.ok(mdServer.hits > hits, 'the URL was fetched again');
      const post = autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId, ' AssertionConsumerServiceIndex="1"').xml));
      assert.equal(deliveredTo(post), URL_SP.added);
    });

    it('keeps the last good document when the URL answers 500, and logs a warning', async () => {
      mdServer.serve('', 500);
      logLines.length = 0;
      const changed = await running.idp.context.refreshSpMetadata({ force: true });
      assert.deepEqual(changed, []);
      const warning = logLines.map((l) => JSON.parse(l) as { level: number; msg: string; url?: string; err?: string }).find((l) => l.msg.includes('could not be refreshed'));
      assert.ok(warning, `a warning was logged: ${logLines.join('')}`);
      assert.equal(warning.level, 40);
      assert.equal(warning.msg, 'SP metadata could not be refreshed; the last good document is kept');
      assert.equal(warning.url, mdServer.url);
      assert.match(warning.err!, /answered HTTP 500, not 200/);
      const agent = await signedIn();
      assert.equal(deliveredTo(autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId, ' AssertionConsumerServiceIndex="1"').xml))), URL_SP.added);
      assert.equal(deliveredTo(autoPost(await viaRedirect(agent, authnRequest(URL_SP.entityId).xml))), URL_SP.acs);
    });
  });
});

describe('a config whose SP metadata cannot be read', () => {
  function writeConfig(saml: Record<string, unknown>): string {
    const d = tempDir('mock-idp-sp-metadata-bad-');
    fs.writeFileSync(path.join(d, 'broken.xml'), 'this is not XML at all\n');
    const file = path.join(d, 'mock-idp.yaml');
    fs.writeFileSync(file, JSON.stringify({ serviceProviders: [{ id: 'bad-md', saml }] }));
    return file;
  }

  it('rejects a metadataUrl where nothing listens with a ConfigError naming the key and the cause', async () => {
    const port = await freePort();
    const file = writeConfig({ metadataUrl: `http://127.0.0.1:${port}/metadata` });
    await assert.rejects(loadConfig({ file, env: {} }), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.message, `Invalid config in ${file}:\n  - serviceProviders[0].saml.metadataUrl: cannot fetch http://127.0.0.1:${port}/metadata: ECONNREFUSED`);
      return true;
    });
  });

  it('rejects a metadataFile that is not XML with a ConfigError naming the key, the file and why', async () => {
    const file = writeConfig({ metadataFile: 'broken.xml' });
    await assert.rejects(loadConfig({ file, env: {} }), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, new RegExp(`^Invalid config in ${file.replace(/[.]/g, '\\.')}:\\n {2}- serviceProviders\\[0\\]\\.saml\\.metadataFile: broken\\.xml: .*not well-formed XML`));
      return true;
    });
  });

  it('rejects a metadataFile that does not exist, naming its absolute path', async () => {
    const file = writeConfig({ metadataFile: 'missing.xml' });
    await assert.rejects(loadConfig({ file, env: {} }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `Invalid config in ${file}:\n  - serviceProviders[0].saml.metadataFile: ${path.join(path.dirname(file), 'missing.xml')} does not exist`);
      return true;
    });
  });
});
