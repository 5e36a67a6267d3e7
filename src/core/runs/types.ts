import type { FindingSummary } from '../analysis/findings';
import type { CellEnergy } from '../notebooks/cellMeter';
import type { JobOrigin } from '../cluster/jobRecord';
import type { RankFigure } from './ranks';
import type { StepPoint } from './stepPoints';
import type { EnergyMethod, GpuInfo, GpuSample, PowerSource, RunEnergyMethod,UnavailableGpu } from '../sampler/types';

/** Lifecycle of a run. `interrupted`: the monitoring process died (VS Code killed) before the run ended. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'stopped' | 'interrupted';

/** What to launch. Arguments are passed as an argv array, never joined into a shell string. */
export interface LaunchSpec {
  /** Executable, or the whole command line when `shell` is true. */
  command: string;
  args: string[];
  cwd: string;
  /** Extra environment on top of the parent's; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Run through the platform shell; only when the user's own command line asks for it. */
  shell?: boolean;
  /** Display name in history (default: the script's or command's base name). */
  name?: string;
  /** The Python script the run executes, for source analysis. */
  scriptPath?: string;
  /**
   * The exact bytes of `command` and `args` where they are not valid UTF-8 (POSIX only; see
   * {@link execBytesScript}). `command`/`args` then hold the decoded text, for display.
   */
  argvBytes?: Uint8Array[];
}

/** Per-GPU figures of a run. */
export interface GpuRunSummary {
  index: number;
  name: string;
  uuid: string;
  energyJ: number;
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct?: number;
  peakMemUsedBytes?: number;
  memTotalBytes?: number;
  /** `counter+integrated`: counter deltas up to the counter's last good read, integrated power after it. */
  energyMethod: RunEnergyMethod;
  energyMethodReason?: string;
  /** Seconds covered by counter deltas, by integrated power, and by neither (failed power readings, not counted). */
  counterS?: number;
  integratedS?: number;
  gapS?: number;
  /** When the energy counter started failing for good (s since the start). */
  counterFailedAtS?: number;
  /** When the GPU was lost (NVML_ERROR_GPU_IS_LOST), s since the start: its figures stop there. */
  lostAtS?: number;
  powerSource: Exclude<PowerSource, 'ring'>;
  /** True when the run's processes were seen on this GPU (or CUDA_VISIBLE_DEVICES named it). */
  attributed: boolean;
  /**
   * Share of this GPU's SM activity that belonged to the run when other processes shared it
   * (from nvmlDeviceGetProcessUtilization: an estimate).
   */
  runSmSharePct?: number;
}

/** What a finished (or interrupted) run cost. Written to `run.json` and printed by `joules run --json`. */
export interface RunSummary {
  /** Format version of the record; bump on incompatible change. */
  schema: 1;
  id: string;
  name: string;
  /**
   * `notebook`: a notebook session (its cells in `cells`); `job`: a Prometheus job's window (`job`);
   * absent: a script or command Joules launched (or attached to).
   */
  kind?: 'notebook' | 'job';
  status: RunStatus;
  /** ISO 8601 wall-clock start. */
  startedAt: string;
  durationS: number;
  exitCode: number | null;
  signal?: string | null;
  command: string[];
  cwd: string;
  scriptPath?: string;
  /**
   * Set for a run measured by attaching to a process Joules did not launch (`joules attach`): its
   * pid, and whether the measurement ended because it `exited` (its exit code is not visible to a
   * non-parent) or was `detached` (the process runs on). Such a run's status is `stopped`.
   */
  attached?: { pid: number; end: 'exited' | 'detached' };
  /**
   * A run whose processes spanned several GPUs (torchrun and other launchers): each rank (a run
   * process NVML listed on a GPU), its RANK/LOCAL_RANK where its environment was readable, its
   * GPU(s) and their energy. See ranks.ts.
   */
  ranks?: RankFigure[];
  /** Energy of the run's GPUs (attributed ones; all GPUs when none could be attributed). */
  energyJ: number;
  /**
   * `counter` only when every counted GPU used the hardware counter throughout, `integrated` when
   * none did, else `counter+integrated` (see each GPU).
   */
  energyMethod: RunEnergyMethod;
  avgPowerW: number;
  peakPowerW: number;
  avgUtilPct?: number;
  gpus: GpuRunSummary[];
  /** GPUs NVML lists that could not be opened (lost before the start...): not measured. */
  unavailableGpus?: UnavailableGpu[];
  /** How the run's GPUs were chosen: `processes`, `cuda_visible_devices`, or `all` when neither told. */
  attribution: 'processes' | 'cuda_visible_devices' | 'all';
  /** True for `joules demo`: figures from a recorded trace, not this machine. */
  replay?: boolean;
  /** Driver/NVML versions, for reproducibility. */
  driverVersion?: string;
  nvmlVersion?: string;
  sampleIntervalMs: number;
  /** NVML errors seen during the run, by call and code name (e.g. "nvmlDeviceGetPowerUsage: GPU_IS_LOST": 3). */
  errors?: Record<string, number>;
  /** Metrics some GPU did not support (reported once, not per tick). */
  unsupported?: string[];
  findings?: FindingSummary[];
  /** The machine the run ran on: quick fixes size DataLoader workers from it, not from where they are applied. */
  host?: { cpuCount: number; gpuCount: number };
  /** The run's waste, counted once over its telemetry findings (`runWastedJ`): what "spent idle or starved" shows. */
  wastedJ?: number;
  /** Markers the run printed (`::joules mark <label>`), with the energy at that moment (counter read). */
  markers?: RunMarker[];
  /**
   * Work the run did and energy per unit of it (work.ts): steps, samples and tokens reported by the
   * Python package or `::joules` lines, or steps (and the HF Trainer's samples) inferred from the log.
   * Each J/unit is the run's whole energy divided by the units.
   */
  steps?: number;
  /** When the run reached its steps, bounded (see stepPoints.ts): Compare aligns runs by step with them. */
  stepPoints?: StepPoint[];
  tokens?: number;
  jPerStep?: number;
  jPerToken?: number;
  /** `job`: a Prometheus job's window (cluster/jobRecord.ts): where it was read and what the report found. */
  job?: JobOrigin;
  /** Notebook sessions: the cells executed while Joules sampled, in order, as measured windows. */
  cells?: CellEnergy[];
  samples?: number;
  jPerSample?: number;
  /** Where the work figures come from; `log`: inferred from the log (see `workDetail`). */
  workSource?: WorkSource;
  /** For `log`: what was read, e.g. `tqdm bar "Epoch #" (100 per bar)`. */
  workDetail?: string;
  /** Inference: energy per token between warm-up and drain (work.ts). */
  steadyState?: SteadyState;
}

/** `package`: the `joules` Python package; `markers`: `::joules` lines; `log`: inferred from the log. */
export type WorkSource = 'package' | 'markers' | 'package+markers' | 'log';

/** Steady-state J/token: tokens and energy between the 10 % and 90 % token reports (work.ts). */
export interface SteadyState {
  startS: number;
  endS: number;
  tokens: number;
  energyJ: number;
  jPerToken: number;
}

/** Work done so far in a live run. */
export interface LiveWork {
  source: WorkSource;
  steps?: number;
  samples?: number;
  tokens?: number;
  detail?: string;
}

/** A point in a run named by the run itself, e.g. an epoch boundary. */
export interface RunMarker {
  label: string;
  tS: number;
  /** Energy of the run's GPUs from the run's start to this marker (the counter read at the marker where supported). */
  energyJ: number;
  /**
   * `counter`: read at the marker. `interpolated`: the marker came within ~100 ms of another (the
   * counter's update period), so its time and energy lie between the two reads around it.
   */
  energySource?: 'counter' | 'interpolated';
  /**
   * Set on the two markers of a window (`joules.window(label)`): `begin` and `end` share `windowId`
   * (unique in the run). `closedAtRunEnd`: the program never closed the window (it crashed or
   * forgot); the end marker is the run's end.
   */
  window?: 'begin' | 'end';
  windowId?: number;
  closedAtRunEnd?: boolean;
}

/** Live figures of a running run, for the status bar and the panel. */
export interface LiveStatus {
  runId: string;
  elapsedS: number;
  /** Latest power of the run's GPUs, summed. */
  powerW: number | undefined;
  /** Energy of the run's GPUs so far; never decreases (see liveFigures.ts). */
  energyJ: number;
  energyMethod: EnergyMethod;
  /** NVML indices of the GPUs the figures count: the attributed ones, or all while none is. */
  countedGpus: number[];
  /** `energyJ` over the elapsed time. */
  avgPowerW: number;
  /** Highest summed power of the counted GPUs seen at a batch. */
  peakPowerW: number;
  /** Time-weighted mean utilization of the counted GPUs. */
  avgUtilPct?: number;
  gpus: Array<{
    index: number;
    name: string;
    attributed: boolean;
    powerW?: number;
    utilPct?: number;
    memUsedBytes?: number;
    memTotalBytes?: number;
    temperatureC?: number;
    energyJ?: number;
  }>;
  /** Seconds the run's GPUs have been continuously idle (util 0) or starved up to now. */
  idleForS: number;
  starvedForS: number;
  /** Work reported (or inferred) so far: J/unit live is `energyJ` over it. */
  work?: LiveWork;
}

/** A stored run: its summary, GPUs and full sample series. */
export interface RunRecord {
  summary: RunSummary;
  gpus: GpuInfo[];
  samples: GpuSample[];
  /** Last part of the run's output (stdout and stderr interleaved). */
  outputTail: string;
}

