/**
 * The shape of every sign-in decision: an ordered list of small named steps over
 * a working state, as in node-oidc-provider's authorization actions. The first
 * step that returns an outcome decides; a step that throws an IdpError refuses
 * (written into the flow history once the state names the SP).
 */
import { IdpError } from '../errors.js';
import type { RefusalRecord, Refuse } from './types.js';

export interface Step<S, O> {
  name: string;
  run(s: S): O | undefined;
}

export function decide<S extends { record?: RefusalRecord | undefined }, O>(steps: readonly Step<S, O>[], s: S): O | Refuse {
  try {
    for (const step of steps) {
      const outcome = step.run(s);
      if (outcome !== undefined) return outcome;
    }
  } catch (err) {
    if (err instanceof IdpError && err.expose) return { kind: 'refuse', error: err, record: s.record };
    throw err;
  }
  throw new Error(`no step decided (${steps.map((s) => s.name).join(', ')})`);
}
