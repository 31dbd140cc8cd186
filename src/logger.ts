/**
 * Structured logs with pino: one JSON line per event, level from LOG_LEVEL.
 * Log lines never carry passwords, secrets, token signatures or private keys:
 * request URLs are logged with sensitive parameter values redacted, headers
 * and bodies are not logged at all.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';

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

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: { name: 'mock-idp' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', 'secret', '*.password', '*.secret', 'privateKey', '*.privateKey', 'token', '*.token'], censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
