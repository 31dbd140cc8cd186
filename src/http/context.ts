/** What the routers share: the IdP's services plus HTTP-level hooks. */
import type { Services } from '../services.js';
import type { SamlShared } from './saml.js';
import type { SessionIssuer } from './session.js';

export type AppContext = Services & {
  /** Headless sign-in: a session cookie for a user (control API, library). */
  sessions: SessionIssuer;
  /** Each dependency's state for /readyz: "ok" or what is wrong. */
  readiness(): Promise<Record<string, string>>;
  /** The SAML routes' signing context, endpoints and replay cache, shared with the sign-in fast path. */
  saml: SamlShared;
};
