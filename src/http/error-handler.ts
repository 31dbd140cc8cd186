/**
 * The one place errors become responses: an HTML page for browsers, JSON for
 * API-style endpoints and clients that ask for it. Unexpected errors become a
 * generic 500 with the request id; their details go to the log only.
 */
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { IdpError } from '../errors.js';
import type { Logger } from '../logger.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Request too large',
  429: 'Too many requests',
  500: 'Something went wrong',
  503: 'Service unavailable',
};

function wantsJson(req: Request): boolean {
  if (/^\/(api\/|sso\/token\/|\.well-known\/)/.test(req.path)) return true;
  return req.accepts(['html', 'json']) === 'json';
}

/** Errors raised by body parsers and other middleware, turned into IdpErrors. */
function normalize(err: unknown): IdpError | undefined {
  if (err instanceof IdpError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean };
  if (e && typeof e === 'object') {
    if (e.type === 'entity.too.large') return new IdpError('payload_too_large', 'The request body is too large.');
    if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return new IdpError('bad_request', 'The request body could not be read.');
    }
    if (e.type === 'parameters.too.many') return new IdpError('bad_request', 'The request has too many parameters.');
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return new IdpError('bad_request', TITLES[status] ?? 'Bad request', { status });
    }
  }
  return undefined;
}

export function notFound(): RequestHandler {
  return (req, _res, next) => {
    next(new IdpError('not_found', `There is nothing at ${req.path}.`));
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    const requestId = String(res.locals.requestId ?? '');
    if (res.headersSent) {
      logger.error({ requestId, err: describe(err) }, 'error after the response started');
      next(err);
      return;
    }
    const known = normalize(err);
    const status = known?.status ?? 500;
    const code = known?.code ?? 'internal_error';
    const message = known?.expose ? known.message : 'The IdP hit an unexpected error. The request id below identifies it in the server log.';
    // A 503 is the answer while a store is away, which the store reports once (not one error with a stack per request).
    if (known?.code === 'service_unavailable') logger.debug({ requestId, method: req.method, path: req.path, err: causeOf(known) }, 'answered 503');
    else if (!known || status >= 500) logger.error({ requestId, method: req.method, path: req.path, status, err: describe(err) }, 'request failed');
    for (const [k, v] of Object.entries(known?.headers ?? {})) res.set(k, v);
    res.set('Cache-Control', 'no-store');
    res.status(status);
    if (wantsJson(req)) {
      // Messages may quote the request; <, > and & are escaped so no sniffing client can read markup in them.
      res.type('json').send(JSON.stringify({ error: code, message, requestId }).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`));
      return;
    }
    res.render('error', { title: TITLES[status] ?? 'Error', status, code, message, detail: known?.detail, requestId }, (renderErr: unknown, html?: string) => {
      if (renderErr) {
        logger.error({ requestId, err: describe(renderErr) }, 'error page failed to render');
        res.type('text/plain').send(`${status} ${TITLES[status] ?? 'Error'}: ${message} (request id ${requestId})`);
        return;
      }
      res.send(html);
    });
  };
}

/** The message of what made a known error (e.g. the Redis client's), for a log line. */
function causeOf(err: IdpError): string {
  const cause = err.cause;
  return cause instanceof Error ? cause.message : err.message;
}

function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { value: String(err) };
}
