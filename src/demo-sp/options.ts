/** What the demo SP is made from: the IdP it trusts, its JWT tenants and, when registered, its SAML side. */
import type { SamlDemoSetup } from './saml.js';
import type { DemoAgent } from './shared.js';

export interface DemoTenant {
  /** The SP id at the IdP. */
  spId: string;
  /** Display name. */
  name: string;
  /** Mount path on the demo SP origin: '' for the Comm100-like SP, '/desk' for the Desk-like one. */
  mount: string;
  verify: { alg: 'HS256'; secret: string } | { alg: 'RS256' | 'ES256' };
  issuer: string;
  audience: string;
}

export interface DemoSpOptions {
  /** The IdP's public base URL. */
  idpUrl: string;
  /** This SP's public base URL. */
  baseUrl: string;
  siteId: string;
  agents: readonly DemoAgent[];
  tenants: readonly DemoTenant[];
  /** A CA certificate (PEM) to trust for the IdP's https, e.g. its self-signed certificate. */
  idpCa?: string;
  /** Seconds of clock skew tolerated when checking exp/nbf/iat. */
  clockToleranceSeconds?: number;
  /** "Login with <this name>" on the sign-in page of the Desk-style tenant (mount /desk), from demo.desk.authenticationServiceName. */
  deskAuthenticationServiceName?: string | undefined;
  /** The SAML side (src/demo-sp/saml.ts, `samlDemoFromConfig`), when a SAML SP is registered on this origin. */
  saml?: SamlDemoSetup | undefined;
  /** The Secure Messenger (src/demo-sp/messenger.ts), when one is configured. */
  messenger?: MessengerOptions | undefined;
  /**
   * Called when the settings page resets the shared token, before the demo SP uses the new one:
   * src/server.ts makes the IdP's messenger SP sign with it. A rejection keeps the old token.
   */
  onSharedTokenReset?: ((newToken: string) => Promise<void>) | undefined;
}

export type MessengerValidation = 'sharedToken' | 'publicKey' | 'jwks';

/** The resolved demo.messenger config: every default already taken from the IdP's SP. */
export interface MessengerOptions {
  siteId: string;
  messengerId: string;
  validation: MessengerValidation;
  /** validation: sharedToken: the token at start (the settings page may replace it). */
  sharedToken?: string | undefined;
  /** validation: publicKey: an SPKI PEM. */
  publicKey?: string | undefined;
  jwksUrl: string;
  identityKey: string;
  allowedUrls: readonly string[];
  accessTokenTtlSeconds: number;
  /** The HS256 secret of the Comm100 JWT. */
  accessTokenSecret: string;
}
