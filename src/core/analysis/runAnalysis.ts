import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnalysisInput } from '../runs/runSession';
import type { ReadStats } from '../runs/sampleReader';
import { newReadStats, rowToSample, streamSampleRows } from '../runs/sampleReader';
import type { RunSummary } from '../runs/types';
import type { GpuInfo, GpuSample } from '../sampler/types';
import { correlate } from './correlate';
import type { Finding, FindingSummary } from './findings';
import { toFindingSummary } from './findings';
import { loadPythonParser } from './pythonParser';
import { analyzePythonSource } from './pythonSource';
import type { Thresholds } from './telemetry';
import type { RunActivity } from './telemetry';
import { BoundedGpuSeries, MAX_POINTS_PER_GPU } from './boundedSeries';
import { analyzeTelemetryColumns, analyzeTelemetryWithActivity, DEFAULT_THRESHOLDS } from './telemetry';

/** A run's samples in memory, for {@link analyzeRun}. */
export interface RunSamples {
  summary: RunSummary;
  gpus: GpuInfo[];
  /** Samples of the run GPUs, per GPU in time order (see `RunTelemetry.byGpu`). */
  byGpu: ReadonlyMap<number, GpuSample[]>;
  runGpus: number[];
  endMs: number;
  /** Samples after the exit (the after-exit watch), for the leak check. */
  afterRunSamples?: GpuSample[];
}

/** The telemetry half of an analysis: what the samples say, before the source is read. */
export interface TelemetryAnalysis {
  findings: Finding[];
  activity: RunActivity;
  /** False for a run that stored no samples of its GPUs: it measured nothing (static hints only). */
  measured: boolean;
}

/** Result of an analysis: full findings (editor) and their plain summaries (run.json, `--json`). */
export interface RunAnalysis {
  findings: Finding[];
  summaries: FindingSummary[];
  /** Kept so the source can be re-read after an edit without reading the samples again (`joules fix`). */
  telemetry: TelemetryAnalysis;
}

/** Options of {@link analyzeRun}. */
export interface AnalyzeRunOptions {
  thresholds?: Partial<Thresholds>;
  /** Folder of tree-sitter.wasm and tree-sitter-python.wasm (bundles: `dist/wasm`). */
  wasmDir?: string;
  /** Bounds on the Python files read beside the script (its local imports live there). */
  maxFiles?: number;
  maxBytes?: number;
  /** Points per GPU the detectors see at most (default {@link MAX_POINTS_PER_GPU}); past it, averages. */
  maxPointsPerGpu?: number;
}

/** Architectures with bf16 tensor cores (Ampere and newer). */
const BF16_ARCHITECTURES = new Set(['Ampere', 'Ada', 'Hopper', 'Blackwell']);

/** Folders never worth reading: environments and caches. */
const SKIP_DIRS = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', 'env', '.env', 'site-packages', '.mypy_cache', '.pytest_cache', '.tox', 'build', 'dist', 'wandb', 'checkpoints', 'data']);

/**
 * Findings of a stored run, reading its samples file as a stream and building each run GPU's
 * series once (other GPUs' samples are dropped as they are read), in memory bounded whatever the
 * run's length (see boundedSeries.ts). Runs wherever it is called: the
 * extension and the CLI call it in a worker thread (see analysisClient.ts).
 */
export async function analyzeStoredRun(input: AnalysisInput, options: AnalyzeRunOptions = {}, stats: ReadStats = newReadStats()): Promise<RunAnalysis> {
  // Size the columns from the file (a stored sample takes about 80 bytes), up to the cap on points
  // per GPU: past it the samples are averaged into buckets (boundedSeries.ts), whatever the length.
  let fileBytes = 0;
  try {
    fileBytes = fs.statSync(input.samplesFile).size;
  } catch {
    fileBytes = 0;
  }
  const maxPoints = options.maxPointsPerGpu ?? MAX_POINTS_PER_GPU;
  const perGpu = Math.min(maxPoints, Math.ceil((fileBytes / 70 / Math.max(1, input.gpus.length)) * 1.05) + 16);
  const sources = new Map<number, BoundedGpuSeries>();
  const classes = { ...DEFAULT_THRESHOLDS, ...definedOnly(options.thresholds) };
  for (const g of new Set(input.runGpus)) sources.set(g, new BoundedGpuSeries(g, maxPoints, perGpu, classes));
  const afterRunSamples: GpuSample[] = [];
  try {
    await streamSampleRows(
      input.samplesFile,
      {
        row: (v, o) => {
          const own = sources.get(v[o + 1]!);
          if (!own) return;
          if (v[o]! <= input.endMs) own.pushRow(v, o);
          else afterRunSamples.push(rowToSample(v, o));
        },
      },
      stats,
    );
  } catch (e) {
    // No samples file: a run that ended before its first batch; the source analysis still runs.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const telemetry = analyzeTelemetryColumns(
    { gpus: input.gpus, runGpus: input.runGpus, endMs: input.endMs, sources, ...(afterRunSamples.length ? { afterRunSamples } : {}) },
    options.thresholds,
  );
  return withSource({ ...telemetry, measured: [...sources.values()].some((c) => c.length > 0) }, input, options);
}

/**
 * Findings of a finished run: the telemetry detectors over its samples, and, when it ran a Python
 * script, the source patterns found in that script and the local modules beside it, each tied to
 * the telemetry that supports it (see correlate.ts). Used by the CLI and the extension alike.
 */
export async function analyzeRun(input: RunSamples, options: AnalyzeRunOptions = {}): Promise<RunAnalysis> {
  const telemetry = {
    gpus: input.gpus,
    samples: [],
    byGpu: input.byGpu,
    runGpus: input.runGpus,
    endMs: input.endMs,
    ...(input.afterRunSamples ? { afterRunSamples: input.afterRunSamples } : {}),
  };
  const result = analyzeTelemetryWithActivity(telemetry, options.thresholds);
  return withSource({ ...result, measured: [...input.byGpu.values()].some((own) => own.length > 0) }, input, options);
}

/**
 * The source half: the script's patterns tied to the telemetry that supports them. Cheap (one
 * parse of the script and its local modules), so it is redone after each edit while the telemetry
 * half, which reads every sample, is done once.
 */
export async function withSource(telemetry: TelemetryAnalysis, run: Pick<RunSamples, 'summary' | 'gpus' | 'runGpus'>, options: AnalyzeRunOptions = {}): Promise<RunAnalysis> {
  let findings = telemetry.findings;
  const script = run.summary.scriptPath;
  if (script && script.endsWith('.py') && fs.existsSync(script)) {
    const parser = await loadPythonParser(options.wasmDir);
    const files = readPythonTree(script, options.maxFiles ?? 300, options.maxBytes ?? 5 * 1024 * 1024);
    // A run without samples measured nothing: its findings are the static hints, not "measured".
    const activity = telemetry.measured ? telemetry.activity : undefined;
    const ranOnGpu = activity?.gpus.some((g) => g.busyS > 0) === true;
    const sites = analyzePythonSource(files, script, parser, { launchArgs: run.summary.command, ranOnGpu });
    const bf16 = run.gpus.filter((g) => run.runGpus.includes(g.index)).some((g) => g.architecture !== undefined && BF16_ARCHITECTURES.has(g.architecture));
    findings = correlate(telemetry.findings, sites, bf16, activity, run.summary.steps !== undefined ? { steps: run.summary.steps } : undefined);
  }
  return { findings, summaries: findings.map(toFindingSummary), telemetry };
}

/** The thresholds that are set (an explicit undefined keeps the default, as in telemetry.ts). */
function definedOnly(t: Partial<Thresholds> | undefined): Partial<Thresholds> {
  const out: Partial<Thresholds> = {};
  for (const [k, v] of Object.entries(t ?? {})) if (v !== undefined) Object.assign(out, { [k]: v });
  return out;
}

/** Split samples per GPU, each in time order: the shape {@link analyzeRun} takes. */
export function samplesByGpu(samples: Iterable<GpuSample>): Map<number, GpuSample[]> {
  const out = new Map<number, GpuSample[]>();
  for (const x of samples) {
    let own = out.get(x.gpu);
    if (!own) out.set(x.gpu, (own = []));
    own.push(x);
  }
  return out;
}


/** The script and the .py files of its folder tree, script first, within the bounds. */
export function readPythonTree(script: string, maxFiles: number, maxBytes: number): Array<{ path: string; text: string }> {
  const files: Array<{ path: string; text: string }> = [{ path: script, text: fs.readFileSync(script, 'utf8') }];
  let bytes = files[0]!.text.length;
  const queue = [path.dirname(script)];
  while (queue.length && files.length < maxFiles) {
    const dir = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) queue.push(p);
      } else if (e.isFile() && e.name.endsWith('.py') && p !== script) {
        try {
          const size = fs.statSync(p).size;
          if (bytes + size > maxBytes || files.length >= maxFiles) continue;
          files.push({ path: p, text: fs.readFileSync(p, 'utf8') });
          bytes += size;
        } catch {
          // Unreadable files are skipped: the analysis works with what it has.
        }
      }
    }
  }
  return files;
}
