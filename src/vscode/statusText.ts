/**
 * Text of the status-bar wattmeter and its tooltip. Pure (no `vscode` import) so the wording is
 * unit-tested; statusBar.ts only puts it on the item.
 */
import type { EnergyMethod, GpuInfo, GpuSample } from '../core/sampler/types';
import { ClockEventReason } from '../core/sampler/types';
import type { LiveStatus, LiveWork } from '../core/runs/types';
import { formatBytes, formatDuration, formatJoules, formatWatts } from '../core/units/format';

/** One GPU row of the tooltip (the live run's or the ambient reading's). */
export type GpuRow = LiveStatus['gpus'][number] & { idle?: boolean };

/** Warning thresholds (settings `joules.warnings.*`). */
export interface WasteThresholds {
  idleS: number;
  starvedS: number;
  starvedUtilPct: number;
}

// Figure spaces (U+2007) are as wide as a digit: "  82 W" and "412 W" take the same room, so the
// items beside the wattmeter do not shift as the figure changes.
const FIGURE_SPACE = '\u2007';

function padded(text: string, digits: number): string {
  const m = /^(-?[\d.]+)(.*)$/.exec(text);
  if (!m) return text;
  const intDigits = m[1]!.split('.')[0]!.replace('-', '').length;
  return FIGURE_SPACE.repeat(Math.max(0, digits - intDigits)) + text;
}

/** Why the run is wasting energy now, or undefined. */
export function wasteReason(live: Pick<LiveStatus, 'idleForS' | 'starvedForS'>, t: WasteThresholds): string | undefined {
  if (live.idleForS >= t.idleS) return `GPU idle for ${formatDuration(live.idleForS)}`;
  if (live.starvedForS >= t.starvedS) return `GPU starved (utilization under ${t.starvedUtilPct} %) for ${formatDuration(live.starvedForS)}`;
  return undefined;
}

/** `$(zap) 412 W · 38.1 kJ` during a run (`$(warning)` while it wastes energy). */
export function runText(live: Pick<LiveStatus, 'powerW' | 'energyJ'>, wasting: boolean): string {
  const icon = wasting ? '$(warning)' : '$(zap)';
  return `${icon} ${padded(formatWatts(live.powerW), 3)} · ${formatJoules(live.energyJ)}`;
}

/** Screen-reader label of {@link runText}. */
export function runAccessibility(live: Pick<LiveStatus, 'powerW' | 'energyJ'>, reason: string | undefined): string {
  const power = live.powerW === undefined ? 'power not measured yet' : `${live.powerW.toFixed(0)} watts`;
  return `Joules run: ${power}, ${formatJoules(live.energyJ)} so far${reason ? `; ${reason}` : ''}`;
}

/** Between runs: `$(pulse) 164 W` or `$(pulse) 164 W idle` when every GPU is idle. */
export function ambientText(rows: readonly GpuRow[]): string {
  const powers = rows.map((r) => r.powerW).filter((p): p is number => p !== undefined);
  const total = powers.length ? powers.reduce((a, b) => a + b, 0) : undefined;
  const idle = rows.length > 0 && rows.every((r) => r.idle === true);
  return `$(pulse) ${padded(formatWatts(total), 3)}${idle ? ' idle' : ''}`;
}

/** A GPU is idle when nothing ran a kernel: utilisation 0 or the GpuIdle clock-event bit. */
export function isIdleSample(s: GpuSample | undefined): boolean {
  if (!s) return false;
  if (s.utilGpuPct !== undefined) return s.utilGpuPct === 0;
  return s.clockEventReasons !== undefined && (s.clockEventReasons & ClockEventReason.GpuIdle) !== 0;
}

/** Rows of the ambient reading. */
export function ambientRows(gpus: readonly GpuInfo[], latest: ReadonlyMap<number, GpuSample>): GpuRow[] {
  return gpus.map((g) => {
    const s = latest.get(g.index);
    const row: GpuRow = { index: g.index, name: g.name, attributed: false, idle: isIdleSample(s) };
    if (s?.powerMilliwatts !== undefined) row.powerW = s.powerMilliwatts / 1000;
    if (s?.utilGpuPct !== undefined) row.utilPct = s.utilGpuPct;
    if (s?.memUsedBytes !== undefined) row.memUsedBytes = s.memUsedBytes;
    if (g.memTotalBytes !== undefined) row.memTotalBytes = g.memTotalBytes;
    if (s?.temperatureC !== undefined) row.temperatureC = s.temperatureC;
    return row;
  });
}

function escapeMd(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function gpuTable(rows: readonly GpuRow[], withRun: boolean): string[] {
  const head = withRun ? '| GPU | | Power | Util | Memory | Temp | Energy |' : '| GPU | Power | Util | Memory | Temp |';
  const rule = withRun ? '|---|---|--:|--:|--:|--:|--:|' : '|---|--:|--:|--:|--:|';
  const lines = [head, rule];
  for (const r of rows) {
    const mem =
      r.memUsedBytes !== undefined
        ? `${formatBytes(r.memUsedBytes)}${r.memTotalBytes !== undefined ? ` / ${formatBytes(r.memTotalBytes)}` : ''}`
        : '—';
    const cells = [
      `${r.index} ${escapeMd(r.name)}`,
      ...(withRun ? [r.attributed ? 'run' : ''] : []),
      formatWatts(r.powerW),
      r.utilPct !== undefined ? `${r.utilPct.toFixed(0)} %` : '—',
      mem,
      r.temperatureC !== undefined ? `${r.temperatureC.toFixed(0)} °C` : '—',
      ...(withRun ? [r.energyJ !== undefined ? formatJoules(r.energyJ) : '—'] : []),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines;
}

export function energyMethodText(method: EnergyMethod): string {
  return method === 'counter'
    ? 'hardware energy counter (nvmlDeviceGetTotalEnergyConsumption)'
    : 'integrated from sampled power (no hardware energy counter)';
}

const WORK_SOURCE_TEXT: Record<LiveWork['source'], string> = {
  package: 'reported by the joules package',
  markers: 'reported by ::joules lines',
  'package+markers': 'reported by the joules package and ::joules lines',
  log: 'inferred from the log',
};

/** Energy per unit of work so far (the run's energy over the work reported or inferred). */
export function workText(live: Pick<LiveStatus, 'energyJ' | 'work'>): string[] {
  const w = live.work;
  if (!w) return [];
  const parts: string[] = [];
  if (w.steps) parts.push(`${formatJoules(live.energyJ / w.steps)}/step (${w.steps} steps)`);
  if (w.samples) parts.push(`${formatJoules(live.energyJ / w.samples)}/sample`);
  if (w.tokens) parts.push(`${(live.energyJ / w.tokens).toFixed(3)} J/token (${w.tokens} tokens)`);
  if (!parts.length) return [];
  return ['', `${parts.join(' · ')}, ${WORK_SOURCE_TEXT[w.source]}${w.detail ? ` (${escapeMd(w.detail)})` : ''}.`];
}

/** Markdown tooltip during a run. */
export function runTooltip(name: string, live: LiveStatus, reason: string | undefined, replay: boolean): string {
  const lines = [
    `**Joules: ${escapeMd(name)}**${replay ? ' (replay of a recorded trace)' : ''}`,
    '',
    `${formatWatts(live.powerW)} now · ${formatJoules(live.energyJ)} so far · run time ${formatDuration(live.elapsedS)}`,
    '',
    ...gpuTable(live.gpus, true),
    '',
    `Energy: ${energyMethodText(live.energyMethod)}.`,
    ...workText(live),
  ];
  const attributed = live.gpus.filter((g) => g.attributed).length;
  if (live.gpus.length > 1) {
    lines.push(
      attributed > 0
        ? `The status bar counts the run's GPUs (marked "run"); the others are shown for reference.`
        : `The run's processes have not been seen on a GPU yet: all GPUs are counted.`,
    );
  }
  if (reason) lines.push('', `$(warning) **${reason}**: the GPU is drawing power without doing the run's work.`);
  lines.push('', 'Click to open the energy panel.');
  return lines.join('\n');
}

/** Markdown tooltip between runs. */
export function ambientTooltip(rows: readonly GpuRow[]): string {
  const idle = rows.filter((r) => r.idle).length;
  return [
    '**Joules: GPU power now** (no run is being measured)',
    '',
    ...gpuTable(rows, false),
    '',
    idle === rows.length ? 'All GPUs are idle.' : idle > 0 ? `${idle} of ${rows.length} GPUs idle.` : 'No GPU is idle.',
    '',
    'Click to open the energy panel. Turn this off with the setting `joules.statusBar.ambient`.',
  ].join('\n');
}

/** Markdown tooltip when there is no GPU to measure. */
export function noGpuTooltip(detail: string): string {
  return [
    '**Joules: no NVIDIA GPU to measure**',
    '',
    escapeMd(detail),
    '',
    'Joules measures real GPUs through NVML and never makes figures up. To see what it shows, ' +
      '[replay a recorded H200 run](command:joules.replayDemo).',
  ].join('\n');
}
