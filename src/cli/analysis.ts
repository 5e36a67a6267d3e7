import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeInWorker } from '../core/analysis/analysisClient';
import type { Finding } from '../core/analysis/findings';
import type { AnalysisInput } from '../core/runs/runSession';

/** tree-sitter's wasm: dist/wasm beside the bundled CLI; from sources, the installed package. */
export function cliWasmOptions(): { wasmDir?: string } {
  const bundledWasm = path.join(__dirname, 'wasm');
  return fs.existsSync(path.join(bundledWasm, 'tree-sitter-python.wasm')) ? { wasmDir: bundledWasm } : {};
}

/** Findings printed after a run's summary and put into `--json`: analysed in a worker thread, from the store. */
export async function analyzeForCli(input: AnalysisInput): Promise<Finding[]> {
  const { findings } = await analyzeInWorker(input, cliWasmOptions());
  return findings;
}
