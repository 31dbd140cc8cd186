import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { loadConfig } from '../../src/config/load.js';
import { freePort, MESSENGER_ID, MESSENGER_SHARED_TOKEN, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { login, unescapeHtml, type Agent } from '../helpers/http.js';

const sharedToken = new TextEncoder().encode(MESSENGER_SHARED_TOKEN);

/** The text of the page's installation code block, as a developer copies it. */
function snippetOf(html: string): string {
  const m = /<pre[^>]*><code id="website-snippet"[^>]*>([\s\S]*?)<\/code><\/pre>/.exec(html);
  assert.ok(m, `the page has the installation code in a pre/code block: ${html.slice(0, 400)}`);
  return unescapeHtml(m[1]!);
}

function attributeOf(snippet: string, name: string): string {
  const m = new RegExp(`${name}="([^"]*)"`).exec(snippet);
  assert.ok(m, `the snippet has ${name}: ${snippet}`);
  return m[1]!;
}

function expectedSnippet(spUrl: string, attribute: string, token: string): string {
  return (
    '<div id="comm100-secure-messenger"></div>\n' +
    `<script src="${spUrl}/securemessage/install.js" data-site-id="10000" data-messenger-id="${MESSENGER_ID}" ${attribute}="${token}" async></script>`
  );
}

function directive(csp: string | undefined, name: string): string[] {
  assert.ok(csp, 'the answer has a Content-Security-Policy');
  const d = csp.split(';').map((s) => s.trim()).find((s) => s.startsWith(`${name} `));
  return d ? d.split(/\s+/).slice(1) : [];
}

function assertNoStack(html: string): void {
  assert.doesNotMatch(html, /\n\s+at .+\(.*:\d+:\d+\)/, 'no stack trace on the page');
  assert.doesNotMatch(html, /TypeError|fetch failed/);
}

async function signedIn(idp: TestIdp, email = 'alice@example.com', password = 'alice-password'): Promise<Agent> {
  const agent = request.agent(idp.url);
  await login(agent, email, password);
  return agent;
}

/** A stand-in for the demo SP's Authorize API: answers as `answer` says, remembers what it was sent. */
async function standIn(answer: () => { status: number; body: unknown }): Promise<{ url: string; received: unknown[]; close(): Promise<void> }> {
  const received: unknown[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ method: req.method, contentType: req.headers['content-type'], body: JSON.parse(body || 'null') as unknown });
      const a = answer();
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/securemessage/authorize`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('The customer website (/website)', () => {
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  it('sends a visitor who is not signed in to the login form, and back to /website after signing in', async () => {
    const agent = request.agent(idp.url);
    const res = await agent.get('/website').expect(303);
    assert.equal(res.headers.location, '/login?continue=%2Fwebsite');
    const signIn = await login(agent, 'alice@example.com', 'alice-password', '/website');
    assert.equal(signIn.headers.location, '/website');
    await agent.get('/website').expect(200);
  });

  it('shows a signed-in customer the installation code with a Contact JWT that verifies with the Shared Token', async () => {
    const agent = await signedIn(idp);
    const before = Math.floor(Date.now() / 1000);
    const res = await agent.get('/website').expect(200);
    assert.match(res.text, /data-testid="website-customer">Alice Agent</);
    const snippet = snippetOf(res.text);
    const token = attributeOf(snippet, 'data-contact-jwt');
    assert.equal(snippet, expectedSnippet(idp.spUrl, 'data-contact-jwt', token));
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
    const { payload } = await jwtVerify(token, sharedToken, { algorithms: ['HS256'], audience: 'messenger' });
    assert.equal(payload.identity, 'alice@example.com');
    assert.ok(payload.iat! >= before && payload.iat! <= before + 5);
    assert.equal(payload.exp, payload.iat! + 600);
    assert.equal(payload['comm100.name'], 'Alice Agent');
    assert.equal(payload['comm100.email'], 'alice@example.com');
    assert.equal(payload['comm100.phone'], '+1 555 0101');
    assert.equal(payload['comm100.company'], 'Example Shop');
    assert.equal(payload['comm100.city'], 'Springfield');
    assert.equal(payload['comm100.country'], 'US');
    // The same code really runs in the page (not only shown): the messenger loads.
    assert.ok(res.text.includes(snippet), 'the installation code is included in the page as HTML');
    assert.match(res.text, /data-copy-target="website-snippet"/);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('mints a fresh Contact JWT on every load and records each in the flow history', async () => {
    const agent = await signedIn(idp, 'bob@example.com', 'bob-password');
    const tokens = new Set<string>();
    const jtis = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      const token = attributeOf(snippetOf((await agent.get('/website').expect(200)).text), 'data-contact-jwt');
      tokens.add(token);
      jtis.add((await jwtVerify(token, sharedToken, { algorithms: ['HS256'] })).payload.jti);
    }
    assert.equal(tokens.size, 3);
    assert.equal(jtis.size, 3);
    const flows = (await idp.running.idp.context.flows.list({ spId: 'messenger' })).filter((f) => f.user === 'bob@example.com');
    assert.equal(flows.length, 3);
    assert.equal(flows[0]!.initiator, 'widget');
    assert.equal(flows[0]!.outcome, 'delivered');
    assert.equal(flows[0]!.destination, `${idp.spUrl}/securemessage/install.js`);
  });

  it("allows the messenger's origin for scripts and frames on /website only", async () => {
    const agent = await signedIn(idp);
    const origin = new URL(idp.spUrl).origin;
    const page = await agent.get('/website').expect(200);
    assert.ok(directive(page.headers['content-security-policy'], 'script-src').includes(origin), page.headers['content-security-policy']);
    assert.ok(directive(page.headers['content-security-policy'], 'frame-src').includes(origin));
    assert.deepEqual(directive(page.headers['content-security-policy'], 'connect-src'), ["'self'"]);
    const home = await agent.get('/').expect(200);
    assert.deepEqual(directive(home.headers['content-security-policy'], 'script-src'), ["'self'"]);
    const login = await request(idp.url).get('/login').expect(200);
    assert.deepEqual(directive(login.headers['content-security-policy'], 'script-src'), ["'self'"]);
  });

  it('still answers GET /sso/token/messenger with { token } for a signed-in user', async () => {
    const agent = await signedIn(idp);
    const res = await agent.get('/sso/token/messenger').expect(200);
    const body = res.body as { token: string; sp: string };
    assert.equal(body.sp, 'messenger');
    const { payload } = await jwtVerify(body.token, sharedToken, { algorithms: ['HS256'] });
    assert.equal(payload.identity, 'alice@example.com');
  });

  it('links the two variants and refuses an unknown one with 400', async () => {
    const agent = await signedIn(idp);
    const res = await agent.get('/website').expect(200);
    assert.match(res.text, /href="\/website\?variant=comm100-jwt"/);
    const bad = await agent.get('/website?variant=nope').expect(400);
    assert.match(bad.text, /contact-jwt and comm100-jwt/);
  });

  it('moves every URL of the demo config with PORT and DEMO_SP_PORT', async () => {
    const config = await loadConfig({ env: { PORT: '18080', DEMO_SP_PORT: '18081' } });
    assert.equal(config.website.installUrl, 'http://localhost:18081/securemessage/install.js');
    assert.equal(config.website.authorizeUrl, 'http://localhost:18081/securemessage/authorize');
    assert.equal(config.website.sp, 'messenger');
    assert.equal(config.website.messengerId, MESSENGER_ID);
    const messenger = config.serviceProviders.find((sp) => sp.id === 'messenger');
    assert.deepEqual(messenger?.jwt?.redirectUrls, ['http://localhost:18081/securemessage/widget']);
    assert.equal(messenger?.jwt?.identityClaim, 'identity');
  });
});

describe('The customer website on other ports', () => {
  it('puts the demo SP of those ports in the installation code', async () => {
    const ports: [number, number] = [await freePort(), await freePort()];
    const idp = await startTestIdp((c) => c, { ports });
    try {
      assert.equal(idp.spUrl, `http://localhost:${ports[1]}`);
      const agent = await signedIn(idp);
      const res = await agent.get('/website').expect(200);
      const snippet = snippetOf(res.text);
      assert.equal(attributeOf(snippet, 'src'), `http://localhost:${ports[1]}/securemessage/install.js`);
      assert.ok(directive(res.headers['content-security-policy'], 'script-src').includes(`http://localhost:${ports[1]}`));
    } finally {
      await idp.close();
    }
  });

  it('answers 404 when no website is configured', async () => {
    const idp = await startTestIdp((c) => ({ ...c, website: {} }));
    try {
      const agent = await signedIn(idp);
      const res = await agent.get('/website').expect(404);
      assert.match(res.text, /website\.sp/);
    } finally {
      await idp.close();
    }
  });
});

describe('The customer website, Comm100 JWT variant, with the demo SP', () => {
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  it("exchanges the Contact JWT at the demo SP's Authorize API and puts a Comm100 JWT its widget accepts in the snippet as data-comm100-jwt", async () => {
    const authorizeUrl = `${idp.spUrl}/securemessage/authorize`;
    assert.equal(idp.config.website.authorizeUrl, authorizeUrl);
    const agent = await signedIn(idp);
    const res = await agent.get('/website?variant=comm100-jwt').expect(200);
    const snippet = snippetOf(res.text);
    const accessToken = attributeOf(snippet, 'data-comm100-jwt');
    assert.equal(snippet, expectedSnippet(idp.spUrl, 'data-comm100-jwt', accessToken));
    assert.ok(res.text.includes(snippet), 'the installation code is included in the page as HTML');
    assert.match(res.text, /The Comm100 JWT expires in \d+ seconds/);
    // The Comm100 JWT the demo SP minted, not the Contact JWT passed through.
    assert.deepEqual(decodeProtectedHeader(accessToken).alg, 'HS256');
    await assert.rejects(jwtVerify(accessToken, sharedToken, { algorithms: ['HS256'] }));
    const flows = await idp.running.idp.context.flows.list({ spId: 'messenger', limit: 1 });
    assert.equal(flows[0]!.destination, authorizeUrl);

    // What the widget does with it: the demo SP's widget/identify names the customer.
    const identified = await request(idp.spUrl)
      .post('/securemessage/widget/identify')
      .send({ siteId: '10000', messengerId: MESSENGER_ID, pageUrl: `${idp.url}/website?variant=comm100-jwt`, comm100Jwt: accessToken })
      .expect(200);
    const body = identified.body as { identified: boolean; via: string; identity: string; details: Record<string, unknown> };
    assert.equal(body.identified, true);
    assert.equal(body.via, 'comm100Jwt');
    assert.equal(body.identity, 'alice@example.com');
    assert.equal(body.details['comm100.name'], 'Alice Agent');
  });
});

describe('The customer website, Comm100 JWT variant, with a stand-in Authorize API that refuses', () => {
  // A stand-in: the demo SP's own refusals are tested in demo-sp-messenger.test.ts; this one answers whatever the test says.
  let authorize: Awaited<ReturnType<typeof standIn>>;
  let answer: { status: number; body: unknown } = { status: 500, body: {} };
  let idp: TestIdp;

  before(async () => {
    authorize = await standIn(() => answer);
    idp = await startTestIdp((c) => ({ ...c, website: { ...(c.website as object), authorizeUrl: authorize.url } }));
  });
  after(async () => {
    await idp.close();
    await authorize.close();
  });

  it("shows the Authorize API's status and message when it refuses, instead of a snippet", async () => {
    answer = { status: 401, body: { error: 'invalid_token', message: 'The Contact JWT signature does not verify with the shared token.' } };
    const agent = await signedIn(idp);
    const res = await agent.get('/website?variant=comm100-jwt').expect(502);
    assert.match(unescapeHtml(res.text), /data-testid="website-exchange-error">[^<]*answered 401: invalid_token: The Contact JWT signature does not verify with the shared token\./);
    assert.doesNotMatch(res.text, /id="website-snippet"/);
    assert.doesNotMatch(res.text, /<script src="[^"]*install\.js/);
    assertNoStack(res.text);
  });

  it('says when the Authorize API cannot be reached (nothing listens), with no stack trace', async () => {
    const closed = await freePort();
    const down = await startTestIdp((c) => ({ ...c, website: { ...(c.website as object), authorizeUrl: `http://127.0.0.1:${closed}/securemessage/authorize` } }));
    try {
      const agent = await signedIn(down);
      const res = await agent.get('/website?variant=comm100-jwt').expect(502);
      assert.match(res.text, new RegExp(`could not reach http://127\\.0\\.0\\.1:${closed}/securemessage/authorize \\(connection refused\\)`));
      assert.doesNotMatch(res.text, /id="website-snippet"/);
      assertNoStack(res.text);
      // The Contact JWT variant still works.
      await agent.get('/website').expect(200);
    } finally {
      await down.close();
    }
  });
});
