/** Field schemas the config's sections share: URLs, emails, PEM text or paths. */
import { z } from 'zod';

/** An absolute http(s) URL without credentials in it. */
export const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without user name or password');

export const emailString = z
  .string()
  .trim()
  .min(3)
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

export const pemOrPath = z
  .string()
  .min(1)
  .describe('PEM text, or a path to a PEM file (relative to the config file)');
