import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { SignJWT } from 'jose';
import { shownTime } from '../../src/time-format.js';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { unescapeHtml } from '../helpers/http.js';

/** The "What failed" rows of a refusal page: [check, expected, actual]. */
function failedChecks(html: string): string[][] {
  const table = /<table class="refusal-checks"[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
  return [...table.matchAll(/<tr><td><code>([^<]*)<\/code><\/td><td[^>]*>([^<]*)<\/td><td[^>]*>([^<]*)<\/td><\/tr>/g)].map((m) => [m[1]!, unescapeHtml(m[2]!), unescapeHtml(m[3]!)]);
}

describe("the demo SP's refusal page", () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp();
  });
  after(() => idp.close());

  const now = () => Math.floor(Date.now() / 1000);
  const claims = () => ({ email: 'alice@example.com', jti: crypto.randomUUID(), iat: now(), nbf: now(), exp: now() + 300 });
  const sign = (c: Record<string, unknown>, { secret = HS_SECRET, iss = 'jwt server', aud = 'Comm100' } = {}) =>
    new SignJWT(c).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(iss).setAudience(aud).sign(new TextEncoder().encode(secret));
  const refused = async (token: string, path = '/sso/jwt/consumer') => {
    const res = await request(idp.spUrl).get(`${path}?jwt=${encodeURIComponent(token)}`).expect(401);
    return res.text;
  };

  it('shows the decoded token and the expected versus the actual audience, never the whole signature or the secret', async () => {
    const token = await sign(claims(), { aud: 'Other' });
    const html = await refused(token);
    assert.match(html, /data-testid="sp-error">Sign-in refused: The token&#39;s &#34;aud&#34; claim is not acceptable/);
    assert.deepEqual(failedChecks(html), [['aud', 'Comm100', 'Other']]);
    const text = unescapeHtml(html);
    assert.match(text, /<pre data-testid="token-header">\{\n {2}"alg": "HS256",\n {2}"typ": "JWT"\n\}<\/pre>/);
    assert.match(text, /<pre data-testid="token-claims">[^<]*"email": "alice@example.com"[^<]*"aud": "Other"/);
    const signature = token.split('.')[2]!;
    assert.match(html, new RegExp(`data-testid="token-signature">${signature.slice(0, 8)}…<`));
    assert.ok(!html.includes(signature), 'the whole signature is not shown');
    assert.ok(!html.includes(token), 'nor the token');
    assert.ok(!html.includes(HS_SECRET), 'nor the secret');
  });

  it('names the issuer it expects', async () => {
    assert.deepEqual(failedChecks(await refused(await sign(claims(), { iss: 'evil' }))), [['iss', 'jwt server', 'evil']]);
  });

  it('shows the expiry and "now" as moments for an expired token, and for one not yet valid', async () => {
    const t = now();
    const expired = await refused(await sign({ ...claims(), iat: t - 4000, nbf: t - 4000, exp: t - 3600 }));
    const [exp] = failedChecks(expired);
    assert.equal(exp![0], 'exp');
    assert.match(exp![1], /^later than now \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\), with 30 s leeway$/);
    assert.equal(exp![2], `${shownTime((t - 3600) * 1000)} (${t - 3600})`);
    assert.match(expired, new RegExp(`data-testid="token-exp">${shownTime((t - 3600) * 1000)}<`));
    const early = await refused(await sign({ ...claims(), nbf: t + 3600, exp: t + 7200 }));
    assert.deepEqual(failedChecks(early)[0]!.slice(0, 1), ['nbf']);
    assert.match(failedChecks(early)[0]![1], /^no later than now \(.* UTC\), with 30 s leeway$/);
    assert.equal(failedChecks(early)[0]![2], `${shownTime((t + 3600) * 1000)} (${t + 3600})`);
  });

  it('says which key a bad signature was checked with, without the secret', async () => {
    const token = await sign(claims(), { secret: 'another-secret-another-secret!!' });
    const html = await refused(token);
    assert.deepEqual(failedChecks(html), [['signature', 'an HS256 signature by the secret this SP shares with the IdP (not shown)', `signature ${token.split('.')[2]!.slice(0, 8)}…, which does not verify`]]);
    assert.ok(!html.includes(HS_SECRET));
  });

  it('shows the algorithm it pins against the one the token names (Desk takes RS256 only)', async () => {
    const html = await refused(await sign(claims(), { aud: 'Desk' }), '/desk/sso/jwt/consumer');
    assert.deepEqual(failedChecks(html), [['alg', 'RS256', 'HS256']]);
    assert.match(html, /Desk/);
  });

  it('explains a replayed jti with the jti', async () => {
    const c = claims();
    const token = await sign(c);
    await request(idp.spUrl).get(`/sso/jwt/consumer?jwt=${token}`).expect(303);
    assert.deepEqual(failedChecks(await refused(token)), [['jti', 'a jti Comm100 (test) has not accepted before', `${c.jti}, already used for a sign-in`]]);
  });

  it('says a malformed token cannot be decoded, without a crash', async () => {
    const html = await refused('not-a-token');
    const [check] = failedChecks(html);
    assert.equal(check![0], 'format');
    assert.match(html, /data-testid="token-header">Not decodable\./);
    assert.match(html, /data-testid="token-claims">Not decodable\./);
  });

  it('shows the agent page\'s moments in the one format of every page', async () => {
    const c = claims();
    const sp = request.agent(idp.spUrl);
    await sp.get(`/sso/jwt/consumer?jwt=${await sign(c)}`).expect(303);
    const html = (await sp.get('/agent').expect(200)).text;
    assert.match(html, /Delivered by redirect \(GET, <code>jwt<\/code> in the query string\)\s+at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./);
    assert.match(html, new RegExp(`data-testid="token-iat">${shownTime(c.iat * 1000)}<`));
    assert.match(html, new RegExp(`data-testid="token-exp">${shownTime(c.exp * 1000)}<`));
    assert.doesNotMatch(html, /\d{4}-\d\d-\d\dT\d\d:\d\d/);
  });

  it('keeps the one-line page for refusals that are not about a token', async () => {
    const res = await request(idp.spUrl).get('/sso/jwt/consumer').expect(400);
    assert.match(res.text, /No jwt parameter was received\./);
    assert.doesNotMatch(res.text, /What failed/);
  });
});
