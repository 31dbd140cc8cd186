/**
 * /flows: the flow history as a timeline, newest first, with a sequence picture
 * (browser, SP, IdP) per flow and what was sent, decoded. The same records are
 * what `ctx.flows.list()` gives the control API as JSON.
 */
import { Router } from 'express';
import { IdpError } from '../errors.js';
import type { Flow, FlowProtocol } from '../flows/history.js';
import { sequenceLayout } from '../flows/sequence.js';
import type { AppContext } from './context.js';
import { REVIEW_TTL_MS } from './review-store.js';
import { noStore } from './security.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

/** What the view shows of a flow: the record, its picture, and whether a review was left to expire. */
function view(flow: Flow, now: number) {
  const abandoned = flow.outcome === 'awaiting-review' && Date.parse(flow.time) + REVIEW_TTL_MS < now;
  return { ...flow, abandoned, sequence: sequenceLayout(flow) };
}

export function flowsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/flows', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const spId = typeof q.sp === 'string' && q.sp !== '' ? q.sp : undefined;
    const protocol = q.protocol === 'jwt' || q.protocol === 'saml' ? (q.protocol as FlowProtocol) : undefined;
    const rawLimit = typeof q.limit === 'string' ? Number(q.limit) : DEFAULT_LIMIT;
    if (!Number.isInteger(rawLimit) || rawLimit < 1) throw new IdpError('bad_request', `limit must be a whole number from 1 to ${MAX_LIMIT}.`);
    const limit = Math.min(rawLimit, MAX_LIMIT);
    const now = ctx.clock.now();
    const flows = (await ctx.flows.list({ limit, spId, protocol })).map((f) => view(f, now));
    noStore(res);
    res.render('flows', {
      title: 'Flow history',
      flows,
      total: await ctx.flows.size(),
      capacity: ctx.flows.capacity,
      filter: { sp: spId ?? '', protocol: protocol ?? '', limit },
      serviceProviders: ctx.config.serviceProviders.map((sp) => ({ id: sp.id, name: sp.name })),
      single: false,
    });
  });

  router.get('/flows/:id', async (req, res) => {
    const flow = await ctx.flows.get(req.params.id);
    if (!flow) throw new IdpError('not_found', `There is no flow ${JSON.stringify(req.params.id.slice(0, 40))} in the history (it keeps the last ${ctx.flows.capacity}).`);
    noStore(res);
    res.render('flows', {
      title: `Flow ${flow.id}`,
      flows: [view(flow, ctx.clock.now())],
      total: await ctx.flows.size(),
      capacity: ctx.flows.capacity,
      filter: { sp: '', protocol: '', limit: 1 },
      serviceProviders: [],
      single: true,
    });
  });

  return router;
}
