/**
 * Validation issues as lines a person reads: each names its key path
 * (`serviceProviders[0].jwt.algorithm`), a missing key says "required", and an
 * unknown key suggests the nearest known one when the schema is given.
 */
import type { z } from 'zod';

/** The key path of an issue: `users[0].email`. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a value at `path` may be checked by (several under a union). */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return schemasAt(def.innerType, path);
  if (def.type === 'pipe' && def.in) return schemasAt(def.in, path);
  if (def.type === 'union' && def.options) return def.options.flatMap((o) => schemasAt(o, path));
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  if (def.type === 'array' && def.element && typeof head === 'number') return schemasAt(def.element, rest);
  if (def.type === 'object' && def.shape && typeof head === 'string' && Object.hasOwn(def.shape, head)) return schemasAt(def.shape[head]!, rest);
  return [];
}

/** The keys an object at `path` may have, per the schema. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(schemasAt(schema, path).flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}

/** Edits (insert, delete, replace, swap two neighbours) from a to b, case ignored. */
function distance(a: string, b: string): number {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The known key nearest to `key`, if it is near enough to be a typo. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(key, k);
    if (!best || d < best.d) best = { key: k, d };
  }
  return best && best.d <= Math.min(3, Math.max(1, Math.floor(Math.max(key.length, best.key.length) / 3))) ? best.key : undefined;
}

/** A zod error as lines naming each key; with `schema` (the root the paths start at), unknown keys get a suggestion. */
export function formatIssues(error: z.ZodError, schema?: z.ZodType): string {
  return error.issues
    .flatMap((issue) => {
      const where = keyPath(issue.path);
      if (issue.code === 'unrecognized_keys') {
        const known = schema ? knownKeysAt(schema, issue.path) : [];
        return issue.keys.map((k) => {
          const near = nearestKey(k, known);
          return `  - ${where ? `${where}.${k}` : k}: unknown key${near ? ` (did you mean \`${near}\`?)` : ''}`;
        });
      }
      // zod says "expected string, received undefined" for a key that is not there.
      const missing = issue.code === 'invalid_type' && /received undefined$/.test(issue.message);
      return [`  - ${where || '(top level)'}: ${missing ? 'required' : issue.message}`];
    })
    .join('\n');
}
