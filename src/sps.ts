/**
 * Finding a service provider by id, narrowed to the protocol asked for: the
 * routes, the review page, the control API, the CLI and the library all look
 * SPs up here, with the same messages.
 */
import type { ResolvedJwtSp, ResolvedSamlSp, ResolvedServiceProvider } from './config/load.js';
import { IdpError } from './errors.js';

export type JwtSp = ResolvedServiceProvider & { jwt: ResolvedJwtSp };
export type SamlSp = ResolvedServiceProvider & { saml: ResolvedSamlSp };
export type SpProtocol = 'jwt' | 'saml';

export interface SpDirectory {
  sp(id: string): ResolvedServiceProvider | undefined;
  readonly config: { readonly serviceProviders: readonly ResolvedServiceProvider[] };
}

export function isJwtSp(sp: ResolvedServiceProvider): sp is JwtSp {
  return sp.jwt !== undefined;
}

export function isSamlSp(sp: ResolvedServiceProvider): sp is SamlSp {
  return sp.saml !== undefined;
}

const LABEL: Record<SpProtocol, string> = { jwt: 'JWT', saml: 'SAML' };

export interface RequireSpOptions {
  /** Name the registered SPs in the message (the control API and the CLI, whose callers type ids). */
  listKnown?: boolean;
}

/** The ids a page can offer after an unknown one: the SPs set up for the protocol (all of them without one). */
function knownSpsDetail(dir: SpDirectory, protocol: SpProtocol | undefined): string {
  const ids = dir.config.serviceProviders.filter((sp) => protocol === undefined || sp[protocol] !== undefined).map((sp) => sp.id);
  const what = protocol === undefined ? 'service providers' : `${LABEL[protocol]} service providers`;
  return ids.length === 0 ? `No ${what} are configured.` : `The configured ${what}: ${ids.join(', ')}.`;
}

/** The SP with this id, set up for `protocol` when one is given. Throws IdpError('unknown_sp' | 'sp_protocol_disabled'). */
export function requireSp(dir: SpDirectory, id: string, protocol: 'jwt', options?: RequireSpOptions): JwtSp;
export function requireSp(dir: SpDirectory, id: string, protocol: 'saml', options?: RequireSpOptions): SamlSp;
export function requireSp(dir: SpDirectory, id: string, protocol?: SpProtocol, options?: RequireSpOptions): ResolvedServiceProvider;
export function requireSp(dir: SpDirectory, id: string, protocol?: SpProtocol, options: RequireSpOptions = {}): ResolvedServiceProvider {
  const sp = dir.sp(id);
  if (!sp) {
    const known = options.listKnown ? ` (known: ${dir.config.serviceProviders.map((s) => s.id).join(', ') || 'none'})` : '.';
    throw new IdpError('unknown_sp', `There is no service provider "${id}"${known}`, { detail: knownSpsDetail(dir, protocol) });
  }
  if (protocol !== undefined && sp[protocol] === undefined) {
    throw new IdpError('sp_protocol_disabled', `Service provider "${sp.id}" has no ${protocol} section: it is not set up for ${LABEL[protocol]} single sign-on.`);
  }
  return sp;
}
