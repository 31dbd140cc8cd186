/**
 * `fault=` on the sign-in URLs: refused with a 400 that says how to turn it on
 * while allowFaults is false (the default), honoured when it is true, and a bad
 * value is a 400 naming the faults there are. Refusals land in the flow history.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { FAULT_VALUES } from '../../src/faults/catalog.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { jwtFromLocation, login, unescapeHtml, type Agent } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';

const samlSp = (spUrl: string) => ({ id: 'saml-app', name: 'SAML app', saml: { entityId: 'https://saml-app.example.test', acsUrls: [`${spUrl}/elsewhere/acs`] } });

describe('fault= while allowFaults is off (the default)', () => {
  let idp: TestIdp;
  let agent: Agent;
  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, serviceProviders: [...c.serviceProviders!, samlSp(c.demo!.spBaseUrl!)] }));
    agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  const consumer = () => encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`);
  const OFF = /Fault injection is off, so the fault parameter is refused\. Set allowFaults: true in the IdP config to use fault= on sign-in URLs, or add review=1 and choose a fault on the review page\./;

  it('refuses fault= on the JWT remote login URL with a 400 saying how to enable it, signed in or not', async () => {
    const res = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=expired`).expect(400);
    assert.match(unescapeHtml(res.text), OFF);
    const anonymous = await request(idp.url).get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=expired`).expect(400);
    assert.match(unescapeHtml(anonymous.text), OFF);
    const json = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=expired`).set('Accept', 'application/json').expect(400);
    assert.equal(json.body.error, 'faults_disabled');
  });

  it('refuses fault= on IdP-initiated SAML too, and records the refusal in the flow history', async () => {
    const res = await agent.get('/saml/idp-init/saml-app?fault=wrong-audience').expect(400);
    assert.match(unescapeHtml(res.text), OFF);
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.equal(flow!.outcome, 'refused');
    assert.equal(flow!.sp.id, 'saml-app');
    assert.match(flow!.detail!, /^Fault injection is off/);
  });

  it('ignores an empty fault= and signs in as usual', async () => {
    const res = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=`).expect(302);
    assert.equal(decodeJwt(jwtFromLocation(res.headers.location as string)).aud, 'Comm100');
  });
});

describe('fault= with allowFaults: true', () => {
  let idp: TestIdp;
  let agent: Agent;
  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, allowFaults: true, serviceProviders: [...c.serviceProviders!, samlSp(c.demo!.spBaseUrl!)] }));
    agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  const consumer = () => encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`);

  it('sends the faulty token and labels the flow with its faults', async () => {
    const res = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=wrong-audience,missing-jti`).expect(302);
    const claims = decodeJwt(jwtFromLocation(res.headers.location as string));
    assert.equal(claims.aud, FAULT_VALUES.audience);
    assert.equal(claims.jti, undefined);
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.outcome, flow!.faults], ['delivered', ['wrong-audience', 'missing-jti']]);
  });

  it('keeps fault= across the sign-in: the login form comes back to the same URL', async () => {
    const anonymous = request.agent(idp.url);
    const start = await anonymous.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=wrong-issuer`).expect(303);
    const next = new URL(start.headers.location as string, idp.url).searchParams.get('continue')!;
    assert.match(next, /fault=wrong-issuer/);
    await login(anonymous, 'bob@example.com', 'bob-password', next);
    const res = await anonymous.get(next).expect(302);
    assert.equal(decodeJwt(jwtFromLocation(res.headers.location as string)).iss, FAULT_VALUES.issuer);
  });

  it('answers a bad fault= value with a 400 naming the faults there are', async () => {
    const res = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=wrong-recipient`).expect(400);
    assert.match(unescapeHtml(res.text), /"wrong-recipient" is a SAML fault, and this is a JWT sign-in\. The JWT faults are: expired, /);
    const json = await agent.get(`/sso/jwt/comm100?redirect_url=${consumer()}&fault=expird`).set('Accept', 'application/json').expect(400);
    assert.equal(json.body.error, 'invalid_fault');
    assert.match(json.body.message, /Did you mean "expired"\?/);
  });

  it('applies SAML faults on IdP-initiated sign-in', async () => {
    const post = autoPost(await agent.get('/saml/idp-init/saml-app?fault=wrong-audience'));
    assert.match(post.xml, new RegExp(`<saml:Audience>${FAULT_VALUES.audience}</saml:Audience>`));
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.protocol, flow!.initiator, flow!.faults], ['saml', 'idp', ['wrong-audience']]);
  });

  it('applies fault= on the SSO URL of an HTTP-POST AuthnRequest, across the cross-site continue step', async () => {
    const xml =
      `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_post-fault-0001" Version="2.0" ` +
      `IssueInstant="${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}" Destination="${idp.url}/saml/sso"><saml:Issuer>https://saml-app.example.test</saml:Issuer></samlp:AuthnRequest>`;
    const posted = await request(idp.url)
      .post('/saml/sso?fault=wrong-destination')
      .type('form')
      .send({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: 'back' })
      .expect(303);
    const post = autoPost(await agent.get(posted.headers.location as string));
    assert.match(post.xml, new RegExp(`Destination="${FAULT_VALUES.destination}" InResponseTo="_post-fault-0001"`));
    assert.equal(post.fields.RelayState, 'back');
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.initiator, flow!.faults, flow!.saml!.inResponseTo], ['sp', ['wrong-destination'], '_post-fault-0001']);
  });

  it('says replayed-assertion needs an earlier fault-free assertion, then reuses its ID', async () => {
    const refused = await agent.get('/saml/idp-init/saml-app?fault=replayed-assertion').expect(400);
    assert.match(unescapeHtml(refused.text), /replayed-assertion reuses the ID of the last fault-free assertion sent to saml-app/);
    const first = autoPost(await agent.get('/saml/idp-init/saml-app'));
    const id = /<saml:Assertion [^>]*ID="([^"]+)"/.exec(first.xml)![1];
    const replayed = autoPost(await agent.get('/saml/idp-init/saml-app?fault=replayed-assertion'));
    assert.equal(/<saml:Assertion [^>]*ID="([^"]+)"/.exec(replayed.xml)![1], id);
  });
});
