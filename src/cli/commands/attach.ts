import { AttachError, attachSpec } from '../../core/runs/attach';
import { containerProcesses, inContainer } from '../../core/runs/containers';
import type { RunOptions } from '../../core/runs/runSession';
import { RunSession } from '../../core/runs/runSession';
import { ownThreadLoop } from '../../core/sampler/ownThreadLoop';
import { analyzeForCli } from '../analysis';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import { workerFile } from '../bundlePaths';
import { LiveMeter } from '../liveMeter';
import type { Io } from '../stdio';
import { storeFromFlags } from '../storeAccess';
import { formatSummary, toJson } from '../summary';
import { NvmlBackend } from '../../core/nvml/nvmlBackend';
import { NvmlLoadError } from '../../core/nvml/nvmlError';

const ATTACH_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean' },
  name: { type: 'string' },
  store: { type: 'string' },
  'no-analysis': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'interval-ms': { type: 'number', integer: true, min: 20, max: 10_000 },
  container: { type: 'string' },
};

/**
 * `joules attach <pid>`: measure a running process (and its descendants) as a run from now on,
 * until it exits or Ctrl-C, which detaches and leaves it running. Same store, summary and findings
 * as `joules run`.
 */
export async function cmdAttach(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, ATTACH_FLAGS);
  const container = typeof flags.container === 'string' ? flags.container : undefined;
  const usage = 'usage: joules attach <pid> [--name NAME] [--json], or joules attach --container <id> [--name NAME] [--json]';
  if (container !== undefined ? positionals.length !== 0 : positionals.length !== 1 || !/^\d+$/.test(positionals[0]!)) throw new UsageError(usage);
  let pid: number;
  let member: ((pid: number) => boolean) | undefined;
  let what: string;
  let spec;
  try {
    if (container !== undefined) {
      // Every process of the container, `docker exec` ones included, by cgroup; the run ends with
      // the container's init (its first process).
      const found = containerProcesses(container);
      if (found.init === undefined || found.fullId === undefined) throw new AttachError(`no process of container ${container} runs on this host (containers are read from /proc: run Joules on the host, not in another container)`);
      pid = found.init;
      member = inContainer(found.fullId);
      what = `container ${found.fullId.slice(0, 12)} (${found.pids.length} process${found.pids.length === 1 ? '' : 'es'} now, its init pid ${pid})`;
      spec = attachSpec(pid, typeof flags.name === 'string' ? flags.name : `container ${found.fullId.slice(0, 12)}`);
    } else {
      pid = Number(positionals[0]);
      spec = attachSpec(pid, typeof flags.name === 'string' ? flags.name : undefined);
      what = `process ${pid} (${[spec.command, ...spec.args].join(' ').slice(0, 120)})`;
    }
  } catch (e) {
    if (e instanceof AttachError) throw new UsageError(e.message);
    if (e instanceof Error && container !== undefined) throw new UsageError(e.message);
    throw e;
  }
  const { store, warnings } = storeFromFlags(flags, io.stderr, { forWriting: true });
  const probe = NvmlBackend.open();
  const count = probe.devices.length;
  probe.close();
  if (count === 0) throw new NvmlLoadError('NVML loaded but no GPU could be opened', []);
  const options: RunOptions = {
    store,
    sampler: {
      backend: { kind: 'nvml' },
      intervalMs: typeof flags['interval-ms'] === 'number' ? flags['interval-ms'] : 100,
      onOwnThread: ownThreadLoop,
      workerFile: workerFile(),
    },
    ...(flags['no-analysis'] ? {} : { analyze: analyzeForCli }),
  };
  const session = await RunSession.attach(pid, spec, options, member);
  const json = flags.json === true;
  io.stderr.write(`joules: attached to ${what}; Ctrl-C detaches and leaves it running\n`);
  const meter = !json && !flags.quiet && io.stderr.isTTY === true ? new LiveMeter(session, io.stderr) : undefined;
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (): void => {
    meter?.clear();
    io.stderr.write(`\njoules: detaching from process ${pid} (it keeps running)\n`);
    void session.stop();
  };
  for (const s of signals) process.on(s, onSignal);
  meter?.start();
  const summary = warnings.annotate(await session.done);
  meter?.stop();
  for (const s of signals) process.off(s, onSignal);
  if (json) io.stdout.write(JSON.stringify(toJson(summary)) + '\n');
  else {
    io.stderr.write(formatSummary(summary));
    io.stderr.write(
      summary.attached?.end === 'detached'
        ? `joules: detached; process ${pid} keeps running\n`
        : `joules: process ${pid} exited (its exit code is not visible to Joules, which did not launch it)\n`,
    );
  }
  warnings.finish();
  return 0;
}
