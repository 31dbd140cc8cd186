/** The short-lived state interface and its implementations. */
export type { Now, StateStore } from './types.js';
export { MemoryStateStore } from './memory.js';
export { SqliteStateStore } from './sqlite.js';
