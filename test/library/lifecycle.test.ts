import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startIdp } from 'mock-idp';

function counts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

describe('the library lifecycle', () => {
  it('starts and closes 50 instances in a loop without leaking handles, freeing each port', async () => {
    const config = {
      passwordHashCost: 10,
      users: [{ email: 'a@example.com', password: 'pw' }],
      serviceProviders: [{ id: 'sp', jwt: { redirectUrls: ['http://localhost:9/c'], secret: 'sp-secret-0123456789' } }],
    };
    // One round first, so lazily created process-wide resources exist before counting.
    await (await startIdp({ config })).close();
    await new Promise((r) => setImmediate(r));
    const before = counts();
    const ports = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const idp = await startIdp({ config });
      ports.add(Number(new URL(idp.url).port));
      // A client connection of our own that closes with the request (fetch would pool it).
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = http.get(`${idp.url}/healthz`, { agent: false }, (res) => {
          res.resume();
          req.once('close', () => resolve(res.statusCode));
        });
        req.on('error', reject);
      });
      assert.equal(status, 200);
      await idp.close();
    }
    await new Promise((r) => setImmediate(r));
    const after = counts();
    for (const [kind, n] of after) assert.ok(n <= (before.get(kind) ?? 0), `${kind}: ${before.get(kind) ?? 0} before, ${n} after`);
    const port = [...ports][0]!;
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(undefined)));
        s.once('error', reject);
      }),
      /ECONNREFUSED/,
    );
  });

  it('reports a bad config given as an object with the key that is wrong', async () => {
    await assert.rejects(
      startIdp({ config: { users: [{ email: 'not-an-email', password: 'x' }] } }),
      /Invalid config in startIdp\(\{ config \}\):\n {2}- users\[0\]\.email: must be an email address/,
    );
  });
});
