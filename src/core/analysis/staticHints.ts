/**
 * The source hints of a script without a run (`joules check`, and the editor when a Python file
 * is opened or saved). Nothing is measured: every finding is `static` and says so.
 */
import type { Finding } from './findings';
import { correlate } from './correlate';
import { hasSyntaxErrors, loadPythonParser } from './pythonParser';
import { analyzePythonSource } from './pythonSource';
import { readPythonTree } from './runAnalysis';

export interface StaticHintOptions {
  /** Folder of tree-sitter.wasm and tree-sitter-python.wasm (bundles: `dist/wasm`). */
  wasmDir?: string;
  /** Bounds on the Python files read beside the script (the editor reads fewer than the CLI). */
  maxFiles?: number;
  maxBytes?: number;
}

/** Thrown when the script does not parse: its hints would point at the wrong places. */
export class ScriptSyntaxError extends Error {}

/** Static findings of `script` and the local modules it imports. */
export async function staticFindings(script: string, options: StaticHintOptions = {}): Promise<Finding[]> {
  const parser = await loadPythonParser(options.wasmDir);
  const files = readPythonTree(script, options.maxFiles ?? 300, options.maxBytes ?? 5 * 1024 * 1024);
  if (hasSyntaxErrors(parser.parse(files[0]?.text ?? ''))) throw new ScriptSyntaxError(`${script} does not parse as Python; fix the syntax first`);
  // No telemetry at all: correlate marks every site static. bf16 is assumed (a hint either way).
  return correlate([], analyzePythonSource(files, script, parser), true);
}
