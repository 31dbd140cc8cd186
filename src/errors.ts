/**
 * One error hierarchy for the whole IdP. Every failure a user can cause is an
 * IdpError with a stable code; the HTTP error handler decides how it is shown
 * (HTML page, JSON, or a protocol-level answer). Anything else is a bug and is
 * shown as a generic 500 with a request id, never with its message or stack.
 */
export type IdpErrorCode =
  | 'bad_request'
  | 'invalid_redirect_url'
  | 'unknown_sp'
  | 'ambiguous_sp'
  | 'sp_protocol_disabled'
  | 'invalid_credentials'
  | 'user_disabled'
  | 'csrf_failed'
  | 'cross_site_request'
  | 'not_signed_in'
  | 'unauthorized'
  | 'forbidden_origin'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'too_many_requests'
  | 'invalid_saml_request'
  | 'unknown_issuer'
  | 'invalid_acs_url'
  | 'invalid_signature'
  | 'replayed_request'
  | 'invalid_fault'
  | 'faults_disabled'
  | 'service_unavailable'
  | 'config_error'
  | 'internal_error';

export interface IdpErrorOptions {
  status?: number;
  /** Extra detail safe to show to the user (already free of secrets). */
  detail?: string;
  cause?: unknown;
  headers?: Record<string, string>;
}

const DEFAULT_STATUS: Record<IdpErrorCode, number> = {
  bad_request: 400,
  invalid_redirect_url: 400,
  unknown_sp: 404,
  ambiguous_sp: 400,
  sp_protocol_disabled: 400,
  invalid_credentials: 401,
  user_disabled: 401,
  csrf_failed: 403,
  cross_site_request: 403,
  not_signed_in: 401,
  unauthorized: 401,
  forbidden_origin: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  invalid_saml_request: 400,
  unknown_issuer: 400,
  invalid_acs_url: 400,
  invalid_signature: 400,
  replayed_request: 400,
  invalid_fault: 400,
  faults_disabled: 400,
  service_unavailable: 503,
  config_error: 500,
  internal_error: 500,
};

export class IdpError extends Error {
  readonly code: IdpErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  /** Whether the message may be shown to the user. Internal errors are never exposed. */
  readonly expose: boolean;

  constructor(code: IdpErrorCode, message: string, options: IdpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IdpError';
    this.code = code;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.expose = this.status < 500 || code === 'service_unavailable';
  }
}

/** Raised by the config loader; its message names the file and the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
