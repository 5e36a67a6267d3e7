import * as path from 'node:path';
import { defaultStoreDir, RunStore, StoreError } from '../core/runs/store';
import type { StoredRun } from '../core/runs/store';
import type { RunSummary } from '../core/runs/types';
import type { Parsed } from './args';
import { UsageError } from './args';
import type { SafeOutput } from './stdio';

/**
 * The store of a command's `--store` flag (see {@link openStore}), with the warnings that report
 * its failed writes and skipped folders on `err`.
 */
export function storeFromFlags(flags: Parsed['flags'], err: SafeOutput, opts: { forWriting: boolean }): { store: RunStore; warnings: RunStoreWarnings } {
  const warnings = new RunStoreWarnings(err);
  return { store: openStore(flags.store, { forWriting: opts.forWriting, warnings }), warnings };
}

/** The stored run `arg` names: its id, or `last` for the newest run that `lastOf` accepts. */
export function readStoredRun(store: RunStore, arg: string | undefined, lastOf: (run: StoredRun) => boolean = () => true): StoredRun {
  const id = arg === 'last' ? store.list().find(lastOf)?.id : arg;
  const run = id ? store.readMeta(id) : undefined;
  if (!run) throw new UsageError(`no run "${arg}" in ${store.root}`);
  return run;
}

/**
 * The run history folder of a command: `--store DIR`, else $JOULES_HOME/runs, else the platform's
 * data folder. For a run it must be writable before the command starts (one line and exit 4
 * otherwise); for reading, a missing folder is an empty history.
 */
export function openStore(flag: string | number | boolean | undefined, opts: { forWriting: boolean; warnings: RunStoreWarnings }): RunStore {
  if (flag !== undefined && (typeof flag !== 'string' || flag.trim() === '')) throw new UsageError('--store needs a folder');
  const fromEnv = flag === undefined && process.env.JOULES_HOME !== undefined;
  if (fromEnv && !path.isAbsolute(process.env.JOULES_HOME!)) {
    // A relative JOULES_HOME would scatter histories over every folder the CLI is started from.
    throw new StoreError(`JOULES_HOME must be an absolute path, got "${process.env.JOULES_HOME}"`);
  }
  const root = typeof flag === 'string' ? path.resolve(flag) : defaultStoreDir();
  const store = new RunStore(root, { onWriteError: (message, file) => opts.warnings.writeFailed(message, file) });
  if (opts.forWriting) {
    try {
      store.ensureWritable();
    } catch (e) {
      if (e instanceof StoreError && fromEnv) throw new StoreError(`${e.message} (from JOULES_HOME)`);
      throw e;
    }
  }
  return store;
}

/**
 * What the user hears about the store going wrong during a command: the first failed write at
 * once (a full disk must not go unnoticed for a 20-hour run), then one line at the end saying the
 * record may be incomplete. Folders skipped by `history` get one line each.
 */
export class RunStoreWarnings {
  private failures = 0;
  private firstFailure: string | undefined;
  private dir: string | undefined;

  constructor(private readonly err: SafeOutput) {}

  /** For {@link RunStore.list}: a folder that was skipped and why. */
  readonly skipped = (folder: string, reason: string): void => {
    this.err.write(`joules: warning: skipped ${folder}: ${reason}\n`);
  };

  writeFailed(message: string, file: string): void {
    this.failures++;
    if (this.firstFailure !== undefined) return;
    this.firstFailure = message;
    this.dir = path.dirname(file);
    this.err.write(`joules: warning: cannot write the run record (${message}, ${file}); measuring goes on in memory and the summary will be printed\n`);
  }

  /** The summary with the store's failures in `errors`, so `--json` readers see them too. */
  annotate(summary: RunSummary): RunSummary {
    if (!this.failures || this.firstFailure === undefined) return summary;
    return { ...summary, errors: { ...(summary.errors ?? {}), [`store: ${this.firstFailure}`]: this.failures } };
  }

  /** Closing line after the summary. */
  finish(): void {
    if (!this.failures) return;
    this.err.write(`joules: the run record in ${this.dir} may be incomplete: ${this.failures} write(s) failed (${this.firstFailure}); the summary above was computed in memory\n`);
  }
}
