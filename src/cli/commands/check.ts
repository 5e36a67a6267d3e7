/**
 * `joules check <script.py>`: the source hints without a run. Nothing is measured, so every
 * finding is a static hint and says so; `joules run` tells which of them cost energy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Finding } from '../../core/analysis/findings';
import { defaultNumWorkers, quickFixesFor } from '../../core/analysis/quickFixes';
import { loadPythonParser } from '../../core/analysis/pythonParser';
import type { PythonParser } from '../../core/analysis/pythonParser';
import { ScriptSyntaxError, staticFindings } from '../../core/analysis/staticHints';
import { cliWasmOptions } from '../analysis';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';

interface CheckIo {
  stdout: { write(data: string): unknown };
}

const CHECK_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' }, workers: { type: 'number', integer: true, min: 0, max: 256 } };

/** One hint as `--json` prints it (lines and columns 1-based, like compilers print them). */
export interface CheckHint {
  code: string;
  severity: string;
  static: true;
  file: string;
  line: number;
  column: number;
  message: string;
  fixes: { title: string; review?: string }[];
  /** Why no fix is offered, when none is safe. */
  noFix?: string;
}

/** Exit code 0 whether or not hints were found: hints are advice, not errors. */
export async function cmdCheck(argv: string[], io: CheckIo): Promise<number> {
  const { flags, positionals } = parseArgs(argv, CHECK_FLAGS);
  if (positionals.length !== 1) throw new UsageError('check needs one Python script (usage: joules check <script.py>)');
  const script = path.resolve(positionals[0] ?? '');
  if (!script.endsWith('.py')) throw new UsageError(`check reads Python scripts (.py), got ${positionals[0]}`);
  if (!fs.existsSync(script) || !fs.statSync(script).isFile()) throw new UsageError(`no such script: ${positionals[0]}`);
  const workers = typeof flags.workers === 'number' ? flags.workers : defaultNumWorkers();
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError(`--workers must be 1-64, got ${workers}`);
  const hints = await checkScript(script, workers);
  if (flags.json === true) {
    io.stdout.write(JSON.stringify(hints) + '\n');
    return 0;
  }
  io.stdout.write(formatHints(hints, process.cwd()));
  return 0;
}

/** The static hints of a script and the local modules beside it, with their fixes. */
export async function checkScript(script: string, numWorkers: number): Promise<CheckHint[]> {
  const wasm = cliWasmOptions();
  let findings: Finding[];
  try {
    findings = await staticFindings(script, wasm);
  } catch (e) {
    if (e instanceof ScriptSyntaxError) throw new UsageError(`${path.basename(script)} does not parse as Python; fix the syntax first`);
    throw e;
  }
  // The fixes re-parse each file's text (cached per folder: the parser staticFindings loaded).
  const parser = await loadPythonParser(wasm.wasmDir);
  const texts = new Map<string, string>();
  const textOf = (file: string): string => {
    let t = texts.get(file);
    if (t === undefined) texts.set(file, (t = fs.readFileSync(file, 'utf8')));
    return t;
  };
  return findings.filter((f): f is Finding & { file: string } => f.file !== undefined && f.range !== undefined).map((f) => toHint(f, textOf(f.file), parser, numWorkers));
}

function toHint(f: Finding & { file: string }, text: string, parser: PythonParser, numWorkers: number): CheckHint {
  const fixes = quickFixesFor(f, text, parser, { numWorkers }).map((q) => ({ title: q.title, ...(q.review !== undefined ? { review: q.review } : {}) }));
  return {
    code: f.code,
    severity: f.severity,
    static: true,
    file: f.file,
    line: (f.range?.startLine ?? 0) + 1,
    column: (f.range?.startCharacter ?? 0) + 1,
    message: f.message,
    fixes,
    ...(f.fixPolicy?.kind === 'none' ? { noFix: f.fixPolicy.reason } : {}),
  };
}

/** `file:line:col: severity code: message` lines, each fix below its hint. */
export function formatHints(hints: CheckHint[], cwd: string): string {
  if (hints.length === 0) return 'No static hints. (Nothing was measured: `joules run` shows what a run actually wasted.)\n';
  const out: string[] = [];
  for (const h of hints) {
    out.push(`${path.relative(cwd, h.file)}:${h.line}:${h.column}: ${h.severity} ${h.code}: ${h.message}`);
    for (const fix of h.fixes) out.push(fix.review === undefined ? `    fix: ${fix.title}` : `    fix (review first: ${fix.review}): ${fix.title}`);
    if (h.noFix !== undefined) out.push(`    no fix: ${h.noFix}`);
  }
  out.push(`${hints.length} static hint(s): found in the source alone; nothing was measured. \`joules run\` tells which of them cost energy.`);
  return out.join('\n') + '\n';
}
