import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuInfo, GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';
import { isAlive as isProcessAlive } from './processes';
import { encodeSample } from './sampleCodec';
import type { ReadStats } from './sampleReader';
import { forEachBatchSync, newReadStats, rowToSample, streamSampleBatches, streamSampleRows } from './sampleReader';
import type { RunFigures } from './summary';
import { SummaryAccumulator } from './summary';
import type { RunRecord, RunSummary } from './types';

/**
 * On-disk run format (shared by the CLI and the extension; see README "Run history format"):
 *
 *   <root>/<run id>/run.json       RunSummary + `gpus` + `monitorPid`; rewritten atomically (tmp + rename)
 *   <root>/<run id>/samples.jsonl  append-only, one line per sampler batch:
 *                                  {"s":[[tMs,gpu,powerMw,utilPct,memUtilPct,memUsedB,smMhz,memMhz,tempC,reasons,limitMw,pstate,energyMj,avgPowerMw],...],
 *                                   "p":[[gpu,tMs,powerMw],...], "g":[gap,...]}   (null = not measured)
 *   <root>/<run id>/output.log     the run's output (capped; the tail is kept)
 *
 * Appends are flushed to the OS at least once a second, so a killed editor loses at most the last
 * second; a record still marked `running` whose monitor process is gone is recovered as `interrupted`.
 */
/** run.json: the summary plus what is needed to recover or re-analyse the run. */
export interface StoredRun extends RunSummary {
  gpus: RunSummary['gpus'];
  gpuInfo: GpuInfo[];
  runGpus: number[];
  monitorPid: number;
  monitorHost: string;
}

/** Retention: the oldest finished runs go first once either bound is exceeded. */
export interface Retention {
  maxRuns?: number;
  maxBytes?: number;
}

/** Default store of the CLI: $JOULES_HOME, else the platform's per-user data folder. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.JOULES_HOME) return path.join(env.JOULES_HOME, 'runs');
  if (platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'joules', 'runs');
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'joules', 'runs');
  return path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'joules', 'runs');
}

/** Writer for one run in progress. */
export class RunWriter {
  private pending: string[] = [];
  private outputPending = '';
  private outputBytes = 0;
  private outputTail = '';
  private outputTruncated = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly maxOutputBytes: number,
    private readonly tailBytes: number,
  ) {
    // Flush at least once a second (README: crash safety).
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  /** The run's samples file (complete on disk after {@link flush}). */
  get samplesFile(): string {
    return path.join(this.dir, 'samples.jsonl');
  }

  writeMeta(run: StoredRun): void {
    writeJsonAtomic(path.join(this.dir, 'run.json'), run);
  }

  appendBatch(samples: GpuSample[], powerPoints: PowerPoint[], gaps: SampleGap[]): void {
    if (this.closed || (samples.length === 0 && powerPoints.length === 0 && gaps.length === 0)) return;
    const line: Record<string, unknown> = { s: samples.map(encodeSample) };
    if (powerPoints.length) line.p = powerPoints.map((p) => [p.gpu, round3(p.tMs), p.powerMilliwatts]);
    if (gaps.length) line.g = gaps;
    this.pending.push(JSON.stringify(line));
  }

  appendOutput(text: string): void {
    if (this.closed) return;
    this.outputTail = (this.outputTail + text).slice(-this.tailBytes);
    const bytes = Buffer.byteLength(text);
    if (this.outputBytes + bytes <= this.maxOutputBytes) {
      this.outputPending += text;
      this.outputBytes += bytes;
    } else {
      this.outputTruncated += bytes;
    }
  }

  /** Output tail kept in memory (last `tailBytes`). */
  tail(): string {
    return this.outputTail;
  }

  flush(): void {
    if (this.pending.length) {
      fs.appendFileSync(path.join(this.dir, 'samples.jsonl'), this.pending.join('\n') + '\n');
      this.pending = [];
    }
    if (this.outputPending) {
      fs.appendFileSync(path.join(this.dir, 'output.log'), this.outputPending);
      this.outputPending = '';
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.outputTruncated > 0) {
      const note = `\n[joules: output exceeded ${this.maxOutputBytes} bytes; ${this.outputTruncated} bytes omitted; last part follows]\n`;
      fs.appendFileSync(path.join(this.dir, 'output.log'), note + this.outputTail);
    }
  }
}

/** The run history on disk. */
export class RunStore {
  constructor(readonly root: string) {}

  /** Create the folder of a new run. */
  create(id: string, maxOutputBytes = 8 * 1024 * 1024, tailBytes = 64 * 1024): RunWriter {
    const dir = path.join(this.root, id);
    fs.mkdirSync(dir, { recursive: true });
    return new RunWriter(dir, maxOutputBytes, tailBytes);
  }

  private runDir(id: string): string {
    // Ids come from users (CLI arguments, webview messages): never let one escape the store.
    if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..') throw new Error(`invalid run id: ${JSON.stringify(id)}`);
    return path.join(this.root, id);
  }

  /** A run's samples file (every sample it stored; may not exist for a run that ended at once). */
  samplesFile(id: string): string {
    return path.join(this.runDir(id), 'samples.jsonl');
  }

  /**
   * A stored run's samples as an async stream of batches (about 8,192 samples each), read in
   * chunks: for consumers that must not hold a whole day-long run (the panel's data path).
   * Malformed lines are skipped and counted in `stats`; rejects when the file cannot be read.
   */
  streamSamples(id: string, stats?: ReadStats): AsyncGenerator<SampleBatch> {
    return streamSampleBatches(this.samplesFile(id), stats);
  }

  /** Summaries of all runs, newest first. Unreadable records are skipped, not fatal. */
  list(): StoredRun[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
    }
    const runs: StoredRun[] = [];
    for (const name of names) {
      const meta = this.readMeta(name);
      if (meta) runs.push(meta);
    }
    return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  }

  readMeta(id: string): StoredRun | undefined {
    try {
      const o = JSON.parse(fs.readFileSync(path.join(this.runDir(id), 'run.json'), 'utf8')) as StoredRun;
      return o && o.schema === 1 && typeof o.id === 'string' ? o : undefined;
    } catch {
      return undefined;
    }
  }

  /** The full record; undefined when there is no such run. */
  load(id: string): (RunRecord & { powerPoints: PowerPoint[]; gaps: SampleGap[]; stored: StoredRun }) | undefined {
    const meta = this.readMeta(id);
    if (!meta) return undefined;
    const dir = this.runDir(id);
    const { samples, powerPoints, gaps } = readSamples(path.join(dir, 'samples.jsonl'));
    let outputTail = '';
    try {
      const out = fs.readFileSync(path.join(dir, 'output.log'), 'utf8');
      outputTail = out.slice(-64 * 1024);
    } catch {
      outputTail = '';
    }
    return { summary: meta, gpus: meta.gpuInfo, samples, outputTail, powerPoints, gaps, stored: meta };
  }

  delete(id: string): boolean {
    const dir = this.runDir(id);
    if (!fs.existsSync(path.join(dir, 'run.json'))) return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }

  /**
   * Records left `running` by a monitor that no longer exists (VS Code or the CLI was killed):
   * mark them `interrupted`, with figures recomputed from every sample flushed before the end.
   * The samples are streamed through bounded accumulators (a 24 h 8-GPU run costs what a 1 min
   * run does). A read that fails, or that finds no sample in a non-empty file, never overwrites
   * the record: it is left as it was (and tried again next time) and listed in `failed`.
   */
  async recoverInterrupted(isAlive: (pid: number) => boolean = isProcessAlive): Promise<StoredRun[]> {
    return (await this.recoverInterruptedDetailed(isAlive)).recovered;
  }

  /** {@link recoverInterrupted}, with the runs whose samples could not be read. */
  async recoverInterruptedDetailed(isAlive: (pid: number) => boolean = isProcessAlive): Promise<{ recovered: StoredRun[]; failed: Array<{ id: string; error: string }> }> {
    const recovered: StoredRun[] = [];
    const failed: Array<{ id: string; error: string }> = [];
    for (const meta of this.list()) {
      if (meta.status !== 'running') continue;
      if (meta.monitorHost === os.hostname() && meta.monitorPid !== process.pid && isAlive(meta.monitorPid)) continue;
      if (meta.monitorHost === os.hostname() && meta.monitorPid === process.pid) continue;
      const file = path.join(this.runDir(meta.id), 'samples.jsonl');
      let figures: Awaited<ReturnType<typeof recoverFigures>>;
      try {
        figures = await recoverFigures(file, meta);
      } catch (e) {
        failed.push({ id: meta.id, error: (e as Error).message });
        continue;
      }
      // Re-read: the record must not have changed (finished by its monitor) while we streamed.
      const now = this.readMeta(meta.id);
      if (!now || now.status !== 'running') continue;
      const fixed: StoredRun = { ...now, ...figures.summary, status: 'interrupted', exitCode: null };
      if (figures.stats.malformedLines) {
        fixed.errors = { ...(fixed.errors ?? {}), 'store: malformed sample lines skipped': figures.stats.malformedLines };
      }
      writeJsonAtomic(path.join(this.runDir(meta.id), 'run.json'), fixed);
      recovered.push(fixed);
    }
    return { recovered, failed };
  }

  /** Apply retention; returns the ids deleted. Running runs are never deleted. */
  prune(retention: Retention): string[] {
    const runs = this.list(); // newest first
    const deleted: string[] = [];
    let total = 0;
    let kept = 0;
    for (const run of runs) {
      const size = dirSize(this.runDir(run.id));
      const overCount = retention.maxRuns !== undefined && kept >= retention.maxRuns;
      const overSize = retention.maxBytes !== undefined && total + size > retention.maxBytes && kept > 0;
      if (run.status !== 'running' && (overCount || overSize)) {
        this.delete(run.id);
        deleted.push(run.id);
      } else {
        total += size;
        kept++;
      }
    }
    return deleted;
  }
}

/**
 * Read samples.jsonl whole (exports, small runs), in chunks, never as one string. Malformed
 * lines (a torn last line after a crash) are skipped and counted in `stats`. A missing file is
 * an empty run.
 */
export function readSamples(file: string, stats: ReadStats = newReadStats()): { samples: GpuSample[]; powerPoints: PowerPoint[]; gaps: SampleGap[] } {
  const samples: GpuSample[] = [];
  const powerPoints: PowerPoint[] = [];
  const gaps: SampleGap[] = [];
  try {
    forEachBatchSync(
      file,
      (b) => {
        for (const x of b.samples) samples.push(x);
        for (const p of b.powerPoints) powerPoints.push(p);
        for (const g of b.gaps) gaps.push(g);
      },
      stats,
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { samples, powerPoints, gaps };
}

/** The figures of an interrupted run from its samples file, streamed. Throws when nothing usable was read. */
async function recoverFigures(file: string, meta: StoredRun): Promise<{ summary: RunFigures; stats: ReadStats }> {
  const acc = new SummaryAccumulator(meta.gpuInfo);
  const energies = new Map<number, number>();
  for (const g of meta.gpuInfo) energies.set(g.index, 0);
  let lastMs = 0;
  let samples = 0;
  const stats = newReadStats();
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (size > 0) {
    // Each row's sample object dies young: nothing per sample outlives its row.
    await streamSampleRows(
      file,
      {
        row: (v, o) => {
          const x = rowToSample(v, o);
          acc.add(x);
          samples++;
          if (x.tMs > lastMs) lastMs = x.tMs;
          // The counter is cumulative: the last reading of each GPU is its energy.
          if (x.energyMillijoules !== undefined) energies.set(x.gpu, x.energyMillijoules);
        },
        point: (gpu, tMs, powerMilliwatts) => acc.addPowerPoint({ gpu, tMs, powerMilliwatts }),
      },
      stats,
    );
    if (samples === 0) throw new Error(`no readable sample in ${size} bytes (${stats.malformedLines} malformed lines)`);
  }
  return { summary: acc.result({ gpus: meta.gpuInfo, energiesMj: energies, runGpus: meta.runGpus, durationMs: lastMs }), stats };
}

export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1));
  fs.renameSync(tmp, file);
}

function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const f of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, f)).size;
  } catch {
    return total;
  }
  return total;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
