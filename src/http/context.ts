/** What the routers share: the resolved config and the services built from it. */
import type { Clock } from '../clock.js';
import type { ResolvedConfig, ResolvedServiceProvider } from '../config/load.js';
import type { Keystore } from '../keys/keystore.js';
import type { JwtSigner } from '../jwt/signer.js';
import type { Db } from '../store/db.js';
import type { UserStore } from '../users/store.js';
import type { Logger } from '../logger.js';

export interface AppContext {
  config: ResolvedConfig;
  clock: Clock;
  db: Db;
  users: UserStore;
  keystore: Keystore;
  jwtSigner: JwtSigner;
  logger: Logger;
  /** Each dependency's state for /readyz: "ok" or what is wrong. */
  readiness(): Promise<Record<string, string>>;
  /** Looks an SP up by id. */
  sp(id: string): ResolvedServiceProvider | undefined;
}
