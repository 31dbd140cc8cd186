/**
 * Structured logs with pino: one JSON line per event, level from LOG_LEVEL; on a
 * terminal (or LOG_FORMAT=pretty) one readable line instead (pino-pretty is not a
 * dependency: prettyLine() formats the few shapes mock-idp writes).
 * Log lines never carry passwords, secrets, token signatures or private keys:
 * request URLs are logged with sensitive parameter values redacted, headers
 * and bodies are not logged at all.
 */
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

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One JSON log line as a line a person reads: time, level, then for a request: method, URL, status, ms. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, name: _name, pid: _pid, hostname: _hostname, req, res, responseTime, ...rest } = entry;
  const clock = typeof time === 'string' ? time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const head = `${clock} ${(LEVEL_NAMES[level as number] ?? String(level)).padEnd(5)}`;
  const r = req as { id?: string; method?: string; url?: string } | undefined;
  if (r?.method !== undefined && r.url !== undefined) {
    const status = (res as { statusCode?: number } | undefined)?.statusCode ?? '-';
    const aborted = msg === 'request aborted' ? '  (aborted)' : '';
    return `${head} ${r.method} ${r.url} ${status} ${String(responseTime ?? '-')} ms${aborted}\n`;
  }
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${head} ${String(msg ?? '')}${extra.length ? `  ${extra.join(' ')}` : ''}\n`;
}

/** A pino destination that writes prettyLine() of each line to `out`. */
export function prettyDestination(out: { write(text: string): unknown } = process.stdout): DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line)) };
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
