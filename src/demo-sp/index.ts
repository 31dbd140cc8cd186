/**
 * The demo service provider ("Comm100-like"). It runs on its own origin and
 * talks to the IdP only through the IdP's public HTTP surface: the remote login
 * URL, the JWKS and the remote logout URL. It checks a token the way a careful
 * SP must (signature with a pinned algorithm, iss, aud, exp, a one-time jti),
 * so people can copy what it does.
 *
 * This file assembles the app: security headers, one session per tenant, the SAML
 * side (saml.ts), the JWT tenants (jwt-tenant.ts) and the Secure Messenger
 * (messenger.ts), then the 404 and the error
 * page (pages.ts).
 */
import crypto from 'node:crypto';
import express, { type Express } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { openDb } from '../store/db.js';
import { SqliteSessionStore } from '../store/session-store.js';
import { publicDir, viewsDir } from '../paths.js';
import { MemoryStateStore } from '../state/memory.js';
import { shownTime } from '../time-format.js';
import { tenantRouter } from './jwt-tenant.js';
import { messengerRouter } from './messenger.js';
import type { DemoSpOptions } from './options.js';
import { errorPage, notFound, tenantLinks } from './pages.js';
import { samlDemoRouter } from './saml.js';

export type { DemoSpOptions, DemoTenant, MessengerOptions } from './options.js';
export { COMM100_INACTIVE_MESSAGE, type DemoAgent } from './shared.js';

export interface DemoSp {
  app: Express;
  close(): void;
}

export function createDemoSp(options: DemoSpOptions): DemoSp {
  const app = express();
  const db = openDb(':memory:');
  // One store per session middleware: express-session writes its cookie options into the store it is
  // given (store.generate), so middlewares sharing a store all issue the last one's cookie path.
  const stores: SqliteSessionStore[] = [];
  const newStore = (): SqliteSessionStore => {
    const store = new SqliteSessionStore(db, { defaultTtlMs: 8 * 3600_000 });
    stores.push(store);
    return store;
  };
  // The one-time marks (token jti, assertion and AuthnRequest IDs) of this demo SP, on its own clock.
  const state = new MemoryStateStore({ now: () => Date.now() });
  const idpOrigin = new URL(options.idpUrl).origin;
  const secure = options.baseUrl.startsWith('https:');

  app.disable('x-powered-by');
  app.set('views', viewsDir);
  app.set('view engine', 'ejs');
  app.enable('view cache');
  // Every page shows a moment the one way ("2026-12-01 18:45:24 UTC").
  app.locals.shownTime = shownTime;
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'", idpOrigin],
          frameAncestors: ["'self'", idpOrigin],
        },
      },
      strictTransportSecurity: secure,
      xFrameOptions: false,
    }),
  );
  app.use('/static', express.static(publicDir, { maxAge: '1h', index: false }));
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  const secret = crypto.randomBytes(32).toString('base64url');
  // The messenger first: its paths are its own, and its JSON endpoints answer JSON errors.
  if (options.messenger) app.use(messengerRouter({ options, messenger: options.messenger, sessionStore: newStore(), sessionSecret: secret }));
  // The SAML side first: a tenant mounted at "/" would otherwise give its requests the
  // JWT tenant's session, and express-session skips any later session middleware.
  if (options.saml) {
    // One app: the SAML pages have the JWT pages' header and switcher, marking the tenant of the same SP.
    const saml = options.saml;
    const owner = options.tenants.find((t) => t.spId === saml.spId) ?? options.tenants.find((t) => t.mount === '');
    app.use(saml.mount, samlDemoRouter({ tenants: tenantLinks(options), ...(owner ? { tenantMount: owner.mount } : {}), ...saml, sessionStore: newStore(), sessionSecret: secret, state }));
  }
  const tenants = [...options.tenants].sort((a, b) => b.mount.length - a.mount.length);
  for (const tenant of tenants) {
    const mountPath = tenant.mount || '/';
    app.use(
      mountPath,
      session({
        name: tenant.mount ? `demosp${tenant.mount.replace(/\W/g, '-')}.sid` : 'demosp.sid',
        store: newStore(),
        secret,
        resave: false,
        saveUninitialized: false,
        cookie: { httpOnly: true, sameSite: 'lax', secure, path: mountPath },
      }),
      tenantRouter(options, tenant, state),
    );
  }

  app.use(notFound);
  app.use(errorPage(options));

  return {
    app,
    close: () => {
      for (const store of stores) store.close();
      db.close();
      void state.close();
    },
  };
}
