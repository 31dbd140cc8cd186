/**
 * Three IdP replicas on one redis-server (`store: redis`), and browsers that send
 * every request of a flow to the next replica in turn: no sticky sessions. What a
 * user would check: the JWT sign-in through the login form ends with a token the
 * SP verifies; an SP-initiated SAML sign-in started on one replica, signed in on
 * another and answered by a third gives a Response saml2-js (a real SP library)
 * accepts; a review hold made on one replica is sent from another, once; a
 * replayed AuthnRequest ID is refused whichever replica sees it again; wrong
 * passwords are counted across replicas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import saml2, { type ServiceProvider } from 'saml2-js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { RoundRobinBrowser, startReplicas, type Answer, type Replica } from '../helpers/replicas.js';
import { hiddenField, unescapeHtml } from '../helpers/http.js';

const SECRET = 'round-robin-shared-secret-0123456789';
const CONSUMER = 'http://127.0.0.1:9/consumer';
const ACS = 'http://127.0.0.1:9/saml/acs';
const SP_ENTITY = 'https://round-robin-sp.example.test';
const ADMIN = 'round-robin-admin-token-0123456789';
const ALICE = { email: 'alice@example.com', password: 'alice-password' };

describe('three replicas, every request to the next one', () => {
  let redis: TestRedis;
  let replicas: Replica[];
  let publicUrl: string;

  before(async () => {
    redis = await startTestRedis();
    // The replicas' public URL (as behind a load balancer): the browser below sends each request to the next replica instead.
    publicUrl = 'http://127.0.0.1:8999';
    const yaml = `host: 127.0.0.1
baseUrl: ${publicUrl}
store: redis
sessionSecret: "the-same-session-secret-on-every-replica"
adminToken: "${ADMIN}"
allowFaults: true
passwordHashCost: 10
loginThrottle: { maxFailuresPerAccount: 3, maxFailuresPerIp: 1000 }
users:
  - { email: alice@example.com, password: alice-password, name: Alice }
  - { email: bob@example.com, password: bob-password, name: Bob }
serviceProviders:
  - id: jwt-sp
    jwt: { redirectUrls: [ "${CONSUMER}" ], secret: "${SECRET}", audience: jwt-sp }
  - id: review-sp
    review: true
    jwt: { redirectUrls: [ "${CONSUMER}" ], secret: "${SECRET}", audience: review-sp }
  - id: rs-sp
    jwt: { redirectUrls: [ "${CONSUMER}" ], algorithm: RS256, audience: rs-sp }
  - id: saml-sp
    saml: { entityId: "${SP_ENTITY}", acsUrls: [ "${ACS}" ] }
  - id: persistent-sp
    saml: { entityId: "https://persistent.example.test", acsUrls: [ "${ACS}" ], nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" }
  - id: transient-sp
    saml: { entityId: "https://transient.example.test", acsUrls: [ "${ACS}" ], nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" }
`;
    replicas = await startReplicas(3, yaml, { REDIS_URL: redis.url });
  });

  after(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    await redis?.stop();
  });

  const verify = (token: string, audience: string) => jwtVerify(token, new TextEncoder().encode(SECRET), { algorithms: ['HS256'], audience });

  it('JWT sign-in through the login form, each step on another replica', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl);
    const start = await browser.get(`/sso/jwt/jwt-sp?redirect_url=${encodeURIComponent(`${CONSUMER}?relayState=%2Finbox`)}`);
    assert.equal(start.status, 303, start.text.slice(0, 300));
    const form = await browser.follow(start);
    assert.equal(form.status, 200);
    const signedIn = await browser.submitLogin(form, ALICE.email, ALICE.password);
    assert.equal(signedIn.status, 303, signedIn.text.slice(0, 300));
    const back = await browser.follow(signedIn);
    assert.equal(back.status, 302);
    const location = new URL(back.headers.get('location')!);
    assert.equal(`${location.origin}${location.pathname}`, CONSUMER);
    assert.equal(location.searchParams.get('relayState'), '/inbox');
    const { payload } = await verify(location.searchParams.get('jwt')!, 'jwt-sp');
    assert.equal(payload.email, ALICE.email);
    assert.deepEqual(browser.seen, ['a', 'b', 'c', 'a'], 'four requests, four replicas in turn');
    // The next sign-in of this browser, on yet another replica, needs no form.
    const again = await browser.get(`/sso/jwt/jwt-sp?redirect_url=${encodeURIComponent(CONSUMER)}`);
    assert.equal(again.status, 302);
    assert.equal((await verify(new URL(again.headers.get('location')!).searchParams.get('jwt')!, 'jwt-sp')).payload.email, ALICE.email);
  });

  it('SP-initiated SAML: AuthnRequest on one replica, login on the next ones, Response from another; saml2-js accepts it; the ID cannot be used again', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl);
    const certificate = await (await fetch(`${replicas[2]!.url}/saml/cert.pem`)).text();
    const idp = new saml2.IdentityProvider({ sso_login_url: `${publicUrl}/saml/sso`, sso_logout_url: `${publicUrl}/saml/slo`, certificates: [certificate] });
    const sp = new saml2.ServiceProvider({ entity_id: SP_ENTITY, assert_endpoint: ACS, allow_unencrypted_assertion: true });
    const { url, id } = await new Promise<{ url: string; id: string }>((resolve, reject) =>
      sp.create_login_request_url(idp, { relay_state: 'saml-relay' }, (err, loginUrl, requestId) => (err ? reject(err) : resolve({ url: loginUrl, id: requestId }))),
    );
    const start = await browser.get(url);
    assert.equal(start.status, 303, start.text.slice(0, 300));
    const form = await browser.follow(start);
    const signedIn = await browser.submitLogin(form, ALICE.email, ALICE.password);
    assert.equal(signedIn.status, 303, signedIn.text.slice(0, 300));
    const post = await browser.follow(signedIn);
    assert.equal(post.status, 200, post.text.slice(0, 300));
    assert.equal(new Set(browser.seen.slice(0, 4)).size, 3, `the flow went through every replica: ${browser.seen.join(' ')}`);
    assert.match(post.text, new RegExp(`action="${ACS.replace(/[.]/g, '\\.')}"`));
    const body = { SAMLResponse: hiddenField(post.text, 'SAMLResponse')!, RelayState: hiddenField(post.text, 'RelayState')! };
    assert.equal(body.RelayState, 'saml-relay');
    const result = await new Promise<Parameters<Parameters<ServiceProvider['post_assert']>[2]>[1]>((resolve, reject) =>
      sp.post_assert(idp, { request_body: body, allow_unencrypted_assertion: true }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(result.user?.name_id, ALICE.email);
    assert.equal(result.response_header.in_response_to, id);

    // The same AuthnRequest again, to each replica in turn: refused by every one.
    for (let i = 0; i < replicas.length; i++) {
      const replay = await browser.get(url);
      assert.equal(replay.status, 400, `replica ${replay.replica}: ${replay.text.slice(0, 200)}`);
      assert.match(unescapeHtml(replay.text), /was already used; a SAML message is accepted once/);
    }
  });

  it('NameIDs: a persistent one is the same from every replica (each with its own data directory), a transient one the same within the session only', async () => {
    const nameIdOf = (page: Answer): string => {
      assert.equal(page.status, 200, page.text.slice(0, 300));
      const xml = Buffer.from(hiddenField(page.text, 'SAMLResponse')!, 'base64').toString('utf8');
      const value = /<saml:NameID [^>]*>([^<]+)<\/saml:NameID>/.exec(xml)?.[1];
      assert.ok(value, `a NameID in ${xml.slice(0, 300)}`);
      return value;
    };
    const session = async () => {
      const browser = new RoundRobinBrowser(replicas, publicUrl);
      const form = await browser.follow(await browser.get('/saml/idp-init/persistent-sp'));
      const first = nameIdOf(await browser.follow(await browser.submitLogin(form, ALICE.email, ALICE.password)));
      return { browser, first };
    };
    const { browser, first } = await session();
    const persistent = [first];
    for (let i = 0; i < replicas.length; i++) persistent.push(nameIdOf(await browser.get('/saml/idp-init/persistent-sp')));
    assert.equal(new Set(browser.seen.slice(-replicas.length)).size, replicas.length, `every replica answered: ${browser.seen.join(' ')}`);
    assert.deepEqual(new Set(persistent), new Set([first]));
    assert.doesNotMatch(first, /alice/);

    const transient = [];
    for (let i = 0; i < replicas.length; i++) transient.push(nameIdOf(await browser.get('/saml/idp-init/transient-sp')));
    assert.equal(new Set(transient).size, 1, `one transient NameID in the session: ${transient.join(' ')}`);

    const other = await session();
    assert.equal(other.first, first);
    assert.notEqual(nameIdOf(await other.browser.get('/saml/idp-init/transient-sp')), transient[0]);
  });

  it('review before sending: held on one replica, shown on the next, sent from a third, and only once', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl, 1);
    const form = await browser.follow(await browser.get(`/sso/jwt/review-sp?redirect_url=${encodeURIComponent(CONSUMER)}`));
    const held = await browser.follow(await browser.submitLogin(form, ALICE.email, ALICE.password));
    assert.equal(held.status, 200, held.text.slice(0, 300));
    const review = held.text.includes('data-testid="review-send"') ? held : await browser.follow(held);
    const key = /action="\/review\/([^/"]+)\/send"/.exec(review.text)?.[1];
    assert.ok(key, `a review page: ${review.text.slice(0, 300)}`);
    const shown = /data-testid="jwt-token"[^>]*>([^<]+)</.exec(review.text)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(review.text)![1]!;
    const page = await browser.get(`/review/${key}`);
    assert.equal(page.status, 200, `the hold is visible on replica ${page.replica}`);
    const sent = await browser.post(`/review/${key}/send`, { csrf });
    assert.equal(sent.status, 302, sent.text.slice(0, 300));
    const token = new URL(sent.headers.get('location')!).searchParams.get('jwt')!;
    if (shown) assert.equal(token, shown.trim(), 'the token sent is the one shown');
    assert.equal((await verify(token, 'review-sp')).payload.email, ALICE.email);
    const twice = await browser.post(`/review/${key}/send`, { csrf });
    assert.equal(twice.status, 404, `a second Send, on replica ${twice.replica}, is refused`);
    assert.match(unescapeHtml(twice.text), /already sent/);
  });

  it('wrong passwords are counted across replicas: the fourth attempt is locked whichever replica gets it', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const form = await browser.get('/login');
      const res = await browser.submitLogin(form, 'bob@example.com', 'wrong-password');
      statuses.push(res.status);
      if (i === 3) {
        assert.match(res.text, /Too many failed sign-ins/);
        assert.ok(Number(res.headers.get('retry-after')) > 0);
      }
    }
    assert.deepEqual(statuses, [401, 401, 401, 429], 'the third failure locks the account: counted on three different replicas');
    // The right password is refused too while locked, on any replica.
    const form = await browser.get('/login');
    assert.equal((await browser.submitLogin(form, 'bob@example.com', 'bob-password')).status, 429);
  });

  it('keys: every replica signs with the same key; a rotation on one and the next token from another carries the new kid, the old token still verifies', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl);
    await browser.submitLogin(await browser.get('/login'), ALICE.email, ALICE.password);
    const token = async () => new URL((await browser.get(`/sso/jwt/rs-sp?redirect_url=${encodeURIComponent(CONSUMER)}`)).headers.get('location')!).searchParams.get('jwt')!;
    const jwks = async (replica: Replica) => (await (await fetch(`${replica.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const before = await Promise.all(replicas.map(() => token()));
    const kids = new Set(before.map((t) => decodeProtectedHeader(t).kid));
    assert.equal(kids.size, 1, 'each replica started with keys of its own folder and adopted the first one\'s');

    const rotated = await fetch(`${replicas[0]!.url}/api/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(rotated.status, 200, await rotated.clone().text());
    const newKid = ((await rotated.json()) as { keys: { alg?: string; current: { kid?: string } }[] }).keys.find((k) => k.alg === 'RS256')!.current.kid;
    assert.ok(newKid && !kids.has(newKid));
    // Within a second, every replica signs with the new key and still publishes the old one.
    const deadline = Date.now() + 1_000;
    let from: string[] = [];
    do {
      from = await Promise.all(replicas.map(async () => decodeProtectedHeader(await token()).kid!));
    } while (from.some((k) => k !== newKid) && Date.now() < deadline);
    assert.deepEqual(from, replicas.map(() => newKid), `the next tokens from ${browser.seen.slice(-3).join(', ')}`);
    for (const replica of replicas) {
      const set = await jwks(replica);
      assert.ok(set.keys.some((k) => k.kid === newKid), `replica ${replica.name} publishes the new key`);
      const { payload } = await jwtVerify(before[0]!, createLocalJWKSet(set), { audience: 'rs-sp' });
      assert.equal(payload.email, ALICE.email, `replica ${replica.name} still publishes the key of a token signed before`);
    }
  });

  it('the memory of sent tokens is shared: fault=replayed-jti on one replica replays the jti another replica sent last', async () => {
    const browser = new RoundRobinBrowser(replicas, publicUrl);
    await browser.submitLogin(await browser.get('/login'), ALICE.email, ALICE.password);
    const sso = (fault: string) => browser.get(`/sso/jwt/jwt-sp?redirect_url=${encodeURIComponent(CONSUMER)}${fault}`);
    const jtiOf = async (answer: Promise<Awaited<ReturnType<typeof sso>>>) => {
      const res = await answer;
      assert.equal(res.status, 302, res.text.slice(0, 300));
      return { jti: (await verify(new URL(res.headers.get('location')!).searchParams.get('jwt')!, 'jwt-sp')).payload.jti, replica: res.replica };
    };
    const sent = await jtiOf(sso(''));
    const replayed = await jtiOf(sso('&fault=replayed-jti'));
    assert.notEqual(replayed.replica, sent.replica);
    assert.equal(replayed.jti, sent.jti, `replica ${replayed.replica} replays the jti replica ${sent.replica} sent`);
  });
});
