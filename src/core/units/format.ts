/**
 * The one set of formatters every surface uses (CLI, status bar, diagnostics, panel), so a figure
 * reads the same wherever it is shown. Pure, no Node or `vscode` imports: the webview bundles it.
 *
 * The rules:
 * - Energy: J below 10 kJ (`640 J`, `6,579 J`, `3.2 J` below 10 J), kJ up to 1 kWh (`38.1 kJ`,
 *   `1,234 kJ`), kWh above (`1.25 kWh`). Watt-hours are the electricity-bill companion
 *   (`formatWattHours`: Wh below 1 kWh, kWh above), shown beside joules, never instead of them.
 * - Power: W below 10 kW (`412 W`), kW above (`12.3 kW`).
 * - Durations: `12.3 s` below a minute, `2 min 05 s` below an hour, `2 h 03 min` above.
 *   (`formatClock`'s `2:05` is a position on a time axis, not a duration.)
 * - Memory: binary units, as nvidia-smi counts (its MiB): `80.0 GiB`, `512 MiB`, `12 KiB`.
 * - Percentages: one decimal below 10 % (`4.2 %`), whole above (`42 %`), `0 %` for nothing.
 * - Separators are en-US (`1,234`), fixed so a figure reads the same in a screenshot, a test and a
 *   bug report.
 */

/**
 * `1,194`: what `Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })` prints, without Intl:
 * creating the first Intl formatter loads ICU data, ~20 ms at module load, which was a third of
 * the extension's activation (`npm run bench:activation`). Rounds half away from zero, as Intl does.
 */
const grouped = {
  format(n: number): string {
    if (Number.isNaN(n)) return 'NaN';
    const neg = n < 0 || Object.is(n, -0);
    if (!Number.isFinite(n)) return neg ? '-∞' : '∞';
    const a = Math.abs(n);
    // Past 2^53 a double is already an integer; BigInt prints it without exponent notation.
    const digits = a >= Number.MAX_SAFE_INTEGER ? BigInt(a).toString() : Math.round(a).toString();
    let out = '';
    for (let i = 0; i < digits.length; i++) {
      if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
      out += digits[i];
    }
    return neg ? `-${out}` : out;
  },
};

const J_PER_KWH = 3.6e6;

/** `1,194`. */
export function formatInt(n: number): string {
  return grouped.format(n);
}

/** About three significant digits, without exponent notation: `1,234`, `412`, `38.1`, `4.12`, `0.412`. */
export function formatSig(v: number): string {
  const a = Math.abs(v);
  if (a >= 1000) return grouped.format(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toFixed(3);
}

/** `3.2 J`, `640 J`, `6,579 J`, `38.1 kJ`, `1,234 kJ`, `1.25 kWh` (see the rules above). */
export function formatJoules(energyJ: number): string {
  const a = Math.abs(energyJ);
  if (a < 10) return `${energyJ.toFixed(1)} J`;
  if (a < 1e4) return `${grouped.format(energyJ)} J`;
  if (a < J_PER_KWH) return a < 1e6 ? `${(energyJ / 1e3).toFixed(1)} kJ` : `${grouped.format(energyJ / 1e3)} kJ`;
  return `${formatSig(energyJ / J_PER_KWH)} kWh`;
}

/** Watt-hours (1 Wh = 3600 J): `0.178 Wh`, `10.6 Wh`, `1.25 kWh`. */
export function formatWattHours(energyJ: number): string {
  if (Math.abs(energyJ) >= J_PER_KWH) return `${formatSig(energyJ / J_PER_KWH)} kWh`;
  const wh = energyJ / 3600;
  return `${wh === 0 ? '0' : formatSig(wh)} Wh`;
}

/** `412 W`, `12.3 kW`; `-- W` when nothing was measured (never a made-up 0). */
export function formatWatts(powerW: number | undefined): string {
  if (powerW === undefined || !Number.isFinite(powerW)) return '-- W';
  if (Math.abs(powerW) >= 10_000) return `${(powerW / 1000).toFixed(1)} kW`;
  return `${grouped.format(Math.round(powerW))} W`;
}

/** `12.3 s`, `2 min 05 s`, `2 h 03 min`. */
export function formatDuration(durationS: number): string {
  if (!Number.isFinite(durationS)) return '-- s';
  if (durationS < 59.95) return `${Math.max(0, durationS).toFixed(1)} s`;
  const total = Math.round(durationS);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(sec).padStart(2, '0')} s`;
}

/** A position on a run's time axis: `0:42`, `12:05`, `1:02:05`. */
export function formatClock(s: number): string {
  const sign = s < 0 ? '-' : '';
  const total = Math.round(Math.abs(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, '0')}:${sec}` : `${sign}${m}:${sec}`;
}

const KIB = 1024;
const MIB = KIB * 1024;
const GIB = MIB * 1024;
const TIB = GIB * 1024;

/** `80.0 GiB`, `512 MiB`, `12 KiB`, `1.50 TiB` (binary, as nvidia-smi's MiB). */
export function formatBytes(bytes: number): string {
  const a = Math.abs(bytes);
  if (a >= TIB) return `${(bytes / TIB).toFixed(2)} TiB`;
  if (a >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`;
  if (a >= MIB) return `${(bytes / MIB).toFixed(0)} MiB`;
  return `${(bytes / KIB).toFixed(0)} KiB`;
}

/** `0 %`, `0.4 %`, `4.2 %`, `42 %`, `100 %`. */
export function formatPct(pct: number): string {
  if (pct === 0) return '0 %';
  return Math.abs(pct) < 9.95 ? `${pct.toFixed(1)} %` : `${pct.toFixed(0)} %`;
}
