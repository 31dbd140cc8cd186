import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, logFormat } from '../../src/logger.js';
import { ConfigError } from '../../src/errors.js';
import { freePort, tempDir } from '../helpers/idp.js';

const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

describe('log format', () => {
  it('is pretty on a terminal, JSON when piped or in production, and LOG_FORMAT decides when set', () => {
    assert.equal(logFormat({}, true), 'pretty');
    assert.equal(logFormat({}, false), 'json');
    assert.equal(logFormat({ NODE_ENV: 'production' }, true), 'json');
    assert.equal(logFormat({ LOG_FORMAT: 'json' }, true), 'json');
    assert.equal(logFormat({ LOG_FORMAT: 'pretty' }, false), 'pretty');
    assert.throws(() => logFormat({ LOG_FORMAT: 'yaml' }, false), (err: Error) => err instanceof ConfigError && /LOG_FORMAT: "yaml" \(json or pretty\)/.test(err.message));
    assert.throws(() => createLogger({ level: 'loud' }), /Invalid environment variable LOG_LEVEL: "loud"/);
  });

  it('prints a request as time, level, method, URL, status and ms, with secrets still redacted', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'pretty', destination: { write: (l: string) => void lines.push(l) } });
    logger.info({ req: { id: 'r1', method: 'GET', url: '/sso/jwt/sp?jwt=[redacted]' }, res: { statusCode: 302 }, responseTime: 4 }, 'request completed');
    logger.warn({ password: 'hunter2-secret', redis: 'x' }, 'something happened');
    assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/sso\/jwt\/sp\?jwt=\[redacted\] 302 4 ms\n$/);
    assert.match(lines[1]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: something happened \{"password":"\[redacted\]","redis":"x"\}\n$/);
    assert.ok(!lines.join('').includes('hunter2'), 'a secret is never logged');
    assert.ok(!lines.join('').includes('\u001b['), 'no colours when the output is not a terminal');
  });

  it('serve logs JSON lines when piped and readable lines with LOG_FORMAT=pretty', async () => {
    for (const format of ['', 'pretty']) {
      const [port, spPort] = [await freePort(), await freePort()];
      const child = spawn(process.execPath, [...CLI, 'serve'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MOCK_IDP_CONFIG: '', MOCK_IDP_CONFIG_JSON: '', LOG_FORMAT: format, LOG_LEVEL: 'info', PORT: String(port), DEMO_SP_PORT: String(spPort), DATA_DIR: tempDir('mock-idp-logs-') },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        for (let i = 0; i < 200 && !out.includes('mock-idp is running'); i++) await new Promise((r) => setTimeout(r, 50));
        await (await fetch(`http://localhost:${port}/login?token=abc123secret`)).text();
        for (let i = 0; i < 100 && !/\/login\?token/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
        const line = out.split('\n').find((l) => l.includes('/login?token'));
        assert.ok(line, `a request line:\n${out}`);
        if (format === 'pretty') assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/login\?token=%5Bredacted%5D 200 \d+ ms$/);
        else assert.equal((JSON.parse(line) as { req: { url: string } }).req.url, '/login?token=%5Bredacted%5D');
        assert.ok(!out.includes('abc123secret'));
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});
