/**
 * Work inferred from a run's ordinary log, for runs that report none themselves: tqdm progress bars
 * (which the Hugging Face Trainer and Lightning print too), rich's bars (Lightning's default when
 * `rich` is installed) and the Trainer's closing log dict.
 *
 *   tqdm          `desc:  37%|███▋      | 370/1000 [00:10<00:17, 35.2it/s]` (updated with \r)
 *                 `desc: 370it [00:10, 35.2it/s]` (no total)
 *   Lightning     `Epoch 0:  40%|████      | 40/100 [00:01<00:01, 35.00it/s, v_num=0]` (TQDMProgressBar),
 *                 `Epoch 0/2 ━━━━━━━━━━━━ 40/100 0:00:01 • 0:00:02 35.00it/s` (RichProgressBar, its
 *                 default where `rich` is installed; without a terminal it prints each bar's last state)
 *   HF Trainer    its tqdm bar (total = max_steps), and `{'train_runtime': 12.3,
 *                 'train_samples_per_second': 52.1, 'train_steps_per_second': 6.5, ...}` for samples
 *                 (and for steps when no bar was printed: `disable_tqdm=True`); tokens from the
 *                 last `'num_input_tokens_seen': N` of its log dicts (`include_num_input_tokens_seen`)
 *
 * Never double counting: bars are grouped into families (the stream, the description with digits
 * made `#` so "Epoch 0" and "Epoch 1" are one family, and the total); a bar's progress counts only
 * forward (a count going down is a new bar of the family, counted from 0; for rich's bars, which
 * print only their last state without a terminal, so is a new description at the same count). The steps are those of
 * ONE family, the one that advanced most: an outer epoch bar around an inner batch bar is never
 * added to it. Bars named for validation, evaluation, testing, prediction or a sanity check are
 * ignored. Pure and bounded: a partial line of at most 4,096 characters, at most 32 families.
 */
import { StepPoints } from './stepPoints';

const MAX_PARTIAL_CHARS = 4096;
const MAX_FAMILIES = 32;
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
/** `desc: NN%|bar| n/total [` */
const BAR_WITH_TOTAL = /^(.*?)\s*(\d{1,3})%\|[^|]*\|\s*(\d+)\/(\d+)(?=\s|\[|$)/;
/** `desc: n<unit> [00:01, ...` (a bar without a total) */
const BAR_WITHOUT_TOTAL = /^(.*?)\s*(\d+)[A-Za-z]* \[(?:\d+:)?\d+:\d+[,\]]/;
/** rich's bar (Lightning's RichProgressBar): `desc ━━━━━━ n/total 0:00:01` */
const RICH_BAR = /^(.*?)\s+[\u2501\u2578\u257a]+\s+(\d+)\/(\d+)\s+\d+:\d{2}:\d{2}/;
const EVAL_DESC = /\b(val\w*|eval\w*|test\w*|predict\w*|sanity\w*)\b/i;
const NUM = String.raw`['"]?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)['"]?`;
const HF_RUNTIME = new RegExp(String.raw`['"]train_runtime['"]\s*:\s*${NUM}`);
const HF_SAMPLES_PER_S = new RegExp(String.raw`['"]train_samples_per_second['"]\s*:\s*${NUM}`);
const HF_STEPS_PER_S = new RegExp(String.raw`['"]train_steps_per_second['"]\s*:\s*${NUM}`);
const HF_TOKENS_SEEN = new RegExp(String.raw`['"]num_input_tokens_seen['"]\s*:\s*${NUM}`);

interface Family {
  label: string;
  lastN: number;
  /** The last description as printed (digits included): a rich bar of a new epoch changes it. */
  lastDesc: string;
  count: number;
  points: StepPoints;
}

/** What the log told, when it told anything. */
export interface LogWork {
  steps: number;
  stepPoints: StepPoints;
  /** From the Trainer's closing figures (rounded by the Trainer: an estimate). */
  samples?: number;
  /** The Trainer's `num_input_tokens_seen` (cumulative, as it logs it). */
  tokens?: number;
  /** Which bar the steps come from, e.g. `tqdm bar "Epoch #" (100 per bar)`. */
  detail: string;
}

export class LogWorkInference {
  private readonly partial = { stdout: '', stderr: '' };
  private readonly families = new Map<string, Family>();
  private samples: number | undefined;
  /** Steps from the Trainer's closing figures, used only when no bar was printed. */
  private trainerSteps: { steps: number; points: StepPoints } | undefined;
  private tokensSeen: number | undefined;

  /** A chunk of the run's output (marker lines already removed); `tS`: the run's time now. */
  feed(text: string, stream: 'stdout' | 'stderr', tS: number): void {
    const all = this.partial[stream] + text;
    const segments = all.split(/[\r\n]/);
    this.partial[stream] = (segments.pop() ?? '').slice(-MAX_PARTIAL_CHARS);
    for (const seg of segments) this.line(seg, stream, tS);
  }

  private line(raw: string, stream: string, tS: number): void {
    if (raw.length > MAX_PARTIAL_CHARS) raw = raw.slice(0, MAX_PARTIAL_CHARS);
    if (raw.includes('train_runtime')) this.trainerTotals(raw, tS);
    if (raw.includes('num_input_tokens_seen')) {
      const t = Number(HF_TOKENS_SEEN.exec(raw)?.[1]);
      if (Number.isSafeInteger(t) && t > (this.tokensSeen ?? 0)) this.tokensSeen = t;
    }
    const hasBar = raw.includes('%|') || raw.includes(' [') || raw.includes('\u2501');
    if (!hasBar) return;
    const line = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw;
    let desc: string;
    let kind = 'tqdm';
    let n: number;
    let total: string;
    let m = BAR_WITH_TOTAL.exec(line);
    const rich = m ? null : RICH_BAR.exec(line);
    if (m) {
      desc = m[1]!;
      n = Number(m[3]);
      total = m[4]!;
    } else if (rich) {
      kind = 'rich';
      desc = rich[1]!;
      n = Number(rich[2]);
      total = rich[3]!;
    } else {
      m = BAR_WITHOUT_TOTAL.exec(line);
      if (!m) return;
      desc = m[1]!;
      n = Number(m[2]);
      total = '?';
    }
    desc = desc.trim().replace(/:$/, '').trim();
    if (EVAL_DESC.test(desc) || !Number.isSafeInteger(n)) return;
    const family = desc.replace(/-?\d+/g, '#');
    const key = `${stream}|${family}|${total}`;
    let f = this.families.get(key);
    if (!f) {
      if (this.families.size >= MAX_FAMILIES) return;
      f = { label: `${kind} bar${family ? ` "${family}"` : ''}${total === '?' ? '' : ` (${total} per bar)`}`, lastN: 0, lastDesc: desc, count: 0, points: new StepPoints() };
      this.families.set(key, f);
    }
    // A count going down is a new bar of the family (the next epoch's), which starts from 0. tqdm
    // prints every bar at 0 first; rich, without a terminal, prints only a bar's last state, so
    // there a new description (`Epoch 1` after `Epoch 0`) at a count not above the last is a new
    // bar too. Not for tqdm: a description updated in place (`loss 0.52`) would count bars twice.
    const newBar = n < f.lastN || (kind === 'rich' && desc !== f.lastDesc && n <= f.lastN);
    const delta = newBar ? n : n - f.lastN;
    f.lastN = n;
    f.lastDesc = desc;
    if (delta > 0) {
      f.count += delta;
      f.points.add(tS, delta);
    }
  }

  private trainerTotals(line: string, tS: number): void {
    const runtime = Number(HF_RUNTIME.exec(line)?.[1]);
    const samples = Math.round(runtime * Number(HF_SAMPLES_PER_S.exec(line)?.[1]));
    if (Number.isFinite(samples) && samples > 0) this.samples = (this.samples ?? 0) + samples;
    const steps = Math.round(runtime * Number(HF_STEPS_PER_S.exec(line)?.[1]));
    if (Number.isFinite(steps) && steps > 0) {
      this.trainerSteps ??= { steps: 0, points: new StepPoints() };
      this.trainerSteps.steps += steps;
      this.trainerSteps.points.add(tS, steps);
    }
  }

  /**
   * The steps of the family that advanced most (see the file's comment), else the Trainer's closing
   * figures; undefined when the log told nothing.
   */
  result(): LogWork | undefined {
    let best: Family | undefined;
    for (const f of this.families.values()) if (f.count > 0 && (!best || f.count > best.count)) best = f;
    const more = { ...(this.samples !== undefined ? { samples: this.samples } : {}), ...(this.tokensSeen !== undefined ? { tokens: this.tokensSeen } : {}) };
    if (best) return { steps: best.count, stepPoints: best.points, ...more, detail: best.label };
    if (this.trainerSteps) return { steps: this.trainerSteps.steps, stepPoints: this.trainerSteps.points, ...more, detail: "the Trainer's closing figures (rounded by it)" };
    return undefined;
  }
}
