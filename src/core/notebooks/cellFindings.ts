/**
 * Findings on notebook cells. The notebook's code cells are read as one module, in order (a
 * DataLoader built in one cell and iterated in another is one pattern, as it is for the kernel);
 * the telemetry detectors judge the measured cell's samples; the two are tied together as for a
 * script's run (correlate.ts), and every finding is moved back onto the cell and line it came from.
 */
import type { Finding, SourceRange } from '../analysis/findings';
import { correlate } from '../analysis/correlate';
import type { PythonParser } from '../analysis/pythonParser';
import { analyzePythonSource } from '../analysis/pythonSource';
import { analyzeTelemetryWithActivity } from '../analysis/telemetry';
import type { GpuInfo, GpuSample } from '../sampler/types';

/** A code cell of the notebook, in notebook order. */
export interface NotebookCellSource {
  /** The cell document's URI (as text): findings are placed on it. */
  uri: string;
  text: string;
}

/** The measured cell: its samples from its start (t = 0) and the GPUs that counted. */
export interface MeasuredCell {
  uri: string;
  samples: GpuSample[];
  gpus: GpuInfo[];
  runGpus: number[];
  durationMs: number;
}

/** Architectures with bf16 autocast (as for runs: runAnalysis.ts). */
const BF16_ARCHITECTURES = new Set(['Ampere', 'Ada', 'Hopper', 'Blackwell']);

/**
 * IPython lines that are not Python (`%timeit`, `!pip install`, `%%capture` cell magics): kept as
 * comments, so the cell's lines keep their numbers and the rest parses.
 */
function pythonOf(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^\s*[%!]/.test(line) ? `#${line}` : line))
    .join('\n');
}

/**
 * Findings for a notebook: the source patterns of all its code cells, supported by the measured
 * cell's telemetry when one is given (static hints otherwise), each on its own cell's lines.
 * Telemetry findings with no line of their own (the GPU sat idle through the cell) go on the
 * measured cell's first line.
 */
export function notebookFindings(notebookPath: string, cells: readonly NotebookCellSource[], parser: PythonParser, measured?: MeasuredCell): Finding[] {
  // One module: cells joined in order, each starting on a known line.
  const starts: number[] = [];
  const lines: string[] = [];
  for (const c of cells) {
    starts.push(lines.length);
    for (const line of pythonOf(c.text).split('\n')) lines.push(line);
  }
  const virtual = `${notebookPath}.py`;
  const telemetry = measured && measured.samples.length
    ? analyzeTelemetryWithActivity({ gpus: measured.gpus, samples: measured.samples, runGpus: measured.runGpus, endMs: measured.durationMs })
    : undefined;
  const ranOnGpu = telemetry?.activity.gpus.some((g) => g.busyS > 0) === true;
  let sites: ReturnType<typeof analyzePythonSource> = [];
  try {
    sites = analyzePythonSource([{ path: virtual, text: lines.join('\n') }], virtual, parser, { ranOnGpu, notebook: true });
  } catch {
    // A notebook mid-edit may not parse: its telemetry findings still count.
    sites = [];
  }
  const bf16 = measured ? measured.gpus.filter((g) => measured.runGpus.includes(g.index)).some((g) => g.architecture !== undefined && BF16_ARCHITECTURES.has(g.architecture)) : true;
  const findings = correlate(telemetry?.findings ?? [], sites, bf16, telemetry?.activity);
  const out: Finding[] = [];
  const locate = (file: string | undefined, range: SourceRange | undefined): { uri: string; range: SourceRange } | undefined => {
    if (file !== virtual || !range) return undefined;
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > range.startLine) i--;
    const cell = cells[i];
    const end = i + 1 < starts.length ? starts[i + 1]! : lines.length;
    // A range that runs into the next cell has no single place to go.
    if (!cell || range.endLine >= end) return undefined;
    return { uri: cell.uri, range: { ...range, startLine: range.startLine - starts[i]!, endLine: range.endLine - starts[i]! } };
  };
  for (const f of findings) {
    if (f.file !== undefined) {
      const at = locate(f.file, f.range);
      if (!at) continue;
      const related = (f.related ?? []).flatMap((r) => {
        const to = locate(r.file, r.range);
        return to ? [{ ...r, file: to.uri, range: to.range }] : [];
      });
      out.push({ ...f, file: at.uri, range: at.range, related });
    } else if (measured) {
      const first = cells.find((c) => c.uri === measured.uri)?.text.split('\n')[0] ?? '';
      out.push({ ...f, file: measured.uri, range: { startLine: 0, startCharacter: 0, endLine: 0, endCharacter: first.length } });
    }
  }
  return out;
}
