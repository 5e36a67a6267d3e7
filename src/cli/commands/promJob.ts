import type { JobReport } from '../../core/cluster/jobReport';
import type { MetricSourceName } from '../../core/cluster/metricSources';
import { withSelector } from '../../core/cluster/metricSources';
import { promClient } from '../../core/cluster/promClient';
import { saveJobRecord } from '../../core/cluster/jobRecord';
import { fetchJobReport } from '../../core/cluster/promJob';
import { storeFromFlags } from '../storeAccess';
import { formatDuration, formatJoules, formatPct, formatWattHours, formatWatts } from '../../core/units/format';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import type { Io } from '../stdio';

const JOB_FLAGS: Record<string, FlagSpec> = {
  prometheus: { type: 'string' },
  selector: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  live: { type: 'boolean' },
  'refresh-s': { type: 'number', min: 1, max: 3600 },
  source: { type: 'string' },
  steps: { type: 'number', min: 0, minExclusive: true },
  json: { type: 'boolean' },
  save: { type: 'boolean' },
  store: { type: 'string' },
  name: { type: 'string' },
  'run-id': { type: 'string' },
};

/** Window when --from is not given. */
const DEFAULT_WINDOW_S = 3600;

/**
 * `joules job --prometheus URL --selector '{job="train"}' [--from T --to T | --live]`: a job's GPUs
 * across nodes, read back from Prometheus (Joules' exporter or dcgm-exporter): energy per node and
 * GPU, total, J/step, and the straggler finding.
 */
export async function cmdJob(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, JOB_FLAGS);
  if (positionals.length) throw new UsageError(`job takes no arguments, got "${positionals[0]}" (the job is picked by --selector)`);
  if (typeof flags.prometheus !== 'string') throw new UsageError('--prometheus URL is needed, e.g. --prometheus http://localhost:9090');
  if (typeof flags.selector !== 'string') throw new UsageError('--selector is needed: the job\'s label matchers, e.g. --selector \'{job="train"}\'');
  const source = (flags.source ?? 'auto') as string;
  if (source !== 'auto' && source !== 'joules' && source !== 'dcgm') throw new UsageError(`--source must be auto, joules or dcgm, got "${source}"`);
  if (flags.live && flags.to !== undefined) throw new UsageError('--live follows the job up to now: it takes --from, not --to');
  let client;
  try {
    client = promClient(flags.prometheus);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const nowS = (): number => Date.now() / 1000;
  const toS = typeof flags.to === 'string' ? parseTime(flags.to, nowS(), '--to') : nowS();
  const fromS = typeof flags.from === 'string' ? parseTime(flags.from, nowS(), '--from') : flags.live ? nowS() : toS - DEFAULT_WINDOW_S;
  if (!flags.live && !(fromS < toS)) throw new UsageError('--from must be before --to');
  // "Up to now" (no --to, or --to now, and --live) ends at the newest scrape every GPU has.
  const upToNow = flags.to === undefined || String(flags.to).trim() === 'now';
  const base = {
    selector: flags.selector,
    ...(upToNow ? { upToNewestScrape: true } : {}),
    source: source as MetricSourceName | 'auto',
    ...(typeof flags.steps === 'number' ? { steps: flags.steps } : {}),
  };
  try {
    // Validates the selector before anything is fetched.
    withSelector('x', flags.selector);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  // --save: the window goes to the run history as a run of kind `job` (the panel, Compare, exports).
  const store = flags.save ? storeFromFlags(flags, io.stderr, { forWriting: true }).store : undefined;
  const runId = typeof flags['run-id'] === 'string' ? flags['run-id'] : undefined;
  if (runId !== undefined && (!flags.save || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$/.test(runId))) throw new UsageError('--run-id takes a stored run\'s id and needs --save (it replaces that job run)');
  const save = (last: Awaited<ReturnType<typeof fetchJobReport>>): string | undefined => {
    if (!store) return undefined;
    const record = saveJobRecord(store, last.report, last.data, {
      prometheus: String(flags.prometheus),
      selector: String(flags.selector),
      ...(typeof flags.name === 'string' ? { name: flags.name } : {}),
      command: ['joules', 'job', ...argv],
      ...(runId !== undefined ? { id: runId } : {}),
    });
    io.stderr.write(`joules job: saved as run ${record.id} (joules report ${record.id})\n`);
    return record.id;
  };
  if (!flags.live) {
    const fetched = await fetchJobReport(client, { ...base, fromS, toS });
    const { report, queries } = fetched;
    const savedId = save(fetched);
    io.stdout.write(flags.json ? JSON.stringify({ ...report, queries, ...(savedId ? { runId: savedId } : {}) }) + '\n' : formatJobReport(report, flags.selector, queries));
    return 0;
  }

  // Live: the report from --from (or the start) to now, redrawn every --refresh-s, until Ctrl-C.
  const refreshMs = (typeof flags['refresh-s'] === 'number' ? flags['refresh-s'] : 5) * 1000;
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    stopped = true;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let last: Awaited<ReturnType<typeof fetchJobReport>> | undefined;
  try {
    while (!stopped) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, refreshMs);
      });
      try {
        last = await fetchJobReport(client, { ...base, fromS, toS: nowS() });
        io.stderr.write(`${new Date().toISOString()}  ${liveLine(last.report)}\n`);
      } catch (e) {
        io.stderr.write(`joules job: ${(e as Error).message}\n`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!last) {
    io.stderr.write('joules job: no report yet (stopped before the first refresh)\n');
    return 1;
  }
  const savedId = save(last);
  io.stdout.write(flags.json ? JSON.stringify({ ...last.report, queries: last.queries, ...(savedId ? { runId: savedId } : {}) }) + '\n' : formatJobReport(last.report, flags.selector, last.queries));
  return 0;
}

/** One line per refresh: each node's energy so far and the total. */
function liveLine(r: JobReport): string {
  return `${formatDuration(r.toS - r.fromS)}  total ${formatJoules(r.energyJ)}  ` + r.nodes.map((n) => `${n.host} ${formatJoules(n.energyJ)}${n.avgUtilPct !== undefined ? ` (${formatPct(n.avgUtilPct)})` : ''}`).join('  ');
}

/**
 * `now`, `now-30m` / `-30m` (s, m, h, d), Unix seconds, or an ISO 8601 date
 * (e.g. 2026-03-01T12:00:00Z).
 */
export function parseTime(text: string, nowS: number, flag: string): number {
  const t = text.trim();
  if (t === 'now') return nowS;
  const rel = /^(?:now)?-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(t);
  if (rel) return nowS - Number(rel[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isFinite(ms) && /^\d{4}-\d{2}-\d{2}/.test(t)) return ms / 1000;
  throw new UsageError(`${flag} must be now, -30m (s/m/h/d), Unix seconds or an ISO date, got "${text}"`);
}

/** The human report. */
export function formatJobReport(r: JobReport, selector: string, queries: readonly string[]): string {
  const out: string[] = [];
  const src = r.source === 'dcgm' ? "dcgm-exporter's metrics" : "Joules exporter's metrics";
  out.push(`Job ${selector}: ${new Date(r.fromS * 1000).toISOString()} to ${new Date(r.toS * 1000).toISOString()} (${formatDuration(r.toS - r.fromS)}), from ${src}`);
  for (const n of r.nodes) {
    out.push(`  node ${n.host}: ${formatJoules(n.energyJ)} over ${n.gpus} GPU(s), ${methodText(n.energyMethod)}${n.avgUtilPct !== undefined ? `, utilization ${formatPct(n.avgUtilPct)}` : ''}`);
    for (const g of r.gpus.filter((x) => x.host === n.host)) {
      out.push(
        `    GPU ${g.gpu}${g.name ? ` ${g.name}` : ''}${g.uuid ? ` ${g.uuid}` : ''}: ${formatJoules(g.energyJ)}, ${methodText(g.energyMethod)}` +
          `, ${formatWatts(g.avgPowerW)} average${g.avgUtilPct !== undefined ? `, ${formatPct(g.avgUtilPct)}` : ''}` +
          `, ${formatDuration(g.coveredS)} covered at ${g.intervalS ? `${g.intervalS.toFixed(g.intervalS < 10 ? 1 : 0)} s` : '?'} scrapes`,
      );
    }
  }
  const bound = r.errorBoundJ > 0 ? ` (counter figures within ±${formatJoules(r.errorBoundJ)}: the window's ends fall between scrapes)` : '';
  out.push(`  total: ${formatJoules(r.energyJ)} (${formatWattHours(r.energyJ)}), ${methodText(r.energyMethod)}${bound}`);
  if (r.jPerStep !== undefined) out.push(`  per step: ${formatJoules(r.jPerStep)} (${r.steps} steps over all ranks)`);
  if (r.findings.length) {
    out.push('Findings:');
    for (const f of r.findings) out.push(`  ${f.severity === 'warning' ? 'warning' : 'info'}: ${f.message}`);
  } else if (r.nodes.length > 1) {
    out.push('Findings: none (no node sat idle while the others were busy)');
  }
  if (r.notes.length) {
    out.push('Notes:');
    for (const n of r.notes) out.push(`  ${n}`);
  }
  out.push('PromQL:');
  for (const q of queries) out.push(`  ${q}`);
  return out.join('\n') + '\n';
}

function methodText(m: JobReport['energyMethod']): string {
  return m === 'counter' ? 'energy counter' : m === 'integrated' ? 'integrated power' : 'energy counter and integrated power';
}
