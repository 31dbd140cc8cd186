/**
 * The conformance runner against a messenger's Authorize API: a stand-in served
 * by this test on 127.0.0.1 (what Comm100's POST /securemessage/authorize does:
 * verify the Contact JWT with the shared token, exp and the identity key required).
 * A correct one passes every check; a lax one that exchanges anything fails the
 * fault checks, each named in the report; one that refuses with 400 passes, noted.
 *
 * The last describe runs it against the demo SP's own Authorize API
 * (src/demo-sp/messenger*) with the demo config's `messenger` SP and the
 * conformance block config/demo.yaml gives it; every case must pass.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import express from 'express';
import { jwtVerify } from 'jose';
import request from 'supertest';
import { formatJunit, formatText } from '../../src/conformance/report.js';
import { runConformance } from '../../src/conformance/runner.js';
import { closeServer, listen } from '../../src/server.js';
import { freePort, startTestIdp, type TestIdp } from '../helpers/idp.js';

const MESSENGER_ID = 'ea5380a4-77c1-436e-a47a-37fd2c8af550';
const FIRST_TOKEN = 'stand-in-messenger-shared-token-0001';
const RESET_TOKEN = 'stand-in-messenger-shared-token-0002';
const TOKEN = 'messenger-conformance-admin-token';
const ids = (cases: { id: string }[]) => cases.map((c) => c.id);

type Mode = 'strict' | 'lax' | 'bad-request';

describe('the conformance runner against a messenger Authorize API', () => {
  let idp: TestIdp;
  let server: http.Server;
  let origin: string;
  let mode: Mode = 'strict';
  /** The shared token the stand-in verifies with (its "Reset shared token" changes it). */
  let sharedToken = FIRST_TOKEN;
  const seen: Record<string, unknown>[] = [];

  before(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const app = express();
    app.post('/securemessage/authorize', express.json(), async (req, res) => {
      const body = req.body as Record<string, unknown>;
      seen.push(body);
      if (mode === 'lax') return void res.json({ accessToken: 'anything-goes', expiresIn: 600 });
      if (body.siteId !== 10000 || body.messengerId !== MESSENGER_ID) return void res.status(404).json({ error: 'not_found', message: 'Unknown siteId or messengerId.' });
      try {
        const { payload } = await jwtVerify(String(body.contactJwt), new TextEncoder().encode(sharedToken), { algorithms: ['HS256'], requiredClaims: ['exp', 'identity'] });
        if (typeof payload.identity !== 'string' || payload.identity === '') throw new Error('the identity key is empty');
        res.json({ accessToken: `access-for-${payload.identity}`, expiresIn: 600 });
      } catch (err) {
        res.status(mode === 'bad-request' ? 400 : 401).json({ error: 'invalid_token', message: `Contact JWT refused: ${(err as Error).message}` });
      }
    });
    server = await listen(app, port, '127.0.0.1');
    idp = await startTestIdp((c) => ({
      ...c,
      adminToken: TOKEN,
      serviceProviders: [
        // In place of the demo's messenger SP: this one's Authorize API is the stand-in.
        ...c.serviceProviders!.filter((sp) => sp.id !== 'messenger'),
        {
          id: 'messenger',
          name: 'Secure Messenger (stand-in)',
          jwt: { redirectUrls: [`${origin}/securemessage/widget`], algorithm: 'HS256', secret: FIRST_TOKEN, audience: 'messenger', ttlSeconds: 600, identityClaim: 'identity' },
          conformance: { messenger: { authorizeUrl: `${origin}/securemessage/authorize`, siteId: '10000', messengerId: MESSENGER_ID } },
        },
      ],
    }));
  });
  after(async () => {
    await idp.close();
    await closeServer(server);
  });
  beforeEach(() => {
    mode = 'strict';
    seen.length = 0;
  });

  it('passes a correct Authorize API: the valid Contact JWT exchanged, every bad one refused with 401', async () => {
    const report = await runConformance(idp.running.idp.context, 'messenger');
    assert.deepEqual(report.cases.filter((c) => c.verdict !== 'pass').map((c) => `${c.id}: ${c.observed} ${c.status} ${c.firstLine}`), []);
    assert.equal(report.ok, true);
    assert.deepEqual(ids(report.cases), ['jwt:valid', 'jwt:expired', 'jwt:not-yet-valid', 'jwt:bad-signature', 'jwt:wrong-key', 'jwt:alg-none', 'jwt:missing-identity', 'jwt:missing-exp', 'jwt:clock-skew']);
    assert.ok(report.cases.slice(1).every((c) => c.status === 401));
    assert.match(report.cases.find((c) => c.id === 'jwt:missing-identity')!.firstLine, /^invalid_token: Contact JWT refused: missing required "identity" claim$/);
    assert.deepEqual(Object.keys(seen[0]!), ['siteId', 'messengerId', 'contactJwt', 'isPreview']);
    assert.deepEqual([seen[0]!.siteId, seen[0]!.messengerId, seen[0]!.isPreview], [10000, MESSENGER_ID, false]);
    assert.match(formatText(report), /PASS: the SP accepted the valid case and rejected every bad one/);
  });

  it('fails a lax one that exchanges anything, naming each fault it accepted in every report format', async () => {
    mode = 'lax';
    const report = await runConformance(idp.running.idp.context, 'messenger');
    assert.equal(report.ok, false);
    assert.equal(report.outcome, 'fail');
    assert.deepEqual(
      report.cases.filter((c) => c.verdict === 'fail').map((c) => c.id),
      ['jwt:expired', 'jwt:not-yet-valid', 'jwt:bad-signature', 'jwt:wrong-key', 'jwt:alg-none', 'jwt:missing-identity', 'jwt:missing-exp', 'jwt:clock-skew'],
    );
    const text = formatText(report);
    assert.match(text, /FAIL: 8 case\(s\) answered wrongly/);
    assert.match(text, /jwt:missing-identity\s+reject\s+accepted \(200: .*\)\s+WRONG/);
    assert.match(formatJunit(report), /<failure message="expected reject, observed accepted \(200: [^"]*\) — Comm100 Secure Messenger: the identity key is required/);
  });

  it('passes a refusal with another 4xx, noting that 401 is expected', async () => {
    mode = 'bad-request';
    const report = await runConformance(idp.running.idp.context, 'messenger');
    assert.equal(report.ok, true);
    const expired = report.cases.find((c) => c.id === 'jwt:expired')!;
    assert.deepEqual([expired.status, expired.verdict, expired.note], [400, 'pass', '401 expected']);
    assert.match(formatText(report), /jwt:expired +reject +rejected \(400, 401 expected: invalid_token: Contact JWT refused/);
  });

  it('adds old-shared-token once the shared token was reset at run time, and the control API runs it too', async () => {
    await idp.running.idp.context.changes.editServiceProviders((list) =>
      list.map((sp) => (sp.id === 'messenger' ? { ...sp, jwt: { ...(sp.jwt as Record<string, unknown>), secret: RESET_TOKEN } } : sp)),
    );
    sharedToken = RESET_TOKEN;
    const report = await runConformance(idp.running.idp.context, 'messenger');
    assert.equal(report.ok, true, JSON.stringify(report.cases.filter((c) => c.verdict !== 'pass')));
    const old = report.cases.find((c) => c.id === 'jwt:old-shared-token')!;
    assert.deepEqual([old.status, old.observed], [401, 'rejected']);
    assert.match(old.firstLine, /signature verification failed/);

    // An Authorize API that still verifies with the token before the reset accepts it: the case that catches it.
    sharedToken = FIRST_TOKEN;
    const stale = await request(idp.url).post('/api/conformance').set('Authorization', `Bearer ${TOKEN}`).send({ sp: 'messenger' }).expect(200);
    const failed = (stale.body.cases as { id: string; verdict: string }[]).filter((c) => c.verdict !== 'pass').map((c) => c.id);
    assert.equal(stale.body.outcome, 'stopped', 'the valid token, signed with the new shared token, is refused first');
    assert.deepEqual(failed.slice(0, 1), ['jwt:valid']);
    sharedToken = RESET_TOKEN;
  });
});

describe("the conformance runner against the demo SP's own Authorize API", () => {
  let idp: TestIdp;

  before(async () => {
    // The demo config's messenger SP, with the conformance block config/demo.yaml gives it.
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: c.serviceProviders!.map((sp) =>
        sp.id === 'messenger'
          ? { ...sp, conformance: { messenger: { authorizeUrl: `${(c.demo as { spBaseUrl: string }).spBaseUrl}/securemessage/authorize`, siteId: '10000', messengerId: MESSENGER_ID } } }
          : sp,
      ),
    }));
  });
  after(() => idp.close());

  it('passes every case: the valid Contact JWT exchanged, every bad one refused with 401', async () => {
    const report = await runConformance(idp.running.idp.context, 'messenger');
    assert.deepEqual(report.cases.filter((c) => c.verdict !== 'pass').map((c) => `${c.id}: ${c.observed} ${c.status} ${c.firstLine}`), []);
    assert.equal(report.ok, true);
    assert.equal(report.cases[0]!.id, 'jwt:valid');
    assert.equal(report.cases[0]!.status, 200);
    assert.deepEqual(
      report.cases.slice(1).filter((c) => c.status !== 401).map((c) => `${c.id}: ${c.status} ${c.note ?? ''}`),
      [],
      'the demo SP refuses every bad Contact JWT with 401, as the issue says',
    );
    assert.deepEqual(ids(report.cases), ['jwt:valid', 'jwt:expired', 'jwt:not-yet-valid', 'jwt:bad-signature', 'jwt:wrong-key', 'jwt:alg-none', 'jwt:missing-identity', 'jwt:missing-exp', 'jwt:clock-skew']);
    assert.match(formatText(report), /PASS: the SP accepted the valid case and rejected every bad one/);
  });
});
