import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunOverview } from './overview';
import { buildOverview, writeOverview } from './overview';
import type { ReadStats } from './sampleReader';
import { yieldToLoop } from './sampleReader';
import type { StoredRun } from './store';
import { runFolder, writeJsonAtomic } from './storeFiles';
import type { RunFigures } from './summary';
import { SummaryAccumulator } from './summary';

/** What recovery reads of a store. */
export interface RecoverySource {
  readonly root: string;
  list(): StoredRun[];
  readMeta(id: string): StoredRun | undefined;
}

/** Runs recovered as interrupted, and those whose samples could not be read (left as they were). */
export interface RecoveryResult {
  recovered: StoredRun[];
  failed: Array<{ id: string; error: string }>;
}

/** See {@link RunStore.recoverInterrupted}. */
export async function recoverInterruptedRuns(store: RecoverySource, isAlive: (pid: number) => boolean): Promise<RecoveryResult> {
  const recovered: StoredRun[] = [];
  const failed: Array<{ id: string; error: string }> = [];
  for (const meta of store.list()) {
    if (meta.status !== 'running') continue;
    if (meta.monitorHost === os.hostname() && meta.monitorPid !== process.pid && isAlive(meta.monitorPid)) continue;
    if (meta.monitorHost === os.hostname() && meta.monitorPid === process.pid) continue;
    const dir = runFolder(store.root, meta.id);
    const file = path.join(dir, 'samples.jsonl');
    let figures: Awaited<ReturnType<typeof recoverFigures>>;
    try {
      figures = await recoverFigures(file, meta);
    } catch (e) {
      failed.push({ id: meta.id, error: (e as Error).message });
      continue;
    }
    // Re-read: the record must not have changed (finished by its monitor) while we streamed.
    const now = store.readMeta(meta.id);
    if (!now || now.status !== 'running') continue;
    const fixed: StoredRun = { ...now, ...figures.summary, status: 'interrupted', exitCode: null };
    if (figures.stats.malformedLines) {
      fixed.errors = { ...(fixed.errors ?? {}), 'store: malformed sample lines skipped': figures.stats.malformedLines };
    }
    writeJsonAtomic(path.join(dir, 'run.json'), fixed);
    await yieldToLoop();
    try {
      // A cache: when it cannot be written, the panel builds it on first open.
      writeOverview(dir, figures.overview);
    } catch {
      // Nothing lost: the record is written, the overview is rebuilt when needed.
    }
    recovered.push(fixed);
  }
  return { recovered, failed };
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
