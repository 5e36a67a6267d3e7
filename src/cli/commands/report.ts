import * as fs from 'node:fs';
import * as path from 'node:path';
import { runsToCodecarbonCsv } from '../../core/export/codecarbonCsv';
import { exportMlflow, exportTensorboard } from '../../core/export/runExport';
import type { StoredRun } from '../../core/runs/store';
import { carbonFigures } from '../../core/units/carbon';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { CARBON_FLAGS, carbonSettingsFrom } from '../carbonOptions';
import type { Io } from '../stdio';
import { readStoredRun, storeFromFlags } from '../storeAccess';
import { formatSummary, toJson } from '../summary';

const REPORT_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, store: { type: 'string' }, experiment: { type: 'string' }, ...CARBON_FLAGS };

/** What `--to` writes. */
const TARGETS = ['codecarbon-csv', 'tensorboard', 'mlflow'] as const;
type Target = (typeof TARGETS)[number];

/**
 * `--to FORMAT PATH` takes two values, which the flag parser does not do: it is taken out of argv
 * first (before `--`, where no option is parsed).
 */
function takeTo(argv: string[]): { rest: string[]; to?: { target: Target; dest: string } } {
  const end = argv.indexOf('--');
  const limit = end < 0 ? argv.length : end;
  const i = argv.findIndex((a, k) => k < limit && (a === '--to' || a.startsWith('--to=')));
  if (i < 0) return { rest: argv };
  const inline = argv[i]!.startsWith('--to=');
  const target = inline ? argv[i]!.slice('--to='.length) : argv[i + 1];
  const dest = inline ? argv[i + 1] : argv[i + 2];
  if (!target || !(TARGETS as readonly string[]).includes(target)) throw new UsageError(`--to needs a format (${TARGETS.join(', ')}), got ${target === undefined ? 'nothing' : `"${target}"`}`);
  if (dest === undefined || dest === '' || (dest.startsWith('-') && dest !== '-')) throw new UsageError(`--to ${target} needs a ${target === 'codecarbon-csv' ? 'file (or - for stdout)' : 'folder'} after it`);
  if (dest === '-' && target !== 'codecarbon-csv') throw new UsageError(`--to ${target} writes a folder, not stdout`);
  const rest = [...argv.slice(0, i), ...argv.slice(i + (inline ? 2 : 3))];
  if (takeTo(rest).to) throw new UsageError('--to may be given once');
  return { rest, to: { target: target as Target, dest } };
}

/**
 * `joules report <run-id|last> [--json]`: a stored run's summary, as printed after the run, with its
 * carbon and cost. `joules report <run...> --to codecarbon-csv FILE | tensorboard DIR | mlflow DIR`:
 * the runs in those tools' formats.
 */
export async function cmdReport(argv: string[], io: Io): Promise<number> {
  const { rest, to } = takeTo(argv);
  const { flags, positionals } = parseArgs(rest, REPORT_FLAGS);
  const carbon = carbonSettingsFrom(flags);
  if (flags.experiment !== undefined && to?.target !== 'mlflow') throw new UsageError('--experiment applies to --to mlflow');
  const { store } = storeFromFlags(flags, io.stderr, { forWriting: false });
  if (!to) {
    if (positionals.length !== 1) throw new UsageError('report needs one run id (or "last"); see joules history');
    const run = readStoredRun(store, positionals[0]);
    if (flags.json) io.stdout.write(JSON.stringify({ ...toJson(run), carbon: carbonJson(run, carbon) }) + '\n');
    else io.stdout.write(formatSummary(run, carbon));
    return 0;
  }
  if (flags.json) throw new UsageError('--json and --to do not go together');
  if (!positionals.length) throw new UsageError(`report --to ${to.target} needs one or more run ids (or "last"); see joules history`);
  const runs: StoredRun[] = positionals.map((id) => readStoredRun(store, id));
  switch (to.target) {
    case 'codecarbon-csv': {
      const text = runsToCodecarbonCsv(runs, carbon);
      if (to.dest === '-') {
        io.stdout.write(text);
      } else {
        const file = path.resolve(to.dest);
        writeFileAtomically(file, text);
        io.stderr.write(`joules: wrote ${runs.length === 1 ? 'one run' : `${runs.length} runs`} to ${file} (CodeCarbon emissions.csv columns, then Joules')\n`);
      }
      return 0;
    }
    case 'tensorboard': {
      const dir = ensureDir(to.dest);
      for (const run of runs) {
        const file = await exportTensorboard(store, run, dir, carbon);
        io.stderr.write(`joules: wrote ${file}\n`);
      }
      io.stderr.write(`joules: view with: tensorboard --logdir ${dir}\n`);
      return 0;
    }
    case 'mlflow': {
      const dir = path.resolve(to.dest);
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      const experiment = typeof flags.experiment === 'string' && flags.experiment.trim() ? flags.experiment.trim() : 'joules';
      for (const run of runs) {
        const runDir = await exportMlflow(store, run, dir, carbon, experiment);
        io.stderr.write(`joules: wrote ${runDir}\n`);
      }
      io.stderr.write(`joules: view with: mlflow ui --backend-store-uri ${dir}\n`);
      return 0;
    }
  }
}

/** The `carbon` object of `report --json`. */
function carbonJson(run: StoredRun, settings: Parameters<typeof carbonFigures>[1]): Record<string, unknown> {
  const f = carbonFigures(run.energyJ, settings);
  return {
    gCO2e: f.carbonG,
    intensityGPerKWh: f.intensity.gPerKWh,
    intensityOrigin: f.intensity.origin,
    source: f.carbonSource,
    pue: f.pue,
    facilityKWh: f.facilityKWh,
    ...(f.cost ? { cost: f.cost.amount, currency: f.cost.currency, costSource: f.cost.source } : {}),
    relatable: f.relatable,
  };
}

function ensureDir(dest: string): string {
  const dir = path.resolve(dest);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function writeFileAtomically(file: string, text: string): void {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`${file} is a folder`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
