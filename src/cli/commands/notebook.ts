import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { CellEnergy } from '../../core/notebooks/cellMeter';
import { CellMeter } from '../../core/notebooks/cellMeter';
import { EnergyTimeline } from '../../core/notebooks/energyTimeline';
import { KernelFinder } from '../../core/notebooks/kernelProcesses';
import { NotebookRecord } from '../../core/notebooks/notebookRecord';
import type { RunSummary } from '../../core/runs/types';
import type { EngineBatch } from '../../core/sampler/engine';
import { ownThreadLoop } from '../../core/sampler/ownThreadLoop';
import { WorkerSampler } from '../../core/sampler/workerSampler';
import { formatDuration, formatJoules, formatPct, formatWatts } from '../../core/units/format';
import { analyzeForCli } from '../analysis';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { notebookRunner, workerFile } from '../bundlePaths';
import type { Io } from '../stdio';
import { storeFromFlags } from '../storeAccess';
import { probeGpus } from './run';

const NOTEBOOK_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean' },
  python: { type: 'string' },
  kernel: { type: 'string' },
  output: { type: 'string' },
  'timeout-s': { type: 'number', min: 1 },
  'interval-ms': { type: 'number', integer: true, min: 20, max: 10_000 },
  store: { type: 'string' },
  counter: { type: 'boolean' },
  'no-analysis': { type: 'boolean' },
};

/** One line of the runner's events (media/joules_nbrun.py). */
interface RunnerEvent {
  event: 'kernel' | 'cell' | 'done';
  pid?: number | null;
  index?: number;
  execution_count?: number | null;
  start_ms?: number;
  end_ms?: number;
  success?: boolean;
  ok?: boolean;
  error?: string | null;
  counter_start_mj?: Array<number | null>;
  counter_end_mj?: Array<number | null>;
}

/**
 * `joules notebook <file.ipynb>`: executes a notebook top to bottom on a real Jupyter kernel
 * (nbclient, in the Python given) and measures each cell's GPU energy as the editor does: the
 * cells' times from the runner, the GPUs' energy from the sampler, the kernel found by its process
 * tree. The session is kept in the history as a run of kind `notebook`.
 */
export async function cmdNotebook(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, NOTEBOOK_FLAGS);
  if (positionals.length !== 1) throw new UsageError('notebook needs one .ipynb file (usage: joules notebook [options] <file.ipynb>)');
  const file = path.resolve(positionals[0]!);
  if (!fs.existsSync(file)) throw new UsageError(`no such notebook: ${file}`);
  const json = flags.json === true;
  const intervalMs = typeof flags['interval-ms'] === 'number' ? flags['interval-ms'] : 100;
  const { store } = storeFromFlags(flags, io.stderr, { forWriting: true });
  probeGpus();
  const sampler = await WorkerSampler.start({ backend: { kind: 'nvml' }, intervalMs, batchMs: 1000, powerRing: 'off', onOwnThread: ownThreadLoop, workerFile: workerFile() });
  const before = Date.now();
  const mark = await sampler.mark();
  const epochWallMs = (before + Date.now()) / 2 - mark.elapsedMs;
  const timeline = new EnergyTimeline();
  const kernelGpus = new Set<number>();
  const kernelPids = new Set<number>();
  const finder = new KernelFinder(process.pid, () => []);
  const meter = new CellMeter({
    timeline,
    epochWallMs,
    intervalMs,
    attribution: () => (kernelGpus.size ? { attribution: 'kernel', gpus: [...kernelGpus].sort(), kernelPids: [...kernelPids] } : { attribution: 'whole-gpu' }),
  });
  const startMs = Math.max(0, Date.now() - epochWallMs);
  const record = new NotebookRecord({
    store,
    notebookPath: file,
    gpus: sampler.gpus,
    startMs,
    startedAt: new Date(),
    intervalMs,
    timeline,
    ...(sampler.ready.driverVersion ? { driverVersion: sampler.ready.driverVersion } : {}),
    ...(sampler.ready.nvmlVersion ? { nvmlVersion: sampler.ready.nvmlVersion } : {}),
  });
  const cells: CellEnergy[] = [];
  const checks = new Map<number, RunnerEvent>();
  const out = json ? io.stderr : io.stdout;
  const received = (batch: EngineBatch): void => {
    timeline.add(batch.samples);
    record.addBatch(batch);
    if (batch.processes) {
      for (const k of finder.kernels(batch.processes)) {
        kernelGpus.add(k.gpu);
        kernelPids.add(k.pid);
      }
    }
    const { cells: done, skipped } = meter.flush();
    for (const c of done) {
      cells.push(c);
      record.addCell(c, [...kernelGpus]);
      if (!json) out.write(`${cellLine(c)}\n`);
    }
    for (const s of skipped) io.stderr.write(`joules: cell ${s.exec.cellIndex + 1} not measured: ${s.reason}\n`);
  };
  const batches = sampler.onBatch((b) => received(b));
  const python = typeof flags.python === 'string' ? flags.python : 'python3';
  const args = [notebookRunner(), file, '--events-fd', '3'];
  if (typeof flags.kernel === 'string') args.push('--kernel', flags.kernel);
  if (typeof flags.output === 'string') args.push('--output', path.resolve(flags.output));
  if (typeof flags['timeout-s'] === 'number') args.push('--timeout', String(flags['timeout-s']));
  if (flags.counter) args.push('--counter');
  // The cells' output is the runner's stdout: with --json it goes to stderr, as `joules run` does.
  const child = spawn(python, args, { cwd: path.dirname(file), stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit', 'pipe'] });
  if (json) child.stdout?.pipe(process.stderr);
  let done: RunnerEvent | undefined;
  let spawnError: Error | undefined;
  const events = readline.createInterface({ input: child.stdio[3] as Readable });
  events.on('line', (line) => {
    let ev: RunnerEvent;
    try {
      ev = JSON.parse(line) as RunnerEvent;
    } catch {
      return;
    }
    if (ev.event === 'cell' && typeof ev.index === 'number' && typeof ev.start_ms === 'number' && typeof ev.end_ms === 'number') {
      meter.ended({
        notebook: file,
        cellIndex: ev.index,
        cellUri: `${file}#cell${ev.index}`,
        ...(typeof ev.execution_count === 'number' ? { executionOrder: ev.execution_count } : {}),
        startWallMs: ev.start_ms,
        endWallMs: ev.end_ms,
        ...(typeof ev.success === 'boolean' ? { success: ev.success } : {}),
      });
      if (ev.counter_start_mj) checks.set(ev.index, ev);
    } else if (ev.event === 'done') {
      done = ev;
    }
  });
  const stop = (): void => void child.kill('SIGINT');
  process.on('SIGINT', stop);
  const exitCode = await new Promise<number>((resolve) => {
    child.once('error', (e) => {
      spawnError = e;
      resolve(127);
    });
    child.once('close', (code) => resolve(code ?? 1));
  });
  process.off('SIGINT', stop);
  // The last cells end just before the runner exits: one more batch covers them.
  for (let i = 0; i < 30 && meter.pendingCount > 0; i++) await new Promise((r) => setTimeout(r, 100));
  batches.dispose();
  const final = await sampler.finish();
  received(final.batch);
  const endMs = timeline.newestMs() ?? startMs;
  const summary = await record.close({ endMs, countedGpus: [...kernelGpus].sort(), ...(flags['no-analysis'] ? {} : { analyze: analyzeForCli }) });
  if (spawnError) io.stderr.write(`joules: could not start ${python}: ${spawnError.message}\n`);
  else if (done && !done.ok) io.stderr.write(`joules: the notebook did not run to the end: ${done.error ?? 'unknown error'}\n`);
  else if (!done) io.stderr.write(`joules: the notebook runner exited (${exitCode}) without finishing\n`);
  if (json) io.stdout.write(JSON.stringify({ ...summary, ...(checks.size ? { counterCheck: counterCheck(summary, checks) } : {}) }) + '\n');
  else out.write(summaryText(summary, checks));
  return spawnError ? 127 : exitCode;
}

function cellLine(c: CellEnergy): string {
  const order = c.executionOrder !== undefined ? `[${c.executionOrder}]` : '[ ]';
  return `${order.padStart(5)} cell ${String(c.cellIndex + 1).padEnd(3)} ${formatDuration(c.durationS).padStart(9)}  ${formatJoules(c.energyJ).padStart(10)}  ${formatWatts(c.avgPowerW).padStart(7)}  ${c.avgUtilPct === undefined ? '' : formatPct(c.avgUtilPct)}`;
}

/** Per cell, the counter delta the runner read itself over the cell (the GPUs Joules counted), next to Joules' figure. */
function counterCheck(summary: RunSummary, checks: Map<number, RunnerEvent>): Array<{ cell: number; joulesJ: number; counterJ: number }> {
  const out: Array<{ cell: number; joulesJ: number; counterJ: number }> = [];
  for (const c of summary.cells ?? []) {
    const ev = checks.get(c.cellIndex);
    if (!ev?.counter_start_mj || !ev.counter_end_mj) continue;
    let counterMj = 0;
    for (const g of c.gpus) {
      const a = ev.counter_start_mj[g.gpu];
      const b = ev.counter_end_mj[g.gpu];
      if (a === null || a === undefined || b === null || b === undefined) continue;
      counterMj += b - a;
    }
    out.push({ cell: c.cellIndex + 1, joulesJ: c.energyJ, counterJ: counterMj / 1000 });
  }
  return out;
}

function summaryText(s: RunSummary, checks: Map<number, RunnerEvent>): string {
  const lines = [
    '',
    `notebook ${s.name}: ${formatJoules(s.energyJ)} over ${formatDuration(s.durationS)} (${s.cells?.length ?? 0} cell(s) measured)`,
    s.attribution === 'processes'
      ? `counted: the GPU(s) the kernel used (${(s.gpus.filter((g) => g.attributed).map((g) => g.index)).join(', ')})`
      : 'counted: every GPU (the kernel was not seen on a GPU)',
    `run ${s.id} (joules report ${s.id})`,
  ];
  const check = counterCheck(s, checks);
  if (check.length) {
    lines.push('', 'cell   joules J   counter J (read by the runner at the cell\'s edges)');
    for (const c of check) lines.push(`${String(c.cell).padStart(4)} ${c.joulesJ.toFixed(1).padStart(10)} ${c.counterJ.toFixed(1).padStart(11)}`);
  }
  return lines.join('\n') + '\n';
}
