/**
 * How the messenger checks a Contact JWT (used by the widget's identify call and
 * the Authorize API alike), and the Comm100 JWT it mints in exchange and accepts
 * back. One algorithm per validation method (HS256 with the shared token as raw
 * UTF-8 bytes; RS256 with the pasted SPKI key or the JWKS, fetched and cached by
 * jose with its kid selection), `exp` and the identity key required. A refusal
 * is a MessengerError whose message names what failed.
 */
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { shownTime } from '../time-format.js';
import { fetchTrusting, loadJose } from './jwt-verify.js';
import type { MessengerOptions, MessengerValidation } from './options.js';

/** The stable codes of the messenger's JSON answers. */
export type MessengerErrorCode = 'invalid_request' | 'invalid_token' | 'not_found' | 'url_not_allowed' | 'jwks_unavailable';

const STATUS: Record<MessengerErrorCode, number> = { invalid_request: 400, invalid_token: 401, url_not_allowed: 403, not_found: 404, jwks_unavailable: 503 };

export class MessengerError extends Error {
  readonly status: number;
  constructor(
    readonly code: MessengerErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

/** The customer a verified token names. */
export interface IdentifiedCustomer {
  identity: string;
  /** The token's comm100.* claims (comm100.name, comm100.email …). */
  details: Record<string, unknown>;
  claims: JWTPayload;
}

const ALG: Record<MessengerValidation, 'HS256' | 'RS256'> = { sharedToken: 'HS256', publicKey: 'RS256', jwks: 'RS256' };

const comm100Details = (claims: JWTPayload): Record<string, unknown> => Object.fromEntries(Object.entries(claims).filter(([k]) => k.startsWith('comm100.')));

const refused = (message: string) => new MessengerError('invalid_token', message);

/** The header, decoded without trusting it; a refusal when the token is not a JWS at all. */
async function headerOf(token: string): Promise<Record<string, unknown>> {
  const jose = await loadJose();
  try {
    return jose.decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    throw refused('the Contact JWT is malformed: it is not header.claims.signature, each part base64url JSON');
  }
}

export interface ContactJwtVerifierOptions {
  messenger: MessengerOptions;
  /** The shared token now (the settings page may have reset it). */
  sharedToken: () => string | undefined;
  idpCa?: string | undefined;
  clockToleranceSeconds?: number | undefined;
}

/** The messenger's Contact JWT check: the identified customer, or a MessengerError. */
export function contactJwtVerifier(o: ContactJwtVerifierOptions): (token: string, nowMs?: number) => Promise<IdentifiedCustomer> {
  const m = o.messenger;
  const alg = ALG[m.validation];
  const leeway = o.clockToleranceSeconds ?? 30;
  // The imported public key, or the remote JWKS (which keeps its cache from then on).
  let asymmetric: Promise<unknown> | undefined;
  const keyFor = async (): Promise<unknown> => {
    if (m.validation === 'sharedToken') {
      const token = o.sharedToken();
      if (!token) throw refused('the messenger has no shared token configured');
      return new TextEncoder().encode(token);
    }
    asymmetric ??= loadJose().then(({ importSPKI, createRemoteJWKSet, customFetch }): Promise<unknown> | JWTVerifyGetKey => {
      if (m.validation === 'publicKey') {
        if (!m.publicKey) throw refused('the messenger has no public key configured');
        return importSPKI(m.publicKey, 'RS256');
      }
      return createRemoteJWKSet(new URL(m.jwksUrl), { cooldownDuration: 5_000, ...(o.idpCa && m.jwksUrl.startsWith('https:') ? { [customFetch]: fetchTrusting(o.idpCa) } : {}) });
    });
    return asymmetric;
  };
  const keyName =
    m.validation === 'sharedToken' ? 'the shared token' : m.validation === 'publicKey' ? "the messenger's public key" : `the keys at ${m.jwksUrl}`;

  return async (token, nowMs = Date.now()) => {
    const jose = await loadJose();
    const header = await headerOf(token);
    if (header.alg === 'none' || header.alg === undefined) throw refused('alg none is not accepted: a Contact JWT must be signed');
    if (header.alg !== alg) throw refused(`the Contact JWT is signed with ${String(header.alg)}, but validation ${m.validation} accepts only ${alg}`);
    let claims: JWTPayload;
    try {
      const verified = await jose.jwtVerify(token, (await keyFor()) as Uint8Array, {
        algorithms: [alg],
        requiredClaims: ['exp'],
        clockTolerance: leeway,
        currentDate: new Date(nowMs),
      });
      claims = verified.payload;
    } catch (err) {
      if (err instanceof MessengerError) throw err;
      const e = jose.errors;
      if (err instanceof e.JWTExpired) {
        const exp = err.payload.exp;
        throw refused(`the Contact JWT expired at ${typeof exp === 'number' ? `${shownTime(exp * 1000)} (exp ${exp})` : String(exp)}; now is ${shownTime(nowMs)}, with ${leeway} s leeway`);
      }
      if (err instanceof e.JWTClaimValidationFailed) {
        if (err.claim === 'exp' && err.reason === 'missing') throw refused('the Contact JWT has no "exp" claim (the messenger requires one)');
        throw refused(`the Contact JWT's "${err.claim}" claim is not acceptable (${err.reason})`);
      }
      if (err instanceof e.JWSSignatureVerificationFailed) {
        throw refused(m.validation === 'jwks' ? `the signature does not verify with the key ${String(header.kid ?? '(no kid)')} at ${m.jwksUrl}` : `the signature does not verify with ${keyName}`);
      }
      if (err instanceof e.JWKSNoMatchingKey) {
        throw refused(header.kid === undefined ? `the Contact JWT has no kid and no single key at ${m.jwksUrl} fits it` : `no key at ${m.jwksUrl} has the Contact JWT's kid ${String(header.kid)}`);
      }
      if (err instanceof e.JWKSTimeout || err instanceof e.JWKSInvalid || (m.validation === 'jwks' && !(err instanceof e.JOSEError))) {
        throw new MessengerError('jwks_unavailable', `the keys at ${m.jwksUrl} could not be fetched, so the Contact JWT cannot be checked`);
      }
      if (err instanceof e.JWTInvalid || err instanceof e.JWSInvalid) throw refused(`the Contact JWT is malformed (${err.message})`);
      if (err instanceof e.JOSEError) throw refused(`the Contact JWT was rejected (${err.code})`);
      throw err;
    }
    const identity = claims[m.identityKey];
    if (typeof identity !== 'string' || identity === '') {
      throw refused(`the Contact JWT has no "${m.identityKey}" claim (the messenger's identity key)${identity === undefined ? '' : `: it is ${JSON.stringify(identity)}, not a non-empty string`}`);
    }
    return { identity, details: comm100Details(claims), claims };
  };
}

/** The Comm100 JWT's audience. */
export const COMM100_JWT_AUDIENCE = 'comm100-secure-messenger';

/** Mints and checks the Comm100 JWT: HS256 with the demo SP's own secret. */
export function comm100Jwt(m: MessengerOptions, issuer: string) {
  const key = new TextEncoder().encode(m.accessTokenSecret);
  return {
    async mint(customer: IdentifiedCustomer, nowMs = Date.now()): Promise<{ accessToken: string; expiresIn: number }> {
      const jose = await loadJose();
      const iat = Math.floor(nowMs / 1000);
      const expiresIn = Math.min(m.accessTokenTtlSeconds, 3600);
      const accessToken = await new jose.SignJWT({ siteId: m.siteId, messengerId: m.messengerId, ...customer.details })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(COMM100_JWT_AUDIENCE)
        .setSubject(customer.identity)
        .setIssuedAt(iat)
        .setExpirationTime(iat + expiresIn)
        .sign(key);
      return { accessToken, expiresIn };
    },
    async verify(token: string, nowMs = Date.now()): Promise<IdentifiedCustomer> {
      const jose = await loadJose();
      const header = await headerOf(token);
      if (header.alg !== 'HS256') throw refused(`the Comm100 JWT is signed with ${String(header.alg)}, not HS256`);
      try {
        const { payload } = await jose.jwtVerify(token, key, { algorithms: ['HS256'], issuer, audience: COMM100_JWT_AUDIENCE, requiredClaims: ['exp', 'sub'], currentDate: new Date(nowMs) });
        if (payload.siteId !== m.siteId || payload.messengerId !== m.messengerId) throw refused('the Comm100 JWT was issued for another site or messenger');
        return { identity: payload.sub!, details: comm100Details(payload), claims: payload };
      } catch (err) {
        if (err instanceof MessengerError) throw err;
        if (err instanceof jose.errors.JWTExpired) throw refused('the Comm100 JWT has expired: exchange the Contact JWT again');
        if (err instanceof jose.errors.JWSSignatureVerificationFailed) throw refused('the Comm100 JWT signature does not verify (it was not issued by this messenger)');
        if (err instanceof jose.errors.JOSEError) throw refused(`the Comm100 JWT was rejected (${err.code}: ${err.message})`);
        throw err;
      }
    },
  };
}
