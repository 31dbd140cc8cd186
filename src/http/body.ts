/** Reading a JSON or form body with a zod schema, for the control API and the pages that take one. */
import type { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { IdpError } from '../errors.js';

/** Parses a body with a schema, or a 400 that names each bad field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new IdpError('bad_request', `Invalid ${what}:\n${formatIssues(parsed.error)}`, {
      detail: parsed.error.issues.map((i) => i.path.join('.')).join(', '),
    });
  }
  return parsed.data;
}
