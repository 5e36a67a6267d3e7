import type { AnalysisInput } from '../runs/runSession';
import type { ReadStats } from '../runs/sampleReader';
import type { AnalyzeRunOptions, RunAnalysis } from './runAnalysis';

/** What the parent gives the analysis worker (structured-cloned `workerData`). */
export interface AnalysisRequest {
  input: AnalysisInput;
  options: AnalyzeRunOptions;
}

/** The worker's single reply. */
export type AnalysisReply =
  | { ok: true; result: RunAnalysis; stats: ReadStats; elapsedMs: number }
  | { ok: false; error: string };
