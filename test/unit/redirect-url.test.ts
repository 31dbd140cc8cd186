import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendToUrl, matchesAllowList, parseRedirectUrl } from '../../src/jwt/redirect-url.js';
import { buildClaims, renderTemplate } from '../../src/jwt/claims.js';
import type { ResolvedJwtSp } from '../../src/config/load.js';

describe('redirect_url', () => {
  const allow = ['https://sp.example.com/sso/jwt/consumer'];

  it('matches on scheme, host, port and path; the query may add anything', () => {
    assert.ok(matchesAllowList(parseRedirectUrl('https://sp.example.com/sso/jwt/consumer?relayState=x&y=1'), allow));
    assert.ok(matchesAllowList(parseRedirectUrl('https://SP.example.com:443/sso/jwt/consumer'), allow), 'default port and host case are normalized');
    for (const bad of [
      'https://sp.example.com./sso/jwt/consumer',
      'https://sp.example.com:8443/sso/jwt/consumer',
      'http://sp.example.com/sso/jwt/consumer',
      'https://sp.example.com/sso/jwt/consumer/',
      'https://sp.example.com.evil/sso/jwt/consumer',
      'https://evil#@sp.example.com/sso/jwt/consumer',
    ]) {
      assert.equal(matchesAllowList(parseRedirectUrl(bad), allow), false, bad);
    }
  });

  it('refuses what a browser would reinterpret', () => {
    for (const [raw, message] of [
      ['java\tscript:alert(1)', /control characters/],
      ['JaVaScRiPt:alert(1)', /scheme "javascript:"/],
      ['/\\evil.example', /backslash/],
      ['https:\\\\evil.example', /backslash/],
      ['//evil.example', /protocol-relative/],
      ['https://sp.example.com@evil.example/', /user name or password/],
      [' https://sp.example.com/', /leading or trailing spaces/],
    ] as const) {
      assert.throws(() => parseRedirectUrl(raw), message, raw);
    }
  });

  it('appends parameters keeping the URL\'s own query and dropping the fragment', () => {
    const url = parseRedirectUrl('https://sp.example.com/c?relayState=%2Fa%3Fb&x=1+2#frag');
    assert.equal(appendToUrl(url, { jwt: 'a.b.c' }), 'https://sp.example.com/c?relayState=%2Fa%3Fb&x=1+2&jwt=a.b.c');
    assert.equal(appendToUrl(parseRedirectUrl('https://sp.example.com/c'), { jwt: 't', relayState: '/x y' }), 'https://sp.example.com/c?jwt=t&relayState=%2Fx%20y');
    assert.equal(appendToUrl(parseRedirectUrl('https://sp.example.com/c?'), { jwt: 't' }), 'https://sp.example.com/c?jwt=t');
  });
});

describe('claims', () => {
  const user = { email: 'a@example.com', name: 'A', attributes: { agentId: '7', groups: ['x', 'y'] }, disabled: false };
  const jwt: ResolvedJwtSp = {
    redirectUrls: ['https://sp.example.com/c'],
    algorithm: 'HS256',
    issuer: 'jwt server',
    audience: 'Comm100',
    subject: 'agent-{attributes.agentId}',
    ttlSeconds: 1800,
    delivery: 'redirect',
    claims: { groups: 'groups', missing: 'nope', 'comm100.name': 'name' },
    identityClaim: 'identity',
    privateKeyPem: undefined,
  };

  it('builds the exact claim set for a fixed time and jti', () => {
    assert.deepEqual(buildClaims({ sp: { jwt }, user, now: 1_700_000_000, jti: 'j-1' }), {
      groups: ['x', 'y'],
      'comm100.name': 'A',
      identity: 'a@example.com',
      iss: 'jwt server',
      aud: 'Comm100',
      sub: 'agent-7',
      email: 'a@example.com',
      name: 'A',
      jti: 'j-1',
      iat: 1_700_000_000,
      nbf: 1_700_000_000,
      exp: 1_700_001_800,
    });
  });

  it('renders subject templates and literals', () => {
    assert.equal(renderTemplate('comm100', user), 'comm100');
    assert.equal(renderTemplate('{email}', user), 'a@example.com');
    assert.equal(renderTemplate('{groups}', user), 'x y');
  });
});
