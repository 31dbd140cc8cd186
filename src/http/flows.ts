/**
 * /flows: the flow history as a compact list, newest first, a page at a time;
 * /flows/:id: one flow with its sequence picture (browser, SP, IdP) and what was
 * sent, decoded. The same records are what `ctx.flows.list()` gives the control
 * API as JSON.
 */
import { Router } from 'express';
import { IdpError } from '../errors.js';
import type { Flow, FlowProtocol } from '../flows/history.js';
import { sequenceLayout } from '../flows/sequence.js';
import type { AppContext } from './context.js';
import { REVIEW_TTL_MS } from './review-store.js';
import { noStore } from './security.js';
import { shownTime } from '../time-format.js';

const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;
const PROTOCOLS: readonly FlowProtocol[] = ['jwt', 'saml'];

/** What the view shows of a flow: the record, its time as pages show it, and whether a review was left to expire. */
function view(flow: Flow, now: number) {
  const abandoned = flow.outcome === 'awaiting-review' && Date.parse(flow.time) + REVIEW_TTL_MS < now;
  return { ...flow, abandoned, shownTime: shownTime(flow.time) };
}

/** A whole number from 1 to max in the query, or the default; an IdpError naming the rule otherwise. */
function wholeNumber(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new IdpError('bad_request', `${name} must be a whole number from 1 to ${max}.`);
  return Math.min(n, max);
}

export function flowsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/flows', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const spId = typeof q.sp === 'string' && q.sp !== '' ? q.sp : undefined;
    if (q.protocol !== undefined && q.protocol !== '' && !PROTOCOLS.includes(q.protocol as FlowProtocol)) {
      throw new IdpError('bad_request', `protocol must be one of ${PROTOCOLS.join(', ')} (or left out for all); ${JSON.stringify(String(q.protocol).slice(0, 40))} is none of them.`);
    }
    const protocol = q.protocol === '' ? undefined : (q.protocol as FlowProtocol | undefined);
    const limit = wholeNumber(q.limit, 'limit', DEFAULT_LIMIT, MAX_LIMIT);
    const page = wholeNumber(q.page, 'page', 1, Number.MAX_SAFE_INTEGER);
    const now = ctx.clock.now();
    // One more than a page: whether there is a next one.
    const found = await ctx.flows.list({ limit: limit + 1, offset: (page - 1) * limit, spId, protocol });
    const link = (p: number) => `/flows?${new URLSearchParams({ ...(spId ? { sp: spId } : {}), ...(protocol ? { protocol } : {}), ...(limit !== DEFAULT_LIMIT ? { limit: String(limit) } : {}), page: String(p) }).toString()}`;
    noStore(res);
    res.render('flows', {
      title: 'Flow history',
      flows: found.slice(0, limit).map((f) => view(f, now)),
      total: await ctx.flows.size(),
      capacity: ctx.flows.capacity,
      filter: { sp: spId ?? '', protocol: protocol ?? '', limit },
      serviceProviders: ctx.config.serviceProviders.map((sp) => ({ id: sp.id, name: sp.name })),
      page,
      previous: page > 1 ? link(page - 1) : undefined,
      next: found.length > limit ? link(page + 1) : undefined,
    });
  });

  router.get('/flows/:id', async (req, res) => {
    const flow = await ctx.flows.get(req.params.id);
    if (!flow) throw new IdpError('not_found', `There is no flow ${JSON.stringify(req.params.id.slice(0, 40))} in the history (it keeps the last ${ctx.flows.capacity}).`);
    noStore(res);
    res.render('flow', { title: `Flow ${flow.id}`, f: { ...view(flow, ctx.clock.now()), sequence: sequenceLayout(flow) } });
  });

  return router;
}
