/**
 * How every page shows a moment: "2026-12-01 18:45:24 UTC", to the second, in
 * UTC, said so. (JSON answers keep ISO 8601 timestamps, which programs read.)
 */
export function shownTime(time: number | string | Date): string {
  const ms = typeof time === 'number' ? time : new Date(time).getTime();
  if (!Number.isFinite(ms)) return String(time);
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
