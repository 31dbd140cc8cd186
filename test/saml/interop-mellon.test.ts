/**
 * Interoperability: a stock Apache mod_auth_mellon SP (Debian's, with the metadata and
 * keys `mellon_create_metadata` makes, and mellon's defaults) signs users in through
 * mock-idp, which registers it from that metadata file and is known to mellon by the
 * metadata it publishes. The test is the browser: it follows the redirects, fills in
 * the login form, carries the auto-POST form to mellon's ACS and reads the protected
 * page, which shows what mellon took from the Response (issue 15).
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { NAMEID_FORMAT, NS } from '../../src/saml/constants.js';
import { csrfFrom, hiddenField, unescapeHtml } from '../helpers/http.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { prepareMellon, startMellon, type MellonSp } from '../helpers/mellon.js';

interface Page {
  url: string;
  status: number;
  text: string;
  /** Every URL requested to get here, the redirects followed included. */
  visited: string[];
}

/** A browser as far as these flows need: a cookie jar per host, redirects followed, forms posted. */
class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  async get(url: string): Promise<Page> {
    return this.follow(url, { method: 'GET' });
  }

  async post(url: string, form: Record<string, string>): Promise<Page> {
    return this.follow(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  /** Forgets one site's cookies (a user clearing them, or a session that ended there). */
  forget(url: string): void {
    this.jar.delete(new URL(url).hostname);
  }

  private async follow(url: string, init: { method: string; body?: URLSearchParams; headers?: Record<string, string> }): Promise<Page> {
    const visited: string[] = [];
    let next = { url, init };
    for (let hops = 0; hops < 10; hops++) {
      visited.push(next.url);
      const cookies = this.jar.get(new URL(next.url).hostname);
      const headers: Record<string, string> = { ...next.init.headers };
      if (cookies?.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(next.url, { ...next.init, headers, redirect: 'manual' });
      this.store(next.url, res.headers.getSetCookie());
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        // 302 and 303 become a GET, as browsers do.
        next = { url: new URL(location, next.url).toString(), init: { method: 'GET' } };
        continue;
      }
      return { url: next.url, status: res.status, text: await res.text(), visited };
    }
    throw new Error(`more than 10 redirects from ${url}: ${visited.join(' -> ')}`);
  }

  private store(url: string, setCookies: string[]): void {
    const host = new URL(url).hostname;
    const cookies = this.jar.get(host) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const expired = attrs.some((a) => /^max-age=(0|-)/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (expired) cookies.delete(name);
      else cookies.set(name, pair.slice(eq + 1));
    }
    this.jar.set(host, cookies);
  }
}

const element = (xml: string) => new DOMParser().parseFromString(xml, 'text/xml').documentElement!;

/** The decoded message of an HTTP-Redirect URL among those visited. */
function redirectMessage(visited: string[], endpoint: string, param: 'SAMLRequest' | 'SAMLResponse'): { url: URL; xml: string } {
  const hit = visited.map((u) => new URL(u)).find((u) => `${u.origin}${u.pathname}` === endpoint && u.searchParams.has(param));
  assert.ok(hit, `a redirect to ${endpoint} with ${param}, among: ${visited.join(' -> ')}`);
  return { url: hit, xml: zlib.inflateRawSync(Buffer.from(hit.searchParams.get(param)!, 'base64')).toString('utf8') };
}

/** MELLON_* variables the protected page prints, one NAME=value a line. */
function mellonEnv(page: Page): Record<string, string> {
  assert.equal(page.status, 200, `the protected page: ${page.status} ${page.text.slice(0, 300)}`);
  return Object.fromEntries(page.text.split('\n').filter((l) => l.startsWith('MELLON_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

interface SignIn {
  /** The AuthnRequest mellon sent. */
  request: Element;
  /** The Response the browser carried to mellon. */
  response: Element;
  /** Its NameID; undefined when the assertion is encrypted. */
  nameId: { value: string | null; format: string | null; spNameQualifier: string | null } | undefined;
  /** What the protected page showed. */
  env: Record<string, string>;
  /** Whether the IdP asked for credentials. */
  loginForm: boolean;
}

describe('a stock Apache mod_auth_mellon SP signing in through mock-idp', () => {
  let idp: TestIdp;
  let transient: MellonSp;
  let persistent: MellonSp;
  let encrypted: MellonSp;

  before(async () => {
    const [t, p, e] = await Promise.all([prepareMellon(), prepareMellon({ nameIdFormat: NAMEID_FORMAT.persistent }), prepareMellon()]);
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: [
        ...(c.serviceProviders ?? []),
        { id: 'mellon', name: 'Mellon', saml: { metadataFile: t.metadataFile } },
        { id: 'mellon-persistent', saml: { metadataFile: p.metadataFile } },
        // The one IdP-side choice: encrypt to the key of the metadata's KeyDescriptor use="encryption".
        { id: 'mellon-encrypted', saml: { metadataFile: e.metadataFile, encryptAssertion: true } },
      ],
    }));
    const idpMetadata = `${idp.url}/saml/metadata`;
    [transient, persistent, encrypted] = await Promise.all([startMellon(t, idpMetadata), startMellon(p, idpMetadata), startMellon(e, idpMetadata)]);
  });
  after(async () => {
    await Promise.all([transient?.stop(), persistent?.stop(), encrypted?.stop()]);
    await idp?.close();
  });

  /** Visits mellon's protected page and goes wherever it leads, signing in at the IdP when asked. */
  async function signIn(browser: Browser, sp: MellonSp, email = 'alice@example.com'): Promise<SignIn> {
    const first = await browser.get(sp.protectedUrl);
    const { xml: requestXml, url: ssoUrl } = redirectMessage(first.visited, `${idp.url}/saml/sso`, 'SAMLRequest');
    assert.ok(ssoUrl.searchParams.get('Signature'), 'mellon signs its AuthnRequest (its metadata says AuthnRequestsSigned="true")');
    let page = first;
    const loginForm = /<form[^>]*action="\/login"/.test(page.text);
    if (loginForm) {
      const next = /name="continue" value="([^"]+)"/.exec(page.text)?.[1];
      assert.ok(next, `the login form continues the sign-in: ${page.text.slice(0, 300)}`);
      page = await browser.post(`${idp.url}/login`, { csrf: csrfFrom(page.text), email, password: `${email.split('@')[0]}-password`, continue: unescapeHtml(next) });
    }
    assert.equal(page.status, 200, `the auto-POST page: ${page.status} ${page.text.slice(0, 300)}`);
    const action = /<form method="post" action="([^"]+)" id="saml-post"/.exec(page.text)?.[1];
    const samlResponse = hiddenField(page.text, 'SAMLResponse');
    const relayState = hiddenField(page.text, 'RelayState');
    assert.ok(action, 'the page has the auto-POST form');
    assert.equal(unescapeHtml(action), `${sp.url}/mellon/postResponse`, 'the Response goes to the ACS of the metadata');
    assert.ok(samlResponse, 'the form carries a SAMLResponse');
    assert.ok(relayState !== undefined);
    assert.equal(relayState, sp.protectedUrl, 'the RelayState mellon sent comes back');
    const response = element(Buffer.from(samlResponse, 'base64').toString('utf8'));
    const el = response.getElementsByTagNameNS(NS.saml, 'NameID')[0];
    const done = await browser.post(unescapeHtml(action), { SAMLResponse: samlResponse, RelayState: relayState });
    assert.equal(done.url, sp.protectedUrl, `mellon sends the browser back to the page it protects:\n${sp.errorLog().slice(-2000)}`);
    return {
      request: element(requestXml),
      response,
      nameId: el && { value: el.textContent, format: el.getAttribute('Format'), spNameQualifier: el.getAttribute('SPNameQualifier') },
      env: mellonEnv(done),
      loginForm,
    };
  }

  const policyFormat = (request: Element) => request.getElementsByTagNameNS(NS.samlp, 'NameIDPolicy')[0]?.getAttribute('Format');

  it('asks for a transient NameID by default and gets one: an opaque value, not the email, with the attributes', async () => {
    const seen = await signIn(new Browser(), transient);
    assert.equal(seen.loginForm, true);
    assert.equal(policyFormat(seen.request), NAMEID_FORMAT.transient);
    assert.equal(seen.request.getElementsByTagNameNS(NS.saml, 'Issuer')[0]?.textContent, transient.entityId);
    assert.equal(seen.nameId?.format, NAMEID_FORMAT.transient);
    assert.equal(seen.nameId?.spNameQualifier, transient.entityId);
    assert.match(seen.env.MELLON_NAME_ID ?? '', /^_[0-9a-f]{40}$/, JSON.stringify(seen.env));
    assert.equal(seen.env.MELLON_NAME_ID, seen.nameId?.value);
    assert.equal(seen.env.MELLON_email, 'alice@example.com');
    assert.equal(seen.env.MELLON_name, 'Alice Agent');
  });

  it("is registered from mellon's metadata: its ACS, its logout endpoint, and its signed requests checked", async () => {
    const sp = idp.config.serviceProviders.find((s) => s.id === 'mellon')?.saml;
    assert.equal(sp?.entityId, transient.entityId);
    assert.deepEqual(sp.acsUrls, [`${transient.url}/mellon/postResponse`]);
    assert.equal(sp.sloUrl, `${transient.url}/mellon/logout`);
    assert.ok(sp.requestSigningCert, 'AuthnRequestsSigned="true": requests must be signed');
    // mellon's own AuthnRequest, with its signed RelayState changed on the way: refused.
    const { url: sso } = redirectMessage((await new Browser().get(transient.protectedUrl)).visited, `${idp.url}/saml/sso`, 'SAMLRequest');
    sso.searchParams.set('RelayState', `${transient.url}/elsewhere`);
    const tampered = await fetch(sso, { redirect: 'manual' });
    assert.equal(tampered.status, 400);
    assert.match(unescapeHtml(await tampered.text()), /The signature of the AuthnRequest does not verify with the service provider's signing certificate \(from its metadata\)\./);
  });

  it('gets the same transient NameID at a second sign-in in the same IdP session, and a new one in a new session', async () => {
    const browser = new Browser();
    const first = await signIn(browser, transient);
    // A new mellon session (its cookie gone), the IdP session kept: no login form, the same value.
    browser.forget(transient.url);
    const second = await signIn(browser, transient);
    assert.equal(second.loginForm, false, 'the IdP session signs the user in without a form');
    assert.equal(second.env.MELLON_NAME_ID, first.env.MELLON_NAME_ID);
    const other = await signIn(new Browser(), transient);
    assert.equal(other.loginForm, true);
    assert.notEqual(other.env.MELLON_NAME_ID, first.env.MELLON_NAME_ID);
  });

  it('asks for persistent when its metadata lists that format, and gets the same pseudonym in every IdP session', async () => {
    const first = await signIn(new Browser(), persistent);
    assert.equal(policyFormat(first.request), NAMEID_FORMAT.persistent);
    assert.equal(first.nameId?.format, NAMEID_FORMAT.persistent);
    assert.equal(first.nameId?.spNameQualifier, persistent.entityId);
    assert.match(first.env.MELLON_NAME_ID ?? '', /^[A-Za-z0-9_-]{43}$/, JSON.stringify(first.env));
    assert.doesNotMatch(first.env.MELLON_NAME_ID!, /alice|example/i);
    const again = await signIn(new Browser(), persistent);
    assert.equal(again.loginForm, true);
    assert.equal(again.env.MELLON_NAME_ID, first.env.MELLON_NAME_ID);
    const bob = await signIn(new Browser(), persistent, 'bob@example.com');
    assert.notEqual(bob.env.MELLON_NAME_ID, first.env.MELLON_NAME_ID);
  });

  it('decrypts the assertion when mock-idp encrypts it to the key of its metadata', async () => {
    const seen = await signIn(new Browser(), encrypted);
    assert.equal(seen.response.getElementsByTagNameNS(NS.saml, 'EncryptedAssertion').length, 1);
    assert.equal(seen.response.getElementsByTagNameNS(NS.saml, 'Assertion').length, 0, 'nothing of the assertion in the clear');
    assert.equal(seen.nameId, undefined);
    assert.match(seen.env.MELLON_NAME_ID ?? '', /^_[0-9a-f]{40}$/, `${JSON.stringify(seen.env)}\n${encrypted.errorLog().slice(-2000)}`);
    assert.equal(seen.env.MELLON_email, 'alice@example.com');
  });

  it("signs out through mellon's /mellon/logout: mock-idp answers its LogoutRequest, and the next visit asks for credentials again", async () => {
    const browser = new Browser();
    const seen = await signIn(browser, transient);
    const back = `${transient.url}/signed-out`;
    const out = await browser.get(`${transient.url}/mellon/logout?ReturnTo=${encodeURIComponent(back)}`);
    const { xml: logoutRequest, url: sloUrl } = redirectMessage(out.visited, `${idp.url}/saml/slo`, 'SAMLRequest');
    assert.ok(sloUrl.searchParams.get('Signature'), 'mellon signs its LogoutRequest');
    const named = element(logoutRequest).getElementsByTagNameNS(NS.saml, 'NameID')[0];
    assert.equal(named?.textContent, seen.env.MELLON_NAME_ID, 'mellon names the transient NameID it received');
    const { xml: logoutResponse, url: answer } = redirectMessage(out.visited, `${transient.url}/mellon/logout`, 'SAMLResponse');
    assert.ok(answer.searchParams.get('Signature'), 'mock-idp signs its LogoutResponse (mellon checks it)');
    const codes = Array.from(element(logoutResponse).getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => c.getAttribute('Value'));
    assert.deepEqual(codes, ['urn:oasis:names:tc:SAML:2.0:status:Success']);
    assert.equal(out.url, back, `mellon accepts the LogoutResponse and returns to ReturnTo:\n${transient.errorLog().slice(-2000)}`);
    assert.equal(out.status, 200);
    assert.equal(out.text, 'Signed out.\n');
    const next = await signIn(browser, transient);
    assert.equal(next.loginForm, true, 'the IdP session ended');
    assert.notEqual(next.env.MELLON_NAME_ID, seen.env.MELLON_NAME_ID);
  });
});
