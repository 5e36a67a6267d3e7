import * as fs from 'node:fs';
import type { AnalysisInput } from '../runs/runSession';
import type { QuickFixOptions } from './quickFixes';
import { loadPythonParser } from './pythonParser';
import { applyEdits, quickFixesFor } from './quickFixes';
import type { AnalyzeRunOptions, RunAnalysis } from './runAnalysis';
import { withSource } from './runAnalysis';

/** One fix `joules fix` proposes (and applies with `--apply`). */
export interface PlannedFix {
  title: string;
  file: string;
  /** 1-based, as printed. */
  line: number;
}

/** A fix (or a finding) not applied: its fix is not known to be safe, or none is. */
export interface HeldFix extends PlannedFix {
  reason: string;
}

/** Options of {@link planFixes}. */
export interface FixPlanOptions extends AnalyzeRunOptions, QuickFixOptions {
  /** Analyses the stored run (telemetry and source); called once. The CLI passes the worker. */
  analyze: (input: AnalysisInput) => Promise<RunAnalysis>;
  /** Write the fixed text of a file; absent: propose only. */
  write?: (file: string, text: string) => void;
  /** Called as each fix is chosen, so it can be printed at once. */
  onFix?: (fix: PlannedFix) => void;
  /** Stop after this many fixes (default 20). */
  maxFixes?: number;
}

/**
 * The quick fixes of a run's source findings. The run's samples are analysed once; after each
 * applied edit only the source half is redone (one parse of the script) against the same
 * telemetry, so the next finding's range points at the edited text.
 */
export async function planFixes(input: AnalysisInput, options: FixPlanOptions): Promise<{ fixes: PlannedFix[]; applied: number; held: HeldFix[] }> {
  let analysis = await options.analyze(input);
  // The quick fixes parse the script here (the analysis may have run in another thread).
  const parser = await loadPythonParser(options.wasmDir);
  const done = new Set<string>();
  const fixes: PlannedFix[] = [];
  const held: HeldFix[] = [];
  let applied = 0;
  const fixOptions: QuickFixOptions = options.numWorkers !== undefined ? { numWorkers: options.numWorkers } : {};
  while (fixes.length < (options.maxFixes ?? 20)) {
    let next: (PlannedFix & { edits: Parameters<typeof applyEdits>[1] }) | undefined;
    for (const f of analysis.findings) {
      if (!f.file || !f.range || f.severity === 'hint') continue;
      const key = `${f.code}:${f.file}:${f.range.startLine}`;
      if (done.has(key)) continue;
      done.add(key);
      const offered = quickFixesFor(f, fs.readFileSync(f.file, 'utf8'), parser, fixOptions);
      // Only fixes known to be safe are applied; the rest are listed for review.
      const fix = offered.find((x) => x.review === undefined);
      if (!fix) {
        const first = offered[0];
        if (first?.review !== undefined) held.push({ title: first.title, file: f.file, line: f.range.startLine + 1, reason: `review first: ${first.review}` });
        else if (f.fixPolicy?.kind === 'none') held.push({ title: f.title, file: f.file, line: f.range.startLine + 1, reason: `no safe fix: ${f.fixPolicy.reason}` });
        continue;
      }
      next = { title: fix.title, file: f.file, line: f.range.startLine + 1, edits: fix.edits };
      break;
    }
    if (!next) break;
    const { edits, ...planned } = next;
    fixes.push(planned);
    options.onFix?.(planned);
    if (!options.write) continue;
    options.write(next.file, applyEdits(fs.readFileSync(next.file, 'utf8'), edits));
    applied++;
    // The text moved: re-read the source (not the samples) so the remaining ranges are right.
    analysis = await withSource(analysis.telemetry, input, options);
  }
  return { fixes, applied, held };
}
