import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuInfo, GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';
import type { MinMaxView } from './minMaxView';
import type { RunOverview } from './overview';
import { buildOverview, OffsetIndexBuilder, writeOverview } from './overview';
import { isAlive as isProcessAlive } from './processes';
import { encodeSample } from './sampleCodec';
import type { ReadStats } from './sampleReader';
import { forEachBatchSync, newReadStats, streamSampleBatches, yieldToLoop } from './sampleReader';
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
 *   <root>/<run id>/overview.bin   what the panel draws of the run + an offset index (overview.ts); a
 *                                  cache of samples.jsonl, rebuilt from it when missing or damaged
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

/** What a store tells its owner about writes that failed (disk full, folder removed, ...). */
export interface StoreOptions {
  /**
   * Called for every failed write with one line (e.g. `ENOSPC: no space left on device`). The run
   * goes on in memory and the writer retries each second; the owner decides how loudly to warn.
   */
  onWriteError?: (message: string, file: string) => void;
}

/**
 * Most unwritten sample lines held while writes fail (e.g. a full disk), ~64 MB: enough for hours
 * of one GPU at 10 Hz; beyond it the oldest are dropped (the summary is computed in memory anyway)
 * and the record notes the hole.
 */
const MAX_PENDING_CHARS = 64 * 1024 * 1024;

/** Writer for one run in progress. Never throws: failed writes are reported and retried. */
export class RunWriter {
  private pending: string[] = [];
  /** Per pending line: its samples and their time span (for the offset index). */
  private pendingSpans: Array<{ samples: number; minMs: number; maxMs: number }> = [];
  private pendingChars = 0;
  /** Bytes of samples.jsonl written so far: where the next line starts. */
  private samplesBytes = 0;
  private readonly index = new OffsetIndexBuilder();
  /** Gaps written (the overview carries them, so opening a run needs no scan for them). */
  private readonly gaps: SampleGap[] = [];
  /**
   * samples.jsonl no longer matches what went through the writer (a failed or torn append, lines
   * dropped on a full disk): no overview from memory then; the panel rebuilds it from the file.
   */
  private samplesDiverged = false;
  private droppedLines = 0;
  private outputPending = '';
  private outputBytes = 0;
  private outputTail = '';
  private outputTruncated = 0;
  /** output.log was emptied to keep run.json writable on a full disk. */
  private outputDropped = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Files whose last append failed: it may have left a torn line, so the next append starts a fresh one. */
  private readonly torn = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly maxOutputBytes: number,
    private readonly tailBytes: number,
    private readonly options: StoreOptions = {},
  ) {
    // Flush at least once a second (README: crash safety).
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  /** The run's samples file (complete on disk after {@link flush}). */
  get samplesFile(): string {
    return path.join(this.dir, 'samples.jsonl');
  }

  /** Sample lines lost because the disk refused them for too long (0 when the record is whole). */
  get droppedSampleLines(): number {
    return this.droppedLines;
  }

  /**
   * Rewrite run.json (atomically); false when it failed (reported through `onWriteError`). The
   * record matters more than Joules' own copy of the output: on a full disk, output.log (the
   * command's output, already shown to the user) is emptied to make room and the write retried.
   */
  writeMeta(run: StoredRun): boolean {
    const file = path.join(this.dir, 'run.json');
    try {
      writeJsonAtomic(file, run);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && this.releaseOutputLog()) return this.attempt(file, () => writeJsonAtomic(file, run));
      this.report(e, file);
      return false;
    }
  }

  /** Empty output.log to free space; true when it held anything. Further output is not logged. */
  private releaseOutputLog(): boolean {
    const log = path.join(this.dir, 'output.log');
    try {
      if (fs.statSync(log).size === 0) return false;
      fs.truncateSync(log, 0);
    } catch {
      return false;
    }
    this.outputPending = '';
    this.outputBytes = this.maxOutputBytes;
    this.outputDropped = true;
    this.torn.delete(log);
    return true;
  }

  appendBatch(samples: GpuSample[], powerPoints: PowerPoint[], gaps: SampleGap[]): void {
    if (this.closed || (samples.length === 0 && powerPoints.length === 0 && gaps.length === 0)) return;
    const line: Record<string, unknown> = { s: samples.map(encodeSample) };
    if (powerPoints.length) line.p = powerPoints.map((p) => [p.gpu, round3(p.tMs), p.powerMilliwatts]);
    if (gaps.length) line.g = gaps;
    const text = JSON.stringify(line);
    let minMs = Number.NaN;
    let maxMs = Number.NaN;
    for (const s of samples) {
      if (!(s.tMs >= minMs)) minMs = s.tMs;
      if (!(s.tMs <= maxMs)) maxMs = s.tMs;
    }
    this.pending.push(text);
    this.pendingSpans.push({ samples: samples.length, minMs, maxMs });
    this.pendingChars += text.length;
    for (const g of gaps) if (this.gaps.length < 100_000) this.gaps.push(g);
    while (this.pendingChars > MAX_PENDING_CHARS && this.pending.length > 1) {
      this.pendingChars -= this.pending.shift()!.length;
      this.pendingSpans.shift();
      this.droppedLines++;
      this.samplesDiverged = true;
    }
  }

  /**
   * Store the run's overview from `view` (the session's, fed every sample this writer was given)
   * and the offsets of the lines written: no pass over the samples. Call once the last samples
   * are flushed.
   * False when the file on disk may differ from what the view saw (then the overview is left to be
   * rebuilt from the file on first open) or the write failed (reported through `onWriteError`).
   */
  writeOverview(runId: string, view: MinMaxView): boolean {
    if (this.samplesDiverged || this.pending.length) return false;
    const overview: RunOverview = {
      runId,
      samples: view.sampleCount,
      samplesBytes: this.samplesBytes,
      malformedLines: 0,
      capacity: view.capacity,
      bucketMs: view.bucketMs,
      columns: view.allColumns(),
      gaps: this.gaps,
      index: this.index.result(),
    };
    return this.attempt(path.join(this.dir, 'overview.bin'), () => writeOverview(this.dir, overview));
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
      const file = path.join(this.dir, 'samples.jsonl');
      if (this.append(file, this.pending.join('\n') + '\n')) {
        this.pending.forEach((text, i) => {
          const span = this.pendingSpans[i]!;
          this.index.line(this.samplesBytes, span.samples, span.minMs, span.maxMs);
          this.samplesBytes += Buffer.byteLength(text) + 1;
        });
        this.pending = [];
        this.pendingSpans = [];
        this.pendingChars = 0;
      } else {
        this.samplesDiverged = true;
      }
    }
    if (this.outputPending) {
      // output.log is capped at maxOutputBytes, so what waits here is bounded too.
      if (this.append(path.join(this.dir, 'output.log'), this.outputPending)) this.outputPending = '';
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.outputDropped) {
      this.append(path.join(this.dir, 'output.log'), `[joules: the disk filled up; this log was emptied to save the run record; last part follows]\n${this.outputTail}`);
    } else if (this.outputTruncated > 0) {
      const note = `\n[joules: output exceeded ${this.maxOutputBytes} bytes; ${this.outputTruncated} bytes omitted; last part follows]\n`;
      this.append(path.join(this.dir, 'output.log'), note + this.outputTail);
    }
  }

  private append(file: string, text: string): boolean {
    // After a failed append the file may end mid-line: a newline first keeps the torn line apart
    // (readers skip it) instead of gluing it to the next good one.
    const prefix = this.torn.has(file) ? '\n' : '';
    const ok = this.attempt(file, () => fs.appendFileSync(file, prefix + text));
    if (ok) this.torn.delete(file);
    else this.torn.add(file);
    return ok;
  }

  private attempt(file: string, write: () => void): boolean {
    try {
      write();
      return true;
    } catch (e) {
      this.report(e, file);
      return false;
    }
  }

  private report(e: unknown, file: string): void {
    this.options.onWriteError?.(errnoText(e), file);
  }
}

/** The OS's words for an errno, without Node's "syscall path" suffix. */
function describeErrno(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
  return m ? m[1]! : e.message;
}

/** A store folder that cannot be used (a file in the way, no permission, a read-only disk). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** The run history on disk. */
export class RunStore {
  constructor(
    readonly root: string,
    private readonly options: StoreOptions = {},
  ) {}

  /**
   * Make sure runs can be written here, creating the folder if needed; throws {@link StoreError}
   * with one line otherwise. Called before a run starts, so a bad `--store` or `JOULES_HOME`
   * stops the CLI before the command does anything.
   */
  ensureWritable(): void {
    const what = `cannot use the run history folder ${this.root}`;
    try {
      makeDirs(this.root);
    } catch (e) {
      throw new StoreError(`${what}: ${errnoText(e)}`);
    }
    if (!fs.statSync(this.root).isDirectory()) throw new StoreError(`${what}: it is not a folder`);
    const probe = path.join(this.root, `.joules-write-test-${process.pid}`);
    try {
      fs.writeFileSync(probe, 'ok');
    } catch (e) {
      throw new StoreError(`${what}: ${errnoText(e)}`);
    } finally {
      fs.rmSync(probe, { force: true });
    }
  }

  /** Create the folder of a new run. */
  create(id: string, maxOutputBytes = 8 * 1024 * 1024, tailBytes = 64 * 1024): RunWriter {
    const dir = path.join(this.root, id);
    try {
      makeDirs(dir);
    } catch (e) {
      throw new StoreError(`cannot create the run's folder ${dir}: ${errnoText(e)}`);
    }
    return new RunWriter(dir, maxOutputBytes, tailBytes, this.options);
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

  /**
   * Summaries of all runs, newest first. A record that cannot be read (damaged run.json, or a
   * folder whose record names another run, e.g. a copy) is skipped and passed to `onSkip` with
   * one line saying why, so one bad folder never hides the rest of the history.
   */
  list(onSkip?: (folder: string, reason: string) => void): StoredRun[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StoreError(`cannot read the run history folder ${this.root}: ${errnoText(e)}`);
    }
    const runs: StoredRun[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !/^[A-Za-z0-9._-]+$/.test(name)) continue;
      const r = this.readMetaChecked(name);
      if ('run' in r) runs.push(r.run);
      else if (r.reason) onSkip?.(path.join(this.root, name), r.reason);
    }
    return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
  }

  readMeta(id: string): StoredRun | undefined {
    const r = this.readMetaChecked(id);
    return 'run' in r ? r.run : undefined;
  }

  /** run.json of folder `id`, or why not (`reason` empty: not a run folder at all). */
  private readMetaChecked(id: string): { run: StoredRun } | { reason: string } {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.runDir(id), 'run.json'), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { reason: code === 'ENOENT' || code === 'ENOTDIR' ? '' : `run.json unreadable (${errnoText(e)})` };
    }
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch (e) {
      return { reason: `run.json is not valid JSON (${(e as Error).message})` };
    }
    if (!isStoredRun(o)) return { reason: 'run.json is not a Joules run record (schema 1)' };
    // Recovery rewrites the folder named by the id: a copied folder must never stand for the original.
    if (o.id !== id) return { reason: `run.json belongs to run ${o.id} (a copied folder?); skipped` };
    return { run: o };
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
      await yieldToLoop();
      try {
        // A cache: when it cannot be written, the panel builds it on first open.
        writeOverview(this.runDir(meta.id), figures.overview);
      } catch {
        // Nothing lost: the record is written, the overview is rebuilt when needed.
      }
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

/**
 * The figures of an interrupted run from its samples file, streamed, and its overview from the same
 * pass (what the panel draws, so opening the run needs no second scan). Throws when nothing usable
 * was read.
 */
async function recoverFigures(file: string, meta: StoredRun): Promise<{ summary: RunFigures; stats: ReadStats; overview: RunOverview }> {
  const acc = new SummaryAccumulator(meta.gpuInfo);
  const energies = new Map<number, number>();
  for (const g of meta.gpuInfo) energies.set(g.index, 0);
  let lastMs = 0;
  let samples = 0;
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // Each row's sample object dies young: nothing per sample outlives its row.
  const { overview, stats } = await buildOverview(file, meta.id, meta.sampleIntervalMs || 100, {
    onSample: (x) => {
      acc.add(x);
      samples++;
      if (x.tMs > lastMs) lastMs = x.tMs;
      // The counter is cumulative: the last reading of each GPU is its energy.
      if (x.energyMillijoules !== undefined) energies.set(x.gpu, x.energyMillijoules);
    },
    onPoint: (gpu, tMs, powerMilliwatts) => acc.addPowerPoint({ gpu, tMs, powerMilliwatts }),
  });
  if (size > 0 && samples === 0) throw new Error(`no readable sample in ${size} bytes (${stats.malformedLines} malformed lines)`);
  return { summary: acc.result({ gpus: meta.gpuInfo, energiesMj: energies, runGpus: meta.runGpus, durationMs: lastMs }), stats, overview };
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 1));
}

/**
 * Replace `file` with `data` so that it is either the old or the new content, never a truncated
 * mix: write a temporary file beside it, then rename it over. On failure (e.g. a full disk) the
 * original is untouched and the temporary file removed. The file's mode is kept.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  // Through a symlink, replace its target, not the link.
  let target = file;
  let mode: number | undefined;
  try {
    target = fs.realpathSync(file);
    mode = fs.statSync(target).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * `mkdir -p`, one level at a time: Node 20's `mkdirSync(dir, { recursive: true })` never returns
 * for a folder under /proc (it retries ENOENT forever), which hung `joules run --store /proc/x`.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) fs.mkdirSync(m);
}

function isStoredRun(o: unknown): o is StoredRun {
  if (typeof o !== 'object' || o === null) return false;
  const r = o as Partial<StoredRun>;
  return (
    r.schema === 1 &&
    typeof r.id === 'string' &&
    typeof r.name === 'string' &&
    typeof r.startedAt === 'string' &&
    typeof r.status === 'string' &&
    Number.isFinite(r.durationS) &&
    Number.isFinite(r.energyJ) &&
    Number.isFinite(r.avgPowerW) &&
    Array.isArray(r.gpus)
  );
}

/** `ENOSPC: no space left on device`-style text for an fs error. */
function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${describeErrno(err)}` : String((e as Error).message ?? e);
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
