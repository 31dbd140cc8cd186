/**
 * CommonJS dependencies loaded when first used rather than at start-up: most of
 * the start-up time is loading modules, and some (XML building, xml-crypto) serve
 * only requests that may never come. `require` is synchronous, so the call sites
 * stay synchronous; after the first call the module is the one Node cached.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter for the CommonJS module `id`, loaded on its first call. Type it as `typeof import('id')`. */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
