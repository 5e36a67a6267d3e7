import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuInfo, GpuSample, PowerPoint, SampleBatch, SampleGap } from '../sampler/types';
import { isAlive as isProcessAlive } from './processes';
import type { RecoveryResult } from './recovery';
import { recoverInterruptedRuns } from './recovery';
import { RunWriter } from './runWriter';
import type { ReadStats } from './sampleReader';
import { forEachBatchSync, newReadStats, streamSampleBatches } from './sampleReader';
import { dirSize, errnoText, makeDirs, runFolder } from './storeFiles';
import type { RunRecord, RunSummary } from './types';

// The store's parts (the writer, recovery, file helpers) live in their own files; these keep
// `./store` the one import for code outside src/core/runs.
export { RunWriter } from './runWriter';
export { writeFileAtomic, writeJsonAtomic } from './storeFiles';

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
    return runFolder(this.root, id);
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

  /** {@link recoverInterrupted}, with the runs whose samples could not be read (recovery.ts). */
  recoverInterruptedDetailed(isAlive: (pid: number) => boolean = isProcessAlive): Promise<RecoveryResult> {
    return recoverInterruptedRuns(this, isAlive);
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
