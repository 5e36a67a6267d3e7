import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding } from '../analysis/findings';
import { runWastedJ, toFindingSummary } from '../analysis/findings';
import type { GpuInfo } from '../sampler/types';
import type { WorkerSampler } from '../sampler/workerSampler';
import { execBytesScript } from './commandLine';
import type { MinMaxView } from './minMaxView';
import { resolveExecutable } from './processes';
import type { AnalysisInput } from './runSession';
import type { RunWriter } from './runWriter';
import type { RunStore, StoredRun } from './store';
import type { LaunchSpec, RunSummary } from './types';

/**
 * The environment a run starts with: the monitor's, with the launch's changes on top. Throws
 * (CommandNotFoundError) when the command cannot be found, before anything starts.
 */
export function launchEnv(spec: LaunchSpec): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Python buffers stdout when it is not a TTY; the user expects live output.
  env.PYTHONUNBUFFERED ??= '1';
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // With exact bytes, sh finds the command (its name may not survive UTF-8 decoding).
  if (!spec.shell) {
    if (!spec.argvBytes) resolveExecutable(spec.command, spec.cwd, env);
  } else if (spec.args.length) throw new Error('a shell command line takes no separate arguments');
  return env;
}

/** Spawn the run's command, without a shell unless the launch asks for one. Throws when spawn does. */
export function spawnRun(spec: LaunchSpec, env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' | 'inherit'): ChildProcess {
  const [command, args] = spec.argvBytes && !spec.shell ? ['/bin/sh', ['-c', execBytesScript(spec.argvBytes)]] : [spec.command, spec.args];
  return spawn(command, args, {
    cwd: spec.cwd,
    env,
    shell: spec.shell ?? false,
    // Own process group, so stopping reaches every process the run started.
    detached: process.platform !== 'win32',
    stdio: [stdin, 'pipe', 'pipe'],
    windowsHide: true,
  });
}

/** The record of a run as it starts: `running`, no figures yet, the machine it runs on. */
export function initialMeta(o: { id: string; spec: LaunchSpec; startedAt: Date; replay: boolean; sampler: WorkerSampler; intervalMs: number }): StoredRun {
  const { spec, sampler } = o;
  const gpus = sampler.gpus;
  return {
    schema: 1,
    id: o.id,
    name: spec.name ?? runName(spec),
    status: 'running',
    startedAt: o.startedAt.toISOString(),
    durationS: 0,
    exitCode: null,
    command: spec.shell ? [spec.command] : [spec.command, ...spec.args],
    cwd: spec.cwd,
    ...(spec.scriptPath ? { scriptPath: spec.scriptPath } : {}),
    energyJ: 0,
    energyMethod: gpus.every((g) => g.energyMethod === 'counter') ? 'counter' : 'integrated',
    avgPowerW: 0,
    peakPowerW: 0,
    gpus: [],
    attribution: 'all',
    ...(o.replay ? { replay: true } : {}),
    ...(sampler.ready.driverVersion ? { driverVersion: sampler.ready.driverVersion } : {}),
    ...(sampler.ready.nvmlVersion ? { nvmlVersion: sampler.ready.nvmlVersion } : {}),
    sampleIntervalMs: o.intervalMs,
    ...(o.replay ? {} : { host: { cpuCount: os.availableParallelism(), gpuCount: gpus.length } }),
    gpuInfo: gpus,
    runGpus: [],
    monitorPid: process.pid,
    monitorHost: os.hostname(),
  };
}

/** What {@link closeRecord} needs of the ended run. */
export interface RecordEnd {
  writer: RunWriter;
  /** The live view, written as the stored run's overview. */
  view: MinMaxView;
  meta: StoredRun;
  /** The summary; the analysis' findings and any store error are added to it. */
  summary: RunSummary;
  runGpus: number[];
  gpus: GpuInfo[];
  /** Where the run's own time ends (ms): later samples are the after-exit watch. */
  endMs: number;
  analyze: ((input: AnalysisInput) => Promise<Finding[]> | Finding[]) | undefined;
}

/**
 * Write the ended run's record: samples flushed, overview, summary, then the findings. Each step
 * is guarded on its own; a failure is named in `summary.errors` and the record still ends.
 */
export async function closeRecord(end: RecordEnd): Promise<{ meta: StoredRun; findings: Finding[] | undefined }> {
  const { writer, summary, runGpus, gpus } = end;
  const failed = (what: string, e: unknown): void => {
    summary.errors = { ...(summary.errors ?? {}), [`${what}: ${e instanceof Error ? e.message : String(e)}`]: 1 };
  };
  try {
    writer.flush();
    // Every sample is on disk now: what the panel draws of the stored run, from the view kept
    // all along, so opening the run reads this instead of streaming every sample (a cache,
    // rebuilt from the samples when missing). Before the analysis, which can take a minute.
    writer.writeOverview(end.meta.id, end.view);
    // The record is final before the analysis starts (a day-long run's takes a minute): if the
    // editor dies meanwhile, the run keeps its summary; the findings are added after.
    if (end.analyze) writer.writeMeta({ ...end.meta, ...summary, runGpus });
  } catch (e) {
    failed('store', e);
  }
  let findings: Finding[] | undefined;
  if (end.analyze) {
    try {
      findings = await end.analyze({
        summary,
        gpus,
        runGpus: runGpus.length ? runGpus : gpus.map((g) => g.index),
        endMs: end.endMs,
        samplesFile: writer.samplesFile,
      });
      summary.findings = findings.map(toFindingSummary);
      summary.wastedJ = runWastedJ(summary.findings);
    } catch (e) {
      failed('analysis', e);
    }
  }
  const meta = { ...end.meta, ...summary, runGpus };
  try {
    writer.writeMeta(meta);
  } catch (e) {
    failed('store', e);
  }
  try {
    writer.close();
  } catch {
    // Already reported by the failed write above, or nothing left to lose.
  }
  return { meta, findings };
}

/** The run's folder; when it cannot be made, the sampler worker goes too (or it keeps the process alive). */
export function createWriter(store: RunStore, id: string, sampler: WorkerSampler): RunWriter {
  try {
    return store.create(id);
  } catch (e) {
    void sampler.terminate();
    throw e;
  }
}

/** The summary fields of a stored record (the monitor's own fields left out). */
export function stripStored(m: StoredRun): RunSummary {
  const { gpuInfo: _g, runGpus: _r, monitorPid: _p, monitorHost: _h, ...summary } = m;
  return summary;
}

export function runName(spec: LaunchSpec): string {
  if (spec.scriptPath) return path.basename(spec.scriptPath);
  const script = spec.args.find((a) => /\.(py|sh|ipynb)$/.test(a));
  return script ? path.basename(script) : path.basename(spec.command.split(' ')[0] ?? spec.command);
}

/** A sortable, readable, unique id: local start time, the run's name, 4 random hex digits. */
export function makeRunId(name: string): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
  const slug = name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${crypto.randomBytes(2).toString('hex')}`;
}

