/**
 * The demo SP's SAML side as part of the one demo app (createDemoSp, as `npm start`
 * wires it): the JWT pages' header and Comm100/Desk switcher, a title that says
 * SAML once, the assertion laid out for reading with its signature values cut, and
 * moments in the one format of every page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { login, unescapeHtml } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';

const MOMENT = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/;

describe('the demo SP SAML side in the one demo app', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: c.serviceProviders!.map((sp) =>
        sp.id === 'comm100' ? { ...sp, saml: { entityId: 'comm100', acsUrls: [`${c.demo!.spBaseUrl}/sso/saml/acs`], sloUrl: `${c.demo!.spBaseUrl}/sso/saml/slo`, signAssertion: true } } : sp,
      ),
    }));
  });
  after(() => idp.close());

  async function signedInPage(): Promise<string> {
    const sp = request.agent(idp.spUrl);
    const start = await sp.get('/sso/saml/login').expect(302);
    const toIdp = new URL(start.headers.location as string);
    const browser = request.agent(idp.url);
    await login(browser, 'alice@example.com', 'alice-password');
    const post = autoPost(await browser.get(`${toIdp.pathname}${toIdp.search}`));
    await sp.post(new URL(post.action).pathname).type('form').send(post.fields).expect(303);
    return (await sp.get('/sso/saml/agent').expect(200)).text;
  }

  it('has the JWT pages\' header: the tenant name, the Comm100/Desk switcher with Comm100 current, and a sane title', async () => {
    const html = await signedInPage();
    assert.match(html, /<title>Comm100 \(test\): agent console — signed in with SAML · demo SP<\/title>/);
    assert.doesNotMatch(html, /\(SAML\)/);
    assert.match(html, /<a class="brand" href="\/sso\/saml\/">Comm100 \(test\)<\/a>/);
    assert.match(html, /<nav class="bar-nav" aria-label="Demo service providers">\s*<a href="\/agent" aria-current="page">Comm100 \(test\)<\/a><a href="\/desk\/agent">Desk \(test\)<\/a>/);
    const login = await request(idp.spUrl).get('/sso/saml/').expect(200);
    assert.match(login.text, /<title>Comm100 \(test\): sign in with SAML · demo SP<\/title>/);
    assert.match(login.text, /aria-current="page">Comm100 \(test\)</);
  });

  it('shows the signed assertion indented, one element a line, never with a whole signature value', async () => {
    const xml = unescapeHtml(/<pre class="xml" data-testid="saml-assertion-xml">([\s\S]*?)<\/pre>/.exec(await signedInPage())![1]!);
    const lines = xml.split('\n');
    assert.match(lines[0]!, /^<saml:Assertion /);
    assert.ok(lines.length > 20, `${lines.length} lines`);
    assert.ok(lines.some((l) => /^ {2}<saml:Issuer>/.test(l)), 'children indented by two spaces');
    // What was signed (the enveloped Signature is not part of it); a SignatureValue, were one shown, is cut.
    assert.doesNotMatch(xml, /<ds:SignatureValue>[^<…]{9,}</);
    assert.equal(lines.at(-1), '</saml:Assertion>');
  });

  it('shows its moments as the other pages do', async () => {
    const html = await signedInPage();
    assert.match(html, new RegExp(`received ${MOMENT.source};`));
    assert.match(html, new RegExp(`data-testid="saml-valid">${MOMENT.source} to ${MOMENT.source}<`));
    assert.match(html, new RegExp(`data-testid="saml-authn-instant">${MOMENT.source}<`));
    const outsideXml = html.replace(/<pre class="xml"[\s\S]*?<\/pre>/, '');
    assert.doesNotMatch(outsideXml, /\d{4}-\d\d-\d\dT\d\d:\d\d/, 'no ISO 8601 moment left on the page outside the XML');
  });
});
