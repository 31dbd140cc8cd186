/** "Test this SP": the conformance runner as a page (/conformance/:spId) and as a control API call. */
import { Router } from 'express';
import { z } from 'zod';
import { VERDICT_LABEL, headline, observedText } from '../conformance/report.js';
import { jwtCaseCount } from '../conformance/messenger.js';
import { runConformance } from '../conformance/runner.js';
import { IdpError } from '../errors.js';
import { faultsFor } from '../issue/issuer.js';
import { parseBody } from './body.js';
import type { AppContext } from './context.js';
import { checkCsrf, csrfToken, field, noStore, refuseCrossSite } from './security.js';

const conformanceRequestSchema = z.strictObject({
  sp: z.string().min(1),
  user: z.string().min(1).optional(),
  protocol: z.enum(['jwt', 'saml']).optional(),
});

export function conformanceRouter(ctx: AppContext): Router {
  const router = Router();

  const page = (spId: string) => {
    const sp = ctx.sp(spId);
    if (!sp) throw new IdpError('unknown_sp', `There is no service provider "${spId}".`);
    if (!sp.jwt && !sp.saml) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.name}" has neither a jwt nor a saml section.`);
    const protocols = [...(sp.jwt ? ['jwt' as const] : []), ...(sp.saml ? ['saml' as const] : [])];
    const caseCount = protocols.reduce((n, p) => n + (p === 'jwt' ? jwtCaseCount(sp, ctx) : faultsFor(p, sp, ctx).length + 2), 0);
    return { sp, protocols, caseCount };
  };

  router.get('/conformance/:spId', (req, res) => {
    noStore(res);
    res.render('conformance', { title: 'Test this SP', ...page(req.params.spId), csrf: csrfToken(req), report: undefined });
  });

  router.post('/conformance/:spId', async (req, res) => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
    const info = page(req.params.spId);
    const report = await runConformance(ctx, info.sp.id);
    noStore(res);
    res.render('conformance', { title: 'Test this SP', ...info, csrf: csrfToken(req), report, headline: headline(report), observed: observedText, verdictLabel: VERDICT_LABEL });
  });

  return router;
}

/** POST /api/conformance { sp, user?, protocol? } → the report as JSON (registered by the API router, behind its token). */
export function conformanceApi(ctx: AppContext): Router {
  const router = Router();
  router.post('/api/conformance', async (req, res) => {
    const body = parseBody(conformanceRequestSchema, req.body, 'conformance request');
    const report = await runConformance(ctx, body.sp, { ...(body.user ? { user: body.user } : {}), ...(body.protocol ? { protocols: [body.protocol] } : {}) });
    res.json(report);
  });
  return router;
}
