/**
 * Compares two stored runs of examples/train_starved.py (before and after the quick fixes):
 * per epoch, the energy between the run's "epoch N start" and "epoch N end" markers (counter reads),
 * the epoch's duration, and the GPU's average utilisation in it. Usage: trainCompare <store dir> <run id before> <run id after>
 */
import { RunStore } from '../src/core/runs/store';
import type { GpuSample } from '../src/core/sampler/types';

interface Epoch {
  epoch: number;
  seconds: number;
  energyJ: number;
  avgUtilPct: number;
}

function epochs(store: RunStore, id: string): { name: string; list: Epoch[]; findings: string[] } {
  const rec = store.load(id);
  if (!rec) throw new Error(`no run ${id}`);
  const marks = rec.summary.markers ?? [];
  const list: Epoch[] = [];
  for (const start of marks.filter((m) => / start$/.test(m.label))) {
    const n = Number(/epoch (\d+)/.exec(start.label)?.[1]);
    const end = marks.find((m) => m.label === `epoch ${n} end`);
    if (!end) continue;
    const inWindow = rec.samples.filter((s: GpuSample) => rec.stored.runGpus.includes(s.gpu) && s.tMs >= start.tS * 1000 && s.tMs <= end.tS * 1000 && s.utilGpuPct !== undefined);
    const util = inWindow.reduce((a, s) => a + s.utilGpuPct!, 0) / Math.max(1, inWindow.length);
    list.push({ epoch: n, seconds: end.tS - start.tS, energyJ: end.energyJ - start.energyJ, avgUtilPct: util });
  }
  return { name: rec.summary.name, list, findings: (rec.summary.findings ?? []).map((f) => `[${f.severity}] ${f.code}${f.line ? ` (line ${f.line})` : ''}: ${f.message}`) };
}

const [dir, beforeId, afterId] = process.argv.slice(2);
if (!dir || !beforeId || !afterId) {
  console.error('usage: trainCompare <store dir> <run id before> <run id after>');
  process.exit(2);
}
const store = new RunStore(dir);
const before = epochs(store, beforeId);
const after = epochs(store, afterId);
const row = (label: string, e: Epoch[]): string => e.map((x) => `${label} epoch ${x.epoch}: ${x.seconds.toFixed(2)} s, ${x.energyJ.toFixed(1)} J, util ${x.avgUtilPct.toFixed(1)} %`).join('\n');
console.log(row('before', before.list));
console.log(row('after ', after.list));
// Epoch 1 includes the DataLoader workers' start-up after the fix: report steady epochs (2..n) too.
const mean = (e: Epoch[], k: keyof Epoch): number => e.reduce((a, x) => a + (x[k] as number), 0) / Math.max(1, e.length);
for (const [label, pick] of [['all epochs', (e: Epoch[]) => e], ['epochs 2..n', (e: Epoch[]) => e.filter((x) => x.epoch > 1)]] as const) {
  const b = pick(before.list);
  const a = pick(after.list);
  if (!b.length || !a.length) continue;
  const eb = mean(b, 'energyJ');
  const ea = mean(a, 'energyJ');
  console.log(
    `${label}: energy/epoch ${eb.toFixed(1)} J -> ${ea.toFixed(1)} J (${((100 * (ea - eb)) / eb).toFixed(1)} %), ` +
      `time/epoch ${mean(b, 'seconds').toFixed(2)} s -> ${mean(a, 'seconds').toFixed(2)} s, util ${mean(b, 'avgUtilPct').toFixed(1)} % -> ${mean(a, 'avgUtilPct').toFixed(1)} %`,
  );
}
console.log('\nfindings before:\n  ' + (before.findings.join('\n  ') || 'none'));
console.log('findings after:\n  ' + (after.findings.join('\n  ') || 'none'));
