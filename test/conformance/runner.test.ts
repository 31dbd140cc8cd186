import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { compactVerify } from 'jose';
import { runConformance } from '../../src/conformance/runner.js';
import { closeServer, listen } from '../../src/server.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { freePort, startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { csrfFrom } from '../helpers/http.js';

const execFileP = promisify(execFile);
const LAX_SECRET = 'lax-sp-shared-secret-0123456789';

/** The demo-like config with the conformance sections the demo config has. */
function withConformance(c: ConfigInput): ConfigInput {
  const sp = c.demo!.spBaseUrl!;
  return {
    ...c,
    adminToken: 'conformance-admin-token',
    serviceProviders: c.serviceProviders!.map((s) =>
      s.id === 'comm100'
        ? {
            ...s,
            saml: { entityId: 'comm100', acsUrls: [`${sp}/sso/saml/acs`], sloUrl: `${sp}/sso/saml/slo` },
            conformance: { startUrl: `${sp}/sso/saml/login`, acceptedWhen: { status: 303, locationMatches: '/agent$' } },
          }
        : s.id === 'desk'
          ? { ...s, conformance: { acceptedWhen: { status: 303, locationMatches: '/desk/agent$' } } }
          : s,
    ),
  };
}

describe('the conformance runner against the demo SP', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp(withConformance);
  });
  after(() => idp.close());

  it('finds the demo SP accepting the valid cases and rejecting every fault and replay, JWT and SAML', async () => {
    const report = await runConformance(idp.running.idp.context, 'comm100');
    const wrong = report.cases.filter((c) => c.verdict !== 'pass').map((c) => `${c.id}: ${c.observed} ${c.firstLine}`);
    assert.deepEqual(wrong, []);
    assert.equal(report.ok, true);
    assert.equal(report.cases.filter((c) => c.protocol === 'jwt').length, 13, 'valid, 11 JWT faults (no hs-rs-confusion for HS256), replay');
    assert.equal(report.cases.filter((c) => c.protocol === 'saml').length, 15, 'valid, 13 SAML faults, replay');
    assert.deepEqual(
      report.cases.filter((c) => c.expected === 'accept').map((c) => c.id),
      ['jwt:valid', 'saml:valid'],
    );
    const expired = report.cases.find((c) => c.id === 'jwt:expired')!;
    assert.equal(expired.status, 401);
    assert.equal(expired.firstLine, 'Sign-in refused: The token has expired.');
    assert.match(expired.reference, /RFC 7519 §4\.1\.4/);
  });

  it('covers the Desk-style form POST with RS256, including the HS/RS confusion', async () => {
    const report = await runConformance(idp.running.idp.context, 'desk');
    assert.equal(report.ok, true, JSON.stringify(report.cases.filter((c) => c.verdict !== 'pass')));
    assert.ok(report.cases.some((c) => c.id === 'jwt:hs-rs-confusion' && c.observed === 'rejected'));
  });

  it('runs from the "Test this SP" page and the control API', async () => {
    const agent = request.agent(idp.url);
    const page = await agent.get('/conformance/desk').expect(200);
    assert.match(page.text, /Run the 14 cases/);
    const ran = await agent.post('/conformance/desk').type('form').send({ csrf: csrfFrom(page.text) }).expect(200);
    assert.match(ran.text, /data-testid="conformance-verdict" class="ok">PASS: the SP accepted the valid case and rejected every bad one/);
    const api = await request(idp.url).post('/api/conformance').set('Authorization', 'Bearer conformance-admin-token').send({ sp: 'desk', protocol: 'jwt' }).expect(200);
    assert.equal(api.body.ok, true);
    assert.equal(api.body.summary.total, 14);
    const bad = await request(idp.url).post('/api/conformance').set('Authorization', 'Bearer conformance-admin-token').send({ sp: 'desk', protocol: 'oidc' }).expect(400);
    assert.match(bad.body.message, /protocol: Invalid option/);
  });
});

describe('the conformance runner against a lax SP', () => {
  let server: http.Server;
  let laxUrl: string;
  let idp: TestIdp;

  before(async () => {
    // Accepts anything correctly signed with its secret; ignores audience, issuer, expiry; no replay cache.
    const app = express();
    app.get('/consumer', async (req, res) => {
      try {
        await compactVerify(String(req.query.jwt), new TextEncoder().encode(LAX_SECRET), { algorithms: ['HS256'] });
        res.cookie('lax', '1').redirect(303, '/home');
      } catch {
        res.status(401).send('<p role="alert">bad token</p>');
      }
    });
    app.get('/reject-all', (_req, res) => {
      res.status(403).send('<p role="alert">This SP is closed for maintenance.</p>');
    });
    const port = await freePort();
    laxUrl = `http://127.0.0.1:${port}`;
    server = await listen(app, port, '127.0.0.1');
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: [
        ...c.serviceProviders!,
        { id: 'lax', jwt: { redirectUrls: [`${laxUrl}/consumer`], secret: LAX_SECRET }, conformance: { acceptedWhen: { status: 303, cookieSet: 'lax' } } },
        { id: 'closed', jwt: { redirectUrls: [`${laxUrl}/reject-all`], secret: LAX_SECRET } },
      ],
    }));
  });
  after(async () => {
    await idp.close();
    await closeServer(server);
  });

  it('flags exactly the cases the lax SP gets wrong', async () => {
    const report = await runConformance(idp.running.idp.context, 'lax');
    const flagged = report.cases.filter((c) => c.verdict === 'fail').map((c) => c.id).sort();
    assert.deepEqual(flagged, [
      'jwt:clock-skew',
      'jwt:expired',
      'jwt:missing-email',
      'jwt:missing-jti',
      'jwt:not-yet-valid',
      'jwt:replay',
      'jwt:replayed-jti',
      'jwt:wrong-audience',
      'jwt:wrong-issuer',
    ]);
    for (const id of ['jwt:valid', 'jwt:bad-signature', 'jwt:wrong-key', 'jwt:alg-none']) {
      assert.equal(report.cases.find((c) => c.id === id)!.verdict, 'pass', id);
    }
    assert.equal(report.ok, false);
    assert.equal(report.summary.failed, 9);
  });

  it('stops with a clear message when the SP rejects even a valid token', async () => {
    const report = await runConformance(idp.running.idp.context, 'closed');
    assert.equal(report.ok, false);
    assert.equal(report.stopped, 'Your SP rejects even a valid token: 403 This SP is closed for maintenance.');
    assert.ok(report.cases.slice(1).every((c) => c.verdict === 'not-run'));
  });

  it('writes JUnit XML from the CLI and exits 1 for the lax SP', async () => {
    const dir = tempDir();
    const configFile = path.join(dir, 'idp.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        passwordHashCost: 10,
        users: [{ email: 'alice@example.com', password: 'pw' }],
        serviceProviders: [{ id: 'lax', jwt: { redirectUrls: [`${laxUrl}/consumer`], secret: LAX_SECRET }, conformance: { acceptedWhen: { status: 303, cookieSet: 'lax' } } }],
      }),
    );
    const out = path.join(dir, 'report.xml');
    await assert.rejects(
      execFileP(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'conformance', '--config', configFile, '--data-dir', path.join(dir, 'data'), '--sp', 'lax', '--format', 'junit', '--out', out]),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /FAIL: 9 case\(s\) answered wrongly/);
        return true;
      },
    );
    const xml = fs.readFileSync(out, 'utf8');
    assert.match(xml, /<testsuite name="lax\.jwt" tests="13" failures="9" errors="0" skipped="0"/);
    assert.match(xml, /<testcase classname="lax\.jwt" name="jwt:expired: exp is 10 minutes in the past/);
    assert.equal((xml.match(/<failure /g) ?? []).length, 9);
  });

  it('refuses a probeUrl or startUrl outside the SP\'s registered origins', async () => {
    await assert.rejects(
      startTestIdp((c) => ({
        ...c,
        serviceProviders: [{ id: 'x', jwt: { redirectUrls: ['https://sp.example.test/c'], secret: LAX_SECRET }, conformance: { acceptedWhen: { probeUrl: 'https://elsewhere.example.test/me' } } }],
      })),
      /serviceProviders\[0\]\.conformance\.acceptedWhen\.probeUrl: must be on the origin of one of the SP's redirectUrls or acsUrls/,
    );
  });
});
