/**
 * `joules run --metrics-port N`: the exporter's families for the GPUs of one run, plus that run's
 * energy and state, served while it runs.
 */
import * as os from 'node:os';
import { runName } from '../runs/lifecycle';
import type { RunSession } from '../runs/runSession';
import { GpuMetrics } from './gpuMetrics';
import type { MetricsServer } from './metricsServer';
import { serveMetrics } from './metricsServer';

/** Serve `session`'s metrics on `listen:port` until the returned server is closed. */
export async function serveRunMetrics(session: RunSession, o: { listen: string; port: number; host?: string }): Promise<MetricsServer> {
  const metrics = new GpuMetrics(o.host ?? os.hostname(), session.gpus, session.startedAt.getTime());
  const name = session.spec.name ?? runName(session.spec);
  metrics.setRun(session.id, name, 0, 'running');
  const server = await serveMetrics({ listen: o.listen, port: o.port, families: () => metrics.families() });
  session.onBatch((batch) => {
    metrics.addSamples(batch.samples);
    metrics.setRun(session.id, name, session.live().energyJ, 'running');
  });
  session.onEnd((summary) => metrics.setRun(session.id, name, summary.energyJ, summary.status));
  return server;
}
