/**
 * Number formatting for cards, tables and tooltips. Fixed to en-US separators so a figure reads
 * the same in a screenshot, a test and a bug report.
 */

// Formatters are built once: constructing one (as Number#toLocaleString does per call) costs more
// than a whole card update.
const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });

/** `1,194`. */
export function formatInt(n: number): string {
  return grouped.format(n);
}

/** `Nov 20, 2025, 10:00 AM` (local time). */
export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

/** About three significant digits, without exponent notation. */
export function formatSig(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return grouped.format(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toFixed(3);
}

export function formatJoules(j: number): string {
  return `${grouped.format(j)} J`;
}

export function formatWh(j: number): string {
  const wh = j / 3600;
  // kWh past 10 kWh, which a long multi-GPU job reaches.
  return wh >= 10_000 ? `${formatSig(wh / 1000)} kWh` : `${formatSig(wh)} Wh`;
}

export function formatWatts(w: number): string {
  return `${formatSig(w)} W`;
}

export function formatPct(p: number): string {
  return `${p.toFixed(1)} %`;
}

/** `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(sec).padStart(2, '0')} s`;
}

/** Axis ticks: `0:42`, `12:05`, `1:02:05`. */
export function formatClock(s: number): string {
  const sign = s < 0 ? '-' : '';
  const total = Math.round(Math.abs(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, '0')}:${sec}` : `${sign}${m}:${sec}`;
}

/** Signed delta with its percentage, e.g. `-1,204 J (-12.5 %)`. */
export function formatDelta(delta: number | undefined, pct: number | undefined, fmt: (v: number) => string): string {
  if (delta === undefined) return '—';
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const body = `${sign}${fmt(Math.abs(delta))}`;
  return pct === undefined ? body : `${body} (${pct > 0 ? '+' : pct < 0 ? '−' : '±'}${Math.abs(pct).toFixed(1)} %)`;
}
