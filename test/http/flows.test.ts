/**
 * The flow history: the bounded store itself, and /flows showing every single
 * sign-on (JWT redirect and POST, token endpoint, SAML, refusals) with its sequence
 * picture, without a password, a secret or a replayable signature.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { fixedClock } from '../../src/clock.js';
import { FlowHistory, type Flow, type FlowInput } from '../../src/flows/history.js';
import { MemoryStateStore } from '../../src/state/memory.js';
import { sequenceLayout, sequenceOf } from '../../src/flows/sequence.js';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, jwtFromLocation, login, unescapeHtml, type Agent } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';

const input = (spId: string, extra: Partial<FlowInput> = {}): FlowInput => ({
  protocol: 'jwt',
  binding: 'redirect',
  initiator: 'sp',
  sp: { id: spId, name: spId },
  user: 'alice@example.com',
  destination: 'https://sp.example.test/consumer',
  outcome: 'delivered',
  ...extra,
});

/** A history on its own memory store, with the given capacity and clock. */
const historyOf = (capacity: number, clock: ReturnType<typeof fixedClock>) => new FlowHistory({ capacity, clock, state: new MemoryStateStore({ now: () => clock.now() }) });

describe('the flow history store', () => {
  it('keeps the last `capacity` flows, newest first, with the time from the clock', async () => {
    const history = historyOf(3, fixedClock('2030-01-01T00:00:00Z'));
    for (const id of ['a', 'b', 'c', 'd', 'e']) await history.record(input(id));
    assert.equal(await history.size(), 3);
    assert.deepEqual((await history.list()).map((f) => f.sp.id), ['e', 'd', 'c']);
    assert.equal((await history.list())[0]!.time, '2030-01-01T00:00:00.000Z');
    assert.deepEqual((await history.list({ limit: 2 })).map((f) => f.sp.id), ['e', 'd']);
    assert.deepEqual((await history.list({ spId: 'd' })).map((f) => f.sp.id), ['d']);
  });

  it('updates a flow in place, lists what came after a given one, and hands out copies', async () => {
    const history = historyOf(10, fixedClock(0));
    const first = await history.record(input('a', { outcome: 'awaiting-review', reviewed: true }));
    const second = await history.record(input('b', { protocol: 'saml', binding: 'post' }));
    assert.equal(await history.update(first.id, { outcome: 'delivered', faults: ['expired'] }), true);
    assert.deepEqual([(await history.get(first.id))!.outcome, (await history.get(first.id))!.faults], ['delivered', ['expired']]);
    assert.deepEqual((await history.list({ after: first.id })).map((f) => f.id), [second.id]);
    assert.deepEqual((await history.list({ protocol: 'saml' })).map((f) => f.id), [second.id]);
    (await history.list())[0]!.faults.push('tampered');
    assert.deepEqual((await history.get(second.id))!.faults, []);
    assert.equal(await history.update('nope', { outcome: 'refused' }), false);
  });

  it('tells subscribers of each flow recorded or updated, until they unsubscribe', async () => {
    const history = historyOf(10, fixedClock(0));
    const seen: string[] = [];
    const stop = history.subscribe((flow: Flow, change) => seen.push(`${change}:${flow.sp.id}`));
    const f = await history.record(input('a'));
    await history.update(f.id, { outcome: 'refused' });
    stop();
    await history.record(input('b'));
    assert.deepEqual(seen, ['recorded:a', 'updated:a']);
  });

  it('keeps nothing with a capacity of 0', async () => {
    const history = historyOf(0, fixedClock(0));
    await history.record(input('a'));
    assert.deepEqual(await history.list(), []);
  });

  it('reads past one batch of records: a limit and an offset across it give the same flows as one by one', async () => {
    const history = historyOf(200, fixedClock(0));
    for (let i = 0; i < 130; i++) await history.record(input(`sp${i}`, { protocol: i % 3 === 0 ? 'saml' : 'jwt' }));
    const all = (await history.list()).map((f) => f.sp.id);
    assert.equal(all.length, 130);
    assert.deepEqual(all.slice(0, 3), ['sp129', 'sp128', 'sp127']);
    assert.deepEqual((await history.list({ offset: 45, limit: 10 })).map((f) => f.sp.id), all.slice(45, 55));
    const saml = all.filter((id) => Number(id.slice(2)) % 3 === 0);
    assert.deepEqual((await history.list({ protocol: 'saml', offset: 20, limit: 30 })).map((f) => f.sp.id), saml.slice(20, 50));
    assert.deepEqual(await history.list({ limit: 0 }), []);
  });

  it('counts per SP what was delivered to a user since a time, and reads no older flow than the first one before it', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clock = { now: () => now };
    const state = new MemoryStateStore({ now: () => now });
    const history = new FlowHistory({ capacity: 1000, clock, state });
    for (let i = 0; i < 120; i++) await history.record(input('old'));
    now += 60_000;
    const since = now;
    await history.record(input('a'));
    await history.record(input('a', { user: 'bob@example.com' }));
    await history.record(input('b', { outcome: 'refused' }));
    now += 1_000;
    await history.record(input('a'));
    await history.record(input('b'));
    let reads = 0;
    const get = state.get.bind(state);
    state.get = <T>(key: string) => {
      reads += 1;
      return get<T>(key);
    };
    assert.deepEqual(await history.deliveredSince('alice@example.com', since), { a: 2, b: 1 });
    assert.ok(reads <= 50 + 5, `read ${reads} records of 125: one batch, not the whole history`);
    assert.deepEqual(await history.deliveredSince('alice@example.com', 0), { old: 120, a: 2, b: 1 });
  });

  it('draws browser → SP → IdP → SP for an SP-initiated flow, and the review round trip', async () => {
    const flow = await historyOf(1, fixedClock(0)).record(input('comm100', { reviewed: true, faults: ['expired'] }));
    assert.deepEqual(
      sequenceOf(flow).map((s) => `${s.from}->${s.to}: ${s.label}${s.faulty ? ' (faulty)' : ''}`),
      [
        'browser->sp: opens the SP, signs in',
        'sp->idp: redirect to /sso/jwt/comm100',
        'idp->idp: session of alice@example.com',
        'idp->browser: review page',
        'browser->idp: Send',
        'idp->sp: 302 with jwt= [expired] (faulty)',
      ],
    );
  });
});

describe('the sequence of a control API flow', () => {
  it('draws the API client asking the IdP and the JSON answer, with the faults', async () => {
    const flow = await historyOf(1, fixedClock(0)).record(input('comm100', { initiator: 'api', binding: 'json', faults: ['alg-none'] }));
    assert.deepEqual(
      sequenceOf(flow).map((s) => `${s.from}->${s.to}: ${s.label}`),
      ['browser->idp: control API: POST /api/tokens', 'idp->idp: for alice@example.com', 'idp->browser: JSON [alg-none]'],
    );
    assert.equal(sequenceLayout(flow).lanes[0]!.label, 'API client');
  });
});

describe('/flows', () => {
  let idp: TestIdp;
  let alice: Agent;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      flowHistorySize: 6,
      serviceProviders: [...c.serviceProviders!, { id: 'saml-app', name: 'SAML app', saml: { entityId: 'https://saml-app.example.test', acsUrls: ['https://saml-app.example.test/acs'], signResponse: true } }],
    }));
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  it('starts empty', async () => {
    const page = await request(idp.url).get('/flows').expect(200);
    assert.match(page.text, /No single sign-on yet\./);
  });

  it('shows each sign-on with its sequence picture and what was sent, never a password, a secret or a whole signature', async () => {
    const jwtRes = await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`)}`).expect(302);
    const token = jwtFromLocation(jwtRes.headers.location as string);
    const desk = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
    const deskToken = hiddenField(desk.text, 'jwt')!;
    const saml = autoPost(await alice.get('/saml/idp-init/saml-app'));
    await alice.get('/sso/token/comm100').expect(200);
    await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent('https://evil.example.test/steal')}`).expect(400);

    const page = await request(idp.url).get('/flows').expect(200);
    const list = unescapeHtml(page.text);
    const rows = list.split('data-testid="flow" ').slice(1);
    assert.equal(rows.length, 5);
    assert.doesNotMatch(list, /<svg/, 'the list is compact: pictures are on each flow\'s page');
    assert.match(rows[0]!, /badge bad" data-testid="flow-outcome">refused<\/span>/);
    assert.match(rows[0]!, /<time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC<\/time>/, 'the time as every page shows it');
    assert.match(rows[2]!, /<strong>SAML<\/strong><\/td>\s*<td>SAML app/);
    assert.match(rows[3]!, /<td>Desk \(test\)/);
    assert.match(rows[4]!, /data-testid="flow-user">alice@example\.com</);
    const ids = rows.map((r) => /data-flow-id="([^"]+)"/.exec(r)![1]!);
    const details = await Promise.all(ids.map(async (id) => unescapeHtml((await request(idp.url).get(`/flows/${id}`).expect(200)).text)));
    const text = details.join('\n');
    const flows = details;
    assert.match(flows[0]!, /The redirect_url is not registered for Comm100 \(test\): https:\/\/evil\.example\.test\/steal is not in its redirectUrls\./);
    assert.match(flows[0]!, /<title id="seq-title-[^"]+">Sequence: GET \/sso\/jwt\/comm100; session of alice@example\.com; error page<\/title>/, 'a refusal: the browser asked, the IdP answered an error page');
    assert.match(flows[1]!, /JSON \(token endpoint\), widget/);
    assert.match(flows[2]!, /<strong>SAML<\/strong> to <strong>SAML app<\/strong>/);
    assert.match(flows[2]!, /auto-POST form, IdP-initiated/);
    assert.match(flows[2]!, /<dt>Signed<\/dt><dd>Response and Assertion<\/dd>/);
    assert.match(flows[3]!, /<strong>JWT<\/strong> to <strong>Desk \(test\)<\/strong>/);
    assert.match(flows[3]!, /auto-POST form, SP-initiated/);
    assert.match(flows[4]!, /302 redirect, SP-initiated/);
    assert.match(flows[4]!, /<dd><code>http:\/\/localhost:\d+\/sso\/jwt\/consumer<\/code><\/dd>/);
    assert.match(flows[4]!, /"email": "alice@example\.com"/);
    for (const f of flows) assert.match(f, /<svg class="sequence" viewBox="0 0 580 \d+"/);
    for (const f of flows) assert.doesNotMatch(f, /Every single sign-on mock-idp performed/, 'a flow\'s page does not repeat the list\'s intro');
    assert.match(flows[4]!, /<text class="seq-label" x="400" y="\d+" text-anchor="middle">302 with jwt=<\/text>/);

    // Nothing replayable or secret.
    for (const secret of ['alice-password', HS_SECRET, token, token.split('.')[2]!, deskToken.split('.')[2]!]) assert.ok(!text.includes(secret), `the page shows ${secret.slice(0, 20)}…`);
    assert.match(text, new RegExp(`Signature: <code>${token.split('.')[2]!.slice(0, 8)}…</code> \\(cut to 8 characters\\)`));
    const samlSignatures = [...saml.xml.matchAll(/<ds:SignatureValue>([^<]+)</g)].map((m) => m[1]!);
    assert.equal(samlSignatures.length, 2);
    for (const s of samlSignatures) {
      assert.ok(!text.includes(s), 'a SAML SignatureValue in full');
      assert.ok(text.includes(`<ds:SignatureValue>${s.slice(0, 8)}…</ds:SignatureValue>`));
    }
    for (const html of [page.text, ...details]) assert.doesNotMatch(html, /<script|style="/);
  });

  it('filters by SP and protocol, shows one flow at /flows/:id, and 404s an unknown one', async () => {
    const saml = await request(idp.url).get('/flows?protocol=saml').expect(200);
    assert.equal(saml.text.split('data-testid="flow" ').length - 1, 1);
    const bogus = await request(idp.url).get('/flows?protocol=bogus').expect(400);
    assert.match(unescapeHtml(bogus.text), /protocol must be one of jwt, saml \(or left out for all\); "bogus" is none of them\./);
    const desk = await request(idp.url).get('/flows?sp=desk').expect(200);
    const id = /data-flow-id="([^"]+)"/.exec(desk.text)![1]!;
    const one = await request(idp.url).get(`/flows/${id}`).expect(200);
    assert.match(one.text, /<h2>Token \(decoded\)<\/h2>/);
    assert.match(one.text, /<a href="\/flows">← All flows<\/a>/);
    await request(idp.url).get('/flows/unknown-flow').expect(404);
    await request(idp.url).get('/flows?limit=0').expect(400);
  });

  it('pages the list: ?limit= rows a page, Older and Newer links keeping the filter', async () => {
    const all = (await request(idp.url).get('/flows?limit=1000').expect(200)).text;
    const ids = [...all.matchAll(/<tr data-testid="flow" data-flow-id="([^"]+)"/g)].map((m) => m[1]!);
    const first = (await request(idp.url).get('/flows?limit=2').expect(200)).text;
    assert.deepEqual([...first.matchAll(/<tr data-testid="flow" data-flow-id="([^"]+)"/g)].map((m) => m[1]), ids.slice(0, 2));
    assert.doesNotMatch(first, /rel="prev"/);
    const older = /<a href="([^"]+)" rel="next">Older →<\/a>/.exec(unescapeHtml(first))![1]!;
    assert.equal(older, '/flows?limit=2&page=2');
    const second = (await request(idp.url).get(older).expect(200)).text;
    assert.deepEqual([...second.matchAll(/<tr data-testid="flow" data-flow-id="([^"]+)"/g)].map((m) => m[1]), ids.slice(2, 4));
    assert.match(unescapeHtml(second), /<a href="\/flows\?limit=2&page=1" rel="prev">← Newer<\/a>/);
    const jwtOnly = unescapeHtml((await request(idp.url).get('/flows?protocol=jwt&limit=1').expect(200)).text);
    assert.match(jwtOnly, /<a href="\/flows\?protocol=jwt&limit=1&page=2" rel="next">/);
    await request(idp.url).get('/flows?page=0').expect(400);
  });

  it('keeps only the last flowHistorySize flows', async () => {
    for (let i = 0; i < 4; i++) await alice.get('/sso/token/comm100').expect(200);
    assert.equal(await idp.running.idp.context.flows.size(), 6);
    const page = await request(idp.url).get('/flows').expect(200);
    assert.match(page.text, /the last 6 are kept in memory \(6 now/);
  });
});
