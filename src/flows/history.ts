/**
 * The flow history: every single sign-on the IdP performs, newest first, bounded
 * (the oldest are dropped past `capacity`). What a flow holds is safe to show to
 * anyone who can reach /flows or the control API: the decoded token or assertion
 * with its signatures cut to their first 8 characters (so nothing shown can be
 * replayed), never a password, a shared secret or a private key.
 */
import { randomHex } from '../random.js';
import type { Clock } from '../clock.js';

export type FlowProtocol = 'jwt' | 'saml';
/** How the token or Response went: a 302 with jwt=, an auto-POST form, or JSON (the widget token endpoint, the control API). */
export type FlowBinding = 'redirect' | 'post' | 'json';
/**
 * - delivered: sent to the SP (what the SP then did is not known to the IdP);
 * - awaiting-review: held on the review page;
 * - status: a SAML Response with an error status and no assertion (NoPassive, InvalidNameIDPolicy, …);
 * - refused: the IdP answered with an error page instead.
 */
export type FlowOutcome = 'delivered' | 'awaiting-review' | 'status' | 'refused';

export interface FlowJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** The signature's first 8 characters and "…" (empty for alg none). Never the whole of it. */
  signature: string;
}

export interface FlowSaml {
  responseId: string | undefined;
  assertionId: string | undefined;
  inResponseTo: string | undefined;
  nameId: string | undefined;
  status: string | undefined;
  signed: { response: boolean; assertion: boolean };
  encrypted: boolean;
  /** The Response as sent, indented, SignatureValues cut. */
  xml: string;
  /** An encrypted assertion as the IdP signed it before encrypting it (same layout), when known. */
  clearAssertion: string | undefined;
}

export interface Flow {
  id: string;
  /** ISO time, from the IdP clock. */
  time: string;
  protocol: FlowProtocol;
  binding: FlowBinding;
  /** sp: started by the SP (redirect_url, AuthnRequest); idp: IdP-initiated SAML; widget: the token endpoint; api: the control API. */
  initiator: 'sp' | 'idp' | 'widget' | 'api';
  sp: { id: string; name: string };
  /** The signed-in user's email, when there was one. */
  user: string | undefined;
  /** Where the token or Response went (the redirect_url or ACS URL). */
  destination: string | undefined;
  /** Fault labels as written in fault= (clock-skew=120), empty when none. */
  faults: string[];
  reviewed: boolean;
  edited: boolean;
  outcome: FlowOutcome;
  /** A sentence about the outcome: the error message, the SAML status message. */
  detail: string | undefined;
  jwt: FlowJwt | undefined;
  saml: FlowSaml | undefined;
}

export type FlowInput = Omit<Flow, 'id' | 'time' | 'reviewed' | 'edited' | 'faults' | 'detail' | 'jwt' | 'saml'> &
  Partial<Pick<Flow, 'reviewed' | 'edited' | 'faults' | 'detail' | 'jwt' | 'saml'>>;

export interface FlowQuery {
  /** At most this many, newest first. */
  limit?: number | undefined;
  spId?: string | undefined;
  protocol?: FlowProtocol | undefined;
  /** Only flows recorded after the one with this id (for polling). */
  after?: string | undefined;
}

export type FlowListener = (flow: Flow, change: 'recorded' | 'updated') => void;

export const DEFAULT_FLOW_HISTORY_SIZE = 1000;

function copy(flow: Flow): Flow {
  return structuredClone(flow);
}

export class FlowHistory {
  readonly capacity: number;
  readonly #clock: Clock;
  /** Oldest first. */
  readonly #flows: Flow[] = [];
  readonly #listeners = new Set<FlowListener>();
  #seq = 0;

  constructor(options: { capacity?: number; clock: Clock }) {
    this.capacity = Math.max(0, Math.floor(options.capacity ?? DEFAULT_FLOW_HISTORY_SIZE));
    this.#clock = options.clock;
  }

  /**
   * Records a flow; returns it as stored, a shallow copy (the sign-in hot path records
   * one per request, so it is not cloned deeply; change it through `update`).
   */
  record(input: FlowInput): Readonly<Flow> {
    this.#seq += 1;
    // Field by field, not a spread of the input: this is on every sign-in's path.
    const flow: Flow = {
      id: `${this.#seq.toString(36).padStart(6, '0')}-${randomHex(4)}`,
      time: new Date(this.#clock.now()).toISOString(),
      protocol: input.protocol,
      binding: input.binding,
      initiator: input.initiator,
      sp: input.sp,
      user: input.user,
      destination: input.destination,
      outcome: input.outcome,
      reviewed: input.reviewed ?? false,
      edited: input.edited ?? false,
      faults: [...(input.faults ?? [])],
      detail: input.detail,
      jwt: input.jwt,
      saml: input.saml,
    };
    if (this.capacity === 0) return flow;
    this.#flows.push(flow);
    while (this.#flows.length > this.capacity) this.#flows.shift();
    this.#emit(flow, 'recorded');
    return { ...flow };
  }

  /** Changes a recorded flow (a review sent, a fault chosen); false when it has dropped out of the history. */
  update(id: string, patch: Partial<Omit<Flow, 'id' | 'time'>>): boolean {
    const flow = this.#flows.find((f) => f.id === id);
    if (!flow) return false;
    Object.assign(flow, patch);
    this.#emit(flow, 'updated');
    return true;
  }

  get(id: string): Flow | undefined {
    const flow = this.#flows.find((f) => f.id === id);
    return flow && copy(flow);
  }

  /** Flows newest first, filtered; copies, safe to serialize as JSON. */
  list(query: FlowQuery = {}): Flow[] {
    let flows = this.#flows;
    if (query.after !== undefined) {
      const i = flows.findIndex((f) => f.id === query.after);
      flows = i === -1 ? flows : flows.slice(i + 1);
    }
    const out: Flow[] = [];
    for (let i = flows.length - 1; i >= 0 && (query.limit === undefined || out.length < query.limit); i--) {
      const f = flows[i]!;
      if (query.spId !== undefined && f.sp.id !== query.spId) continue;
      if (query.protocol !== undefined && f.protocol !== query.protocol) continue;
      out.push(copy(f));
    }
    return out;
  }

  get size(): number {
    return this.#flows.length;
  }

  clear(): void {
    this.#flows.length = 0;
  }

  /** Calls `listener` with each flow recorded or updated from now on (for a stream); returns the unsubscribe function. */
  subscribe(listener: FlowListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(flow: Flow, change: 'recorded' | 'updated'): void {
    for (const listener of this.#listeners) {
      try {
        listener(copy(flow), change);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
