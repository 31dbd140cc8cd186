/**
 * What every IdP page shares: the header menu (console, conformance, flows, decode,
 * SAML metadata, JWKS, and the OpenAPI document when the control API is on), one
 * format for a moment, and the home console's count of what it delivered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { login, unescapeHtml, type Agent } from '../helpers/http.js';

const SHOWN = /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/;

/** The links of the header menu. */
function menu(html: string): string[] {
  const nav = /<nav class="bar-nav"[^>]*>([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? '';
  return [...nav.matchAll(/<a href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].map((m) => `${m[2]} ${m[1]}`);
}

describe('the IdP pages', () => {
  let idp: TestIdp;
  let alice: Agent;
  before(async () => {
    idp = await startTestIdp();
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  it('link the console, conformance, flows, decode, SAML metadata and the JWKS from the menu; no API link while the API is off', async () => {
    const page = (await request(idp.url).get('/flows').expect(200)).text;
    assert.deepEqual(menu(page), ['Console /', 'Conformance /#service-providers', 'Flows /flows', 'Decode /debug/decode', 'SAML metadata /saml/metadata', 'JWKS /.well-known/jwks.json']);
    assert.match((await alice.get('/').expect(200)).text, /<h2 id="service-providers">/);
    await request(idp.url).get('/saml/metadata').expect(200);
    await request(idp.url).get('/.well-known/jwks.json').expect(200);
    // Error pages have the menu too.
    assert.equal(menu((await request(idp.url).get('/nothing-here').expect(404)).text).length, 6);
  });

  it('count on the console what was delivered to the user per SP since they signed in, linking the flows', async () => {
    const consumer = `${idp.spUrl}/sso/jwt/consumer`;
    const before = unescapeHtml((await alice.get('/').expect(200)).text);
    assert.match(before, /Delivered to you since you signed in <span class="muted small">\(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\)<\/span>/);
    const cells = (html: string) => [...html.matchAll(/data-testid="sp-issued"><a href="\/flows\?sp=([^"]+)">([^<]+)<\/a>/g)].map((m) => `${m[1]}: ${m[2]}`);
    assert.ok(cells(before).includes('comm100: 0 tokens or Responses'));
    await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
    await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(consumer)}`).expect(302);
    await alice.get('/sso/token/comm100').expect(200);
    await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent('https://evil.example.test/')}`).expect(400);
    const bob = request.agent(idp.url);
    await login(bob, 'bob@example.com', 'bob-password');
    await bob.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
    const after = (await alice.get('/').expect(200)).text;
    assert.ok(cells(after).includes('comm100: 3 tokens or Responses'), cells(after).join('; '));
    assert.ok(cells(after).includes('desk: 0 tokens or Responses'), "bob's token is not alice's");
    assert.doesNotMatch(after, /none when this page loaded/);
  });

  it('show a moment one way: the review page hold, the decoded token times', async () => {
    const start = await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`)}&review=1`).expect(303);
    const review = unescapeHtml((await alice.get(start.headers.location as string).expect(200)).text);
    assert.match(review, new RegExp(`<dt>Held until</dt><dd>${SHOWN.source} \\(sending consumes it\\)</dd>`));
    const times = /data-testid="jwt-times">([\s\S]*?)<\/dl>/.exec(review)![1]!;
    assert.match(times, new RegExp(`<time datetime="\\d{4}-\\d{2}-\\d{2}T[^"]+Z">${SHOWN.source}</time>`));
    assert.doesNotMatch(times.replace(/datetime="[^"]+"/g, ''), /\d{4}-\d{2}-\d{2}T/, 'no ISO text on the page');
  });

  it('show the clock-skew seconds field only for clock-skew, from a script file (no inline script)', async () => {
    const start = await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`)}&review=1`).expect(303);
    const review = (await alice.get(start.headers.location as string).expect(200)).text;
    assert.match(review, /<label class="skew-seconds" data-shown-for-fault="clock-skew" data-testid="review-skew">/);
    assert.match(review, /<script src="\/static\/review\.js"><\/script>/);
    assert.doesNotMatch(review, /<script>/);
    const js = (await request(idp.url).get('/static/review.js').expect(200)).text;
    assert.match(js, /data-shown-for-fault/);
  });
});

describe('the IdP menu with the control API on', () => {
  it('links the OpenAPI document', async () => {
    const idp = await startTestIdp((c) => ({ ...c, adminToken: 'admin-token-0123456789' }));
    try {
      const page = (await request(idp.url).get('/debug/decode').expect(200)).text;
      assert.ok(menu(page).includes('API /api/openapi.json'), menu(page).join(', '));
      await request(idp.url).get('/api/openapi.json').expect(200);
    } finally {
      await idp.close();
    }
  });
});
