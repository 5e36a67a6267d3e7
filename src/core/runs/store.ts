import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuInfo, GpuSample, PowerPoint, SampleGap } from '../sampler/types';
import { isAlive as isProcessAlive } from './processes';
import { summarizeRun } from './summary';
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
export const SAMPLE_COLUMNS = [
  'tMs',
  'gpu',
  'powerMilliwatts',
  'utilGpuPct',
  'utilMemPct',
  'memUsedBytes',
  'smClockMhz',
  'memClockMhz',
  'temperatureC',
  'clockEventReasons',
  'powerLimitMilliwatts',
  'pstate',
  'energyMillijoules',
  'powerAverageMilliwatts',
] as const satisfies ReadonlyArray<keyof GpuSample>;

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

export function encodeSample(s: GpuSample): Array<number | null> {
  return SAMPLE_COLUMNS.map((c) => (s[c] === undefined ? null : (s[c] as number)));
}

export function decodeSample(row: unknown): GpuSample | undefined {
  if (!Array.isArray(row) || row.length < 2) return undefined;
  const s: Record<string, number> = {};
  SAMPLE_COLUMNS.forEach((c, i) => {
    const v: unknown = row[i];
    if (typeof v === 'number' && Number.isFinite(v)) s[c] = v;
  });
  if (s.tMs === undefined || s.gpu === undefined) return undefined;
  return s as unknown as GpuSample;
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
   */
  recoverInterrupted(isAlive: (pid: number) => boolean = isProcessAlive): StoredRun[] {
    const recovered: StoredRun[] = [];
    for (const meta of this.list()) {
      if (meta.status !== 'running') continue;
      if (meta.monitorHost === os.hostname() && meta.monitorPid !== process.pid && isAlive(meta.monitorPid)) continue;
      if (meta.monitorHost === os.hostname() && meta.monitorPid === process.pid) continue;
      const { samples, powerPoints } = readSamples(path.join(this.runDir(meta.id), 'samples.jsonl'));
      const lastMs = samples.length ? samples[samples.length - 1]!.tMs : 0;
      const energies = lastEnergies(samples, meta.gpuInfo);
      const summary = summarizeRun({
        base: meta,
        gpus: meta.gpuInfo,
        samples,
        powerPoints,
        energiesMj: energies,
        runGpus: meta.runGpus,
        durationMs: lastMs,
      });
      const fixed: StoredRun = { ...meta, ...summary, status: 'interrupted', exitCode: null };
      writeJsonAtomic(path.join(this.runDir(meta.id), 'run.json'), fixed);
      recovered.push(fixed);
    }
    return recovered;
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

/** Read samples.jsonl; a torn last line (crash mid-write) is ignored. */
export function readSamples(file: string): { samples: GpuSample[]; powerPoints: PowerPoint[]; gaps: SampleGap[] } {
  const samples: GpuSample[] = [];
  const powerPoints: PowerPoint[] = [];
  const gaps: SampleGap[] = [];
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { samples, powerPoints, gaps };
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    let o: { s?: unknown[]; p?: unknown[]; g?: SampleGap[] };
    try {
      o = JSON.parse(line) as typeof o;
    } catch {
      continue;
    }
    for (const row of o.s ?? []) {
      const s = decodeSample(row);
      if (s) samples.push(s);
    }
    for (const p of o.p ?? []) {
      if (Array.isArray(p) && p.length === 3 && p.every((v) => typeof v === 'number')) {
        powerPoints.push({ gpu: p[0] as number, tMs: p[1] as number, powerMilliwatts: p[2] as number });
      }
    }
    for (const g of o.g ?? []) gaps.push(g);
  }
  return { samples, powerPoints, gaps };
}

function lastEnergies(samples: GpuSample[], gpus: GpuInfo[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const g of gpus) m.set(g.index, 0);
  for (const s of samples) if (s.energyMillijoules !== undefined) m.set(s.gpu, s.energyMillijoules);
  return m;
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
