import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, tempDir } from '../helpers/idp.js';
import { exitOf, waitForOutput } from './process.js';

const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

function userConfig(port: number): string {
  const dir = tempDir('mock-idp-cli-');
  const file = path.join(dir, 'idp.yaml');
  fs.writeFileSync(
    file,
    `baseUrl: http://localhost:${port}
host: 127.0.0.1
passwordHashCost: 10
users:
  - { email: a@example.com, password: a-password }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "http://localhost:9/consumer" ] }
`,
  );
  return file;
}

describe('mock-idp serve', () => {
  it('finishes a request in flight on SIGTERM, refuses new connections, and exits 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...CLI, 'serve', '--config', userConfig(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const banner = await waitForOutput(child, /mock-idp is running/);
      assert.match(banner, /Generated HS256 shared secret for SP "sp"/, 'a generated secret is shown once');
      assert.doesNotMatch(banner, /a-password/, 'passwords of a user config are never printed');

      const socket = net.connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const body = 'email=a%40example.com&password=x';
      socket.write(`POST /login HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`);
      let response = '';
      socket.on('data', (d: Buffer) => (response += d.toString()));
      const closed = new Promise((r) => socket.once('close', r));

      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await waitForOutput(child, /SIGTERM received: stopping/);
      // The listening socket closes on the next turn of the server's event loop; a
      // connection the kernel completes just before that is reset. Probe until refused.
      let refused = false;
      for (let i = 0; i < 40 && !refused; i++) {
        refused = await new Promise<boolean>((resolve) => {
          const probe = net.connect(port, '127.0.0.1');
          probe.once('connect', () => {
            probe.destroy();
            setTimeout(() => resolve(false), 50);
          });
          probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
        });
      }
      assert.ok(refused, 'new connections are refused while stopping');
      assert.equal(child.exitCode, null, 'still running while a request is in flight');

      socket.end(body.slice(10));
      await closed;
      assert.match(response, /^HTTP\/1\.1 403 /, 'the in-flight request got its full answer');
      assert.match(response, /The form has expired or was not sent from this site/);
      assert.equal(await exitOf(child), 0);
      if (child.stderr.readable) await new Promise((r) => child.stderr.once('close', r));
      assert.match(stderr, /\nmock-idp stopped \(SIGTERM\) after \d+\.\d s\n$/, 'one last line says the shutdown has finished');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits 2 with a clear message for a bad config, and 1 when the port is taken', async () => {
    const dir = tempDir('mock-idp-cli-');
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'users: 3\n');
    const child = spawn(process.execPath, [...CLI, '--config', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    assert.equal(await exitOf(child), 2);
    assert.match(err, /Invalid config in .*bad\.yaml:\n {2}- users: Invalid input: expected array, received number/);

    const port = await freePort();
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const second = spawn(process.execPath, [...CLI, '--config', userConfig(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err2 = '';
      second.stderr.on('data', (d: Buffer) => (err2 += d.toString()));
      assert.equal(await exitOf(second), 1);
      assert.match(err2, /cannot listen on 127\.0\.0\.1:\d+ for the IdP: the port is in use .*EADDRINUSE.*Set another port for the IdP with --port or PORT/);
    } finally {
      blocker.close();
    }
  });

  it('names the option that moves the demo SP when its port is taken', async () => {
    const [idpPort, spPort] = [await freePort(), await freePort()];
    const blocker = net.createServer().listen(spPort, 'localhost');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const child = spawn(process.execPath, [...CLI, 'serve'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MOCK_IDP_CONFIG: '', PORT: String(idpPort), DEMO_SP_PORT: String(spPort), DATA_DIR: tempDir('mock-idp-cli-') },
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      assert.equal(await exitOf(child), 1);
      assert.match(err, new RegExp(`cannot listen on localhost:${spPort} for the demo SP: the port is in use .*Set another port for the demo SP with --demo-sp-port or DEMO_SP_PORT`));
    } finally {
      blocker.close();
    }
  });
});
