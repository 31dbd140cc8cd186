import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { hiddenField, unescapeHtml } from '../helpers/http.js';
import { freePort, tempDir } from '../helpers/idp.js';
import { waitForOutput } from './process.js';

const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

/** A browser's cookie jar, in miniature: cookies by host name (browsers do not separate ports). */
class Browser {
  private readonly jar = new Map<string, Map<string, string>>();
  /** Every URL visited, in order. */
  readonly visited: string[] = [];

  /** Fetches `url` and follows redirects as a browser does; returns the final URL and page. */
  async go(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; status: number; text: string }> {
    let current = new URL(url);
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      this.visited.push(`${method} ${current.href}`);
      const cookies = [...(this.jar.get(current.hostname) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { ...(cookies ? { cookie: cookies } : {}), ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', origin: current.origin } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      const jar = this.jar.get(current.hostname) ?? new Map<string, string>();
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair!.indexOf('=');
        jar.set(pair!.slice(0, i).trim(), pair!.slice(i + 1).trim());
      }
      this.jar.set(current.hostname, jar);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current);
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      return { url: current.href, status: res.status, text: await res.text() };
    }
    throw new Error(`too many redirects:\n${this.visited.join('\n')}`);
  }

  /** Submits the first form of a page that has a CSRF field: to its action, with its hidden fields and `fields`. */
  async submit(page: { url: string; text: string }, fields: Record<string, string>): Promise<{ url: string; status: number; text: string }> {
    const action = /<form method="post" action="([^"]+)"/.exec(page.text);
    assert.ok(action, `a form on ${page.url}`);
    const form: Record<string, string> = {};
    const formHtml = page.text.slice(action.index, page.text.indexOf('</form>', action.index));
    for (const [, name] of formHtml.matchAll(/<input type="hidden" name="([^"]+)"/g)) form[name!] = hiddenField(formHtml, name!) ?? '';
    return this.go(new URL(unescapeHtml(action[1]!), page.url).href, { method: 'POST', form: { ...form, ...fields } });
  }
}

describe('the demo on other ports', () => {
  it('moves the IdP with PORT and the demo SP with --demo-sp-port, and "Sign in with SSO" signs Alice in', async () => {
    const [idpPort, spPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [...CLI, 'serve', '--demo-sp-port', String(spPort)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOCK_IDP_CONFIG: '', MOCK_IDP_CONFIG_JSON: '', BASE_URL: '', PORT: String(idpPort), DATA_DIR: tempDir('mock-idp-demo-ports-'), LOG_LEVEL: 'warn' },
    });
    try {
      const banner = await waitForOutput(child, /mock-idp is running[\s\S]*Config:/, 20_000);
      assert.match(banner, new RegExp(`IdP: +http://localhost:${idpPort} `));
      assert.match(banner, new RegExp(`Demo SP: +http://localhost:${spPort}/LoginSSO\\.aspx\\?siteid=10000`));
      assert.doesNotMatch(banner, /:8080|:8081/, 'no URL names the default ports');

      const metadata = await (await fetch(`http://localhost:${idpPort}/saml/metadata`)).text();
      assert.match(metadata, new RegExp(`Location="http://localhost:${idpPort}/saml/sso"`), 'the metadata names the IdP where it listens');

      const browser = new Browser();
      const spLogin = await browser.go(`http://localhost:${spPort}/LoginSSO.aspx?siteid=10000`);
      assert.equal(spLogin.status, 200);
      assert.match(spLogin.text, /<form method="get" action="\/sso\/start"/, 'the SP page has the "Sign in with SSO" form');
      // "Sign in with SSO": the form's GET with the site id it shows.
      const loginPage = await browser.go(`http://localhost:${spPort}/sso/start?siteid=10000`);
      assert.equal(new URL(loginPage.url).origin, `http://localhost:${idpPort}`, 'the demo SP sent the browser to the IdP');
      assert.equal(loginPage.status, 200, loginPage.text.slice(0, 300));
      const agentPage = await browser.submit(loginPage, { email: 'alice@example.com', password: 'alice-password' });
      assert.equal(agentPage.status, 200, `${browser.visited.join('\n')}\n${agentPage.text.slice(0, 500)}`);
      assert.equal(agentPage.url, `http://localhost:${spPort}/agent`, browser.visited.join('\n'));
      assert.match(agentPage.text, /Alice Agent/);

      // The Desk-style SP on the same moved origin reuses the IdP session; its token comes as an auto-POST form.
      const autoPost = await browser.go(`http://localhost:${spPort}/desk/agent`);
      assert.match(autoPost.text, /name="jwt"/, browser.visited.join('\n'));
      const desk = await browser.submit(autoPost, {});
      assert.equal(desk.url, `http://localhost:${spPort}/desk/agent`, browser.visited.join('\n'));
      assert.match(desk.text, /Alice Agent/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
