/**
 * When the runner cannot reach the SP at all (nothing listens, DNS, TLS, no answer
 * in time), that is not the SP's answer: it is neither a pass nor a fail, and the
 * report says so with the network reason instead of "fetch failed".
 */

/** The SP could not be reached; `message` is "could not reach <url> (<reason>)". */
export class SpUnreachable extends Error {
  override readonly name = 'SpUnreachable';
  readonly reason: string;
  constructor(url: string, reason: string) {
    super(`could not reach ${url} (${reason})`);
    this.reason = reason;
  }
}

const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'DNS: no such host',
  EAI_AGAIN: 'DNS: lookup failed, try again',
};

/** Node's certificate errors carry these codes (besides ERR_TLS_* and ERR_SSL_*). */
const CERT_CODE = /^(CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|HOSTNAME_MISMATCH)/;

/** The network reason in a few words, from what fetch threw. */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e.cause;
  const code = cause?.code;
  if (code && SOCKET_REASONS[code]) return SOCKET_REASONS[code];
  if (code?.startsWith('ERR_SSL_')) return `TLS: ${code.slice('ERR_SSL_'.length).toLowerCase().replaceAll('_', ' ')}`;
  if (code && (code.startsWith('ERR_TLS_') || CERT_CODE.test(code))) return `TLS: ${cause.message}`;
  if (code?.startsWith('HPE_')) return 'the answer is not HTTP';
  if (cause?.message === 'bad port') return 'a port fetch refuses to use';
  return cause?.message || e.message;
}

/** Whether a thrown error is fetch failing to get any answer (as opposed to our own checks). */
export function isNetworkFailure(err: unknown): boolean {
  const e = err as Error;
  return e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError' || (e instanceof TypeError && e.message === 'fetch failed'));
}
