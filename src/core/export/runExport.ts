/**
 * A stored run written where ML people already look: a TensorBoard event file, or an MLflow file
 * store run (`mlruns/<experiment_id>/<run_id>/...`). Both stream the run's samples (exportSeries.ts)
 * and write under a temporary name first, so a failed export leaves no half file behind.
 */
import { createHash, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunStore, StoredRun } from '../runs/store';
import type { CarbonFigures, CarbonSettings } from '../units/carbon';
import { carbonFigures } from '../units/carbon';
import type { SeriesPoint } from './exportSeries';
import { bucketMsFor, SeriesReducer } from './exportSeries';
import type { ScalarValue } from './tfrecord';
import { fileVersionEvent, scalarEvent, textEvent, tfRecord } from './tfrecord';

/** The GPUs a run's figures count: the attributed ones, or all when none was (the summary's own rule). */
function countedGpus(run: StoredRun): Set<number> {
  const attributed = run.gpus.filter((g) => g.attributed).map((g) => g.index);
  return new Set(attributed.length ? attributed : run.gpus.map((g) => g.index));
}

/** Streams the run's series points to `onPoints` in time order. */
async function forEachPoints(store: RunStore, run: StoredRun, onPoints: (points: SeriesPoint[]) => void): Promise<void> {
  const reducer = new SeriesReducer(bucketMsFor(run.durationS, run.sampleIntervalMs), countedGpus(run));
  for await (const batch of store.streamSamples(run.id)) {
    const points = reducer.add(batch.samples);
    if (points.length) onPoints(points);
  }
  onPoints(reducer.finish());
}

function seriesName(p: SeriesPoint): string {
  return p.gpu === 'total' ? 'total' : `gpu${p.gpu}`;
}

/** The run's one-value figures, by name (energy, power, carbon, cost, work units, waste). */
function summaryScalars(run: StoredRun, f: CarbonFigures): Array<[string, number]> {
  const out: Array<[string, number]> = [
    ['energy_j', run.energyJ],
    ['energy_kwh', run.energyJ / 3.6e6],
    ['duration_s', run.durationS],
    ['avg_power_w', run.avgPowerW],
    ['peak_power_w', run.peakPowerW],
    ['carbon_g', f.carbonG],
    ['grid_intensity_g_per_kwh', f.intensity.gPerKWh],
    ['pue', f.pue],
  ];
  if (run.avgUtilPct !== undefined) out.push(['avg_util_pct', run.avgUtilPct]);
  if (f.cost) out.push(['cost', f.cost.amount]);
  if (run.wastedJ !== undefined) out.push(['wasted_j', run.wastedJ]);
  if (run.steps) out.push(['steps', run.steps]);
  if (run.jPerStep !== undefined && run.steps) out.push(['j_per_step', run.jPerStep]);
  if (run.tokens) out.push(['tokens', run.tokens]);
  if (run.jPerToken !== undefined && run.tokens) out.push(['j_per_token', run.jPerToken]);
  return out;
}

/** The run in words (Markdown): the text summary of TensorBoard, an artifact of MLflow. */
export function runMarkdown(run: StoredRun, f: CarbonFigures): string {
  const lines = [
    `**${run.name}** (${run.id}), ${run.status}${run.replay ? ' (REPLAY of a recorded trace)' : ''}`,
    '',
    `- energy: ${(run.energyJ / 3.6e6).toPrecision(4)} kWh (${run.energyMethod})`,
    `- carbon: ${f.carbonG.toPrecision(4)} g CO2e (${f.carbonSource})`,
  ];
  if (f.cost) lines.push(`- cost: ${f.cost.amount.toPrecision(4)} ${f.cost.currency} (${f.cost.source})`);
  for (const r of f.relatable) lines.push(`- same as ${r.value.toPrecision(3)} ${r.label} (${r.source})`);
  lines.push('', '**Findings**', '');
  if (!run.findings?.length) lines.push('None.');
  for (const x of run.findings ?? []) {
    const where = x.file ? ` (${x.file}${x.line ? `:${x.line}` : ''})` : '';
    lines.push(`- [${x.severity}] ${x.message}${where}`);
  }
  return lines.join('\n') + '\n';
}

/** Writes `write(fd)` to `file` through a temporary file in the same folder, then renames it into place. */
function writeAtomically(file: string, write: (fd: number) => Promise<void>): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  return write(fd).then(
    () => {
      fs.closeSync(fd);
      fs.renameSync(tmp, file);
    },
    (e: unknown) => {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    },
  );
}

/** Buffers records into ~1 MB writes. */
class ChunkedWriter {
  private parts: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 1 << 20) this.flush();
  }
  flush(): void {
    if (!this.size) return;
    fs.writeSync(this.fd, Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}

/**
 * `joules report <run> --to tensorboard DIR`: DIR/<run id>/events.out.tfevents.<start s>.joules,
 * one folder per run so that TensorBoard shows runs side by side. Steps are milliseconds since the
 * run's start; wall times are the samples' clock times. Scalars: `power_w/<gpu>`, `energy_j/<gpu>`
 * (cumulative), `util_pct/<gpu>` (with `total` for the counted GPUs), `summary/<figure>` at the
 * run's end; text: `joules/summary` (figures, carbon source, findings). Resolves with the file.
 */
export async function exportTensorboard(store: RunStore, run: StoredRun, dir: string, settings: CarbonSettings): Promise<string> {
  const f = carbonFigures(run.energyJ, settings);
  const startS = Date.parse(run.startedAt) / 1000;
  if (!Number.isFinite(startS)) throw new Error(`run ${run.id} has no valid start time ("${run.startedAt}")`);
  const runDir = path.join(dir, run.id);
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, `events.out.tfevents.${Math.floor(startS)}.joules`);
  await writeAtomically(file, async (fd) => {
    const w = new ChunkedWriter(fd);
    w.push(tfRecord(fileVersionEvent(startS)));
    await forEachPoints(store, run, (points) => {
      for (const p of points) {
        const name = seriesName(p);
        const values: ScalarValue[] = [];
        if (p.powerW !== undefined) values.push({ tag: `power_w/${name}`, value: p.powerW });
        if (p.energyJ !== undefined) values.push({ tag: `energy_j/${name}`, value: p.energyJ });
        if (p.utilPct !== undefined) values.push({ tag: `util_pct/${name}`, value: p.utilPct });
        if (values.length) w.push(tfRecord(scalarEvent(startS + p.tMs / 1000, Math.round(p.tMs), values)));
      }
    });
    const endStep = Math.round(run.durationS * 1000);
    const endS = startS + run.durationS;
    w.push(tfRecord(scalarEvent(endS, endStep, summaryScalars(run, f).map(([tag, value]) => ({ tag: `summary/${tag}`, value })))));
    w.push(tfRecord(textEvent(endS, endStep, { tag: 'joules/summary', text: runMarkdown(run, f) })));
    w.flush();
  });
  return file;
}

// ---- MLflow file store --------------------------------------------------------------------------

/**
 * MLflow's RunStatus numbers (mlflow/protos/service.proto: RUNNING 1, SCHEDULED 2, FINISHED 3,
 * FAILED 4, KILLED 5) and SourceType LOCAL 4, as its FileStore writes them into meta.yaml.
 */
const MLFLOW_STATUS = { running: 1, succeeded: 3, failed: 4, interrupted: 4, stopped: 5 } as const;
const MLFLOW_SOURCE_LOCAL = 4;

/** A YAML scalar that YAML reads back as exactly this string (JSON strings are valid YAML). */
function yamlString(s: string): string {
  return JSON.stringify(s);
}

function fileUri(p: string): string {
  return pathToFileURL(path.resolve(p)).href;
}

/** The user's name as MLflow records it (`user_id`); empty where the system cannot tell. */
function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

function writeYaml(file: string, entries: Array<[string, string | number | null]>): void {
  const text = entries.map(([k, v]) => `${k}: ${v === null ? 'null' : typeof v === 'number' ? String(v) : yamlString(v)}`).join('\n') + '\n';
  fs.writeFileSync(file, text);
}

/** The `name:` of an experiment's meta.yaml, as MLflow (PyYAML) or Joules wrote it. */
function experimentName(metaYaml: string): string | undefined {
  const line = metaYaml.split(/\r?\n/).find((l) => l.startsWith('name:'));
  if (!line) return undefined;
  const v = line.slice(5).trim();
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return undefined;
    }
  }
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}

function createExperiment(root: string, id: string, name: string, nowMs: number): void {
  const dir = path.join(root, id);
  fs.mkdirSync(dir, { recursive: true });
  writeYaml(path.join(dir, 'meta.yaml'), [
    ['artifact_location', fileUri(dir)],
    ['creation_time', nowMs],
    ['experiment_id', id],
    ['last_update_time', nowMs],
    ['lifecycle_stage', 'active'],
    ['name', name],
  ]);
}

/** The id of the experiment named `name` under `root`, created (with MLflow's default experiment 0 in a new store) when missing. */
function experimentId(root: string, name: string): string {
  const now = Date.now();
  if (!fs.existsSync(root)) {
    // What MLflow's FileStore does for a new root: the default experiment 0 and the trash folder.
    fs.mkdirSync(path.join(root, '.trash'), { recursive: true });
    createExperiment(root, '0', 'Default', now);
  }
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const meta = path.join(root, e.name, 'meta.yaml');
    if (fs.existsSync(meta) && experimentName(fs.readFileSync(meta, 'utf8')) === name) return e.name;
  }
  // MLflow picks a random integer id for a new experiment.
  const id = `${now}${String(randomInt(1_000_000)).padStart(6, '0')}`;
  createExperiment(root, id, name, now);
  return id;
}

/** MLflow run ids are 32 hex digits: Joules derives one from its own run id, so a re-export replaces the same run. */
export function mlflowRunId(joulesRunId: string): string {
  return createHash('sha256').update(`joules:${joulesRunId}`).digest('hex').slice(0, 32);
}

/**
 * `joules report <run> --to mlflow DIR`: the run in MLflow's file store layout under DIR (an
 * `mlruns` folder `mlflow ui --backend-store-uri DIR` reads): `<experiment_id>/meta.yaml`,
 * `<experiment_id>/<run_id>/meta.yaml`, `metrics/<name>` ("<timestamp ms> <value> <step>" lines),
 * `params/<name>`, `tags/<name>`, `artifacts/joules/`. Resolves with the run's folder.
 */
export async function exportMlflow(store: RunStore, run: StoredRun, dir: string, settings: CarbonSettings, experiment = 'joules'): Promise<string> {
  const f = carbonFigures(run.energyJ, settings);
  const startMs = Date.parse(run.startedAt);
  if (!Number.isFinite(startMs)) throw new Error(`run ${run.id} has no valid start time ("${run.startedAt}")`);
  const endMs = Math.round(startMs + run.durationS * 1000);
  const expId = experimentId(dir, experiment);
  const runId = mlflowRunId(run.id);
  const runDir = path.join(dir, expId, runId);
  if (fs.existsSync(runDir)) {
    const tag = path.join(runDir, 'tags', 'joules.run_id');
    if (!fs.existsSync(tag) || fs.readFileSync(tag, 'utf8') !== run.id) throw new Error(`${runDir} exists and is not this run's export; not replaced`);
  }
  // Built beside the final folder, then swapped in: a failed export leaves the old one (or none).
  const tmp = fs.mkdtempSync(path.join(dir, expId, `.${runId}.tmp-`));
  try {
    for (const sub of ['metrics', 'params', 'tags', 'artifacts/joules']) fs.mkdirSync(path.join(tmp, sub), { recursive: true });
    // Series: one file per metric, lines appended in time order ("timestamp value step", MLflow's format).
    const metricLines = new Map<string, string[]>();
    const add = (name: string, ts: number, value: number, step: number): void => {
      let l = metricLines.get(name);
      if (!l) metricLines.set(name, (l = []));
      l.push(`${ts} ${value} ${step}\n`);
      if (l.length >= 4096) flushMetric(name);
    };
    const flushMetric = (name: string): void => {
      const l = metricLines.get(name);
      if (!l?.length) return;
      const file = path.join(tmp, 'metrics', ...name.split('/'));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.appendFileSync(file, l.join(''));
      metricLines.set(name, []);
    };
    await forEachPoints(store, run, (points) => {
      for (const p of points) {
        const ts = Math.round(startMs + p.tMs);
        const step = Math.round(p.tMs);
        const name = seriesName(p);
        if (p.powerW !== undefined) add(`power_w/${name}`, ts, p.powerW, step);
        if (p.energyJ !== undefined) add(`energy_j/${name}`, ts, p.energyJ, step);
        if (p.utilPct !== undefined) add(`util_pct/${name}`, ts, p.utilPct, step);
      }
    });
    for (const [name, value] of summaryScalars(run, f)) add(`summary/${name}`, endMs, value, 0);
    for (const name of [...metricLines.keys()]) flushMetric(name);

    const params: Array<[string, string]> = [
      ['joules.sample_interval_ms', String(run.sampleIntervalMs)],
      ['joules.energy_method', run.energyMethod],
      ['joules.attribution', run.attribution],
      ['joules.gpus', run.gpus.map((g) => `${g.index}: ${g.name}`).join('; ').slice(0, 500)],
      ['joules.grid_intensity_g_per_kwh', String(f.intensity.gPerKWh)],
      ['joules.pue', String(f.pue)],
    ];
    if (f.cost) params.push(['joules.price_per_kwh', String(settings.pricePerKWh)], ['joules.currency', f.cost.currency]);
    for (const [k, v] of params) fs.writeFileSync(path.join(tmp, 'params', k), v);
    const tags: Array<[string, string]> = [
      ['mlflow.runName', run.name],
      ['mlflow.source.name', run.command.join(' ').slice(0, 500)],
      ['mlflow.source.type', 'LOCAL'],
      ['joules.run_id', run.id],
      ['joules.status', run.status],
      ['joules.carbon_source', f.carbonSource],
      ['joules.findings', String(run.findings?.length ?? 0)],
    ];
    if (run.replay) tags.push(['joules.replay', 'true']);
    // MLflow writes tags without a trailing newline; so does this.
    for (const [k, v] of tags) fs.writeFileSync(path.join(tmp, 'tags', k), v);
    fs.writeFileSync(path.join(tmp, 'artifacts', 'joules', 'summary.md'), runMarkdown(run, f));
    fs.writeFileSync(path.join(tmp, 'artifacts', 'joules', 'run.json'), JSON.stringify(run, null, 2) + '\n');
    writeYaml(path.join(tmp, 'meta.yaml'), [
      ['artifact_uri', fileUri(path.join(runDir, 'artifacts'))],
      ['end_time', run.status === 'running' ? null : endMs],
      ['entry_point_name', ''],
      ['experiment_id', expId],
      ['lifecycle_stage', 'active'],
      ['run_id', runId],
      ['run_name', run.name],
      ['run_uuid', runId],
      ['source_name', ''],
      ['source_type', MLFLOW_SOURCE_LOCAL],
      ['source_version', ''],
      ['start_time', startMs],
      ['status', MLFLOW_STATUS[run.status]],
      ['user_id', userName()],
      ['deleted_time', null],
    ]);
    fs.appendFileSync(path.join(tmp, 'meta.yaml'), 'tags: []\n');
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.renameSync(tmp, runDir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return runDir;
}
