import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import request from 'supertest';
import { cutAtWord, firstLineOf } from '../../src/conformance/answer-text.js';
import { networkReason } from '../../src/conformance/reach.js';
import { formatHtml, formatJunit, formatText, headline } from '../../src/conformance/report.js';
import { runConformance } from '../../src/conformance/runner.js';
import { closeServer, listen } from '../../src/server.js';
import { freePort, startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { csrfFrom } from '../helpers/http.js';

const execFileP = promisify(execFile);
const SECRET = 'down-sp-shared-secret-0123456789';

describe('the conformance runner when the SP cannot be reached', () => {
  let idp: TestIdp;
  let downUrl: string;
  let server: http.Server;
  let liveUrl: string;
  let deliveries = 0;

  before(async () => {
    downUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const app = express();
    // Accepts the first delivery, then hangs up on every later one (an SP that crashed mid-run).
    app.get('/consumer', (req, res) => {
      deliveries += 1;
      if (deliveries > 1) {
        req.socket.destroy();
        return;
      }
      res.cookie('s', '1').redirect(303, '/home');
    });
    app.get('/slow', () => {
      // never answers
    });
    const port = await freePort();
    liveUrl = `http://127.0.0.1:${port}`;
    server = await listen(app, port, '127.0.0.1');
    idp = await startTestIdp((c) => ({
      ...c,
      adminToken: 'unreachable-admin-token',
      serviceProviders: [
        ...c.serviceProviders!,
        { id: 'down', name: 'Down SP', jwt: { redirectUrls: [`${downUrl}/consumer`], secret: SECRET } },
        { id: 'crashing', jwt: { redirectUrls: [`${liveUrl}/consumer`], secret: SECRET } },
        { id: 'slow', jwt: { redirectUrls: [`${liveUrl}/slow`], secret: SECRET }, conformance: { timeoutMs: 300, acceptedWhen: { status: 303 } } },
        { id: 'tls', jwt: { redirectUrls: [`https://127.0.0.1:${port}/consumer`], secret: SECRET } },
      ],
    }));
  });
  after(async () => {
    await idp.close();
    await closeServer(server);
  });

  it('says it could not reach the SP (connection refused) instead of blaming it, and judges nothing', async () => {
    const report = await runConformance(idp.running.idp.context, 'down');
    const valid = report.cases[0]!;
    assert.equal(valid.id, 'jwt:valid');
    assert.equal(valid.verdict, 'unreachable');
    assert.equal(valid.observed, 'unreachable');
    assert.equal(valid.firstLine, `could not reach ${downUrl}/consumer (connection refused)`);
    assert.ok(report.cases.slice(1).every((c) => c.verdict === 'not-run'));
    assert.equal(report.ok, false);
    assert.equal(report.outcome, 'unreachable');
    assert.equal(report.unreachable, `could not reach ${downUrl}/consumer (connection refused)`);
    assert.deepEqual({ ...report.summary }, { total: 13, passed: 0, failed: 0, errors: 0, unreachable: 1, notRun: 12 });
    assert.match(
      headline(report),
      new RegExp(`^UNREACHABLE: could not reach ${downUrl}/consumer \\(connection refused\\)\\. The run could not be made, so this says nothing about the SP — 0/13 cases judged, \\d+ ms$`),
    );
    assert.doesNotMatch(headline(report), /rejects even a valid|fetch failed/);
  });

  it('shows the number of seconds in the clock-skew row, run or not', async () => {
    const report = await runConformance(idp.running.idp.context, 'down');
    const skew = report.cases.find((c) => c.id === 'jwt:clock-skew')!;
    assert.equal(skew.verdict, 'not-run');
    assert.equal(skew.title, 'iat, nbf and exp are shifted by 3600 seconds, as from an IdP whose clock runs that far ahead (negative: behind).');
    assert.ok(report.cases.every((c) => !c.title.includes('<')), 'no placeholder left in any title');
  });

  it('shows the unreachable case as such in the text, JUnit and HTML reports', async () => {
    const report = await runConformance(idp.running.idp.context, 'down');
    const text = formatText(report);
    assert.match(text, /jwt:valid +accept +could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \(connection refused\) +UNREACHABLE/);
    assert.match(text, /^UNREACHABLE: could not reach/m);
    const junit = formatJunit(report);
    assert.match(junit, /<testsuite name="down\.jwt" tests="13" failures="0" errors="1" skipped="12"/);
    assert.match(junit, /<error message="could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \(connection refused\)" type="sp-unreachable">/);
    assert.doesNotMatch(junit, /<failure /);
    const html = formatHtml(report);
    assert.match(html, /<tr class="unreachable"><td><code>jwt:valid<\/code>.*<td>could not reach [^<]+\(connection refused\)<\/td><td>UNREACHABLE<\/td><\/tr>/);
  });

  it('never names the token in the message, though the delivery URL carries it', async () => {
    const report = await runConformance(idp.running.idp.context, 'down');
    assert.doesNotMatch(JSON.stringify(report), /jwt=|eyJ/);
  });

  it('marks the cases after an SP hung up as unreachable, not as rejected', async () => {
    deliveries = 0;
    const report = await runConformance(idp.running.idp.context, 'crashing');
    assert.equal(report.cases[0]!.verdict, 'pass');
    const rest = report.cases.slice(1);
    assert.ok(rest.length > 0);
    for (const c of rest) {
      assert.equal(c.verdict, 'unreachable', c.id);
      assert.match(c.firstLine, /^could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \((connection closed|connection reset)\)$/, c.id);
    }
    assert.equal(report.outcome, 'unreachable');
    assert.equal(report.summary.failed, 0);
    assert.match(headline(report), /^UNREACHABLE: could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \(connection (closed|reset)\) \(12 case\(s\)\)\. The run could not be made, so this says nothing about the SP — 1\/13 cases judged/);
  });

  it('names a timeout with the limit used', async () => {
    const report = await runConformance(idp.running.idp.context, 'slow');
    assert.equal(report.cases[0]!.firstLine, `could not reach ${liveUrl}/slow (no answer within 300 ms)`);
    assert.equal(report.outcome, 'unreachable');
  });

  it('names a TLS failure (https to a plain HTTP server)', async () => {
    const report = await runConformance(idp.running.idp.context, 'tls');
    assert.match(report.cases[0]!.firstLine, /^could not reach https:\/\/127\.0\.0\.1:\d+\/consumer \(TLS: wrong version number\)$/);
  });

  it('shows UNREACHABLE on the "Test this SP" page and in the control API', async () => {
    const agent = request.agent(idp.url);
    const page = await agent.get('/conformance/down').expect(200);
    const ran = await agent.post('/conformance/down').type('form').send({ csrf: csrfFrom(page.text) }).expect(200);
    assert.match(ran.text, /data-testid="conformance-verdict" class="unreachable">UNREACHABLE: could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \(connection refused\)/);
    assert.match(ran.text, /<tr class="verdict-unreachable">/);
    assert.match(ran.text, /<td>UNREACHABLE<\/td>/);
    const api = await request(idp.url).post('/api/conformance').set('Authorization', 'Bearer unreachable-admin-token').send({ sp: 'down' }).expect(200);
    assert.equal(api.body.outcome, 'unreachable');
    assert.equal(api.body.cases[0].verdict, 'unreachable');
  });

  it('exits 3 from the CLI, which says the run could not be made', async () => {
    const dir = tempDir();
    const configFile = path.join(dir, 'idp.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({ passwordHashCost: 10, users: [{ email: 'alice@example.com', password: 'pw' }], serviceProviders: [{ id: 'down', jwt: { redirectUrls: [`${downUrl}/consumer`], secret: SECRET } }] }),
    );
    await assert.rejects(
      execFileP(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'conformance', '--config', configFile, '--data-dir', path.join(dir, 'data'), '--sp', 'down']),
      (err: { code: number; stdout: string }) => {
        assert.equal(err.code, 3);
        assert.match(err.stdout, /UNREACHABLE: could not reach http:\/\/127\.0\.0\.1:\d+\/consumer \(connection refused\)/);
        return true;
      },
    );
  });
});

describe('what the runner says about a network failure and long answers', () => {
  const fetchFailed = (cause: Error & { code?: string }) => Object.assign(new TypeError('fetch failed'), { cause });
  const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names DNS, TLS certificate and socket failures in a few words', () => {
    assert.equal(networkReason(fetchFailed(coded('ENOTFOUND', 'getaddrinfo ENOTFOUND sp.example.test')), 5000), 'DNS: no such host');
    assert.equal(networkReason(fetchFailed(coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')), 5000), 'TLS: self-signed certificate');
    assert.equal(networkReason(fetchFailed(coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")), 5000), "TLS: Hostname/IP does not match certificate's altnames");
    assert.equal(networkReason(fetchFailed(coded('ECONNRESET', 'read ECONNRESET')), 5000), 'connection reset');
    assert.equal(networkReason(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }), 5000), 'no answer within 5000 ms');
  });

  it('cuts a long line at a word boundary and marks the cut with "…"', () => {
    const long = `Sign-in refused: ${'the token is not acceptable because '.repeat(10)}end`;
    const cut = firstLineOf(`<p role="alert">${long}</p>`);
    assert.ok(cut.length <= 200, String(cut.length));
    assert.ok(cut.endsWith('…'));
    assert.ok(long.startsWith(cut.slice(0, -1)));
    assert.match(cut, /[a-z]…$/);
    assert.equal(long.charAt(cut.length - 1), ' ', 'the cut falls on a space');
    assert.equal(cutAtWord('short enough', 200), 'short enough');
    assert.equal(cutAtWord('x'.repeat(300), 10), `${'x'.repeat(9)}…`);
  });
});
