/**
 * One log line per request, with a request id that error pages show too: the
 * app's middleware and the fast path write it through the same function, so the
 * line has one shape. Health checks and static files are not logged.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { RequestHandler } from 'express';
import { redactUrl, type Logger } from '../logger.js';

const QUIET = /^\/(healthz|readyz|static\/)/;

export interface RequestLog {
  /** Express middleware: a request id (res.locals.requestId, X-Request-Id) and the line when the answer is done. */
  middleware: RequestHandler;
  /** The line of a request answered outside Express. */
  write(req: http.IncomingMessage, id: string, status: number, started: number): void;
  /** A fresh request id. */
  newId(): string;
}

export function requestLog(logger: Logger): RequestLog {
  // The line holds only the request id, method, redacted URL and status: no redaction pass needed.
  const log = logger.child({}, { redact: { paths: [] } });
  const line = (method: string | undefined, url: string, id: string, status: number, started: number, aborted = false): void => {
    // A 503 is the answer while a store is away (reported once by the store), not a failure of this request.
    const failed = status >= 500 && status !== 503;
    const level = aborted ? 'warn' : failed ? 'error' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const msg = aborted ? 'request aborted' : failed ? 'request errored' : 'request completed';
    log[level]({ req: { id, method, url: redactUrl(url) }, res: { statusCode: status }, responseTime: Math.round(performance.now() - started) }, msg);
  };
  return {
    write: (req, id, status, started) => line(req.method, req.url ?? '', id, status, started),
    newId: () => crypto.randomUUID(),
    middleware: (req, res, next) => {
      const started = performance.now();
      const id = crypto.randomUUID();
      const url = req.originalUrl;
      res.locals.requestId = id;
      res.setHeader('X-Request-Id', id);
      if (!QUIET.test(req.originalUrl)) {
        res.once('finish', () => line(req.method, url, id, res.statusCode, started));
        res.once('close', () => {
          if (!res.writableFinished) line(req.method, url, id, res.statusCode, started, true);
        });
      }
      next();
    },
  };
}
