/**
 * Formatting only the panel needs (dates, signed deltas). Energy, power, durations, bytes and
 * percentages come from the shared src/core/units/format.ts, so the panel reads like the CLI,
 * the status bar and the diagnostics. Fixed to en-US separators.
 */
const dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });

/** `Nov 20, 2025, 10:00 AM` (local time). */
export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

/** Signed delta with its percentage, e.g. `-1,204 J (-12.5 %)`. */
export function formatDelta(delta: number | undefined, pct: number | undefined, fmt: (v: number) => string): string {
  if (delta === undefined) return '—';
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const body = `${sign}${fmt(Math.abs(delta))}`;
  return pct === undefined ? body : `${body} (${pct > 0 ? '+' : pct < 0 ? '−' : '±'}${Math.abs(pct).toFixed(1)} %)`;
}
