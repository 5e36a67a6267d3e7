import { NvmlLoadError } from '../core/nvml/nvmlError';
import { CommandNotFoundError } from '../core/runs/processes';
import { defaultStoreDir, StoreError } from '../core/runs/store';
import { UsageError } from './args';
import { cmdAttach } from './commands/attach';
import { cmdCheck } from './commands/check';
import { cmdDemo } from './commands/demo';
import { cmdDevices } from './commands/devices';
import { cmdExporter } from './commands/exporter';
import { cmdFix } from './commands/fix';
import { cmdProcesses } from './commands/processes';
import { cmdJob } from './commands/promJob';
import { cmdHistory } from './commands/history';
import { cmdNotebook } from './commands/notebook';
import { cmdReport } from './commands/report';
import { cmdRun } from './commands/run';
import type { Io } from './stdio';
import { processStdio } from './stdio';
import { version } from '../../package.json';

// The package's own version (esbuild keeps only this field of package.json in the bundle).
const VERSION = version;

const HELP = `joules ${VERSION}: measure the GPU energy of ML runs (NVML), and show where it is wasted.

Usage:
  joules run [options] -- <command> [args...]   run a command and measure its GPUs
  joules processes [--json]                     every process on every GPU: user, command, memory, SM share
  joules attach <pid> [--name N] [--json]       measure a running process Joules did not launch (and its
                                                children) until it exits; Ctrl-C detaches, it keeps running
  joules attach --container <id> [--name N]     the same for all of a container's processes (by cgroup,
                                                \`docker exec\` ones included) until the container stops
  joules demo [--speed N] [--json]              replay a recorded H200 run (no GPU needed)
  joules notebook [options] <file.ipynb>        run a notebook on a Jupyter kernel, with each cell's GPU energy
  joules devices [--json]                       list GPUs and what Joules can measure on them
  joules history [--json] [--limit N]           list stored runs, newest first
  joules report <run-id|last> [--json]          show a stored run's summary (with its carbon and cost)
  joules report <run...> --to FORMAT PATH       export runs: codecarbon-csv FILE (- for stdout),
                                                tensorboard DIR, mlflow DIR [--experiment NAME]
  joules fix <run-id|last> [--apply]            the quick fixes for a run's findings (--apply applies the safe ones)
  joules check <script.py> [--json]             static hints for a script, without a run (nothing measured)
  joules exporter [--port N] [--listen ADDR] [--host NAME]
                                                serve every GPU's power, energy, utilization, memory and
                                                temperature for Prometheus on /metrics (default 127.0.0.1:9471)
  joules job --prometheus URL --selector '{job="train"}' [--from T] [--to T | --live] [--steps N] [--json]
                                                a job's GPUs across nodes from Prometheus (Joules' exporter
                                                or dcgm-exporter): energy per node and GPU, J/step, stragglers

Options for run:
  --json              print the summary as one JSON object on stdout (the command's stdout goes to stderr)
  --interval-ms N     sampling period where a GPU has no power sample ring, 20-10000 ms (default 100);
                      where it has one, the ring is drained about once a second instead
  --power-samples-per-second N   power points kept from the ring, 1-50 (default 50)
  --power-ring off    tick every --interval-ms instead of draining the ring (for comparisons)
  --sampler-thread T  main (default: sampling on the CLI's own thread) or worker (a sampler thread)
  --shell             run <command> through the shell (one quoted command line)
  --name NAME         name of the run in the history
  --store DIR         run history folder (default: ${defaultStoreDir()})
  --no-analysis       skip the inefficiency findings
  --quiet             no live wattmeter
  --watch-after-s N   keep watching the GPUs N s after the command exits, to catch memory left held
  --metrics-port N    serve this run's GPU and energy metrics for Prometheus on /metrics while it runs
  --metrics-listen A  address for --metrics-port (default 127.0.0.1)

Options for notebook (needs nbclient and ipykernel in the Python it uses):
  --python P          the Python that runs the kernel (default python3)
  --kernel NAME       kernel name (default: the notebook's kernelspec)
  --output FILE       write the executed notebook (with outputs) there
  --timeout-s N       seconds a cell may run (default: no limit)
  --json              the session's record (cells included) as one JSON object on stdout
  --counter           also read the GPUs' energy counters at each cell's edges in the runner (a check)

Carbon and cost (report flags; run, demo and report also read the environment variables):
  --region R          grid region: ISO 3166-1 alpha-3 code or name (JOULES_CARBON_REGION; default: world average)
  --intensity G       your own grid intensity, g CO2e/kWh (JOULES_CARBON_INTENSITY; overrides --region)
  --pue P             data centre PUE, at least 1 (JOULES_PUE; default 1)
  --price X           electricity price per kWh (JOULES_PRICE_PER_KWH; no cost figure without it)
  --currency C        currency of the price, a label (JOULES_CURRENCY; default USD)

Environment:
  JOULES_NVML_LIBRARY  path of libnvidia-ml.so.1 / nvml.dll when it is not found by itself
  JOULES_HOME          base folder of the run history
`;

/** Exit codes of the CLI's own failures (a run exits with its command's code). */
const EXIT_USAGE = 2;
const EXIT_NO_GPU = 3;
const EXIT_NOT_FOUND = 127;
/** The run history folder cannot be used (nothing was started). */
const EXIT_STORE = 4;

/** Entry point; returns the process exit code. */
export async function main(argv: string[], io: Io = processStdio()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await cmdRun(rest, io);
      case 'demo':
        return await cmdDemo(rest, io);
      case 'notebook':
        return await cmdNotebook(rest, io);
      case 'devices':
        return cmdDevices(rest, io);
      case 'history':
        return await cmdHistory(rest, io);
      case 'report':
        return await cmdReport(rest, io);
      case 'fix':
        return await cmdFix(rest, io);
      case 'check':
        return await cmdCheck(rest, io);
      case 'exporter':
        return await cmdExporter(rest, io);
      case 'job':
        return await cmdJob(rest, io);
      case 'attach':
        return await cmdAttach(rest, io);
      case 'processes':
        return cmdProcesses(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(HELP);
        return command === undefined ? EXIT_USAGE : 0;
      case '--version':
      case 'version':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}" (try: joules help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof CommandNotFoundError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_NOT_FOUND;
    }
    if (e instanceof StoreError) {
      io.stderr.write(`joules: ${e.message}\n`);
      return EXIT_STORE;
    }
    if (e instanceof NvmlLoadError) {
      io.stderr.write(noGpuMessage(e.message));
      return EXIT_NO_GPU;
    }
    io.stderr.write(`joules: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function noGpuMessage(detail: string): string {
  return (
    `joules: no NVIDIA GPU to measure: ${detail}\n` +
    'joules: `joules run` measures real GPUs only and will not make figures up. ' +
    'To see what Joules shows, replay a recorded H200 run: joules demo\n'
  );
}
