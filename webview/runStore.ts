/**
 * One run's data in the panel: every sample kept in typed columns (56 bytes per GPU sample, so an
 * hour at 10 Hz on 8 GPUs is about 16 MB, 32 MB with the columns' growth headroom), plus incremental min/max decimators that hand the
 * charts a few points per pixel column. The RunView's sample objects are not retained.
 */
import type { GpuInfo, GpuSample, SampleGap } from '../src/core/sampler/types';
import { runWastedJ } from '../src/core/analysis/findings';
import type { FindingView, LiveFiguresView, MarkerView, RunSummaryView, RunView, StepPoint } from '../src/core/protocol/panel';
import { MinMaxBuckets } from '../src/core/protocol/decimate';
import { LiveStats } from '../src/core/protocol/liveStats';
import { rangeViewColumns } from '../src/core/protocol/panel';
import { samplesOfColumns } from '../src/core/runs/minMaxView';
import type { LiveFigures } from '../src/core/protocol/liveStats';

export const gpuMetrics = ['power', 'util', 'mem', 'sm', 'temp', 'energy'] as const;
export type GpuMetric = (typeof gpuMetrics)[number];

/** Smallest bucket, in seconds: finer than any sampling interval, so short runs are drawn point for point. */
const initialBucketS = 1 / 1024;
/** Memory is shown in GiB, as nvidia-smi's MiB and the cards' nominal sizes (an H200's "141 GB" is 140.4 GiB) suggest. */
const gib = 1024 ** 3;

/** A growable Float64 column. (Float32 would halve the memory but shift readings such as 84.403 W.) */
export class Column {
  private buf: Float64Array;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Float64Array(capacity);
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  get data(): Float64Array {
    return this.buf;
  }

  get bytes(): number {
    return this.buf.byteLength;
  }
}

function newDecimators(maxBuckets: number): Record<GpuMetric, MinMaxBuckets> {
  return {
    power: new MinMaxBuckets(maxBuckets, initialBucketS),
    util: new MinMaxBuckets(maxBuckets, initialBucketS),
    mem: new MinMaxBuckets(maxBuckets, initialBucketS),
    sm: new MinMaxBuckets(maxBuckets, initialBucketS),
    temp: new MinMaxBuckets(maxBuckets, initialBucketS),
    energy: new MinMaxBuckets(maxBuckets, initialBucketS),
  };
}

export class GpuSeries {
  /** Seconds since the run's start. */
  readonly t = new Column();
  readonly cols: Record<GpuMetric, Column> = {
    power: new Column(),
    util: new Column(),
    mem: new Column(),
    sm: new Column(),
    temp: new Column(),
    energy: new Column(),
  };
  readonly max: Record<GpuMetric, number> = { power: NaN, util: NaN, mem: NaN, sm: NaN, temp: NaN, energy: NaN };
  dec: Record<GpuMetric, MinMaxBuckets>;
  lastTMs = -1;
  powerLimitW: number | undefined;

  constructor(readonly index: number, readonly info: GpuInfo | undefined, maxBuckets: number) {
    this.dec = newDecimators(maxBuckets);
    this.powerLimitW = info?.powerLimitMilliwatts === undefined ? undefined : info.powerLimitMilliwatts / 1000;
  }

  get name(): string {
    return this.info?.name ?? `GPU ${this.index}`;
  }

  get memTotalGiB(): number | undefined {
    return this.info?.memTotalBytes === undefined ? undefined : this.info.memTotalBytes / gib;
  }

  add(tS: number, values: Record<GpuMetric, number>): void {
    this.t.push(tS);
    for (const m of gpuMetrics) {
      const v = values[m];
      this.cols[m].push(v);
      this.dec[m].push(tS, v);
      // max starts as NaN, which `v <= NaN` treats as "no maximum yet".
      if (!Number.isNaN(v) && !(v <= this.max[m])) this.max[m] = v;
    }
  }

  rebuild(maxBuckets: number): void {
    this.dec = newDecimators(maxBuckets);
    const t = this.t.data;
    for (const m of gpuMetrics) {
      const d = this.dec[m];
      const col = this.cols[m].data;
      for (let i = 0; i < this.t.length; i++) d.push(t[i] as number, col[i] as number);
    }
  }
}

/** Totals over all GPUs, one point per sampler tick. */
export class TotalSeries {
  readonly t = new Column();
  readonly powerW = new Column();
  readonly energyJ = new Column();
  decPower: MinMaxBuckets;
  decEnergy: MinMaxBuckets;

  constructor(maxBuckets: number) {
    this.decPower = new MinMaxBuckets(maxBuckets, initialBucketS);
    this.decEnergy = new MinMaxBuckets(maxBuckets, initialBucketS);
  }

  add(tS: number, powerW: number, energyJ: number): void {
    this.t.push(tS);
    this.powerW.push(powerW);
    this.energyJ.push(energyJ);
    this.decPower.push(tS, powerW);
    this.decEnergy.push(tS, energyJ);
  }

  rebuild(maxBuckets: number): void {
    this.decPower = new MinMaxBuckets(maxBuckets, initialBucketS);
    this.decEnergy = new MinMaxBuckets(maxBuckets, initialBucketS);
    for (let i = 0; i < this.t.length; i++) {
      this.decPower.push(this.t.data[i] as number, this.powerW.data[i] as number);
      this.decEnergy.push(this.t.data[i] as number, this.energyJ.data[i] as number);
    }
  }
}

/** What the summary cards show: the host's figures once the run is over, running figures before. */
export interface DisplayFigures {
  source: 'live' | 'host';
  durationS: number;
  energyJ: number;
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct: number | undefined;
  /** From the summary, else the findings' avoidable energy; undefined when neither exists. */
  idleEnergyJ: number | undefined;
}

export class RunStore {
  summary: RunSummaryView;
  readonly gpuInfo: GpuInfo[];
  readonly series = new Map<number, GpuSeries>();
  readonly total: TotalSeries;
  readonly stats: LiveStats;
  markers: MarkerView[];
  steps: StepPoint[];
  findings: FindingView[];
  gaps: SampleGap[];
  sampleCount = 0;
  /** Samples refused because their GPU already had one at that time or later (a re-sent batch). */
  duplicates = 0;
  /** Live run: the last batch included (the snapshot's `seq`, then each batch's). */
  seq = 0;
  duplicateBatches = 0;
  gapBatches = 0;
  /** Live run: the host's live figures (the same model the status bar reads). */
  private hostLive: LiveFiguresView | undefined;
  /** Bumped on every change; views redraw when it moved. */
  version = 0;
  /** Bumped when bands change (findings, gaps). */
  overlayVersion = 0;
  private maxBuckets: number;

  constructor(run: RunView, maxBuckets: number) {
    this.maxBuckets = maxBuckets;
    this.summary = run.summary;
    this.gpuInfo = [...run.gpus].sort((a, b) => a.index - b.index);
    this.total = new TotalSeries(maxBuckets);
    this.stats = new LiveStats((tMs, w, j) => this.total.add(tMs / 1000, w, j));
    // Totals count the run's GPUs, as its summary does (a live run's are known once attributed).
    this.stats.setCounted(run.summary.countedGpus ?? run.live?.countedGpus);
    this.markers = [...(run.markers ?? [])].sort((a, b) => a.tS - b.tS);
    this.steps = [...(run.steps ?? [])].sort((a, b) => a.tS - b.tS);
    this.findings = run.findings ?? [];
    this.seq = run.seq ?? 0;
    this.hostLive = run.live;
    this.gaps = run.gaps ?? [];
    for (const g of this.gpuInfo) this.series.set(g.index, new GpuSeries(g.index, g, maxBuckets));
    this.ingest(run.samples);
    // A stored run's overview or a zoomed range comes as min/max columns: drawn as their samples.
    if (run.drawing) this.ingest(samplesOfColumns(rangeViewColumns(run.drawing)));
    if (run.summary.status !== 'running') this.stats.endTick();
  }

  get id(): string {
    return this.summary.id;
  }

  get running(): boolean {
    return this.summary.status === 'running';
  }

  /** GPU series in NVML index order. */
  gpuList(): GpuSeries[] {
    return [...this.series.values()].sort((a, b) => a.index - b.index);
  }

  ingest(samples: readonly GpuSample[]): number {
    let accepted = 0;
    for (const s of samples) {
      let series = this.series.get(s.gpu);
      if (!series) {
        // A GPU the RunView did not list (e.g. hot-plugged); keep its data rather than drop it.
        series = new GpuSeries(s.gpu, undefined, this.maxBuckets);
        this.series.set(s.gpu, series);
      }
      if (s.tMs <= series.lastTMs) {
        this.duplicates++;
        continue;
      }
      series.lastTMs = s.tMs;
      const energyJ = this.stats.add(s);
      if (s.powerLimitMilliwatts !== undefined) series.powerLimitW = s.powerLimitMilliwatts / 1000;
      series.add(s.tMs / 1000, {
        power: s.powerMilliwatts === undefined ? NaN : s.powerMilliwatts / 1000,
        util: s.utilGpuPct ?? NaN,
        mem: s.memUsedBytes === undefined ? NaN : s.memUsedBytes / gib,
        sm: s.smClockMhz ?? NaN,
        temp: s.temperatureC ?? NaN,
        energy: s.powerMilliwatts === undefined && s.energyMillijoules === undefined ? NaN : energyJ,
      });
      accepted++;
    }
    this.sampleCount += accepted;
    if (accepted > 0 || samples.length > 0) this.version++;
    return accepted;
  }

  addGaps(gaps: readonly SampleGap[]): void {
    for (const g of gaps) {
      const open = this.gaps.find((x) => x.gpu === g.gpu && x.startMs === g.startMs);
      if (open) open.endMs = g.endMs;
      else this.gaps.push({ ...g });
    }
    if (gaps.length > 0) {
      this.version++;
      this.overlayVersion++;
    }
  }

  setHostLive(live: LiveFiguresView): void {
    this.hostLive = live;
    // From now on the totals count what the host counts (the run's GPUs once attributed).
    this.stats.setCounted(live.countedGpus);
    this.version++;
  }

  /** The GPUs the live figures count, when the host said. */
  get countedGpus(): readonly number[] | undefined {
    return this.running ? this.hostLive?.countedGpus : undefined;
  }

  setFindings(findings: FindingView[]): void {
    this.findings = findings;
    this.version++;
    this.overlayVersion++;
  }

  end(summary: RunSummaryView): void {
    this.summary = summary;
    if (summary.countedGpus) this.stats.setCounted(summary.countedGpus);
    this.stats.endTick();
    this.version++;
  }

  /** Rebuilds the decimators for a new chart width; skipped unless the width changed by more than a quarter. */
  setMaxBuckets(maxBuckets: number): boolean {
    const n = Math.max(16, Math.round(maxBuckets));
    if (n === this.maxBuckets || (Number.isFinite(n) && Number.isFinite(this.maxBuckets) && Math.abs(n - this.maxBuckets) <= this.maxBuckets / 4)) return false;
    this.maxBuckets = n;
    for (const s of this.series.values()) s.rebuild(n);
    this.total.rebuild(n);
    this.version++;
    return true;
  }

  get bucketLimit(): number {
    return this.maxBuckets;
  }

  /**
   * Right end of the shared time axis, seconds. While running it is rounded up to the bucket width
   * (at least 0.25 s), so on an hour-long run the axis, and with it every chart, moves once per
   * pixel column instead of on every batch.
   */
  xMaxS(): number {
    let t = this.running ? 0 : this.summary.durationS;
    for (const s of this.series.values()) t = Math.max(t, s.lastTMs / 1000);
    if (!this.running) return t;
    let q = 0.25;
    for (const s of this.series.values()) q = Math.max(q, s.dec.power.bucketWidth);
    return Math.ceil(t / q) * q;
  }

  liveFigures(): LiveFigures {
    return this.stats.figures();
  }

  /** Work of the live run so far (from the host's live figures), for the live J/unit cards. */
  liveWork(): LiveFiguresView['work'] {
    return this.running ? this.hostLive?.work : undefined;
  }

  figures(): DisplayFigures {
    // Counted once (overlaps and source findings that refer to telemetry add nothing): see runWastedJ.
    const findingsWaste = this.findings.length > 0 ? runWastedJ(this.findings) : undefined;
    const idleEnergyJ = this.summary.idleEnergyJ ?? findingsWaste;
    if (this.running) {
      // The host's live model counts the run's GPUs with the sampler's energy, as the status bar
      // does; the panel's own sums (over every GPU it was sent) are only a fallback.
      const h = this.hostLive;
      if (h) return { source: 'live', durationS: h.elapsedS, energyJ: h.energyJ, avgPowerW: h.avgPowerW, peakPowerW: h.peakPowerW, avgUtilPct: h.avgUtilPct, idleEnergyJ };
      const f = this.stats.figures();
      return { source: 'live', durationS: f.durationS, energyJ: f.energyJ, avgPowerW: f.avgPowerW, peakPowerW: f.peakPowerW, avgUtilPct: f.avgUtilPct, idleEnergyJ };
    }
    const s = this.summary;
    return { source: 'host', durationS: s.durationS, energyJ: s.energyJ, avgPowerW: s.avgPowerW, peakPowerW: s.peakPowerW, avgUtilPct: s.avgUtilPct, idleEnergyJ };
  }

  /** Bytes held in columns (for the benchmark's memory figures). */
  columnBytes(): number {
    let b = this.total.t.bytes + this.total.powerW.bytes + this.total.energyJ.bytes;
    for (const s of this.series.values()) {
      b += s.t.bytes;
      for (const m of gpuMetrics) b += s.cols[m].bytes;
    }
    return b;
  }
}
