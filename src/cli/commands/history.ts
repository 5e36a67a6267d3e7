import { formatDuration, formatJoules, formatWatts } from '../../core/units/format';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import type { Io } from '../stdio';
import { storeFromFlags } from '../storeAccess';
import { toJson } from '../summary';

const HISTORY_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, limit: { type: 'number', integer: true, min: 1 }, store: { type: 'string' } };

/** `joules history`: stored runs, newest first (runs left unfinished are recovered first). */
export async function cmdHistory(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, HISTORY_FLAGS);
  if (positionals.length) throw new UsageError(`history takes no arguments, got "${positionals[0]}"`);
  const { store, warnings } = storeFromFlags(flags, io.stderr, { forWriting: false });
  await store.recoverInterrupted();
  const limit = typeof flags.limit === 'number' ? flags.limit : 20;
  const runs = store.list(warnings.skipped).slice(0, limit);
  if (flags.json) {
    io.stdout.write(JSON.stringify(runs.map((r) => toJson(r))) + '\n');
    return 0;
  }
  if (!runs.length) {
    io.stdout.write(`No runs in ${store.root}.\n`);
    return 0;
  }
  for (const r of runs) {
    io.stdout.write(
      `${r.id}  ${r.status.padEnd(11)} ${formatDuration(r.durationS).padStart(8)}  ${formatJoules(r.energyJ).padStart(9)}  ${formatWatts(r.avgPowerW).padStart(6)} avg  ${r.name}${r.replay ? ' (replay)' : ''}\n`,
    );
  }
  return 0;
}
