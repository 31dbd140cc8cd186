/**
 * A minimal logger interface. Log lines never carry passwords, secrets,
 * token signatures or private keys: callers pass only safe fields.
 */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function line(level: string, msg: string, fields?: Record<string, unknown>): string {
  return JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
}

export const consoleLogger: Logger = {
  info: (msg, fields) => console.log(line('info', msg, fields)),
  warn: (msg, fields) => console.error(line('warn', msg, fields)),
  error: (msg, fields) => console.error(line('error', msg, fields)),
};

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
