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
}
