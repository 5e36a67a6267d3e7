import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnalysisInput } from '../runs/runSession';
import { correlate } from './correlate';
import type { Finding, FindingSummary } from './findings';
import { toFindingSummary } from './findings';
import { analyzePythonSource, loadPythonParser } from './pythonSource';
import type { Thresholds } from './telemetry';
import { analyzeTelemetry, summarizeRun as summarizeActivity } from './telemetry';

/** Options of {@link analyzeRun}. */
export interface AnalyzeRunOptions {
  thresholds?: Partial<Thresholds>;
  /** Folder of tree-sitter.wasm and tree-sitter-python.wasm (bundles: `dist/wasm`). */
  wasmDir?: string;
  /** Bounds on the Python files read beside the script (its local imports live there). */
  maxFiles?: number;
  maxBytes?: number;
}

/** Architectures with bf16 tensor cores (Ampere and newer). */
const BF16_ARCHITECTURES = new Set(['Ampere', 'Ada', 'Hopper', 'Blackwell']);

/** Folders never worth reading: environments and caches. */
const SKIP_DIRS = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', 'env', '.env', 'site-packages', '.mypy_cache', '.pytest_cache', '.tox', 'build', 'dist', 'wandb', 'checkpoints', 'data']);

/**
 * Findings of a finished run: the telemetry detectors over its samples, and, when it ran a Python
 * script, the source patterns found in that script and the local modules beside it, each tied to
 * the telemetry that supports it (see correlate.ts). Used by the CLI and the extension alike.
 */
export async function analyzeRun(input: AnalysisInput, options: AnalyzeRunOptions = {}): Promise<{ findings: Finding[]; summaries: FindingSummary[] }> {
  const telemetry = {
    gpus: input.gpus,
    samples: input.samples,
    runGpus: input.runGpus,
    endMs: input.endMs,
    ...(input.afterRunSamples ? { afterRunSamples: input.afterRunSamples } : {}),
  };
  const telemetryFindings = analyzeTelemetry(telemetry, options.thresholds);
  let findings = telemetryFindings;
  const script = input.summary.scriptPath;
  if (script && script.endsWith('.py') && fs.existsSync(script)) {
    const parser = await loadPythonParser(options.wasmDir);
    const files = readPythonTree(script, options.maxFiles ?? 300, options.maxBytes ?? 5 * 1024 * 1024);
    const sites = analyzePythonSource(files, script, parser);
    const bf16 = input.gpus.filter((g) => input.runGpus.includes(g.index)).some((g) => g.architecture !== undefined && BF16_ARCHITECTURES.has(g.architecture));
    findings = correlate(telemetryFindings, sites, bf16, summarizeActivity(telemetry, options.thresholds));
  }
  return { findings, summaries: findings.map(toFindingSummary) };
}

/** The script and the .py files of its folder tree, script first, within the bounds. */
export function readPythonTree(script: string, maxFiles: number, maxBytes: number): Array<{ path: string; text: string }> {
  const files: Array<{ path: string; text: string }> = [{ path: script, text: fs.readFileSync(script, 'utf8') }];
  let bytes = files[0]!.text.length;
  const queue = [path.dirname(script)];
  while (queue.length && files.length < maxFiles) {
    const dir = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) queue.push(p);
      } else if (e.isFile() && e.name.endsWith('.py') && p !== script) {
        try {
          const size = fs.statSync(p).size;
          if (bytes + size > maxBytes || files.length >= maxFiles) continue;
          files.push({ path: p, text: fs.readFileSync(p, 'utf8') });
          bytes += size;
        } catch {
          // Unreadable files are skipped: the analysis works with what it has.
        }
      }
    }
  }
  return files;
}
