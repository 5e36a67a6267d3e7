/** Human formatting of energy, power and time. Pure; used by the CLI, the status bar and the panel. */

/** "38.1 kJ", "412 J", "1.23 MJ". */
export function formatJoules(energyJ: number): string {
  const a = Math.abs(energyJ);
  if (a >= 1e6) return `${(energyJ / 1e6).toFixed(2)} MJ`;
  if (a >= 1e4) return `${(energyJ / 1e3).toFixed(1)} kJ`;
  if (a >= 1e3) return `${(energyJ / 1e3).toFixed(2)} kJ`;
  return `${energyJ.toFixed(a >= 100 ? 0 : 1)} J`;
}

/** Watt-hours: 1 Wh = 3600 J. "2.67 Wh", "1.20 kWh". */
export function formatWattHours(energyJ: number): string {
  const wh = energyJ / 3600;
  if (Math.abs(wh) >= 1000) return `${(wh / 1000).toFixed(2)} kWh`;
  if (Math.abs(wh) >= 10) return `${wh.toFixed(1)} Wh`;
  return `${wh.toFixed(wh === 0 ? 0 : 3)} Wh`;
}

/** "412 W", "1.2 kW". */
export function formatWatts(powerW: number | undefined): string {
  if (powerW === undefined || !Number.isFinite(powerW)) return '-- W';
  if (Math.abs(powerW) >= 10_000) return `${(powerW / 1000).toFixed(1)} kW`;
  return `${powerW.toFixed(0)} W`;
}

/** "1:02:03", "2:03", "4.2 s". */
export function formatDuration(durationS: number): string {
  if (durationS < 60) return `${durationS.toFixed(1)} s`;
  const s = Math.floor(durationS);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** "80.0 GB" (decimal GB, as nvidia-smi's MiB would mislead next to marketing sizes). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`;
  return `${(bytes / 1e3).toFixed(0)} kB`;
}
