/**
 * Making a token or a SAML Response for a user and an SP outside a browser
 * flow: the control API, the library API and the CLI all come here. It uses the
 * one issuer and the same bookkeeping as a browser sign-in (the flow history, the
 * replay memory of fault-free tokens and assertions).
 */
import { IdpError } from './errors.js';
import type { JwtFault, SamlFault } from './faults/catalog.js';
import { jwtEntry, samlEntry } from './flows/entries.js';
import { recordDelivery } from './issue/delivered.js';
import type { IssuedJwt, IssuedSamlResponse } from './issue/issuer.js';
import { encodePost } from './saml/binding.js';
import { nameIdOf } from './saml/nameid.js';
import type { Services } from './services.js';
import { requireSp } from './sps.js';
import type { User } from './users/store.js';

export function requireUser(services: Services, user: string | User): User {
  if (typeof user !== 'string') return user;
  const found = services.users.find(user);
  if (!found) throw new IdpError('not_found', `There is no user ${user}.`);
  return found;
}

export async function mintJwtFor(
  services: Services,
  spId: string,
  user: string | User,
  overrides: Record<string, unknown> = {},
  faults: readonly JwtFault[] = [],
): Promise<IssuedJwt> {
  const sp = requireSp(services, spId, 'jwt', { listKnown: true });
  const who = requireUser(services, user);
  const issued = await services.issuer.jwt(sp, who, { overrides, faults });
  await recordDelivery(services, {
    flow: jwtEntry(sp, who.email, issued, { binding: 'json', initiator: 'api', destination: undefined }),
    sent: issued.faults.length === 0 ? { spId: sp.id, jti: issued.claims.jti } : undefined,
  });
  return issued;
}

export interface SamlResponseOptions {
  /** Faults to inject (see the fault catalog). */
  faults?: readonly SamlFault[] | undefined;
  /** One of the SP's acsUrls; default: its first. */
  acsUrl?: string | undefined;
  /** The AuthnRequest ID it answers; absent for an unsolicited response. */
  inResponseTo?: string | undefined;
  sessionIndex?: string | undefined;
}

export interface BuiltSamlResponse {
  /** base64 of the XML, as the SAMLResponse form field carries it. */
  samlResponse: string;
  xml: string;
  acsUrl: string;
  responseId: string;
  assertionId: string;
  /** What the issuer built. */
  issued: IssuedSamlResponse;
}

export async function samlResponseFor(services: Services, spId: string, user: string | User, options: SamlResponseOptions = {}): Promise<BuiltSamlResponse> {
  const sp = requireSp(services, spId, 'saml', { listKnown: true });
  const acsUrl = options.acsUrl ?? sp.saml.acsUrls[0]!;
  if (!sp.saml.acsUrls.includes(acsUrl)) throw new IdpError('invalid_acs_url', `${acsUrl} is not one of ${sp.id}'s acsUrls.`);
  const who = requireUser(services, user);
  // No AuthnRequest, no session: the SP's default NameID format (a transient NameID is a new one each time).
  const nameId = nameIdOf({ sp, user: who, format: sp.saml.nameIdFormat, source: services.nameIds });
  const issued = await services.issuer.samlResponse(
    { sp, user: who, acsUrl, inResponseTo: options.inResponseTo, sessionIndex: options.sessionIndex ?? services.ids.samlId(), authnInstant: services.clock.now(), nameId },
    { faults: options.faults ?? [] },
  );
  await recordDelivery(services, {
    flow: samlEntry(sp, who.email, issued, { binding: 'json', initiator: 'api', acsUrl, inResponseTo: options.inResponseTo }),
    sent: issued.faults.length === 0 ? { spId: sp.id, assertionId: issued.assertionId } : undefined,
    nameId: { spId: sp.id, email: who.email, sent: issued.subject },
  });
  return { samlResponse: encodePost(issued.xml), xml: issued.xml, acsUrl, responseId: issued.responseId, assertionId: issued.assertionId, issued };
}
