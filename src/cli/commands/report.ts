import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import type { Io } from '../stdio';
import { readStoredRun, storeFromFlags } from '../storeAccess';
import { formatSummary, toJson } from '../summary';

const REPORT_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, store: { type: 'string' } };

/** `joules report <run-id|last>`: a stored run's summary, as printed after the run. */
export function cmdReport(argv: string[], io: Io): number {
  const { flags, positionals } = parseArgs(argv, REPORT_FLAGS);
  if (positionals.length !== 1) throw new UsageError('report needs one run id (or "last"); see joules history');
  const { store } = storeFromFlags(flags, io.stderr, { forWriting: false });
  const run = readStoredRun(store, positionals[0]);
  if (flags.json) io.stdout.write(JSON.stringify(toJson(run)) + '\n');
  else io.stdout.write(formatSummary(run));
  return 0;
}
