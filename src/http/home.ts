/**
 * The IdP home page. Signed in, it is the "Vincall"-style third-party console:
 * it embeds a service provider page in an iframe, and that page signs the agent
 * in through the IdP without a second login (extended authentication).
 */
import { Router } from 'express';
import type { AppContext } from './context.js';
import { currentUser, redirectToLogin } from './session-user.js';
import { csrfToken, noStore } from './security.js';
import { shownTime } from '../time-format.js';
import type { SpMetadataOrigin } from '../config/load.js';
import { summarizeSpMetadata } from '../saml/sp-metadata.js';

/** What the console shows of an SP registered from its metadata: where it came from, when, what was taken. */
function metadataShown(origin: SpMetadataOrigin): { from: string; readAt: string; taken: string[]; summary: string[] } {
  const from = origin.kind === 'metadata' ? 'saml.metadata (in the config or the control API)' : `${origin.kind} ${origin.where}`;
  return { from, readAt: shownTime(origin.readAt), taken: origin.taken, summary: summarizeSpMetadata(origin.metadata) };
}

export function homeRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const user = currentUser(ctx, req);
    if (!user) {
      redirectToLogin(req, res);
      return;
    }
    // Tokens and Responses delivered to this user since this session signed in, per SP (from the flow history).
    const since = req.session.user?.authTime ?? 0;
    const issued = await ctx.flows.deliveredSince(user.email, since);
    noStore(res);
    res.render('home', {
      title: ctx.config.console.title,
      user,
      csrf: csrfToken(req),
      embedUrl: ctx.config.console.embedUrl,
      serviceProviders: ctx.config.serviceProviders,
      websiteOn: ctx.config.website.sp !== undefined,
      fromMetadata: Object.fromEntries(ctx.config.serviceProviders.flatMap((sp) => (sp.saml?.fromMetadata ? [[sp.id, metadataShown(sp.saml.fromMetadata)]] : []))),
      issued,
      signedInSince: shownTime(since),
      historyKept: ctx.flows.capacity,
    });
  });

  // Liveness: the process serves HTTP.
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });

  // Readiness: the store answers, the signing keys are loaded, the config users' password hashes are written.
  router.get('/readyz', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    const checks = await ctx.readiness();
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });

  return router;
}
