/**
 * What the demo SP's JWT pages share: the layout's locals (this tenant, links to
 * the others on this origin), the 404 for any other path, and the one handler that
 * turns a DemoError into the error page. Any other error is logged and shown as a
 * generic 500, never with its text.
 */
import type { NextFunction, Request, Response } from 'express';
import type { DemoSpOptions, DemoTenant } from './options.js';
import { DemoError } from './shared.js';

/** What every demo SP page's layout shows: this tenant, and links to the others on this origin. */
export interface TenantLocals {
  spName: string;
  mount: string;
  idpUrl: string;
  tenants: { name: string; mount: string }[];
  /** The IdP's remote logout, back to this tenant's sign-in page. */
  switchAccountUrl?: string;
}

/** The tenants on this origin for the header's navigation, the shortest mount (the root) first. */
export function tenantLinks(options: DemoSpOptions): TenantLocals['tenants'] {
  return [...options.tenants].sort((a, b) => a.mount.length - b.mount.length).map((t) => ({ name: t.name, mount: t.mount }));
}

export function layoutLocals(options: DemoSpOptions, tenant: DemoTenant): TenantLocals {
  return { spName: tenant.name, mount: tenant.mount, idpUrl: options.idpUrl, tenants: tenantLinks(options) };
}

export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new DemoError(404, 'There is no such page on the demo SP.'));
}

/** The error page, for the tenant whose router saw the request first (res.locals.tenant), else a neutral one. */
export function errorPage(options: DemoSpOptions) {
  const fallbackTenant: TenantLocals = { spName: 'Demo SP', mount: '', idpUrl: options.idpUrl, tenants: tenantLinks(options) };
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const status = err instanceof DemoError ? err.status : 500;
    const message = err instanceof DemoError ? err.message : 'The demo SP hit an unexpected error.';
    if (!(err instanceof DemoError)) console.error('demo SP error', err);
    const tenant = (res.locals.tenant as TenantLocals | undefined) ?? fallbackTenant;
    res.set('Cache-Control', 'no-store');
    res.status(status).render('demo-sp/error', {
      ...tenant,
      title: status === 404 ? 'Page not found' : status >= 500 ? 'Something went wrong' : 'Sign-in failed',
      message,
      status,
      detail: err instanceof DemoError ? err.detail : undefined,
      errorCode: err instanceof DemoError ? err.errorCode : undefined,
      // Offered when the IdP signed in someone this SP refuses: signing in again would only repeat it.
      switchAccountUrl: status === 403 ? tenant.switchAccountUrl : undefined,
    });
  };
}
