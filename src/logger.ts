/**
 * Structured logs with pino: one JSON line per event, level from LOG_LEVEL; on a
 * terminal (or LOG_FORMAT=pretty) one readable line instead, by pino-pretty.
 * Log lines never carry passwords, secrets, token signatures or private keys:
 * request URLs are logged with sensitive parameter values redacted, headers
 * and bodies are not logged at all.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { ConfigError } from './errors.js';

export type Logger = PinoLogger;

/** Query parameters whose values never reach a log line. */
const SENSITIVE_PARAMS = /^(jwt|token|id_token|access_token|samlresponse|samlrequest|signature|password|secret|code|csrf)$/i;

/** A URL (path + query) with sensitive parameter values replaced by "[redacted]". */
export function redactUrl(url: string): string {
  const i = url.indexOf('?');
  if (i === -1) return url;
  const params = new URLSearchParams(url.slice(i + 1));
  let changed = false;
  for (const key of new Set(params.keys())) {
    if (SENSITIVE_PARAMS.test(key)) {
      params.set(key, '[redacted]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, i)}?${params.toString()}` : url;
}

export type LogFormat = 'json' | 'pretty';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * LOG_FORMAT, else readable lines when standard output is a terminal and JSON
 * when it is piped or in production (NODE_ENV=production, as in the container).
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTty = process.stdout.isTTY === true): LogFormat {
  const given = env.LOG_FORMAT;
  if (given !== undefined && given !== '') {
    if (given !== 'json' && given !== 'pretty') throw new ConfigError(`Invalid environment variable LOG_FORMAT: "${given}" (json or pretty)`);
    return given;
  }
  return isTty && env.NODE_ENV !== 'production' ? 'pretty' : 'json';
}

/**
 * A formatter of one JSON log line into a line a person reads, made with
 * pino-pretty: time, level, then for a request: method, URL, status, ms; other
 * fields follow on the same line. pino-pretty is loaded only when asked for
 * (a piped or production server never loads it), synchronously, so that
 * createLogger stays synchronous.
 */
export function prettyFormatter(options: { colorize?: boolean } = {}): (json: string) => string {
  const require = createRequire(import.meta.url);
  const { prettyFactory } = require('pino-pretty') as typeof import('pino-pretty');
  return prettyFactory({
    colorize: options.colorize ?? false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,req,res,responseTime',
    singleLine: true,
    messageFormat: (log, messageKey) => {
      const req = log.req as { method?: string; url?: string } | undefined;
      if (req?.method === undefined || req.url === undefined) return String(log[messageKey] ?? '');
      const status = (log.res as { statusCode?: number } | undefined)?.statusCode ?? '-';
      const aborted = log[messageKey] === 'request aborted' ? '  (aborted)' : '';
      return `${req.method} ${req.url} ${status} ${String(log.responseTime ?? '-')} ms${aborted}`;
    },
  });
}

/** A pino destination that writes each line to `out` as prettyFormatter() makes it; colours only on a terminal. */
export function prettyDestination(out: { write(text: string): unknown; isTTY?: boolean } = process.stdout): DestinationStream {
  const pretty = prettyFormatter({ colorize: out.isTTY === true && !process.env.NO_COLOR });
  return { write: (line: string) => void out.write(pretty(line)) };
}

export function createLogger(options: { level?: string; destination?: DestinationStream; format?: LogFormat } = {}): Logger {
  const level = options.level ?? (process.env.LOG_LEVEL || 'info');
  if (!LEVELS.includes(level)) throw new ConfigError(`Invalid environment variable LOG_LEVEL: "${level}" (one of ${LEVELS.join(', ')})`);
  // A given destination (a test's capture) gets JSON unless pretty is asked for.
  const format = options.format ?? (options.destination ? 'json' : logFormat());
  return pino(
    {
      level,
      base: { name: 'mock-idp' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', 'secret', '*.password', '*.secret', 'privateKey', '*.privateKey', 'token', '*.token'], censor: '[redacted]' },
    },
    format === 'pretty' ? prettyDestination(options.destination ?? process.stdout) : (options.destination ?? pino.destination({ dest: 1, sync: false })),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
