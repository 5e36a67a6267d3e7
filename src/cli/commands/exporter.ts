import * as os from 'node:os';
import { NvmlBackend } from '../../core/nvml/nvmlBackend';
import { NvmlLoadError } from '../../core/nvml/nvmlError';
import { GpuMetrics } from '../../core/metrics/gpuMetrics';
import type { MetricsServer } from '../../core/metrics/metricsServer';
import { serveMetrics } from '../../core/metrics/metricsServer';
import { ownThreadLoop } from '../../core/sampler/ownThreadLoop';
import { WorkerSampler } from '../../core/sampler/workerSampler';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { workerFile } from '../bundlePaths';
import type { Io } from '../stdio';

/** Default port of `joules exporter` (dcgm-exporter uses 9400, node_exporter 9100). */
export const DEFAULT_EXPORTER_PORT = 9471;

/**
 * How often the exporter reads the hardware energy counter between scrapes (the run default is
 * 60 s, because a read costs ~4 ms of CPU on an H200); every scrape reads it too (see scrape()).
 */
const EXPORTER_COUNTER_INTERVAL_MS = 10_000;

export const EXPORTER_FLAGS: Record<string, FlagSpec> = {
  port: { type: 'number', integer: true, min: 0, max: 65_535 },
  listen: { type: 'string' },
  host: { type: 'string' },
  'interval-ms': { type: 'number', integer: true, min: 20, max: 10_000 },
};

/** `--listen ADDR --port N` of the exporter and of `joules run --metrics-port`. */
export function listenAddress(listen: unknown): string {
  const a = typeof listen === 'string' ? listen : '127.0.0.1';
  if (!a.trim()) throw new UsageError('--listen needs an address, e.g. 127.0.0.1 or 0.0.0.0');
  return a;
}

/**
 * `joules exporter`: samples every GPU (the same sampler as `joules run`) and serves the figures
 * on /metrics for Prometheus until Ctrl-C or SIGTERM.
 */
export async function cmdExporter(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, EXPORTER_FLAGS);
  if (positionals.length) throw new UsageError(`exporter takes no arguments, got "${positionals[0]}"`);
  const listen = listenAddress(flags.listen);
  const port = typeof flags.port === 'number' ? flags.port : DEFAULT_EXPORTER_PORT;
  const host = typeof flags.host === 'string' && flags.host.trim() ? flags.host.trim() : os.hostname();
  const intervalMs = typeof flags['interval-ms'] === 'number' ? flags['interval-ms'] : 100;

  // No GPU to measure is the same clear failure as `joules run`'s (exit code 3).
  const probe = NvmlBackend.open();
  const count = probe.devices.length;
  probe.close();
  if (count === 0) throw new NvmlLoadError('NVML loaded but no GPU could be opened', []);
  const sampler = await WorkerSampler.start({
    backend: { kind: 'nvml' },
    intervalMs,
    counterIntervalMs: EXPORTER_COUNTER_INTERVAL_MS,
    onOwnThread: ownThreadLoop,
    workerFile: workerFile(),
  });
  // The sampler's epoch is set just after it says it is ready.
  const metrics = new GpuMetrics(host, sampler.gpus, Date.now());
  let server: MetricsServer;
  try {
    server = await serveMetrics({ listen, port, families: () => scrape(sampler, metrics) });
  } catch (e) {
    await sampler.terminate();
    throw e;
  }
  for (const u of sampler.ready.unavailableGpus ?? []) io.stderr.write(`joules exporter: GPU ${u.index} cannot be opened: ${u.error}\n`);
  sampler.onBatch((batch, energies) => {
    metrics.addSamples(batch.samples);
    for (const e of energies) if (e.lostAtMs !== undefined) metrics.markLost(e.gpu);
    for (const n of batch.notices) io.stderr.write(`joules exporter: ${n}\n`);
  });
  sampler.onError((message) => io.stderr.write(`joules exporter: sampler: ${message}\n`));
  const shown = server.host.includes(':') ? `[${server.host}]` : server.host;
  io.stderr.write(`joules exporter: ${sampler.gpus.length} GPU(s) of host "${host}" at http://${shown}:${server.port}/metrics (Ctrl-C to stop)\n`);

  await new Promise<void>((resolve) => {
    const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const stop = (): void => {
      for (const s of signals) process.off(s, stop);
      resolve();
    };
    for (const s of signals) process.on(s, stop);
  });
  await server.close();
  try {
    await sampler.finish();
  } catch {
    // Stopping anyway: nothing is recorded by the exporter.
  }
  io.stderr.write('joules exporter: stopped\n');
  return 0;
}

/** How long a scrape waits for the counter read before answering with the last batch's figures. */
const SCRAPE_COUNTER_WAIT_MS = 2000;

/**
 * A scrape reads the energy counters first (~4 ms a GPU on an H200; dcgm-exporter reads them on
 * every collection too), so the published counter is as of the scrape's timestamp: Prometheus'
 * increase() over any window is then the hardware counter's, not off by the batch period.
 */
async function scrape(sampler: WorkerSampler, metrics: GpuMetrics): Promise<ReturnType<GpuMetrics['families']>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const read = await Promise.race([
    sampler.mark().catch(() => undefined),
    new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), SCRAPE_COUNTER_WAIT_MS))),
  ]);
  clearTimeout(timer);
  if (read) metrics.addEnergies(read.energies);
  return metrics.families();
}
