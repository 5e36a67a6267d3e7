import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnalysisInput } from '../runs/runSession';
import type { AnalysisReply, AnalysisRequest } from './analysisProtocol';
import type { AnalyzeRunOptions, RunAnalysis } from './runAnalysis';

/** Options of {@link analyzeInWorker}. */
export interface AnalyzeInWorkerOptions extends AnalyzeRunOptions {
  /** The worker script; default: the bundled `analysisWorker.js` beside this bundle (or the source under tsx). */
  workerFile?: string;
  /** Give up after this long (default 10 min): the run's summary must not wait forever on its findings. */
  timeoutMs?: number;
}

/**
 * Analyse a finished run in a worker thread: the samples are streamed from the store there, so the
 * caller's thread (the extension host's) only posts a request and receives the findings. Rejects
 * with the worker's error message, or when it dies or times out.
 */
export function analyzeInWorker(input: AnalysisInput, options: AnalyzeInWorkerOptions = {}): Promise<RunAnalysis> {
  const { workerFile, timeoutMs, ...analysis } = options;
  const file = workerFile ?? defaultAnalysisWorkerFile();
  const request: AnalysisRequest = { input, options: analysis };
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData: request });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`timed out after ${Math.round((timeoutMs ?? 600_000) / 1000)} s`))), timeoutMs ?? 600_000);
    timer.unref();
    worker.once('message', (reply: AnalysisReply) => settle(() => (reply.ok ? resolve(reply.result) : reject(new Error(reply.error)))));
    worker.once('error', (e) => settle(() => reject(e)));
    worker.once('exit', (code) => settle(() => reject(new Error(`analysis worker exited with code ${code}`))));
  });
}

/** dist/analysisWorker.js beside dist/extension.js and dist/cli.js; the TypeScript source in tests. */
export function defaultAnalysisWorkerFile(): string {
  const bundled = path.join(__dirname, 'analysisWorker.js');
  if (fs.existsSync(bundled)) return bundled;
  // From sources (tests): a CommonJS shim that registers tsx in the worker and loads the source.
  const source = path.join(__dirname, 'analysisWorker.dev.cjs');
  if (fs.existsSync(source)) return source;
  throw new Error(`analysis worker not found beside ${__dirname}`);
}
