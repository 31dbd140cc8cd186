/** The claim set of a token for a user and a service provider. */
import type { JWTPayload } from 'jose';
import type { ResolvedJwtSp } from '../config/load.js';
import type { User } from '../users/store.js';

export const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp'] as const;

/** A user field or attribute by name: email, name, attributes.x, or x (an attribute). */
export function userValue(user: User, field: string): string | string[] | undefined {
  if (field === 'email') return user.email;
  if (field === 'name') return user.name;
  const attr = field.startsWith('attributes.') ? field.slice('attributes.'.length) : field;
  return Object.hasOwn(user.attributes, attr) ? user.attributes[attr] : undefined;
}

/** Renders a template such as "{email}"; a literal without braces is returned as is. */
export function renderTemplate(template: string, user: User): string {
  return template.replace(/\{([^{}]+)\}/g, (_, field: string) => {
    const v = userValue(user, field.trim());
    return Array.isArray(v) ? v.join(' ') : (v ?? '');
  });
}

export interface ClaimInputs {
  sp: { jwt: ResolvedJwtSp };
  user: User;
  /** Seconds since the epoch. */
  now: number;
  jti: string;
}

export function buildClaims({ sp, user, now, jti }: ClaimInputs): JWTPayload {
  const jwt = sp.jwt;
  // One object, claim by claim (no spreads: this runs on every sign-in). A mapped claim
  // that shares a name with a registered one keeps its place and takes the registered value.
  const claims: JWTPayload = {};
  for (const [claim, field] of Object.entries(jwt.claims)) {
    const v = userValue(user, field);
    if (v !== undefined) claims[claim] = v;
  }
  if (jwt.identityClaim) claims[jwt.identityClaim] = user.email;
  const hasName = claims.name !== undefined;
  claims.iss = jwt.issuer;
  claims.aud = jwt.audience;
  claims.sub = renderTemplate(jwt.subject, user) || user.email;
  claims.email = user.email;
  if (user.name !== undefined && !hasName) claims.name = user.name;
  claims.jti = jti;
  claims.iat = now;
  claims.nbf = now;
  claims.exp = now + jwt.ttlSeconds;
  return claims;
}
