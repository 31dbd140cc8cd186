/**
 * JWT single sign-on in a real browser (Debian's chromium): what a person does
 * with the demo SP, the IdP login form and the "Vincall"-style console, checked
 * the way that person would check it, on screen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Frame, Locator, Page, Request } from 'playwright-core';
import { TIMEOUTS, launchBrowser, withSession, type BrowserSession } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';

const ALICE = { email: 'alice@example.com', password: 'alice-password', name: 'Alice Agent' };
const CAROL = { email: 'carol@example.com', password: 'carol-password' };
const COMM100_INACTIVE = 'This account does not exist in Comm100 or its status has been set inactive';

let idp: TestIdp;
let browser: Browser;

/** Everything the browser asked for, in order, with method and frame (to prove what happened behind redirects). */
interface Seen {
  method: string;
  url: string;
  inMainFrame: boolean;
}

function record(page: Page): Seen[] {
  const seen: Seen[] = [];
  page.on('request', (r: Request) => {
    let frame: Frame | undefined;
    try {
      frame = r.frame();
    } catch {
      frame = undefined; // service-worker requests have no frame
    }
    seen.push({ method: r.method(), url: r.url(), inMainFrame: frame === page.mainFrame() });
  });
  return seen;
}

/** The visible, trimmed text of the one element a locator finds. */
async function text(locator: Locator): Promise<string> {
  await locator.waitFor({ state: 'visible' });
  return (await locator.innerText()).trim();
}

async function jsonOf(locator: Locator): Promise<Record<string, unknown>> {
  return JSON.parse(await text(locator)) as Record<string, unknown>;
}

/** Fills the IdP login form the way a person does: by its labels. */
async function fillLogin(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

function isIdpLogin(url: string): boolean {
  const u = new URL(url);
  return u.origin === idp.url && u.pathname === '/login';
}

/** A browser on the SP's sign-in page that clicks "Sign in with SSO" and lands on the IdP login form. */
async function startSpSignIn(page: Page): Promise<void> {
  await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
  await page.getByRole('button', { name: 'Sign in with SSO' }).click();
  await page.waitForURL((u) => isIdpLogin(u.href));
  assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Sign in');
  assert.match(await text(page.locator('main')), /to continue to Comm100 \(test\)/);
}

/** Nothing the page did broke the Content Security Policy, and no script threw. */
function assertNoPageProblems(s: BrowserSession): void {
  assert.deepEqual(s.problems.pageErrors, [], 'no uncaught script errors');
  const csp = s.problems.consoleErrors.filter((m) => /Content Security Policy/i.test(m));
  assert.deepEqual(csp, [], 'no Content Security Policy violations');
}

describe('JWT single sign-on in a browser', { timeout: 10 * TIMEOUTS.test }, () => {
  before(async () => {
    idp = await startTestIdp();
    browser = await launchBrowser();
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      await idp?.close();
    }
  });

  test(
    'An agent signs in to the demo SP through the IdP, then reaches the Desk tenant and the same SP again without a password',
    { timeout: TIMEOUTS.test },
    (t) =>
      withSession(browser, t.name, async (s) => {
        const { page } = s;
        const seen = record(page);

        // 1. Demo SP sign-in page → "Sign in with SSO" → the IdP login form.
        await startSpSignIn(page);
        await fillLogin(page, ALICE.email, ALICE.password);

        // 2. Back on the SP's agent console, signed in as Alice, with the token it received.
        await page.waitForURL(`${idp.spUrl}/agent`);
        assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);
        assert.equal(await text(page.getByTestId('sp-agent-email')), ALICE.email);
        const header = await jsonOf(page.getByTestId('token-header'));
        assert.equal(header.alg, 'HS256');
        assert.equal(header.typ, 'JWT');
        const claims = await jsonOf(page.getByTestId('token-claims'));
        assert.equal(claims.email, ALICE.email);
        assert.equal(claims.aud, 'Comm100');
        assert.equal(claims.iss, 'jwt server');
        assert.equal(claims.sub, 'comm100');
        assert.equal(claims.name, ALICE.name);
        assert.ok(typeof claims.jti === 'string' && claims.jti.length >= 16, `a random jti, got ${String(claims.jti)}`);
        assert.ok(typeof claims.exp === 'number' && typeof claims.iat === 'number' && claims.exp - claims.iat === 1800);
        // The token came by redirect: a GET to the consumer with jwt= in the query.
        assert.ok(
          seen.some((r) => r.method === 'GET' && r.url.startsWith(`${idp.spUrl}/sso/jwt/consumer?`) && new URL(r.url).searchParams.has('jwt')),
          'the token was delivered to the consumer by redirect',
        );

        // 3. The Desk tenant: signed in without a password form (IdP session reused), token POSTed.
        const mark = seen.length;
        await page.goto(`${idp.spUrl}/desk/agent`);
        await page.waitForURL(`${idp.spUrl}/desk/agent`);
        assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);
        assert.equal(await text(page.getByTestId('sp-agent-email')), ALICE.email);
        const deskSeen = seen.slice(mark);
        assert.ok(deskSeen.some((r) => r.url.startsWith(`${idp.url}/sso/jwt/desk?`)), 'Desk went through the IdP');
        assert.ok(!deskSeen.some((r) => isIdpLogin(r.url)), 'no login form on the way to Desk');
        assert.ok(
          deskSeen.some((r) => r.method === 'POST' && r.url.startsWith(`${idp.spUrl}/desk/sso/jwt/consumer`)),
          'the token was delivered to Desk by an auto-submitted form POST',
        );
        assert.equal(await page.locator('input[type=password]').count(), 0);
        const deskHeader = await jsonOf(page.getByTestId('token-header'));
        assert.equal(deskHeader.alg, 'RS256');
        assert.ok(typeof deskHeader.kid === 'string' && deskHeader.kid.length > 0, 'an RS256 token names its key');
        const deskClaims = await jsonOf(page.getByTestId('token-claims'));
        assert.equal(deskClaims.email, ALICE.email);
        assert.equal(deskClaims.aud, 'desk');
        assert.equal(deskClaims.iss, idp.url);
        assert.equal(deskClaims.identity, ALICE.email);
        assert.notEqual(deskClaims.jti, claims.jti);
        assert.match(await text(page.locator('main')), /form POST/);
        // Each tenant's session cookie is scoped to its own mount (they share one session database).
        const spCookies = new Map((await s.context.cookies([`${idp.spUrl}/`, `${idp.spUrl}/desk/agent`])).map((c) => [c.name, c.path]));
        assert.equal(spCookies.get('demosp.sid'), '/');
        assert.equal(spCookies.get('demosp-desk.sid'), '/desk');

        // 4. The same SP again after its own session ended (its cookie gone, as when it expires):
        //    the IdP session is reused, no password, and the SP remembers the site ID, so its
        //    dedicated sign-in URL goes straight through ("only the first login requires inputting the site ID").
        await s.context.clearCookies({ name: 'demosp.sid' });
        const again = seen.length;
        await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
        await page.waitForURL(`${idp.spUrl}/agent`);
        assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);
        assert.ok(!seen.slice(again).some((r) => isIdpLogin(r.url)), 'no login form the second time');
        const claimsAgain = await jsonOf(page.getByTestId('token-claims'));
        assert.equal(claimsAgain.email, ALICE.email);
        assert.notEqual(claimsAgain.jti, claims.jti, 'a new token, with a new jti');

        assertNoPageProblems(s);
      }),
  );

  test('A wrong password shows the error on the login form, and the right one then continues to the SP', { timeout: TIMEOUTS.test }, (t) =>
    withSession(browser, t.name, async (s) => {
      const { page } = s;
      await startSpSignIn(page);
      await fillLogin(page, ALICE.email, 'not-her-password');

      await page.waitForURL(`${idp.url}/login`);
      assert.equal(await text(page.getByRole('alert')), 'Incorrect email or password.');
      assert.equal(await page.getByLabel('Email').inputValue(), ALICE.email, 'the email is kept');
      assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not');
      assert.match(await text(page.locator('main')), /to continue to Comm100 \(test\)/);

      await page.getByLabel('Password').fill(ALICE.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${idp.spUrl}/agent`);
      assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);
      assertNoPageProblems(s);
    }),
  );

  test('An invalid site id is refused on the SP sign-in page without going to the IdP', { timeout: TIMEOUTS.test }, (t) =>
    withSession(browser, t.name, async (s) => {
      const { page } = s;
      const seen = record(page);
      await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
      await page.getByLabel('Site ID').fill('99999');
      await page.getByRole('button', { name: 'Sign in with SSO' }).click();

      await page.waitForURL((u) => u.pathname === '/sso/start');
      assert.equal(await text(page.getByRole('alert')), 'Site ID is invalid.');
      assert.equal(await page.getByLabel('Site ID').inputValue(), '99999', 'the site id is kept to correct it');
      assert.ok(!seen.some((r) => r.url.startsWith(idp.url)), 'the browser never went to the IdP');
      assertNoPageProblems(s);
    }),
  );

  test('An agent who is inactive at the SP sees the Comm100 message, and can switch to another account', { timeout: TIMEOUTS.test }, (t) =>
    withSession(browser, t.name, async (s) => {
      const { page } = s;
      await startSpSignIn(page);
      await fillLogin(page, CAROL.email, CAROL.password);

      // As Comm100 does, the consumer redirects with errorcode 3 ("Normal Error"), which the page explains.
      await page.waitForURL((u) => u.origin === idp.spUrl && u.pathname === '/sso/error' && u.searchParams.get('errorcode') === '3');
      assert.match(await text(page.getByTestId('sp-error')), new RegExp(COMM100_INACTIVE));
      assert.match(await text(page.getByTestId('sp-errorcode')), /Normal Error/);
      assert.equal(await page.getByTestId('sp-agent').count(), 0, 'not signed in at the SP');

      // Carol is signed in at the IdP, so "try again" alone would only repeat the refusal:
      // the page offers to sign out of the IdP and pick another account.
      await page.getByRole('link', { name: 'Sign in with a different account' }).click();
      await page.waitForURL((u) => u.origin === idp.spUrl && u.pathname === '/LoginSSO.aspx');
      await page.getByRole('button', { name: 'Sign in with SSO' }).click();
      await page.waitForURL((u) => isIdpLogin(u.href));
      await fillLogin(page, ALICE.email, ALICE.password);
      await page.waitForURL(`${idp.spUrl}/agent`);
      assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);
      assertNoPageProblems(s);
    }),
  );

  test('The console on the IdP home page embeds the SP, which signs in through the IdP without a second login', { timeout: TIMEOUTS.test }, (t) =>
    withSession(browser, t.name, async (s) => {
      const { page } = s;
      const seen = record(page);

      await page.goto(`${idp.url}/`);
      await page.waitForURL((u) => isIdpLogin(u.href));
      await fillLogin(page, ALICE.email, ALICE.password);
      await page.waitForURL(`${idp.url}/`);
      assert.equal(await text(page.getByTestId('idp-user')), ALICE.name);

      const iframe = page.locator('#sp-frame');
      assert.equal(await iframe.getAttribute('src'), `${idp.spUrl}/agent`);
      const frame = page.frameLocator('#sp-frame');
      // The SP had no session: its page bounced through the IdP's remote login URL and came back signed in.
      assert.equal(await text(frame.getByTestId('sp-agent')), ALICE.name);
      assert.equal(await text(frame.getByTestId('sp-agent-email')), ALICE.email);
      const claims = await jsonOf(frame.getByTestId('token-claims'));
      assert.equal(claims.email, ALICE.email);
      assert.equal(claims.aud, 'Comm100');
      assert.equal(await frame.locator('input[type=password]').count(), 0, 'no login form inside the frame');

      const inFrame = seen.filter((r) => !r.inMainFrame);
      assert.ok(inFrame.some((r) => r.url.startsWith(`${idp.url}/sso/jwt/comm100?`)), 'the frame went through the IdP');
      assert.ok(inFrame.some((r) => r.url.startsWith(`${idp.spUrl}/sso/jwt/consumer?`)), 'the frame reached the SP consumer');
      assert.ok(!inFrame.some((r) => isIdpLogin(r.url)), 'the frame never showed the login form');
      // Cookies work in the frame on localhost with two ports: the SP set its session cookie there.
      const cookies = await s.context.cookies(idp.spUrl);
      assert.ok(
        cookies.some((c) => c.name === 'demosp.sid'),
        'the SP session cookie was set inside the iframe',
      );
      assertNoPageProblems(s);
    }),
  );

  test('Signing out at the SP ends the IdP session too', { timeout: TIMEOUTS.test }, (t) =>
    withSession(browser, t.name, async (s) => {
      const { page } = s;
      await startSpSignIn(page);
      await fillLogin(page, ALICE.email, ALICE.password);
      await page.waitForURL(`${idp.spUrl}/agent`);
      assert.equal(await text(page.getByTestId('sp-agent')), ALICE.name);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.origin === idp.spUrl && u.pathname === '/LoginSSO.aspx');
      assert.match(await text(page.getByRole('status')), /signed out/i);

      // The IdP home now shows the login form...
      await page.goto(`${idp.url}/`);
      await page.waitForURL((u) => isIdpLogin(u.href));
      assert.equal(await text(page.getByRole('heading', { level: 1 })), 'Sign in');
      await page.getByLabel('Password').waitFor({ state: 'visible' });
      // ...and so does the SP's SSO: the password is asked again. The SP remembers the site ID,
      // so its dedicated sign-in URL goes straight to the IdP.
      await page.goto(`${idp.spUrl}/LoginSSO.aspx?siteid=10000`);
      await page.waitForURL((u) => isIdpLogin(u.href));
      assert.match(await text(page.locator('main')), /to continue to Comm100 \(test\)/);
      await page.getByLabel('Password').waitFor({ state: 'visible' });
      assertNoPageProblems(s);
    }),
  );
});
