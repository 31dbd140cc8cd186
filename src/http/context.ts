/** What the routers share: the IdP's services plus HTTP-level hooks. */
import type { Services } from '../services.js';
import type { Render } from './answer.js';
import type { SessionIssuer } from './session.js';

export type AppContext = Services & {
  /** Headless sign-in: a session cookie for a user (control API, library). */
  sessions: SessionIssuer;
  /** Each dependency's state for /readyz: "ok" or what is wrong. */
  readiness(): Promise<Record<string, string>>;
  /** Renders a view of views/ (the auto-POST pages of a delivery, for the routes and the fast path alike). */
  render: Render;
};
