/**
 * Worker-thread entry of the end-of-run analysis (bundled as dist/analysisWorker.js). The parent
 * sends one request in `workerData`; the worker streams the run from the store, runs the
 * detectors and tree-sitter, posts one reply and exits. Nothing here touches the parent's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { analyzeStoredRun } from './runAnalysis';
import type { AnalysisReply, AnalysisRequest } from './analysisProtocol';

async function main(): Promise<void> {
  const request = workerData as AnalysisRequest;
  let reply: AnalysisReply;
  try {
    const t0 = performance.now();
    const stats = { lines: 0, malformedLines: 0, bytes: 0 };
    const result = await analyzeStoredRun(request.input, request.options, stats);
    reply = { ok: true, result, stats, elapsedMs: performance.now() - t0 };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
}

void main();
