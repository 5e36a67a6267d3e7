import { AttachError, attachSpec } from '../../core/runs/attach';
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
};

/**
 * `joules attach <pid>`: measure a running process (and its descendants) as a run from now on,
 * until it exits or Ctrl-C, which detaches and leaves it running. Same store, summary and findings
 * as `joules run`.
 */
export async function cmdAttach(argv: string[], io: Io): Promise<number> {
  const { flags, positionals } = parseArgs(argv, ATTACH_FLAGS);
  if (positionals.length !== 1 || !/^\d+$/.test(positionals[0]!)) throw new UsageError('usage: joules attach <pid> [--name NAME] [--json]');
  const pid = Number(positionals[0]);
  let spec;
  try {
    spec = attachSpec(pid, typeof flags.name === 'string' ? flags.name : undefined);
  } catch (e) {
    if (e instanceof AttachError) throw new UsageError(e.message);
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
  const session = await RunSession.attach(pid, spec, options);
  const json = flags.json === true;
  io.stderr.write(`joules: attached to process ${pid} (${[spec.command, ...spec.args].join(' ').slice(0, 120)}); Ctrl-C detaches and leaves it running\n`);
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
