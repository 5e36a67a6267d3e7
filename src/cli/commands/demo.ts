import * as fs from 'node:fs';
import * as path from 'node:path';
import { RunSession } from '../../core/runs/runSession';
import { analyzeForCli } from '../analysis';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { bundledTrace, workerFile } from '../bundlePaths';
import { followSession } from '../followSession';
import type { Io } from '../stdio';
import { storeFromFlags } from '../storeAccess';

const DEMO_FLAGS: Record<string, FlagSpec> = {
  speed: { type: 'number', min: 0, minExclusive: true, max: 100_000 },
  json: { type: 'boolean' },
  trace: { type: 'string' },
  store: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-analysis': { type: 'boolean' },
};

/** `joules demo`: replays the recorded H200 trace as if it were a run (no GPU needed). */
export async function cmdDemo(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, DEMO_FLAGS);
  if (positionals.length) throw new UsageError(`demo takes no arguments, got "${positionals[0]}"`);
  const speed = typeof flags.speed === 'number' ? flags.speed : 1;
  const trace = typeof flags.trace === 'string' ? path.resolve(flags.trace) : bundledTrace();
  if (!fs.existsSync(trace)) throw new UsageError(`trace not found: ${trace}`);
  const { store, warnings } = storeFromFlags(flags, io.stderr, { forWriting: true });
  io.stderr.write(
    `joules demo: REPLAY of a recorded trace, not a measurement of this machine.\n` +
      `  ${trace}\n  One NVIDIA H200, driver 580.159.04, 30 s phased PyTorch load (idle, full, starved, full, idle)` +
      `${speed !== 1 ? `, replayed ${speed}x faster` : ''}.\n`,
  );
  const session = await RunSession.replay(trace, speed, {
    store,
    sampler: { backend: { kind: 'replay', tracePath: trace, speed }, intervalMs: 100, workerFile: workerFile() },
    ...(flags['no-analysis'] ? {} : { analyze: analyzeForCli }),
  });
  return await followSession(session, flags, io, warnings);
}
