/** What the routers share: the IdP's services plus HTTP-level hooks. */
import type { Services } from '../services.js';

export interface AppContext extends Omit<Services, 'close' | 'generatedSecrets'> {
  /** Each dependency's state for /readyz: "ok" or what is wrong. */
  readiness(): Promise<Record<string, string>>;
}
