/**
 * Parsing `fault=` values: "expired", "wrong-audience,missing-jti",
 * "clock-skew=-90", or the same split over repeated parameters. Every mistake is an
 * IdpError('invalid_fault') whose message says what is accepted.
 */
import { IdpError } from '../errors.js';
import {
  JWT_FAULT_NAMES,
  MAX_CLOCK_SKEW_SECONDS,
  SAML_FAULT_NAMES,
  type FaultProtocol,
  type JwtFault,
  type JwtFaultName,
  type SamlFault,
  type SamlFaultName,
} from './catalog.js';

/** At most this many faults in one sign-in. */
export const MAX_FAULTS = 6;

/** Faults that change the same thing: at most one of each group. */
const EXCLUSIVE: Record<FaultProtocol, { names: readonly string[]; why: string }[]> = {
  jwt: [
    { names: ['expired', 'not-yet-valid', 'clock-skew'], why: "they all set the token's times" },
    { names: ['expired', 'missing-exp'], why: 'one sets exp and the other removes it' },
    { names: ['bad-signature', 'wrong-key', 'alg-none', 'hs-rs-confusion', 'old-shared-token'], why: 'they all replace the signature' },
    { names: ['missing-jti', 'replayed-jti'], why: 'they both decide the jti' },
  ],
  saml: [
    { names: ['expired', 'not-yet-valid'], why: "they both set the assertion's times" },
    { names: ['unsigned', 'bad-signature', 'wrong-certificate', 'sha1-signature', 'signature-wrapping'], why: 'they all decide how the message is signed' },
  ],
};

/** Faults that combine with no other. */
const ALONE: Record<FaultProtocol, readonly string[]> = { jwt: [], saml: ['signature-wrapping'] };

const NAMES: Record<FaultProtocol, readonly string[]> = { jwt: JWT_FAULT_NAMES, saml: SAML_FAULT_NAMES };
const LABEL: Record<FaultProtocol, string> = { jwt: 'JWT', saml: 'SAML' };
const OTHER: Record<FaultProtocol, FaultProtocol> = { jwt: 'saml', saml: 'jwt' };

function fail(message: string): never {
  throw new IdpError('invalid_fault', message);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

function suggestion(name: string, protocol: FaultProtocol): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of NAMES[protocol]) {
    const d = editDistance(name, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best ? ` Did you mean "${best}"?` : '';
}

function shown(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

/** The comma-separated items of one or more `fault=` values, trimmed, empty ones dropped. */
function items(input: string | readonly string[] | undefined): string[] {
  if (input === undefined) return [];
  const values = typeof input === 'string' ? [input] : input;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function parse(protocol: FaultProtocol, input: string | readonly string[] | undefined): { name: string; seconds?: number }[] {
  // Most sign-ins ask for no fault: nothing to check.
  if (input === undefined || input.length === 0) return [];
  const list = items(input);
  if (list.length > MAX_FAULTS) fail(`At most ${MAX_FAULTS} faults can be combined in one sign-in; ${list.length} were given.`);
  const known = NAMES[protocol];
  const out: { name: string; seconds?: number }[] = [];
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? undefined : item.slice(eq + 1).trim();
    if (!known.includes(name)) {
      if (NAMES[OTHER[protocol]].includes(name)) {
        fail(`"${name}" is a ${LABEL[OTHER[protocol]]} fault, and this is a ${LABEL[protocol]} sign-in. The ${LABEL[protocol]} faults are: ${known.join(', ')}.`);
      }
      fail(`Unknown ${LABEL[protocol]} fault ${shown(name)}.${suggestion(name, protocol)} The ${LABEL[protocol]} faults are: ${known.join(', ')}.`);
    }
    if (out.some((f) => f.name === name)) fail(`The fault "${name}" is given twice.`);
    if (name === 'clock-skew') {
      if (value === undefined || value === '') {
        fail('clock-skew needs a number of seconds: clock-skew=120 (the IdP clock runs 2 minutes ahead) or clock-skew=-120 (behind).');
      }
      if (!/^[+-]?\d{1,9}$/.test(value) || Math.abs(Number(value)) > MAX_CLOCK_SKEW_SECONDS) {
        fail(`clock-skew=${shown(value).slice(1, -1)}: the seconds must be a whole number between -${MAX_CLOCK_SKEW_SECONDS} and ${MAX_CLOCK_SKEW_SECONDS}.`);
      }
      const seconds = Number(value);
      if (seconds === 0) fail('clock-skew=0 changes nothing; give a number of seconds other than 0.');
      out.push({ name, seconds });
      continue;
    }
    if (value !== undefined) fail(`The fault "${name}" takes no value (got ${shown(item)}).`);
    out.push({ name });
  }
  for (const group of EXCLUSIVE[protocol]) {
    const chosen = out.filter((f) => group.names.includes(f.name)).map((f) => f.name);
    if (chosen.length > 1) fail(`The faults ${chosen.join(' and ')} cannot be combined: ${group.why}.`);
  }
  for (const name of ALONE[protocol]) {
    if (out.length > 1 && out.some((f) => f.name === name)) fail(`The fault "${name}" cannot be combined with other faults.`);
  }
  return out;
}

/** The JWT faults of a `fault=` value (or values). Throws IdpError('invalid_fault'). */
export function parseJwtFaults(input: string | readonly string[] | undefined): JwtFault[] {
  return parse('jwt', input).map((f) =>
    f.name === 'clock-skew' ? { name: 'clock-skew', seconds: f.seconds! } : { name: f.name as Exclude<JwtFaultName, 'clock-skew'> },
  );
}

/** The SAML faults of a `fault=` value (or values). Throws IdpError('invalid_fault'). */
export function parseSamlFaults(input: string | readonly string[] | undefined): SamlFault[] {
  return parse('saml', input).map((f) => ({ name: f.name as SamlFaultName }));
}

export function parseFaults(protocol: 'jwt', input: string | readonly string[] | undefined): JwtFault[];
export function parseFaults(protocol: 'saml', input: string | readonly string[] | undefined): SamlFault[];
export function parseFaults(protocol: FaultProtocol, input: string | readonly string[] | undefined): JwtFault[] | SamlFault[];
export function parseFaults(protocol: FaultProtocol, input: string | readonly string[] | undefined): JwtFault[] | SamlFault[] {
  return protocol === 'jwt' ? parseJwtFaults(input) : parseSamlFaults(input);
}
