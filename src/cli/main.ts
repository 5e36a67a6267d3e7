import * as fs from 'node:fs';
import * as path from 'node:path';
import { NvmlBackend } from '../core/nvml/nvmlBackend';
import { NvmlLoadError } from '../core/nvml/nvmlError';
import { CommandNotFoundError } from '../core/runs/processes';
import type { RunOptions } from '../core/runs/runSession';
import { RunSession } from '../core/runs/runSession';
import { defaultStoreDir, StoreError } from '../core/runs/store';
import { describeGpuEnergyMethod, describeRunEnergyMethod } from '../core/runs/summary';
import type { RunSummary } from '../core/runs/types';
import { formatBytes, formatDuration, formatJoules, formatWattHours, formatWatts } from '../core/units/format';
import type { FlagSpec } from './args';
import { parseArgs, UsageError } from './args';
import { analyzeForCli } from './analysis';
import { cmdCheck } from './check';
import { rawArgs } from './rawArgv';
import { writeFixedScript } from './fixWrite';
import type { Io } from './stdio';
import { processStdio } from './stdio';
import { openStore, RunStoreWarnings } from './storeAccess';

const VERSION = '0.1.0';

const HELP = `joules ${VERSION}: measure the GPU energy of ML runs (NVML), and show where it is wasted.

Usage:
  joules run [options] -- <command> [args...]   run a command and measure its GPUs
  joules demo [--speed N] [--json]              replay a recorded H200 run (no GPU needed)
  joules devices [--json]                       list GPUs and what Joules can measure on them
  joules history [--json] [--limit N]           list stored runs, newest first
  joules report <run-id|last> [--json]          show a stored run's summary
  joules fix <run-id|last> [--apply]            the quick fixes for a run's findings (--apply applies the safe ones)
  joules check <script.py> [--json]             static hints for a script, without a run (nothing measured)

Options for run:
  --json              print the summary as one JSON object on stdout (the command's stdout goes to stderr)
  --interval-ms N     sampling period where a GPU has no power sample ring, 20-10000 ms (default 100);
                      where it has one, the ring is drained about once a second instead
  --power-samples-per-second N   power points kept from the ring, 1-50 (default 50)
  --power-ring off    tick every --interval-ms instead of draining the ring (for comparisons)
  --sampler-thread T  main (default: sampling on the CLI's own thread) or worker (a sampler thread)
  --shell             run <command> through the shell (one quoted command line)
  --name NAME         name of the run in the history
  --store DIR         run history folder (default: ${defaultStoreDir()})
  --no-analysis       skip the inefficiency findings
  --quiet             no live wattmeter
  --watch-after-s N   keep watching the GPUs N s after the command exits, to catch memory left held

Environment:
  JOULES_NVML_LIBRARY  path of libnvidia-ml.so.1 / nvml.dll when it is not found by itself
  JOULES_HOME          base folder of the run history
`;

/** Exit codes of the CLI's own failures (a run exits with its command's code). */
const EXIT_USAGE = 2;
const EXIT_NO_GPU = 3;
const EXIT_NOT_FOUND = 127;
/** The run history folder cannot be used (nothing was started). */
const EXIT_STORE = 4;

/** Entry point; returns the process exit code. */
export async function main(argv: string[], io: Io = processStdio()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await cmdRun(rest, io);
      case 'demo':
        return await cmdDemo(rest, io);
      case 'devices':
        return cmdDevices(rest, io);
      case 'history':
        return await cmdHistory(rest, io);
      case 'report':
        return cmdReport(rest, io);
      case 'fix':
        return await cmdFix(rest, io);
      case 'check':
        return await cmdCheck(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(HELP);
        return command === undefined ? EXIT_USAGE : 0;
      case '--version':
      case 'version':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}" (try: joules help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CommandNotFoundError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_NOT_FOUND;
    }
    if (e instanceof StoreError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_STORE;
    }
    if (e instanceof NvmlLoadError) {
      io.stderr.write(noGpuMessage(e.message));
      return EXIT_NO_GPU;
    }
    io.stderr.write(`joules: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function noGpuMessage(detail: string): string {
  return (
    `joules: no NVIDIA GPU to measure: ${detail}\n` +
    'joules: `joules run` measures real GPUs only and will not make figures up. ' +
    'To see what Joules shows, replay a recorded H200 run: joules demo\n'
  );
}

const RUN_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean' },
  'interval-ms': { type: 'number', integer: true, min: 20, max: 10_000 },
  shell: { type: 'boolean' },
  name: { type: 'string' },
  store: { type: 'string' },
  'no-analysis': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'watch-after-s': { type: 'number', min: 0, max: 600 },
  'power-samples-per-second': { type: 'number', min: 1, max: 50 },
  'power-ring': { type: 'string' },
  'sampler-thread': { type: 'string' },
};

async function cmdRun(argv: string[], io: Io): Promise<number> {
  const { flags, rest } = parseArgs(argv, RUN_FLAGS, true);
  if (rest.length === 0) throw new UsageError('no command to run (usage: joules run [options] -- <command> [args...])');
  const intervalMs = typeof flags['interval-ms'] === 'number' ? flags['interval-ms'] : 100;
  const shell = flags.shell === true;
  const watchAfterS = typeof flags['watch-after-s'] === 'number' ? flags['watch-after-s'] : 0;
  if (shell && rest.length > 1) throw new UsageError('--shell takes the whole command line as one argument (quote it)');
  const powerSps = typeof flags['power-samples-per-second'] === 'number' ? flags['power-samples-per-second'] : 50;
  const powerRing = flags['power-ring'] ?? 'auto';
  if (powerRing !== 'auto' && powerRing !== 'off') throw new UsageError(`--power-ring must be auto or off, got "${String(powerRing)}"`);
  // The CLI's thread has nothing else to do: sampling on it saves a second thread's wake-ups
  // (`npm run bench:sampler`: 0.72 % of a core against 1.09 % with a worker, 8 fake GPUs).
  const thread = flags['sampler-thread'] ?? 'main';
  if (thread !== 'main' && thread !== 'worker') throw new UsageError(`--sampler-thread must be main or worker, got "${String(thread)}"`);
  // Fail before launching anything when the record cannot be written or there is no GPU to measure.
  const warnings = new RunStoreWarnings(io.stderr);
  const store = openStore(flags.store, { forWriting: true, warnings });
  probeGpus();
  const scriptPath = rest.slice(1).find((a) => a.endsWith('.py'));
  // Arguments that are not valid UTF-8 reach the command byte for byte (Linux; see rawArgv.ts).
  const argvBytes = shell ? undefined : rawArgs(rest);
  const options: RunOptions = {
    store,
    sampler: { backend: { kind: 'nvml' }, intervalMs, powerSamplesPerSecond: powerSps, powerRing, thread, workerFile: workerFile() },
    stdin: 'inherit',
    afterRunMs: watchAfterS * 1000,
    ...(flags['no-analysis'] ? {} : { analyze: analyzeForCli }),
  };
  const session = await RunSession.start(
    {
      command: rest[0]!,
      args: shell ? [] : rest.slice(1),
      cwd: process.cwd(),
      shell,
      ...(typeof flags.name === 'string' ? { name: flags.name } : {}),
      ...(scriptPath ? { scriptPath: path.resolve(scriptPath) } : {}),
      ...(argvBytes ? { argvBytes } : {}),
    },
    options,
  );
  return await followSession(session, flags, io, warnings);
}

async function followSession(session: RunSession, flags: Parsed['flags'], io: Io, warnings: RunStoreWarnings): Promise<number> {
  const json = flags.json === true;
  const meter = !json && !flags.quiet && io.stderr.isTTY === true ? new LiveMeter(session, io.stderr) : undefined;
  // The command's bytes pass through untouched. With --json, stdout carries only the summary, so
  // the command's stdout is moved to stderr. A reader slower than the command pauses the command's
  // pipe (it then blocks in write()) instead of Joules buffering the difference.
  session.onOutputBytes((chunk, stream, resume) => {
    const out = stream === 'stdout' && !json ? io.stdout : io.stderr;
    meter?.clear();
    const ok = out.write(chunk);
    meter?.draw();
    if (ok) return true;
    out.onceDrain(resume);
    return false;
  });
  // `| head -1` or a closed terminal: the measurement is worth more than the rest of the output,
  // so the run goes on (its output still reaches the record's output.log) and the summary is
  // written wherever it still can be.
  io.stdout.onFail((reason) => {
    io.stderr.write(`joules: stdout closed (${reason}); the run goes on, its output is kept in the run record only\n`);
  });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    meter?.clear();
    const why = signal === 'SIGHUP' ? 'the terminal closed' : signal === 'SIGTERM' ? 'SIGTERM' : undefined;
    io.stderr.write(
      interrupts === 1 ? `\njoules: stopping the run${why ? ` (${why})` : ''} (Ctrl-C again to kill it)\n` : '\njoules: killing the run\n',
    );
    void session.stop();
    if (interrupts > 1 && session.pid) {
      try {
        process.kill(-session.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  // Closing the terminal (SIGHUP) stops the run as Ctrl-C does: the command runs in its own
  // process group, so the terminal's hangup would otherwise leave it running unparented.
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  // Last resort: if the CLI itself dies mid-run, the command must not live on without a monitor.
  let ended = false;
  const onExit = (): void => {
    if (!ended && session.pid && process.platform !== 'win32') {
      try {
        process.kill(-session.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', onExit);
  meter?.start();
  const summary = warnings.annotate(await session.done);
  ended = true;
  meter?.stop();
  for (const sig of signals) process.off(sig, onSignal);
  process.off('exit', onExit);
  if (json) io.stdout.write(JSON.stringify(toJson(summary)) + '\n');
  else io.stderr.write(formatSummary(summary));
  warnings.finish();
  return summary.exitCode ?? 1;
}

type Parsed = ReturnType<typeof parseArgs>;

const DEMO_FLAGS: Record<string, FlagSpec> = {
  speed: { type: 'number', min: 0, minExclusive: true, max: 100_000 },
  json: { type: 'boolean' },
  trace: { type: 'string' },
  store: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-analysis': { type: 'boolean' },
};

async function cmdDemo(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, DEMO_FLAGS);
  if (positionals.length) throw new UsageError(`demo takes no arguments, got "${positionals[0]}"`);
  const speed = typeof flags.speed === 'number' ? flags.speed : 1;
  const trace = typeof flags.trace === 'string' ? path.resolve(flags.trace) : bundledTrace();
  if (!fs.existsSync(trace)) throw new UsageError(`trace not found: ${trace}`);
  const warnings = new RunStoreWarnings(io.stderr);
  const store = openStore(flags.store, { forWriting: true, warnings });
  io.stderr.write(
    `joules demo: REPLAY of a recorded trace, not a measurement of this machine.\n` +
      `  ${trace}\n  One NVIDIA H200, driver 580.159.04, 30 s phased PyTorch load (idle, full, starved, full, idle)` +
      `${speed !== 1 ? `, replayed ${speed}x faster` : ''}.\n`,
  );
  const session = await RunSession.replay(trace, speed, {
    store,
    sampler: { backend: { kind: 'replay', tracePath: trace, speed }, intervalMs: 100, workerFile: workerFile() },
    ...(flags['no-analysis'] ? {} : { analyze: analyzeForCli }),
  });
  return await followSession(session, flags, io, warnings);
}

function probeGpus(): void {
  const backend = NvmlBackend.open();
  const count = backend.devices.length;
  const failed = backend.unavailable.map((u) => `GPU ${u.index}: ${u.error}`);
  backend.close();
  if (count === 0) throw new NvmlLoadError(failed.length ? `no GPU could be opened (${failed.join('; ')})` : 'NVML loaded but reports no GPUs', []);
}

const DEVICES_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' } };

function cmdDevices(argv: string[], io: Io): number {
  const { flags, positionals } = parseArgs(argv, DEVICES_FLAGS);
  if (positionals.length) throw new UsageError(`devices takes no arguments, got "${positionals[0]}"`);
  const backend = NvmlBackend.open();
  try {
    const notices = backend.takeNotices();
    const gpus = backend.devices.map((d) => d.info);
    if (flags.json) {
      io.stdout.write(
        JSON.stringify({ driverVersion: backend.driverVersion, nvmlVersion: backend.nvmlVersion, library: backend.nvml.libraryPath, resolved: backend.nvml.resolved, gpus, unavailable: backend.unavailable }) + '\n',
      );
      return 0;
    }
    io.stdout.write(`NVML ${backend.nvmlVersion ?? '?'}, driver ${backend.driverVersion ?? '?'} (${backend.nvml.libraryPath})\n`);
    if (!gpus.length && !backend.unavailable.length) io.stdout.write('No GPUs.\n');
    // A GPU that fails to open is listed with its error; the others are still listed (and measured).
    for (const u of backend.unavailable) io.stdout.write(`GPU ${u.index}: cannot be opened: ${u.error}\n`);
    for (const g of gpus) {
      const yes = Object.entries(g.supported).filter(([, v]) => v).map(([k]) => k);
      const no = Object.entries(g.supported).filter(([, v]) => !v).map(([k]) => k);
      io.stdout.write(
        `GPU ${g.index}: ${g.name}  ${g.uuid}\n` +
          `  architecture ${g.architecture ?? 'unknown'}, PCI ${g.pciBusId ?? 'unknown'}, memory ${g.memTotalBytes !== undefined ? formatBytes(g.memTotalBytes) : 'unknown'}\n` +
          `  power limit ${g.powerLimitMilliwatts !== undefined ? formatWatts(g.powerLimitMilliwatts / 1000) : 'unknown'}` +
          `${g.powerLimitMinMilliwatts !== undefined ? ` (range ${formatWatts(g.powerLimitMinMilliwatts / 1000)}-${formatWatts((g.powerLimitMaxMilliwatts ?? 0) / 1000)})` : ''}\n` +
          `  power reading: ${g.powerSource === 'instant' ? 'instant (NVML_FI_DEV_POWER_INSTANT)' : 'nvmlDeviceGetPowerUsage (1 s average on Ampere and newer)'}\n` +
          `  energy: ${g.energyMethod === 'counter' ? 'hardware counter (nvmlDeviceGetTotalEnergyConsumption)' : `integrated from power: ${g.energyMethodReason ?? ''}`}\n` +
          `  supported: ${yes.join(', ') || 'none'}\n` +
          (no.length ? `  not supported: ${no.join(', ')}\n` : ''),
      );
    }
    if (notices.length && !gpus.length) io.stdout.write(notices.join('\n') + '\n');
    return 0;
  } finally {
    backend.close();
  }
}

const HISTORY_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, limit: { type: 'number', integer: true, min: 1 }, store: { type: 'string' } };

async function cmdHistory(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, HISTORY_FLAGS);
  if (positionals.length) throw new UsageError(`history takes no arguments, got "${positionals[0]}"`);
  const warnings = new RunStoreWarnings(io.stderr);
  const store = openStore(flags.store, { forWriting: false, warnings });
  await store.recoverInterrupted();
  const limit = typeof flags.limit === 'number' ? flags.limit : 20;
  const runs = store.list(warnings.skipped).slice(0, limit);
  if (flags.json) {
    io.stdout.write(JSON.stringify(runs.map((r) => toJson(r))) + '\n');
    return 0;
  }
  if (!runs.length) {
    io.stdout.write(`No runs in ${store.root}.\n`);
    return 0;
  }
  for (const r of runs) {
    io.stdout.write(
      `${r.id}  ${r.status.padEnd(11)} ${formatDuration(r.durationS).padStart(8)}  ${formatJoules(r.energyJ).padStart(9)}  ${formatWatts(r.avgPowerW).padStart(6)} avg  ${r.name}${r.replay ? ' (replay)' : ''}\n`,
    );
  }
  return 0;
}

const REPORT_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, store: { type: 'string' } };

function cmdReport(argv: string[], io: Io): number {
  const { flags, positionals } = parseArgs(argv, REPORT_FLAGS);
  if (positionals.length !== 1) throw new UsageError('report needs one run id (or "last"); see joules history');
  const store = openStore(flags.store, { forWriting: false, warnings: new RunStoreWarnings(io.stderr) });
  const id = positionals[0] === 'last' ? store.list()[0]?.id : positionals[0];
  const run = id ? store.readMeta(id) : undefined;
  if (!run) throw new UsageError(`no run "${positionals[0]}" in ${store.root}`);
  if (flags.json) io.stdout.write(JSON.stringify(toJson(run)) + '\n');
  else io.stdout.write(formatSummary(run));
  return 0;
}

const FIX_FLAGS: Record<string, FlagSpec> = { apply: { type: 'boolean' }, store: { type: 'string' }, workers: { type: 'number', integer: true, min: 0, max: 256 } };

/**
 * `joules fix`: the editor's quick fixes from a terminal. The stored run is analysed once against
 * the script as it is now; after each applied fix only the source is re-read (ranges stay right).
 */
async function cmdFix(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, FIX_FLAGS);
  if (positionals.length !== 1) throw new UsageError('fix needs one run id (or "last"); see joules history');
  const store = openStore(flags.store, { forWriting: false, warnings: new RunStoreWarnings(io.stderr) });
  const id = positionals[0] === 'last' ? store.list().find((r) => !r.replay)?.id : positionals[0];
  const rec = id ? store.readMeta(id) : undefined;
  if (!rec) throw new UsageError(`no run "${positionals[0]}" in ${store.root}`);
  const script = rec.scriptPath;
  if (!script || !fs.existsSync(script)) throw new UsageError(`run ${rec.id} has no Python script to fix${script ? ` (${script} is gone)` : ''}`);
  const { planFixes } = await import('../core/analysis/fixPlan');
  const { analyzeInWorker } = await import('../core/analysis/analysisClient');
  const { cliWasmOptions } = await import('./analysis');
  const options = cliWasmOptions();
  const { defaultNumWorkers } = await import('../core/analysis/quickFixes');
  // Workers are sized for the machine the run ran on, not the one applying the fix.
  const host = rec.host;
  const numWorkers = typeof flags.workers === 'number' ? flags.workers : host !== undefined ? defaultNumWorkers(host.cpuCount, rec.runGpus.length || host.gpuCount) : undefined;
  const input = {
    summary: rec,
    gpus: rec.gpuInfo,
    samplesFile: store.samplesFile(rec.id),
    runGpus: rec.runGpus.length ? rec.runGpus : rec.gpuInfo.map((g) => g.index),
    endMs: rec.durationS * 1000,
  };
  // The run is analysed once (in a worker, streamed from the store); fixes are derived from that.
  const { fixes, applied, held } = await planFixes(input, {
    ...options,
    analyze: (i) => analyzeInWorker(i, options),
    ...(numWorkers !== undefined ? { numWorkers } : {}),
    ...(flags.apply ? { write: (file: string, text: string) => writeFixedScript(file, text) } : {}),
    onFix: (f) => io.stdout.write(`${path.relative(process.cwd(), f.file)}:${f.line}: ${f.title}\n`),
  });
  // Fixes not known to be safe are never applied: listed with the reason to look first.
  if (held.length > 0) io.stdout.write(`Not applied, review these first:\n${held.map((h) => `  ${path.relative(process.cwd(), h.file)}:${h.line}: ${h.title} (${h.reason})`).join('\n')}\n`);
  if (!fixes.length) io.stdout.write('No source findings with a fix for this run.\n');
  else if (flags.apply) io.stdout.write(`Applied ${applied} fix(es). Run the script again to measure the difference.\n`);
  else io.stdout.write('Run again with --apply to make these edits.\n');
  return 0;
}

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
      ? { markers: s.markers.map((m) => ({ label: m.label, tS: round(m.tS, 3), energyJ: round(m.energyJ, 3), ...(m.energySource ? { energySource: m.energySource } : {}) })) }
      : {}),
    ...(s.steps ? { steps: s.steps, jPerStep: round(s.jPerStep ?? 0, 4) } : {}),
    ...(s.stepPoints?.length ? { stepPoints: s.stepPoints.map((p) => ({ tS: round(p.tS, 3), step: p.step })) } : {}),
    ...(s.tokens ? { tokens: s.tokens, jPerToken: round(s.jPerToken ?? 0, 5) } : {}),
    // The run's waste counted once (overlaps and source lines that refer to telemetry add nothing).
    ...(s.wastedJ !== undefined ? { wastedJ: round(s.wastedJ, 3) } : {}),
    findings: (s.findings ?? []).map((f) => ({ ...f, energyJ: round(f.energyJ, 3), wastedJ: round(f.wastedJ, 3), startS: round(f.startS, 3), endS: round(f.endS, 3) })),
    ...(s.errors ? { errors: s.errors } : {}),
    ...(s.unsupported ? { unsupported: s.unsupported } : {}),
    ...(s.unavailableGpus ? { unavailableGpus: s.unavailableGpus } : {}),
  };
}

/** The human summary printed after a run. */
export function formatSummary(s: RunSummary): string {
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
  if (s.steps) lines.push(`  per step   ${formatJoules(s.jPerStep ?? 0)} (${s.steps} steps)`);
  if (s.tokens) lines.push(`  per token  ${(s.jPerToken ?? 0).toFixed(3)} J (${s.tokens} tokens)`);
  if (s.markers?.length) {
    lines.push('', 'Markers (energy since the previous marker):');
    let prev = { tS: 0, energyJ: 0 };
    for (const m of s.markers) {
      const interpolated = m.energySource === 'interpolated' ? ' (interpolated: marks <100 ms apart share a counter read)' : '';
      lines.push(`  ${m.tS.toFixed(1).padStart(7)} s  ${m.label.padEnd(24)} ${formatJoules(m.energyJ - prev.energyJ).padStart(9)} in ${formatDuration(m.tS - prev.tS)}${interpolated}`);
      prev = m;
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

/** One-line live wattmeter on stderr, redrawn once a second. */
class LiveMeter {
  private timer: NodeJS.Timeout | undefined;
  private shown = false;
  constructor(
    private readonly session: RunSession,
    private readonly out: Io['stderr'],
  ) {}
  start(): void {
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }
  draw(): void {
    const l = this.session.live();
    const util = l.gpus.filter((g) => g.utilPct !== undefined && (g.attributed || l.gpus.length === 1)).map((g) => `${g.utilPct} %`);
    const text = `\u26a1 ${formatWatts(l.powerW)} \u00b7 ${formatJoules(l.energyJ)} \u00b7 ${formatDuration(l.elapsedS)}${util.length ? ` \u00b7 util ${util.join('/')}` : ''}${this.session.replay ? ' \u00b7 REPLAY' : ''}`;
    this.clear();
    this.out.write(`\x1b[2m${text.slice(0, (this.out.columns ?? 100) - 1)}\x1b[0m`);
    this.shown = true;
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** dist/cli.js and dist/samplerWorker.js sit side by side; media/ is one level up. */
function workerFile(): string | undefined {
  const bundled = path.join(__dirname, 'samplerWorker.js');
  return fs.existsSync(bundled) ? bundled : undefined;
}

function bundledTrace(): string {
  for (const base of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    const p = path.join(base, 'media', 'traces', 'h200-phased-load.jsonl');
    if (fs.existsSync(p)) return p;
  }
  return path.join(__dirname, '..', 'media', 'traces', 'h200-phased-load.jsonl');
}
