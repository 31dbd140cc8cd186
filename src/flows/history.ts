/**
 * The flow history: every single sign-on the IdP performs, newest first, bounded
 * (the oldest are dropped past `capacity`), kept in the state store. A record is
 * plain data with the token or Response as sent; it is decoded and laid out when
 * read. What a flow shows is safe to show to anyone who can reach /flows or the
 * control API: signatures cut to their first 8 characters (so nothing shown can
 * be replayed), never a password, a shared secret or a private key.
 */
import { randomHex } from '../random.js';
import type { Clock } from '../clock.js';
import type { StateStore } from '../state/types.js';
import { flowJwt, flowSaml } from './record.js';
import type { Flow, FlowInput, FlowPatch, FlowProtocol } from './types.js';

export type * from './types.js';

export interface FlowQuery {
  /** At most this many, newest first. */
  limit?: number | undefined;
  spId?: string | undefined;
  protocol?: FlowProtocol | undefined;
  /** Only flows recorded after the one with this id (for polling). */
  after?: string | undefined;
  /** Skip this many of the matching flows first (for paging). */
  offset?: number | undefined;
}

export type FlowListener = (flow: Flow, change: 'recorded' | 'updated') => void;

/** A stored flow: the input, its id and time. */
type FlowRecord = FlowInput & { id: string; time: string };

const LIST = 'flows:list';
const RECORD = 'flows:record:';
/** The state namespace of the history (the control API's reset clears it). */
export const FLOWS_STATE_PREFIX = 'flows:';
/** A record outlives its place in the list by at most this long (a shared store may keep one whose delete was lost). */
const RECORD_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * Records are read this many at a time, concurrently: with Redis that is one
 * round trip per batch (its client pipelines the commands of one tick), not one
 * per record, which on a full history (1000 flows) made a read take seconds.
 */
const READ_BATCH = 50;

function flowOf(record: FlowRecord): Flow {
  return {
    id: record.id,
    time: record.time,
    protocol: record.protocol,
    binding: record.binding,
    initiator: record.initiator,
    sp: { id: record.sp.id, name: record.sp.name },
    user: record.user,
    destination: record.destination,
    faults: [...(record.faults ?? [])],
    reviewed: record.reviewed ?? false,
    edited: record.edited ?? false,
    outcome: record.outcome,
    detail: record.detail,
    jwt: record.token === undefined ? undefined : flowJwt(record.token),
    saml: record.response === undefined ? undefined : flowSaml(record.response, record.response.inResponseTo),
  };
}

export class FlowHistory {
  readonly capacity: number;
  readonly #clock: Clock;
  readonly #state: StateStore;
  readonly #listeners = new Set<FlowListener>();
  #seq = 0;

  constructor(options: { capacity: number; clock: Clock; state: StateStore }) {
    this.capacity = Math.max(0, Math.floor(options.capacity));
    this.#clock = options.clock;
    this.#state = options.state;
  }

  /** Records a flow; returns it as it will be read. */
  async record(input: FlowInput): Promise<Flow> {
    this.#seq += 1;
    // Field by field, not a spread of the input: this is on every sign-in's path.
    const record: FlowRecord = {
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
      token: input.token,
      response: input.response,
    };
    if (this.capacity > 0) {
      await this.#state.set(RECORD + record.id, record, RECORD_TTL_MS);
      const gone = await this.#state.push(LIST, record.id, this.capacity);
      for (const id of gone) await this.#state.delete(RECORD + id);
      if (this.#listeners.size > 0) this.#emit(record, 'recorded');
    }
    return flowOf(record);
  }

  /** Changes a recorded flow (a review sent, a fault chosen); false when it has dropped out of the history. */
  async update(id: string, patch: FlowPatch): Promise<boolean> {
    const record = await this.#state.get<FlowRecord>(RECORD + id);
    if (!record) return false;
    const next: FlowRecord = { ...record, ...patch, id: record.id, time: record.time };
    await this.#state.set(RECORD + id, next, RECORD_TTL_MS);
    this.#emit(next, 'updated');
    return true;
  }

  async get(id: string): Promise<Flow | undefined> {
    const record = await this.#state.get<FlowRecord>(RECORD + id);
    return record && flowOf(record);
  }

  /** Flows newest first, filtered; safe to serialize as JSON. */
  async list(query: FlowQuery = {}): Promise<Flow[]> {
    if (query.limit !== undefined && query.limit <= 0) return [];
    const ids = await this.#state.range<string>(LIST, 0, this.capacity);
    if (query.after !== undefined) {
      const i = ids.indexOf(query.after);
      if (i !== -1) ids.length = i;
    }
    const out: Flow[] = [];
    let skip = query.offset ?? 0;
    await this.#each(ids, (record) => {
      if (query.spId !== undefined && record.sp.id !== query.spId) return true;
      if (query.protocol !== undefined && record.protocol !== query.protocol) return true;
      if (skip > 0) {
        skip -= 1;
        return true;
      }
      out.push(flowOf(record));
      return query.limit === undefined || out.length < query.limit;
    });
    return out;
  }

  /**
   * Per SP, how many tokens and Responses went to `user` at or after `since`
   * (ms): the console's count since sign-in. Reads the newest records down to the
   * first older one and decodes none, so its cost follows the flows since the
   * sign-in, not the size of the history.
   */
  async deliveredSince(user: string, since: number): Promise<Record<string, number>> {
    const ids = await this.#state.range<string>(LIST, 0, this.capacity);
    const issued: Record<string, number> = {};
    await this.#each(ids, (record) => {
      if (Date.parse(record.time) < since) return false;
      if (record.user === user && record.outcome === 'delivered') issued[record.sp.id] = (issued[record.sp.id] ?? 0) + 1;
      return true;
    });
    return issued;
  }

  /** Reads the records of `ids` in order, a batch at a time, passing each to `visit` until it returns false (a record gone is skipped). */
  async #each(ids: readonly string[], visit: (record: FlowRecord) => boolean): Promise<void> {
    for (let i = 0; i < ids.length; i += READ_BATCH) {
      const records = await Promise.all(ids.slice(i, i + READ_BATCH).map((id) => this.#state.get<FlowRecord>(RECORD + id)));
      for (const record of records) if (record && !visit(record)) return;
    }
  }

  /** How many flows the history holds. */
  size(): Promise<number> {
    return this.#state.length(LIST);
  }

  async clear(): Promise<void> {
    await this.#state.clear(FLOWS_STATE_PREFIX);
  }

  /** Calls `listener` with each flow this process records or updates from now on; returns the unsubscribe function. */
  subscribe(listener: FlowListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(record: FlowRecord, change: 'recorded' | 'updated'): void {
    for (const listener of this.#listeners) {
      try {
        listener(flowOf(record), change);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
