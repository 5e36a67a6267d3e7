/** What the CLI prints about a run: the `--json` object and the human summary. */
import { describeGpuEnergyMethod, describeRunEnergyMethod } from '../core/runs/summary';
import type { RunMarker, RunSummary } from '../core/runs/types';
import { formatDuration, formatJoules, formatWattHours, formatWatts } from '../core/units/format';
import type { CarbonSettings } from '../core/units/carbon';
import { carbonSummaryLines } from './carbonOptions';

/** The `--json` shape: stable keys other tools rely on (see README). */
export function toJson(s: RunSummary): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    replay: s.replay === true,
    startedAt: s.startedAt,
    durationS: round(s.durationS, 3),
    energyJ: round(s.energyJ, 3),
    energyWh: round(s.energyJ / 3600, 5),
    energyMethod: s.energyMethod,
    avgPowerW: round(s.avgPowerW, 2),
    peakPowerW: round(s.peakPowerW, 2),
    ...(s.avgUtilPct !== undefined ? { avgUtilPct: round(s.avgUtilPct, 1) } : {}),
    exitCode: s.exitCode,
    ...(s.signal ? { signal: s.signal } : {}),
    command: s.command,
    ...(s.attached ? { attached: s.attached } : {}),
    attribution: s.attribution,
    sampleIntervalMs: s.sampleIntervalMs,
    ...(s.driverVersion ? { driverVersion: s.driverVersion } : {}),
    gpus: s.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      energyJ: round(g.energyJ, 3),
      avgPowerW: round(g.avgPowerW, 2),
      peakPowerW: round(g.peakPowerW, 2),
      ...(g.avgUtilPct !== undefined ? { avgUtilPct: round(g.avgUtilPct, 1) } : {}),
      energyMethod: g.energyMethod,
      ...(g.energyMethodReason ? { energyMethodReason: g.energyMethodReason } : {}),
      ...(g.counterS !== undefined ? { counterS: round(g.counterS, 3) } : {}),
      ...(g.integratedS !== undefined ? { integratedS: round(g.integratedS, 3) } : {}),
      ...(g.gapS !== undefined ? { gapS: round(g.gapS, 3) } : {}),
      ...(g.counterFailedAtS !== undefined ? { counterFailedAtS: round(g.counterFailedAtS, 3) } : {}),
      ...(g.lostAtS !== undefined ? { lostAtS: round(g.lostAtS, 3) } : {}),
      powerSource: g.powerSource,
      attributed: g.attributed,
      ...(g.runSmSharePct !== undefined ? { runSmSharePctEstimate: round(g.runSmSharePct, 1) } : {}),
      ...(g.peakMemUsedBytes !== undefined ? { peakMemUsedBytes: g.peakMemUsedBytes } : {}),
      ...(g.memTotalBytes !== undefined ? { memTotalBytes: g.memTotalBytes } : {}),
    })),
    ...(s.markers
      ? {
          markers: s.markers.map((m) => ({
            label: m.label,
            tS: round(m.tS, 3),
            energyJ: round(m.energyJ, 3),
            ...(m.energySource ? { energySource: m.energySource } : {}),
            ...(m.window ? { window: m.window, windowId: m.windowId } : {}),
            ...(m.closedAtRunEnd ? { closedAtRunEnd: true } : {}),
          })),
        }
      : {}),
    ...(s.workSource ? { workSource: s.workSource } : {}),
    ...(s.workDetail ? { workDetail: s.workDetail } : {}),
    ...(s.ranks ? { ranks: s.ranks.map((r) => ({ ...r, energyJ: round(r.energyJ, 3) })) } : {}),
    ...(s.steps ? { steps: s.steps, jPerStep: round(s.jPerStep ?? 0, 4) } : {}),
    ...(s.stepPoints?.length ? { stepPoints: s.stepPoints.map((p) => ({ tS: round(p.tS, 3), step: p.step })) } : {}),
    ...(s.samples ? { samples: s.samples, jPerSample: round(s.jPerSample ?? 0, 5) } : {}),
    ...(s.tokens ? { tokens: s.tokens, jPerToken: round(s.jPerToken ?? 0, 5) } : {}),
    ...(s.steadyState
      ? { steadyState: { startS: round(s.steadyState.startS, 3), endS: round(s.steadyState.endS, 3), tokens: s.steadyState.tokens, energyJ: round(s.steadyState.energyJ, 3), jPerToken: round(s.steadyState.jPerToken, 5) } }
      : {}),
    // The run's waste counted once (overlaps and source lines that refer to telemetry add nothing).
    ...(s.wastedJ !== undefined ? { wastedJ: round(s.wastedJ, 3) } : {}),
    findings: (s.findings ?? []).map((f) => ({ ...f, energyJ: round(f.energyJ, 3), wastedJ: round(f.wastedJ, 3), startS: round(f.startS, 3), endS: round(f.endS, 3) })),
    ...(s.errors ? { errors: s.errors } : {}),
    ...(s.unsupported ? { unsupported: s.unsupported } : {}),
    ...(s.unavailableGpus ? { unavailableGpus: s.unavailableGpus } : {}),
  };
}

/** The human summary printed after a run; carbon and cost from `carbon`, else from the environment (carbonOptions.ts). */
export function formatSummary(s: RunSummary, carbon?: CarbonSettings): string {
  const lines: string[] = [];
  const head = s.replay ? 'Joules (REPLAY of a recorded trace)' : 'Joules';
  lines.push('', `${head}: ${s.name}  ${s.status}${s.exitCode !== null ? ` (exit ${s.exitCode})` : ''}`);
  lines.push(`  duration   ${formatDuration(s.durationS)}`);
  lines.push(`  energy     ${formatJoules(s.energyJ)} (${formatWattHours(s.energyJ)}), ${describeRunEnergyMethod(s.energyMethod)}`);
  lines.push(`  power      ${formatWatts(s.avgPowerW)} average, ${formatWatts(s.peakPowerW)} peak`);
  if (s.avgUtilPct !== undefined) lines.push(`  GPU util   ${s.avgUtilPct.toFixed(0)} % average`);
  if (s.gpus.length > 1 || s.attribution !== 'processes') {
    lines.push(`  GPUs       ${attributionText(s.attribution)}`);
  }
  for (const g of s.gpus) {
    const counted = s.attribution === 'all' || g.attributed;
    lines.push(
      `  GPU ${g.index} ${g.name}${counted ? '' : ' (not used by the run)'}: ${formatJoules(g.energyJ)}, ${formatWatts(g.avgPowerW)} avg, ${formatWatts(g.peakPowerW)} peak` +
        `${g.avgUtilPct !== undefined ? `, util ${g.avgUtilPct.toFixed(0)} %` : ''}` +
        `${g.runSmSharePct !== undefined ? `, run's SM share ~${g.runSmSharePct.toFixed(0)} % (estimate)` : ''}`,
    );
    lines.push(`        energy: ${describeGpuEnergyMethod(g)}`);
    if (g.lostAtS !== undefined) lines.push(`        LOST at ${g.lostAtS.toFixed(1)} s (NVML_ERROR_GPU_IS_LOST): its figures stop there`);
  }
  for (const u of s.unavailableGpus ?? []) {
    lines.push(`  GPU ${u.index} not measured: it could not be opened (${u.error})`);
  }
  for (const r of s.ranks ?? []) {
    const who = r.rank !== undefined ? `rank ${r.rank}${r.localRank !== undefined && r.localRank !== r.rank ? ` (local ${r.localRank})` : ''}` : `process ${r.pid}`;
    lines.push(`  ${who.padEnd(10)} GPU ${r.gpus.join('+')}: ${formatJoules(r.energyJ)}${r.sharedGpu ? ' (GPU shared with another rank: split evenly)' : ''}${r.rank !== undefined ? `, pid ${r.pid}` : ''}`);
  }
  for (const l of workLines(s)) lines.push(l);
  for (const line of carbonSummaryLines(s, carbon)) lines.push(line);
  const windows = windowsOf(s.markers ?? []);
  const points = (s.markers ?? []).filter((m) => !m.window);
  if (points.length) {
    lines.push('', 'Markers (energy since the previous marker):');
    let prev = { tS: 0, energyJ: 0 };
    for (const m of points) {
      const interpolated = m.energySource === 'interpolated' ? ' (interpolated: marks <100 ms apart share a counter read)' : '';
      lines.push(`  ${m.tS.toFixed(1).padStart(7)} s  ${m.label.padEnd(24)} ${formatJoules(m.energyJ - prev.energyJ).padStart(9)} in ${formatDuration(m.tS - prev.tS)}${interpolated}`);
      prev = m;
    }
  }
  if (windows.length) {
    lines.push('', 'Windows (energy between their edges):');
    // A label used again and again (a decorated function, once a step) is one line: how many, in all, on average.
    const byLabel = new Map<string, typeof windows>();
    for (const w of windows) {
      const list = byLabel.get(w.label);
      if (list) list.push(w);
      else byLabel.set(w.label, [w]);
    }
    const shown = new Set<string>();
    for (const w of windows) {
      const same = byLabel.get(w.label)!;
      if (same.length > 1) {
        if (shown.has(w.label)) continue;
        shown.add(w.label);
        const j = same.reduce((a, x) => a + x.energyJ, 0);
        const t = same.reduce((a, x) => a + (x.endS - x.startS), 0);
        const open = same.filter((x) => x.closedAtRunEnd).length;
        lines.push(`  ${w.startS.toFixed(1).padStart(7)} s  ${`${w.label} x${same.length}`.padEnd(24)} ${formatJoules(j).padStart(9)} in ${formatDuration(t)}, ${formatJoules(j / same.length)} each on average${open ? ` (${open} never closed by the program)` : ''}`);
        continue;
      }
      const note = w.closedAtRunEnd ? ' (never closed by the program: ended with the run)' : '';
      lines.push(`  ${w.startS.toFixed(1).padStart(7)} s  ${w.label.padEnd(24)} ${formatJoules(w.energyJ).padStart(9)} in ${formatDuration(w.endS - w.startS)}${note}`);
    }
  }
  if (s.findings?.length) {
    lines.push('', 'Findings:');
    for (const f of s.findings) {
      const where = f.file ? ` (${f.file}${f.line ? `:${f.line}` : ''})` : '';
      lines.push(`  [${f.severity}] ${f.message}${where}`);
    }
  }
  const errors = Object.entries(s.errors ?? {});
  const storeErrors = errors.filter(([k]) => k.startsWith('store: '));
  const otherErrors = errors.filter(([k]) => !k.startsWith('store: '));
  if (otherErrors.length) lines.push(`  NVML errors: ${otherErrors.map(([k, v]) => `${k} x${v}`).join('; ')}`);
  // `store: ...`: failed writes of this run (ENOSPC ...) or lines recovery had to skip.
  if (storeErrors.length) lines.push(`  record     ${storeErrors.map(([k, v]) => `${k.slice('store: '.length)} x${v}`).join('; ')}`);
  lines.push(`  run id     ${s.id}`, '');
  return lines.join('\n');
}

const SOURCE_TEXT: Record<NonNullable<RunSummary['workSource']>, string> = {
  package: 'reported by the joules package',
  markers: 'reported by ::joules lines',
  'package+markers': 'reported by the joules package and ::joules lines',
  log: 'inferred from the log',
};

/** The per-unit lines: J/step, J/sample, J/token and the steady state, with where the work came from. */
export function workLines(s: RunSummary): string[] {
  const lines: string[] = [];
  const from = s.workSource ? `, ${SOURCE_TEXT[s.workSource]}${s.workDetail ? `: ${s.workDetail}` : ''}` : '';
  if (s.steps) lines.push(`  per step   ${formatJoules(s.jPerStep ?? 0)} (${s.steps} steps${from})`);
  if (s.samples) lines.push(`  per sample ${formatJoules(s.jPerSample ?? 0)} (${s.samples} samples${s.workSource === 'log' ? ', inferred from the log: the Trainer\'s rounded totals' : ''})`);
  if (s.tokens) lines.push(`  per token  ${(s.jPerToken ?? 0).toFixed(3)} J (${s.tokens} tokens${s.steps ? '' : from})`);
  const st = s.steadyState;
  if (st) {
    lines.push(`  steady     ${st.jPerToken.toFixed(3)} J/token between ${st.startS.toFixed(1)} s and ${st.endS.toFixed(1)} s (${st.tokens} tokens; first and last 10 % of tokens left out)`);
  }
  return lines;
}

/** A run's windows: begin and end markers paired by id. */
export function windowsOf(markers: readonly RunMarker[]): Array<{ label: string; startS: number; endS: number; energyJ: number; closedAtRunEnd: boolean }> {
  const begins = new Map<number, RunMarker>();
  const out: Array<{ label: string; startS: number; endS: number; energyJ: number; closedAtRunEnd: boolean }> = [];
  for (const m of markers) {
    if (m.windowId === undefined) continue;
    if (m.window === 'begin') begins.set(m.windowId, m);
    else if (m.window === 'end') {
      const b = begins.get(m.windowId);
      if (!b) continue;
      out.push({ label: m.label, startS: b.tS, endS: m.tS, energyJ: m.energyJ - b.energyJ, closedAtRunEnd: m.closedAtRunEnd === true });
    }
  }
  return out.sort((a, b) => a.startS - b.startS);
}

function attributionText(a: RunSummary['attribution']): string {
  switch (a) {
    case 'processes':
      return 'attributed by the run\'s processes seen on each GPU';
    case 'cuda_visible_devices':
      return 'attributed by CUDA_VISIBLE_DEVICES';
    case 'all':
      return 'all GPUs counted (the run\'s processes were not seen on any GPU)';
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
