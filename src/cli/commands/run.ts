import * as path from 'node:path';
import { NvmlBackend } from '../../core/nvml/nvmlBackend';
import { NvmlLoadError } from '../../core/nvml/nvmlError';
import type { RunOptions } from '../../core/runs/runSession';
import { RunSession } from '../../core/runs/runSession';
import { analyzeForCli } from '../analysis';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { pythonPackageDir, workerFile } from '../bundlePaths';
import { followSession } from '../followSession';
import { rawArgs } from '../rawArgv';
import type { Io } from '../stdio';
import { storeFromFlags } from '../storeAccess';
import { ownThreadLoop } from '../../core/sampler/ownThreadLoop';
import { serveRunMetrics } from '../../core/metrics/runMetrics';
import { listenAddress } from './exporter';

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
  'metrics-port': { type: 'number', integer: true, min: 0, max: 65_535 },
  'metrics-listen': { type: 'string' },
};

/** `joules run [options] -- <command> [args...]`: runs the command and measures its GPUs. */
export async function cmdRun(argv: string[], io: Io): Promise<number> {
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
  // (`npm run bench:sampler`: 0.93 % of a core against 1.38 % with a worker, 8 fake GPUs).
  const thread = flags['sampler-thread'] ?? 'main';
  if (thread !== 'main' && thread !== 'worker') throw new UsageError(`--sampler-thread must be main or worker, got "${String(thread)}"`);
  // Fail before launching anything when the record cannot be written or there is no GPU to measure.
  const { store, warnings } = storeFromFlags(flags, io.stderr, { forWriting: true });
  probeGpus();
  const scriptPath = rest.slice(1).find((a) => a.endsWith('.py'));
  // Arguments that are not valid UTF-8 reach the command byte for byte (Linux; see rawArgv.ts).
  const argvBytes = shell ? undefined : rawArgs(rest);
  // `import joules` works in the run without installing anything (README: Python package).
  const packageDir = pythonPackageDir();
  const options: RunOptions = {
    store,
    sampler: { backend: { kind: 'nvml' }, intervalMs, powerSamplesPerSecond: powerSps, powerRing, ...(thread === 'main' ? { onOwnThread: ownThreadLoop } : {}), workerFile: workerFile() },
    stdin: 'inherit',
    ...(packageDir ? { pythonPackageDir: packageDir } : {}),
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
  // Prometheus metrics of this run while it runs (see `joules exporter`); a port that cannot be
  // bound is reported and the run goes on: the measurement is worth more than the endpoint.
  if (typeof flags['metrics-port'] === 'number') {
    try {
      const server = await serveRunMetrics(session, { listen: listenAddress(flags['metrics-listen']), port: flags['metrics-port'] });
      io.stderr.write(`joules: metrics of this run at http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}/metrics\n`);
      void session.done.then(() => server.close());
    } catch (e) {
      io.stderr.write(`joules: ${e instanceof Error ? e.message : String(e)}; the run goes on without it\n`);
    }
  }
  return await followSession(session, flags, io, warnings);
}

/** Fails (NvmlLoadError) when NVML cannot be loaded or opens no GPU, before anything starts. */
export function probeGpus(): void {
  const backend = NvmlBackend.open();
  const count = backend.devices.length;
  const failed = backend.unavailable.map((u) => `GPU ${u.index}: ${u.error}`);
  backend.close();
  if (count === 0) throw new NvmlLoadError(failed.length ? `no GPU could be opened (${failed.join('; ')})` : 'NVML loaded but reports no GPUs', []);
}
