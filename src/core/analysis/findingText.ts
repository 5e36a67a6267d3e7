/**
 * The words of the telemetry findings: titles, messages and "how the waste was computed" texts,
 * each carrying the measured figures. The detectors decide and measure; this file only phrases.
 * Figures go through the shared formatters (src/core/units/format.ts), so a finding reads the same
 * numbers as the CLI, the status bar and the panel.
 */
import type { EvidenceSpan } from './findings';
import { formatBytes as fmtGB, formatDuration as fmtS, formatJoules as fmtJ, formatPct as fmtPct, formatWatts as fmtW } from '../units/format';

// The shared formatters under the names the telemetry module has always exported them by.
export { formatDuration as formatDurationS, formatJoules as formatEnergyJ, formatPct, formatWatts as formatPowerW, formatBytes as formatGB } from '../units/format';

/** A finding's title (one line, the editor's hover and the panel's list) and its full message. */
export interface FindingText {
  title: string;
  message: string;
}

/** A message lists this many stretches' times, then "...": the evidence lists the rest. */
export const MAX_RANGES_SHOWN = 4;

/** `5.0-9.0 s, 24.7-30.0 s`, the first few stretches of a finding. */
export function spanRanges(spans: EvidenceSpan[]): string {
  const shown = spans.slice(0, MAX_RANGES_SHOWN).map((x) => `${x.startS.toFixed(1)}-${x.endS.toFixed(1)} s`);
  return spans.length > MAX_RANGES_SHOWN ? `${shown.join(', ')}, ...` : shown.join(', ');
}

// ---------------------------------------------------------------------------------------------
// How the waste of low time was computed (see detectors.ts, lowTimeWaste)

/** The idle-floor model's method text: {@link starvedWasteJ} summed over the stretches. */
export function floorWasteMethod(f: {
  floorW: number;
  timeS: number;
  utilPct: number;
  fedUtilPct: number;
  wastedJ: number;
  /** What the stretches are, in words: "the dips", "the starved time". */
  what: string;
  /** Stretches where floor x time exceeded the energy drawn, of `stretches`. */
  capped: number;
  stretches: number;
}): string {
  const fed = f.fedUtilPct;
  const cappedText =
    f.capped > 0 ? ` ${f.capped === f.stretches ? 'The' : `In ${f.capped} of the ${f.stretches} stretches the`} floor x time exceeded the energy drawn, so the energy stands in for it.` : '';
  return (
    `Idle floor x time x (1 - util / fed util): ${fmtW(f.floorW)} x ${fmtS(f.timeS)} x (1 - ${fmtPct(f.utilPct)} / ${fmtPct(fed)}) = ${fmtJ(f.wastedJ)}. ` +
    `A fed loop does the same work (the same energy above the floor) with a kernel running ${fmtPct(fed)} of the time (NVML util), ` +
    `so it pays the floor only for ${fmtPct(fed > 0 ? Math.min(100, (100 * f.utilPct) / fed) : 100)} of ${f.what}; the rest of the floor is waste.${cappedText}`
  );
}

/** The method text without an idle floor: the energy above what the work needs at the power limit. */
export function workCreditMethod(f: { what: string; energyJ: number; utilPct: number; timeS: number; limitW: number | undefined; wastedJ: number }): string {
  return f.limitW === undefined
    ? `Energy in ${f.what} (${fmtJ(f.energyJ)}): no idle floor and no power limit to credit its work.`
    : `Energy in ${f.what} minus what its work (util x time) would need at the power limit at 100 % util (no idle floor estimate): ` +
        `${fmtJ(f.energyJ)} - ${fmtPct(f.utilPct)} x ${fmtS(f.timeS)} x ${fmtW(f.limitW)} / 100 % = ${fmtJ(f.wastedJ)}.`;
}

// ---------------------------------------------------------------------------------------------
// One builder per finding, in the order the detectors run

export const SLOW_START_METHOD =
  'All energy before the first kernel (first sample with util > 0): the GPU did no work in it, though part of a start-up is unavoidable.';

export function slowStartText(gpu: number, f: { durS: number; avgPowerW: number; energyJ: number; sharePct: number }): FindingText {
  return {
    title: `GPU ${gpu} waited ${fmtS(f.durS)} for its first kernel`,
    message:
      `GPU ${gpu} ran no kernel for the first ${fmtS(f.durS)} of the run (imports, CUDA initialisation, data set-up; ` +
      `${fmtW(f.avgPowerW)}): ${fmtJ(f.energyJ)}, ${fmtPct(f.sharePct)} of the run's energy.`,
  };
}

export function periodicStallText(
  gpu: number,
  f: { count: number; periodS: number; dipMedianS: number; utilPct: number; powerW: number; timeS: number; energyJ: number; sharePct: number },
): FindingText {
  return {
    title: `GPU ${gpu} stalled ${f.count} times, every ${fmtS(f.periodS)}`,
    message:
      `GPU ${gpu} stalled ${f.count} times, about every ${fmtS(f.periodS)} for ${fmtS(f.dipMedianS)} each ` +
      `(util ${fmtPct(f.utilPct)}, ${fmtW(f.powerW)}): ${fmtS(f.timeS)} in all, ${fmtJ(f.energyJ)}, ${fmtPct(f.sharePct)} of the run's energy.`,
  };
}

export const IDLE_TIME_METHOD = 'All energy in the idle time (no kernel ran, so no work is credited).';

/** gpu-starved and gpu-idle, between kernels or after the last one. */
export function lowTimeText(
  gpu: number,
  f: {
    starved: boolean;
    afterLastKernel: boolean;
    spans: EvidenceSpan[];
    timeS: number;
    utilPct: number;
    powerW: number;
    /** Shown for starved time only: the reference of its waste. */
    idleFloorW: number | undefined;
    energyJ: number;
    sharePct: number;
  },
): FindingText {
  const verb = f.starved ? 'starved' : 'idle';
  const where = f.afterLastKernel ? ' after its last kernel until the process exited' : '';
  const ev = f.spans;
  const inSpans = ev.length > 1 ? ` in ${ev.length} stretches (${spanRanges(ev)})` : ` (${spanRanges(ev)})`;
  const floorText = f.starved && f.idleFloorW !== undefined ? `, idle floor ${fmtW(f.idleFloorW)}` : '';
  return {
    title: `GPU ${gpu} ${verb} ${fmtS(f.timeS)}${f.afterLastKernel ? ' before exit' : ''}`,
    message:
      `GPU ${gpu} was ${verb} for ${fmtS(f.timeS)}${where}${inSpans}: util ${fmtPct(f.utilPct)}, ${fmtW(f.powerW)}${floorText}; ` +
      `${fmtJ(f.energyJ)}, ${fmtPct(f.sharePct)} of the run's energy.`,
  };
}

export const MEMORY_UNDERUSED_METHOD =
  'Not measured: unused memory is an opportunity (a larger batch usually raises throughput per joule), not energy spent.';

export function memoryUnderusedText(gpu: number, f: { peakBytes: number; totalBytes: number; busyS: number; busyW: number; limitW: number | undefined }): FindingText {
  const frac = f.peakBytes / f.totalBytes;
  const limitText = f.limitW === undefined ? '' : ` of its ${fmtW(f.limitW)} limit`;
  return {
    title: `GPU ${gpu} used ${fmtPct(100 * frac)} of its memory`,
    message:
      `GPU ${gpu} used at most ${fmtGB(f.peakBytes)} of ${fmtGB(f.totalBytes)} (${fmtPct(100 * frac)}) while busy for ${fmtS(f.busyS)}, ` +
      `drawing ${fmtW(f.busyW)}${limitText}: a larger batch would likely do more work per joule.`,
  };
}

export const THROTTLE_POWER_METHOD = 'None: power capping limits power, it does not spend energy without work.';
export const THROTTLE_THERMAL_METHOD = 'Not estimated: throttling lengthens the run, but the extra energy is not separable from the telemetry.';

export function throttleText(
  gpu: number,
  f: { isPower: boolean; limitW: number | undefined; timeS: number; shareOfBusy: number; powerW: number; clockMhz: number | undefined; tempC: number | undefined },
): FindingText {
  const clockText = f.clockMhz === undefined ? '' : `, SM clock ${f.clockMhz.toFixed(0)} MHz`;
  const share = fmtPct(100 * f.shareOfBusy);
  return {
    title: `GPU ${gpu} ${f.isPower ? 'power-capped' : 'thermally throttled'} ${share} of busy time`,
    message: f.isPower
      ? `GPU ${gpu} ran at its power cap${f.limitW === undefined ? '' : ` (${fmtW(f.limitW)})`} for ${fmtS(f.timeS)}, ${share} of its busy time (${fmtW(f.powerW)}${clockText}). ` +
        'Capping is not waste; a lower cap often saves energy for little slowdown.'
      : `GPU ${gpu} was thermally throttled for ${fmtS(f.timeS)}, ${share} of its busy time (${fmtW(f.powerW)}${clockText}` +
        `${f.tempC === undefined ? '' : `, up to ${f.tempC.toFixed(0)} deg C`}): the run is slowed by cooling.`,
  };
}

export const GPU_UNUSED_METHOD = 'All energy of the GPU during the run: it did no work.';

export function gpuUnusedText(gpu: number, f: { durS: number; avgPowerW: number; peakMemBytes: number; energyJ: number; sharePct: number }): FindingText {
  return {
    title: `GPU ${gpu} never ran a kernel`,
    message:
      `GPU ${gpu} was attributed to the run but ran no kernel in ${fmtS(f.durS)} (util 0 %, ${fmtW(f.avgPowerW)}` +
      `${f.peakMemBytes > 0 ? `, up to ${fmtGB(f.peakMemBytes)} in use` : ''}): ${fmtJ(f.energyJ)}, ${fmtPct(f.sharePct)} of the run's energy.`,
  };
}

/** `restW`: the power before the run opened a context, when known. */
export function idleAfterRunText(gpu: number, f: { heldBytes: number; timeS: number; powerW: number; restW: number | undefined }): FindingText {
  return {
    title: `GPU ${gpu} still holds ${fmtGB(f.heldBytes)} after the run`,
    message:
      `After the run exited, GPU ${gpu} stayed idle for ${fmtS(f.timeS)} with ${fmtGB(f.heldBytes)} more memory in use than before it ` +
      `(${fmtW(f.powerW)}${f.restW === undefined ? '' : ` vs ${fmtW(f.restW)} before the run`}): a leftover process (e.g. DataLoader workers, a notebook kernel) may hold the GPU.`,
  };
}

export function idleAfterRunMethod(restW: number | undefined): string {
  return restW === undefined
    ? 'All energy while the memory stayed held after exit.'
    : `Energy after exit above the power drawn before the run opened a context (${fmtW(restW)}).`;
}

/**
 * A finding measured on buckets says so where it says how its figures were computed: its times
 * are bucket edges, and a dip shorter than a bucket shows only in the bucket's mean.
 */
export function bucketNote(bucketMs: number, samples: number): string {
  return (
    `Measured on ${fmtS(bucketMs / 1000)} averages of the samples (the run has ${samples.toLocaleString('en-US')} samples of this GPU; ` +
    'longer runs are analysed on wider averages, so memory stays bounded); energies between bucket edges are exact.'
  );
}
