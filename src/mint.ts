/**
 * Making a token or a SAML Response for a user and an SP outside a browser
 * flow: the control API, the library API and the CLI all come here, and this
 * uses the same signer and response builder as the server's SSO routes.
 */
import type { ResolvedJwtSp, ResolvedServiceProvider } from './config/load.js';
import { IdpError } from './errors.js';
import type { MintedToken } from './jwt/signer.js';
import { encodePost } from './saml/binding.js';
import { isSamlSp } from './saml/inbound.js';
import type { IssuedSamlResponse, JwtFault, SamlFault } from './faults/index.js';
import type { Services } from './services.js';
import type { User } from './users/store.js';

export function requireSp(services: Services, spId: string): ResolvedServiceProvider {
  const sp = services.sp(spId);
  if (!sp) {
    const known = services.config.serviceProviders.map((s) => s.id).join(', ') || 'none';
    throw new IdpError('unknown_sp', `There is no service provider "${spId}" (known: ${known}).`);
  }
  return sp;
}

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
): Promise<MintedToken & { faults: JwtFault[] }> {
  const sp = requireSp(services, spId);
  if (!sp.jwt) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.id}" has no jwt section.`);
  return services.faults.mintJwt({ ...sp, jwt: sp.jwt as ResolvedJwtSp }, requireUser(services, user), { overrides, faults });
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
  /** What the fault injector built (for the flow history). */
  issued: IssuedSamlResponse;
}

export async function samlResponseFor(services: Services, spId: string, user: string | User, options: SamlResponseOptions = {}): Promise<BuiltSamlResponse> {
  const sp = requireSp(services, spId);
  if (!isSamlSp(sp)) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.id}" has no saml section.`);
  const acsUrl = options.acsUrl ?? sp.saml.acsUrls[0]!;
  if (!sp.saml.acsUrls.includes(acsUrl)) throw new IdpError('invalid_acs_url', `${acsUrl} is not one of ${sp.id}'s acsUrls.`);
  const idp = { entityId: services.config.saml.entityId, credentials: services.keystore.saml, clock: services.clock, newId: services.ids.samlId };
  const built = await services.faults.samlResponse(
    idp,
    { sp, user: requireUser(services, user), acsUrl, inResponseTo: options.inResponseTo, sessionIndex: options.sessionIndex ?? services.ids.samlId(), authnInstant: services.clock.now() },
    { faults: options.faults ?? [] },
  );
  return { samlResponse: encodePost(built.xml), xml: built.xml, acsUrl, responseId: built.responseId, assertionId: built.assertionId, issued: built };
}
