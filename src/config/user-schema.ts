/** The schema of a user, in the config file, the control API and `mock-idp users add`. */
import { z } from 'zod';
import { emailString } from './fields.js';

export const userSchema = z
  .strictObject({
    email: emailString.describe('Identity of the user: unique, compared case-insensitively (NFKC).'),
    password: z
      .string()
      .min(1)
      .max(1024)
      .refine((p) => !p.includes('\u0000'), 'must not contain a NUL character')
      .describe('Password; stored hashed (scrypt), never logged. At most 1024 characters, no NUL.'),
    name: z.string().max(256).optional().describe('Display name, sent as the `name` claim / attribute when known.'),
    attributes: z
      .record(z.string().min(1).max(128), z.union([z.string().max(4096), z.array(z.string().max(4096)).max(64)]))
      .default({})
      .describe('Free-form attributes (strings or lists of strings), usable as JWT claims and SAML attributes.'),
    disabled: z.boolean().default(false).describe('A disabled user cannot sign in.'),
  })
  .describe('A user of the IdP.');
