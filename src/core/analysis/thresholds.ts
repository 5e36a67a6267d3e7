/**
 * The telemetry detectors' tunables and their defaults. Each default says where its value comes
 * from: a measurement (the recorded H200 trace in media/traces, the starved/fed runs in the README),
 * an NVML definition, or a stated judgment. The README's "Definitions" and "Finding:" sections
 * document the same numbers for users; test/unit/analysis/telemetry.test.ts pins their effect.
 */

/** Tunables of the detectors. Every field has a default in `DEFAULT_THRESHOLDS`. */
export interface Thresholds {
  /** A sample at or below this util is idle. */
  idleUtilPct: number;
  /** A sample at or below this util is low (idle or starved), whatever its neighbours. */
  starvedUtilPct: number;
  /** A sample is also low when the mean util over the window centred on it is at or below this. */
  starvedWindowUtilPct: number;
  /** Width of that window (s). */
  utilWindowS: number;
  /**
   * The util a fed loop reaches, the reference of the starved waste: NVML's util is the share of
   * time a kernel was running, so 100 % is a GPU that always has a kernel queued.
   */
  fedUtilPct: number;
  /** A low stretch with at least this average util did measurable work: starved, not idle. */
  starvedMinUtilPct: number;
  /** A low stretch whose median power exceeds the idle floor by max(W, fraction x floor) is starved. */
  starvedPowerMarginW: number;
  starvedPowerMarginFraction: number;
  /** Overrides the idle floor estimated from the data (W). */
  idlePowerW: number | undefined;
  /** Idle/starved/throttle stretches shorter than this are not reported on their own. */
  minSpanS: number;
  /** Low stretches closer than this merge when the merged stretch stays at or below `starvedUtilPct`. */
  mergeGapS: number;
  /** Start-up longer than this (first sample to first kernel) is reported. */
  slowStartS: number;
  /** Peak memory during busy time at or below this share of capacity is "underused". */
  memUnderusedFraction: number;
  /** Busy time needed before memory headroom is judged. */
  memMinBusyS: number;
  /** Busy power at or above this share of the power limit is full load: no memory finding then. */
  fullLoadPowerFraction: number;
  /** Periodic stalls: at least this many dips, each at most `periodicMaxDipS` long, ... */
  periodicMinCount: number;
  periodicMaxDipS: number;
  /** ... at least `periodicRegularFraction` of the spacings within +-`periodicTolerance` of the median, ... */
  periodicTolerance: number;
  periodicRegularFraction: number;
  /** ... and the dips fill at least this share of the time from the first dip to the last. */
  periodicMinShare: number;
  /** Throttling is reported when this share of busy time carries the clock-event bit. */
  throttleMinShare: number;
  /** Memory held after exit above the pre-run level by at least this much is a leak candidate. */
  leakMinBytes: number;
  /** Idle/starved/stall findings wasting at least this share of the run's energy are warnings. */
  warnShareOfRunPct: number;
}

/** Defaults; chosen on the recorded H200 trace and synthetic runs (see the unit tests). */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  // NVML reports util in whole percent: 0 is "no kernel ran in the sample period" (nvmlUtilization_t).
  idleUtilPct: 0,
  // Starved loops measured at 10-22 % util per epoch (README, "Definitions"): a sample at or below
  // 20 % is low on its own; the window below catches the loops' bursts above it.
  starvedUtilPct: 20,
  // Starved loops measured at 10-22 % util per epoch (H200 13.8 %, H100 18.9-21.7 %, README),
  // their fed versions at 36-66 % per epoch, start-up included: 30 % lies between. A 2 s window
  // spans several steps of such loops, so its mean stays near the loop's duty cycle.
  starvedWindowUtilPct: 30,
  utilWindowS: 2,
  // NVML's util is the share of time a kernel ran: 100 % is a GPU never waiting on the host.
  fedUtilPct: 100,
  // The smallest non-zero NVML util reading: any measurable work makes a low stretch starved.
  starvedMinUtilPct: 1,
  // Judgment, checked on the recorded H200 trace (idle 125-127 W after CUDA init): a stretch 25 W
  // or 20 % above the floor draws clearly more than idle; readings jitter by a few watts.
  starvedPowerMarginW: 25,
  starvedPowerMarginFraction: 0.2,
  // Estimated per GPU from the data (see gpuContext.ts) unless set.
  idlePowerW: undefined,
  // Judgment: ten ticks at the default 100 ms interval (telemetry.test.ts, "does not report a short dip").
  minSpanS: 1,
  // Same scale as minSpanS: one busy second between two dips keeps them apart.
  mergeGapS: 1,
  // Judgment: part of a start-up is unavoidable; 3 s lets a short one pass, while the recorded H200
  // trace's 4.8 s start-up is reported (trace.test.ts).
  slowStartS: 3,
  // Judgment, documented in README "Finding: memory-underused": under 40 % of capacity leaves room
  // for at least a doubled batch.
  memUnderusedFraction: 0.4,
  // Judgment: memory is read once a second (detail ticks), so 5 s gives a handful of readings.
  memMinBusyS: 5,
  // Judgment, documented in README "Finding: memory-underused": at 85 % of the power limit a
  // larger batch buys little, the GPU is near saturation.
  fullLoadPowerFraction: 0.85,
  // README "Finding: periodic-stall": at least 4 dips of at most 30 s (evaluation every N steps
  // fits), 75 % of the spacings within 25 % of the median, at least 5 % of the time they span.
  periodicMinCount: 4,
  periodicMaxDipS: 30,
  periodicTolerance: 0.25,
  periodicRegularFraction: 0.75,
  periodicMinShare: 0.05,
  // Judgment, documented in README "Finding: throttle-power": at least 10 % of busy time.
  throttleMinShare: 0.1,
  // Judgment, no measurement behind it: half a GiB held after exit is worth a look; less is not reported.
  leakMinBytes: 512 * 1024 * 1024,
  // README "Definitions": waste of at least 5 % of the run's energy makes a finding a warning.
  warnShareOfRunPct: 5,
});

/** The given overrides without their undefined fields, so they do not hide the defaults. */
export function withDefaults(thresholds?: Partial<Thresholds>): Thresholds {
  const out: Partial<Thresholds> = {};
  for (const [k, v] of Object.entries(thresholds ?? {})) if (v !== undefined) Object.assign(out, { [k]: v });
  return { ...DEFAULT_THRESHOLDS, ...out };
}
