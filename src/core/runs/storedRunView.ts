/**
 * Opening a stored run in the panel: what the panel draws (min/max per time bucket, per GPU), read
 * from the run's overview file (overview.ts): a few hundred kB whatever the run's length. A run
 * stored without one (older runs, a damaged or stale file) has it built once by streaming its
 * samples, then cached. Zooming reads a time range of the samples by seeking through the
 * overview's offset index. Plain functions the host calls (and `bench:longrun` measures); no `vscode`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SampleGap } from '../sampler/types';
import type { ViewColumns } from './minMaxView';
import type { RangeDrawing, RunOverview } from './overview';
import { buildOverview, readOverview, readRange, writeOverview } from './overview';
import { yieldToLoop } from './sampleReader';
import type { RunStore, StoredRun } from './store';

/** A stored run as the panel draws it. */
export interface StoredRunDrawing {
  summary: StoredRun;
  /** Min/max per bucket of each GPU (drawn as samples by samplesOfColumns), in GPU order. */
  columns: ViewColumns[];
  bucketMs: number;
  gaps: SampleGap[];
  /** Where the drawing came from: the stored overview, or the samples (then cached when possible). */
  source: 'overview' | 'rebuilt';
  malformedLines: number;
}

/** Where a store's owner hears about overviews it had to rebuild (one line each). */
export type OverviewLog = (message: string) => void;

/** Builds in progress, per samples file: two panels opening one run share one pass over its samples. */
const building = new Map<string, Promise<RunOverview>>();

/**
 * The last few overviews read, per run folder, with the size of the samples they cover: zooming
 * into one run again and again then skips reading and checking the file each time (~20 ms of the
 * host's thread for 8 GPUs). A samples file of another size makes an entry stale, as on disk.
 */
const recent = new Map<string, RunOverview>();
const RECENT_OVERVIEWS = 4;

function remember(dir: string, overview: RunOverview): void {
  recent.delete(dir);
  recent.set(dir, overview);
  for (const k of recent.keys()) {
    if (recent.size <= RECENT_OVERVIEWS) break;
    recent.delete(k);
  }
}

function samplesSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Run `id`'s overview: the stored one when it can be trusted, else built from the samples and
 * stored (a running run's is not: its samples still grow). A damaged or stale file is reported
 * through `log` and replaced; a failure to store the rebuilt one is reported, not fatal. `reuse`:
 * one read recently may serve (zooming); opening a run always reads the file.
 */
export async function runOverview(store: RunStore, summary: StoredRun, log?: OverviewLog, reuse = false): Promise<{ overview: RunOverview; source: StoredRunDrawing['source'] }> {
  const dir = path.dirname(store.samplesFile(summary.id));
  const known = reuse ? recent.get(dir) : undefined;
  if (known && known.runId === summary.id && known.samplesBytes === samplesSize(store.samplesFile(summary.id))) return { overview: known, source: 'overview' };
  const stored = readOverview(dir, summary.id);
  if (stored && 'overview' in stored) {
    remember(dir, stored.overview);
    return { overview: stored.overview, source: 'overview' };
  }
  if (stored) log?.(`run ${summary.id}: ignoring ${path.join(dir, 'overview.bin')} (${stored.reason}); rebuilding it from the samples`);
  const file = store.samplesFile(summary.id);
  let pending = building.get(file);
  if (!pending) {
    pending = buildOverview(file, summary.id, summary.sampleIntervalMs || 100).then(async ({ overview }) => {
      if (summary.status !== 'running') {
        // Encoding and writing it is a step of its own: the host's other work runs in between.
        await yieldToLoop();
        try {
          writeOverview(dir, overview);
        } catch (e) {
          log?.(`run ${summary.id}: cannot store its overview (${(e as Error).message}); it will be rebuilt next time`);
        }
      }
      if (summary.status !== 'running') remember(dir, overview);
      return overview;
    });
    building.set(file, pending);
    void pending.finally(() => building.delete(file)).catch(() => undefined);
  }
  return { overview: await pending, source: 'rebuilt' };
}

/** Reads run `id` of `store` for drawing; undefined when the store has no such run. */
export async function storedRunDrawing(store: RunStore, id: string, log?: OverviewLog): Promise<StoredRunDrawing | undefined> {
  const summary = store.readMeta(id);
  if (!summary) return undefined;
  const { overview, source } = await runOverview(store, summary, log);
  return { summary, columns: overview.columns, bucketMs: overview.bucketMs, gaps: overview.gaps, source, malformedLines: overview.malformedLines };
}

/**
 * [startMs, endMs] of run `id` at full bucket resolution, read by seeking through the overview's
 * index; undefined when the store has no such run.
 */
export async function storedRunRange(store: RunStore, id: string, startMs: number, endMs: number, log?: OverviewLog): Promise<RangeDrawing | undefined> {
  const summary = store.readMeta(id);
  if (!summary) return undefined;
  const { overview } = await runOverview(store, summary, log, true);
  return readRange(store.samplesFile(id), overview.index, { startMs, endMs, intervalMs: summary.sampleIntervalMs || 100 });
}
