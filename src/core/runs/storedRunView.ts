/**
 * Opening a stored run in the panel: what the panel draws (min/max per time bucket, per GPU), read
 * by streaming the samples file through a bounded view. Memory and the message size are fixed by the
 * bucket count, not by the run's length (sending every sample of 8 GPUs x 8 h as JSON was 396 MB).
 * A plain function the host calls (and `bench:longrun` measures); no `vscode`.
 */
import * as fs from 'node:fs';
import type { GpuSample, SampleGap } from '../sampler/types';
import { MinMaxView } from './minMaxView';
import { newReadStats, rowToSample, streamSampleRows } from './sampleReader';
import type { ReadStats } from './sampleReader';
import type { RunStore, StoredRun } from './store';

/** A stored run as the panel draws it. */
export interface StoredRunDrawing {
  summary: StoredRun;
  /** Min/max per bucket of each GPU (see MinMaxView.toSamples), in time order. */
  samples: GpuSample[];
  gaps: SampleGap[];
  /** Rows read and malformed lines skipped. */
  stats: ReadStats;
}

/** Reads run `id` of `store` for drawing; undefined when the store has no such run. */
export async function storedRunDrawing(store: RunStore, id: string): Promise<StoredRunDrawing | undefined> {
  const summary = store.readMeta(id);
  if (!summary) return undefined;
  const view = new MinMaxView(Math.max(1, summary.sampleIntervalMs || 100));
  const gaps: SampleGap[] = [];
  const stats = newReadStats();
  const file = store.samplesFile(id);
  if (fs.existsSync(file)) {
    await streamSampleRows(file, { row: (v, o) => view.add(rowToSample(v, o)), gap: (g) => gaps.push(g) }, stats);
  }
  return { summary, samples: view.toSamples(), gaps, stats };
}
