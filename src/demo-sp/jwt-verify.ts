/**
 * How the demo SP checks a JWT from the IdP, the way a careful SP must: the
 * signature with the tenant's pinned algorithm and key (its HS256 secret, or the
 * IdP's JWKS from its public URL), iss, aud, exp, and the claims it needs. A
 * refusal is a 401 that says in words what was wrong.
 */
import https from 'node:https';
import type { FetchImplementation, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey } from 'jose';
import type { DemoSpOptions, DemoTenant } from './options.js';
import { decodedForDisplay, explainRefusal } from './refusal.js';
import { DemoError } from './shared.js';

export interface VerifiedToken {
  header: JWTHeaderParameters;
  claims: JWTPayload;
}

/** A fetch for the JWKS that trusts the given CA (the IdP's self-signed certificate). */
export function fetchTrusting(ca: string): FetchImplementation {
  return (url, options) =>
    new Promise<globalThis.Response>((resolve, reject) => {
      const req = https.get(url, { ca, headers: Object.fromEntries(options.headers), signal: options.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new globalThis.Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: { 'content-type': String(res.headers['content-type'] ?? '') } })));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
}

/** jose, loaded by the first sign-in rather than at start-up. */
export const loadJose = () => import('jose');

/** The tenant's token check: the verified header and claims, or a DemoError(401) with what arrived and what failed. */
export function tokenVerifier(options: DemoSpOptions, tenant: DemoTenant): (token: string) => Promise<VerifiedToken> {
  const verify = tenant.verify;
  // Made by the first sign-in; a remote JWKS keeps its cache from then on.
  let key: Promise<Uint8Array | JWTVerifyGetKey> | undefined;
  const verificationKey = () =>
    (key ??=
      verify.alg === 'HS256'
        ? Promise.resolve(new TextEncoder().encode(verify.secret))
        : loadJose().then(({ createRemoteJWKSet, customFetch }) =>
            createRemoteJWKSet(new URL(`${options.idpUrl}/.well-known/jwks.json`), {
              cooldownDuration: 5_000,
              ...(options.idpCa ? { [customFetch]: fetchTrusting(options.idpCa) } : {}),
            }),
          ));

  return async (token) => {
    const jose = await loadJose();
    try {
      const verified = await jose.jwtVerify(token, (await verificationKey()) as Uint8Array, {
        algorithms: [verify.alg],
        issuer: tenant.issuer,
        audience: tenant.audience,
        requiredClaims: ['jti', 'exp', 'email'],
        clockTolerance: options.clockToleranceSeconds ?? 30,
      });
      return { header: verified.protectedHeader, claims: verified.payload };
    } catch (err) {
      const { message, checks } = explainRefusal(jose, err, token, options, tenant, Date.now());
      throw new DemoError(401, `Sign-in refused: ${message}`, decodedForDisplay(jose, token, checks));
    }
  };
}
