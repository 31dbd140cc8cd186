/**
 * Baseline: the least a JWT redirect can cost on this machine. A bare node:http
 * server answers every request with a 302 to the consumer carrying a freshly
 * signed HS256 JWT (jose's SignJWT, the IdP's claims, the key imported once as a
 * CryptoKey), and no routing, session, store, logging or headers beyond Location.
 *
 * Usage: node bench/baselines/bare-node.mjs PORT
 */
import { Buffer } from 'node:buffer';
import crypto from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';

const port = Number(process.argv[2]);
const key = await crypto.subtle.importKey('raw', Buffer.from('bench-shared-secret-0123456789abcdef', 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const consumer = 'http://sp.bench.test/sso/jwt/consumer';

const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    name: 'Alice Agent',
    siteId: '10000',
    agentId: '1001',
    iss: 'mock-idp bench',
    aud: 'bench',
    sub: 'alice@example.com',
    email: 'alice@example.com',
    jti: crypto.randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 1800,
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
  res.writeHead(302, { location: `${consumer}?jwt=${encodeURIComponent(token)}` });
  res.end();
});
server.keepAliveTimeout = 5_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
