/**
 * The demo SP's SAML side (saml2-js plus the checks it leaves to the caller),
 * against a real IdP, both on loopback ports.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { samlDemoRouter } from '../../src/demo-sp/saml.js';
import { viewsDir, publicDir } from '../../src/paths.js';
import { closeServer, listen } from '../../src/server.js';
import { freePort, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, login, unescapeHtml, type Agent } from '../helpers/http.js';
import { autoPost, startSamlIdp } from './http-support.js';
import { SP_ENCRYPTION } from './support.js';

describe('the demo SP signing in with SAML (saml2-js)', () => {
  let idp: TestIdp;
  let spServer: http.Server;
  let spUrl: string;

  before(async () => {
    const spPort = await freePort();
    spUrl = `http://127.0.0.1:${spPort}`;
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        serviceProviders: [
          ...(c.serviceProviders ?? []),
          {
            id: 'comm100-saml',
            name: 'Comm100 SAML (test)',
            // The first ACS (IdP-initiated default) is another URL, to test the Destination check.
            saml: { entityId: 'comm100', acsUrls: [`${spUrl}/saml/elsewhere`, `${spUrl}/saml/acs`], sloUrl: `${spUrl}/saml/slo` },
          },
          // The same SP registered again, with this ACS first, for IdP-initiated sign-in.
          { id: 'comm100-unsolicited', saml: { entityId: 'comm100', acsUrls: [`${spUrl}/saml/acs`] } },
          { id: 'wrong-acs', saml: { entityId: 'other-sp', acsUrls: [`${spUrl}/saml/acs`] } },
          // Encrypted with the xmlenc11#rsa-oaep key transport, which saml2-js cannot decrypt.
          {
            id: 'comm100-oaep256',
            saml: { entityId: 'comm100', acsUrls: [`${spUrl}/saml/acs`], encryptAssertion: true, encryptionCert: SP_ENCRYPTION.certificatePem, keyEncryptionAlgorithm: 'rsa-oaep-sha256' },
          },
        ],
      }),
    });
    const app = express();
    app.set('views', viewsDir);
    app.set('view engine', 'ejs');
    app.use('/static', express.static(publicDir));
    app.use(express.urlencoded({ extended: false, limit: '256kb' }));
    app.use(
      '/saml',
      samlDemoRouter({
        idpUrl: idp.url,
        spBaseUrl: spUrl,
        mount: '/saml',
        entityId: 'comm100',
        name: 'Comm100 (SAML demo)',
        agents: idp.config.demo.agents,
        sessionStore: new session.MemoryStore(),
        sessionSecret: 'test-session-secret-for-the-saml-demo',
        decryptionKeyPem: SP_ENCRYPTION.privateKeyPem,
      }),
    );
    spServer = await listen(app, spPort, '127.0.0.1');
  });
  after(async () => {
    await closeServer(spServer);
    await idp.close();
  });

  async function idpAgent(email = 'alice@example.com', password = 'alice-password'): Promise<Agent> {
    const agent = request.agent(idp.url);
    await login(agent, email, password);
    return agent;
  }

  /** Posts an IdP auto-POST page's fields to the SP, as the browser would. */
  function postToSp(sp: Agent, page: request.Response) {
    const post = autoPost(page);
    return sp.post(new URL(post.action).pathname).type('form').send(post.fields);
  }

  /** SP-initiated sign-in through both apps: returns the SP agent and the ACS response. */
  async function signIn(email = 'alice@example.com', password = 'alice-password') {
    const sp = request.agent(spUrl);
    const start = await sp.get('/saml/login?returnUrl=%2Fsaml%2Fagent').expect(302);
    const toIdp = new URL(start.headers.location as string);
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, `${idp.url}/saml/sso`);
    const browser = await idpAgent(email, password);
    const page = await browser.get(`${toIdp.pathname}${toIdp.search}`);
    return { sp, browser, page, acs: await postToSp(sp, page) };
  }

  it('offers "Sign in with SAML" and sends an AuthnRequest by HTTP-Redirect', async () => {
    const page = await request(spUrl).get('/saml/').expect(200);
    assert.match(page.text, /<a class="button wide" href="\/saml\/login" data-testid="saml-sign-in">Sign in with SAML<\/a>/);
    const start = await request(spUrl).get('/saml/login').expect(302);
    assert.match(start.headers.location as string, /\/saml\/sso\?SAMLRequest=[^&]+&RelayState=%2Fsaml%2Fagent$/);
  });

  it('signs the agent in and shows the decoded assertion and the checks it passed', async () => {
    const { sp, acs } = await signIn();
    assert.equal(acs.status, 303, acs.text.slice(0, 500));
    assert.equal(acs.headers.location, '/saml/agent');
    const agentPage = await sp.get('/saml/agent').expect(200);
    const text = unescapeHtml(agentPage.text);
    assert.match(text, /Signed in with SAML as <strong data-testid="sp-agent">Alice Agent<\/strong>/);
    assert.match(text, /<dd data-testid="saml-nameid">alice@example\.com <span class="muted small">\(urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress\)<\/span><\/dd>/);
    assert.match(text, /<tr><td><code>email<\/code><\/td><td>alice@example\.com<\/td><\/tr>/);
    for (const check of [
      /saml2-js: signature, status Success, time window, audience/,
      /Destination is this ACS/,
      /InResponseTo _[0-9a-f]+ is a request this SP sent, now answered/,
      /Issuer is the IdP/,
      /Bearer SubjectConfirmation: Recipient is this ACS/,
      /Audience is exactly this SP \(comm100\)/,
      /Assertion ID _[0-9a-f]{40} not seen before/,
    ]) {
      assert.match(text, check);
    }
    // Laid out for reading: one element a line, indented, no whole signature value.
    assert.match(text, /<pre class="xml" data-testid="saml-assertion-xml"><saml:Assertion [^\n]*>\n {2}<saml:Issuer>/);
    assert.doesNotMatch(text, /<ds:SignatureValue>[^<…]{9,}</);
  });

  it('refuses a Response posted a second time (its request is already answered)', async () => {
    const { sp, page } = await signIn();
    const again = await postToSp(sp, page).expect(401);
    assert.match(unescapeHtml(again.text), /The Response answers no AuthnRequest this SP sent \(or one that expired or was already answered\)\./);
  });

  it('accepts an IdP-initiated Response once, then refuses its replayed assertion', async () => {
    const browser = await idpAgent();
    const page = await browser.get('/saml/idp-init/comm100-unsolicited?RelayState=%2Fsaml%2Fagent');
    const post = autoPost(page);
    assert.equal(post.action, `${spUrl}/saml/acs`);
    const sp = request.agent(spUrl);
    await sp.post('/saml/acs').type('form').send(post.fields).expect(303);
    const text = unescapeHtml((await sp.get('/saml/agent').expect(200)).text);
    assert.match(text, /Unsolicited \(IdP-initiated\) Response: accepted by configuration/);
    const replay = await request(spUrl).post('/saml/acs').type('form').send(post.fields).expect(401);
    assert.match(unescapeHtml(replay.text), /This assertion was already used \(replayed assertion ID\)\./);
  });

  it('refuses a Response addressed to another ACS URL (Destination check)', async () => {
    const browser = await idpAgent();
    // comm100-saml's IdP-initiated answers go to its first ACS, .../saml/elsewhere.
    const page = await browser.get('/saml/idp-init/comm100-saml');
    const post = autoPost(page);
    assert.equal(post.action, `${spUrl}/saml/elsewhere`);
    const res = await request(spUrl).post('/saml/acs').type('form').send(post.fields).expect(401);
    assert.match(unescapeHtml(res.text), new RegExp(`The Response is addressed to ${spUrl}/saml/elsewhere, not to this ACS\\.`));
  });

  it('says plainly that it cannot decrypt a key encrypted with xmlenc11#rsa-oaep (saml2-js knows only rsa-oaep-mgf1p)', async () => {
    const browser = await idpAgent();
    const post = autoPost(await browser.get('/saml/idp-init/comm100-oaep256'));
    assert.match(post.xml, /<e:EncryptionMethod Algorithm="http:\/\/www\.w3\.org\/2009\/xmlenc11#rsa-oaep">/);
    const res = await request(spUrl).post('/saml/acs').type('form').send(post.fields).expect(400);
    const text = unescapeHtml(res.text);
    assert.match(text, /The assertion's key is encrypted with http:\/\/www\.w3\.org\/2009\/xmlenc11#rsa-oaep, which this SP \(saml2-js, with xml-encryption 3\) cannot decrypt: it knows only http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa-oaep-mgf1p\. Register it at the IdP with keyEncryptionAlgorithm: rsa-oaep-mgf1p \(the default\)\./);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  });

  it('refuses an assertion for another audience', async () => {
    const browser = await idpAgent();
    const post = autoPost(await browser.get('/saml/idp-init/wrong-acs'));
    const res = await request(spUrl).post('/saml/acs').type('form').send(post.fields).expect(401);
    assert.match(unescapeHtml(res.text), /saml2-js refused the Response: SAML Response is not valid for this audience/);
  });

  it('refuses a Response changed after signing', async () => {
    const { sp, page } = await (async () => {
      const spAgent = request.agent(spUrl);
      const start = await spAgent.get('/saml/login').expect(302);
      const url = new URL(start.headers.location as string);
      const browser = await idpAgent();
      return { sp: spAgent, page: await browser.get(`${url.pathname}${url.search}`) };
    })();
    const post = autoPost(page);
    const tampered = Buffer.from(post.xml.replace('>alice@example.com</saml:NameID>', '>bob@example.com</saml:NameID>')).toString('base64');
    const res = await sp.post('/saml/acs').type('form').send({ ...post.fields, SAMLResponse: tampered }).expect(401);
    assert.match(unescapeHtml(res.text), /saml2-js refused the Response: SAML Assertion signature check failed/);
  });

  it('refuses an inactive agent with Comm100\'s message', async () => {
    const { acs } = await signIn('carol@example.com', 'carol-password');
    assert.equal(acs.status, 403);
    assert.match(unescapeHtml(acs.text), /Error signing into the account\. This account does not exist in Comm100 or its status has been set inactive\./);
  });

  it('signs out through the IdP (SP-initiated single logout) and ends both sessions', async () => {
    const { sp, browser, acs } = await signIn();
    assert.equal(acs.status, 303);
    const out = await sp.post('/saml/logout').expect(303);
    const toIdp = new URL(out.headers.location as string);
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, `${idp.url}/saml/slo`);
    const answer = await browser.get(`${toIdp.pathname}${toIdp.search}`).expect(303);
    const back = new URL(answer.headers.location as string);
    assert.equal(`${back.origin}${back.pathname}`, `${spUrl}/saml/slo`);
    const done = await sp.get(`${back.pathname}${back.search}`).expect(303);
    assert.equal(done.headers.location, '/saml/?signedout=1');
    await sp.get('/saml/agent').expect(302);
    const idpLogin = await browser.get('/login?continue=%2Fx');
    assert.equal(idpLogin.status, 200, 'the IdP session has ended');
  });

  it('answers the IdP-initiated LogoutRequest and ends its session', async () => {
    const { sp, browser, acs } = await signIn();
    assert.equal(acs.status, 303);
    const page = await browser.get('/saml/logout').expect(200);
    const start = await browser.post('/saml/logout').type('form').send({ csrf: csrfFrom(page.text) }).expect(303);
    const toSp = new URL(start.headers.location as string);
    assert.equal(`${toSp.origin}${toSp.pathname}`, `${spUrl}/saml/slo`);
    const answer = await sp.get(`${toSp.pathname}${toSp.search}`).expect(303);
    const back = new URL(answer.headers.location as string);
    const done = await browser.get(`${back.pathname}${back.search}`).expect(200);
    assert.match(done.text, /<li><strong>Comm100 SAML \(test\)<\/strong>: <span class="ok">signed out<\/span><\/li>/);
    await sp.get('/saml/agent').expect(302);
  });

  it('refuses a LogoutRequest that the IdP did not sign', async () => {
    const res = await request(spUrl).get('/saml/slo?SAMLRequest=abc').expect(401);
    assert.match(res.text, /The SAMLRequest is not signed by the IdP\./);
  });
});
