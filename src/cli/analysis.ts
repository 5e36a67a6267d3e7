import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeRun } from '../core/analysis/runAnalysis';
import type { AnalysisInput } from '../core/runs/runSession';
import type { Finding } from '../core/analysis/findings';

/** Findings printed after a run's summary and put into `--json`. */
export async function analyzeForCli(input: AnalysisInput): Promise<Finding[]> {
  // Bundled CLI: dist/cli.js with the grammar in dist/wasm; from sources: the installed package.
  const bundledWasm = path.join(__dirname, 'wasm');
  const { findings } = await analyzeRun(input, fs.existsSync(path.join(bundledWasm, 'tree-sitter-python.wasm')) ? { wasmDir: bundledWasm } : {});
  return findings;
}
