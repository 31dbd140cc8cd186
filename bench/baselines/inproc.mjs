/**
 * In-process rates on the server CPU, the baselines that give the HTTP figures
 * their meaning (and two diagnostics):
 * - rsa:        crypto.sign RSA-SHA256 with a prepared 2048-bit KeyObject, over a
 *               SignedInfo-sized message: the floor of any signed SAML message;
 * - xmlcrypto:  the same assertion signed by xml-crypto (`signXml`: parse, XPath,
 *               canonicalize, serialize), the general XML-DSig pass;
 * - fastOne / fastBoth: `buildResponse` of the fast path, assertion signed / both;
 * - scrypt:     `verifyPassword` at the configured cost, CONCURRENCY at a time,
 *               the hashing a sign-in cannot avoid.
 * Each is measured RUNS times; prints one JSON object.
 *
 * Usage: node bench/baselines/inproc.mjs CONFIG_FILE RUN_MS RUNS CONCURRENCY
 */
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../dist/config/load.js';
import { loadKeystore } from '../../dist/keys/keystore.js';
import { serializeXml } from '../../dist/saml/c14n.js';
import { randomSamlId } from '../../dist/saml/ids.js';
import { findSpByEntityId } from '../../dist/saml/inbound.js';
import { buildAssertion, buildResponse } from '../../dist/saml/response.js';
import { signXml } from '../../dist/saml/sign.js';
import { hashPassword, verifyPassword } from '../../dist/users/password.js';

const [file, runMsArg, runsArg, concurrencyArg] = process.argv.slice(2);
const runMs = Number(runMsArg);
const runs = Number(runsArg);
const concurrency = Number(concurrencyArg);

const config = loadConfig({ file, env: {} });
const keystore = await loadKeystore({ keysDir: config.keysDir, now: Date.now() });
const idp = { entityId: config.saml.entityId, credentials: keystore.saml, clock: { now: () => Date.now() }, newId: randomSamlId };
const u = config.users[0];
const user = { email: u.email, name: u.name, attributes: u.attributes };
const spOne = findSpByEntityId(config.serviceProviders, 'urn:bench:saml:assertion-signed');
const spBoth = findSpByEntityId(config.serviceProviders, 'urn:bench:saml:both-signed');
const input = (sp) => ({ sp, user, acsUrl: sp.saml.acsUrls[0], inResponseTo: '_bench-request', sessionIndex: randomSamlId(), authnInstant: Date.now() });

/** Calls per second of wall time, and CPU µs per call (all threads: process.cpuUsage). */
function rate(fn) {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let n = 0;
  let now = start;
  while (now - start < runMs) {
    fn();
    n += 1;
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / ((now - start) / 1000), cpuUs: (cpu.user + cpu.system) / n };
}

function measure(fn) {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  const out = { perSecond: [], cpuUs: [] };
  for (let r = 0; r < runs; r++) {
    const x = rate(fn);
    out.perSecond.push(x.perSecond);
    out.cpuUs.push(x.cpuUs);
  }
  return out;
}

const key = crypto.createPrivateKey(keystore.saml.privateKeyPem);
// A SignedInfo in canonical form is ~900 bytes.
const signedInfo = Buffer.from('<ds:SignedInfo>'.padEnd(900, 'x'));
const assertionXml = serializeXml(buildAssertion(idp, input(spOne), randomSamlId(), user.email));

const result = {
  rsa: measure(() => crypto.sign('sha256', signedInfo, key)),
  xmlcrypto: measure(() => signXml(assertionXml, { id: /ID="([^"]+)"/.exec(assertionXml)[1], credentials: keystore.saml })),
  fastOne: measure(() => buildResponse(idp, input(spOne))),
  fastBoth: measure(() => buildResponse(idp, input(spBoth))),
  scrypt: { perSecond: [], cpuUs: [] },
  scryptCost: config.passwordHashCost,
};

const stored = await hashPassword('a password', config.passwordHashCost);
for (let r = 0; r < runs; r++) {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + Math.max(runMs, 2000);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await verifyPassword('a password', stored);
        done += 1;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  result.scrypt.perSecond.push(done / ((performance.now() - start) / 1000));
  result.scrypt.cpuUs.push((cpu.user + cpu.system) / done);
}
process.stdout.write(JSON.stringify(result));
