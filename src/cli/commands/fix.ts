import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { writeFixedScript } from '../fixWrite';
import type { Io } from '../stdio';
import { readStoredRun, storeFromFlags } from '../storeAccess';

const FIX_FLAGS: Record<string, FlagSpec> = { apply: { type: 'boolean' }, store: { type: 'string' }, workers: { type: 'number', integer: true, min: 0, max: 256 } };

/**
 * `joules fix`: the editor's quick fixes from a terminal. The stored run is analysed once against
 * the script as it is now; after each applied fix only the source is re-read (ranges stay right).
 */
export async function cmdFix(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, FIX_FLAGS);
  if (positionals.length !== 1) throw new UsageError('fix needs one run id (or "last"); see joules history');
  const { store } = storeFromFlags(flags, io.stderr, { forWriting: false });
  // A replay has no script of the user's to fix: `last` is the newest measured run.
  const rec = readStoredRun(store, positionals[0], (r) => !r.replay);
  const script = rec.scriptPath;
  if (!script || !fs.existsSync(script)) throw new UsageError(`run ${rec.id} has no Python script to fix${script ? ` (${script} is gone)` : ''}`);
  const { planFixes } = await import('../../core/analysis/fixPlan');
  const { analyzeInWorker } = await import('../../core/analysis/analysisClient');
  const { cliWasmOptions } = await import('../analysis');
  const options = cliWasmOptions();
  const { defaultNumWorkers } = await import('../../core/analysis/quickFixes');
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
