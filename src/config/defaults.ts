/**
 * Config defaults that code outside the schema also falls back to (a library
 * caller may leave the option out). The schema takes its `.default(…)` from here,
 * so the documented default and the fallback cannot differ. No zod here: the
 * keystore imports it.
 */

/** keyRotationGraceSeconds: seven days. */
export const DEFAULT_KEY_ROTATION_GRACE_SECONDS = 604_800;
