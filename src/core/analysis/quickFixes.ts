/**
 * Pure edit computation for the quick fixes of source findings. The editor layer turns each
 * `QuickFix` into a `vscode.CodeAction` with a `WorkspaceEdit`; the CLI can print them as diffs.
 *
 * Every fix is applied to the text and re-parsed before it is offered: a fix that would add a
 * syntax error is dropped, so a stale or unusual layout yields no fix rather than a broken file.
 */
import { availableParallelism } from 'node:os';
import type { Finding, QuickFix, SourceRange, TextEdit } from './findings';
import { loaderArgs } from './dataLoaderArgs';
import type { LoaderArgs } from './dataLoaderArgs';
import { hasSyntaxErrors } from './pythonParser';
import type { PyNode, PythonParser } from './pythonParser';
import { isBackwardCall, isForwardCall, isOptimizerStepCall } from './pythonPatterns';
import { descendants, enclosingLoops, kids, lastName, literalValue, namedKids } from './pythonSyntax';
import { bf16Escape, buildsLayers, usesUnsafeAutocastLoss } from './fixSafety';

/** Knobs of the generated code. */
export interface QuickFixOptions {
  /** `num_workers` to insert; default `defaultNumWorkers()`. */
  numWorkers?: number;
  /** `if step % N == 0:` for per-step logging (default 100), checkpoints and evaluation (default 1000). */
  logEveryNSteps?: number;
  saveEveryNSteps?: number;
  evalEveryNSteps?: number;
  /** dtype of the autocast fix; `float16` for GPUs without bf16 (training then also wants a GradScaler). */
  autocastDtype?: 'bfloat16' | 'float16';
}

/**
 * Workers per DataLoader on the machine the run ran on: its CPUs shared by the processes of its
 * GPUs (one loader each under DDP), at most 8 (more rarely help one GPU and cost host memory), at least 1.
 */
export function defaultNumWorkers(cpuCount: number = availableParallelism(), gpuCount = 1): number {
  return Math.max(1, Math.min(8, Math.floor(cpuCount / Math.max(1, gpuCount))));
}

/**
 * The fixes for one source finding on `sourceText` (the current text of `finding.file`), most
 * specific first. Empty for telemetry findings, for codes without a safe edit (small-batch,
 * torch.cuda.synchronize, assignments of synced values), and when the range no longer matches.
 */
export function quickFixesFor(finding: Finding, sourceText: string, parser: PythonParser, options: QuickFixOptions = {}): QuickFix[] {
  if (finding.range === undefined || finding.fixPolicy?.kind === 'none') return [];
  const root = parser.parse(sourceText);
  const target = nodeAt(root, finding.range);
  if (target === undefined) return [];
  const doc = new Doc(sourceText);
  let fixes: QuickFix[] = [];
  switch (finding.code) {
    case 'dataloader-workers':
    case 'dataloader-pin-memory':
    case 'dataloader-persistent-workers':
      fixes = dataLoaderFixes(doc, root, target, finding.code, options.numWorkers ?? defaultNumWorkers());
      break;
    case 'no-inference-mode':
      fixes = inferenceModeFix(doc, root, target, finding.details?.gradOff === 'no_grad' ? 'no_grad' : 'inference_mode');
      break;
    case 'no-autocast':
      fixes =
        finding.details?.trains === false
          ? (inferenceAutocastFix(doc, root, target, options.autocastDtype ?? 'bfloat16') ?? autocastFix(doc, root, target, options.autocastDtype ?? 'bfloat16'))
          : autocastFix(doc, root, target, options.autocastDtype ?? 'bfloat16');
      break;
    case 'host-sync-in-loop':
      // Only logging may run less often; a sync whose value is used (appended, summed) must stay.
      fixes = isLoggingStatement(target) ? everyNStepsFix(doc, target, options.logEveryNSteps ?? 100, 'Log') : [];
      break;
    case 'save-every-step':
      fixes = everyNStepsFix(doc, target, options.saveEveryNSteps ?? 1000, 'Save a checkpoint');
      break;
    case 'eval-every-step':
      fixes = everyNStepsFix(doc, target, options.evalEveryNSteps ?? 1000, 'Evaluate');
      break;
    default:
      fixes = [];
  }
  const baseErrors = hasSyntaxErrors(root);
  return fixes
    .map((f): QuickFix => {
      const reasons = [...new Set([finding.fixPolicy?.reason, f.review].filter((r): r is string => r !== undefined))];
      const out: QuickFix = { title: f.title, edits: normalizeEdits(doc, f.edits) };
      if (reasons.length > 0) out.review = reasons.join('; ');
      return out;
    })
    .filter((f) => f.edits.length > 0 && (baseErrors || !hasSyntaxErrors(parser.parse(applyEdits(sourceText, f.edits)))));
}

/** Applies non-overlapping edits (any order) to a text. */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const doc = new Doc(text);
  const sorted = edits
    .map((e) => ({ start: doc.offsetAt(e.range.startLine, e.range.startCharacter), end: doc.offsetAt(e.range.endLine, e.range.endCharacter), text: e.newText }))
    .sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

class Doc {
  readonly lines: string[];
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    this.lines = text.split('\n');
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  offsetAt(line: number, character: number): number {
    return (this.starts[line] ?? this.text.length) + character;
  }

  positionAt(offset: number): { line: number; character: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - (this.starts[lo] ?? 0) };
  }

  line(row: number): string {
    return (this.lines[row] ?? '').replace(/\r$/, '');
  }

  indentOf(row: number): string {
    return /^[ \t]*/.exec(this.line(row))?.[0] ?? '';
  }

  /** Only whitespace before the node on its line. */
  startsLine(node: PyNode): boolean {
    return this.line(node.startPosition.row).slice(0, node.startPosition.column).trim() === '';
  }

  /** Only whitespace or a comment after the node on its line. */
  endsLine(node: PyNode): boolean {
    const rest = this.line(node.endPosition.row).slice(node.endPosition.column).trim();
    return rest === '' || rest.startsWith('#');
  }

  insert(offset: number, text: string): { start: number; end: number; text: string } {
    return { start: offset, end: offset, text };
  }
}

interface OffsetEdit {
  start: number;
  end: number;
  text: string;
}

function rangeFromOffsets(doc: Doc, start: number, end: number): SourceRange {
  const a = doc.positionAt(start);
  const b = doc.positionAt(end);
  return { startLine: a.line, startCharacter: a.character, endLine: b.line, endCharacter: b.character };
}

/** Sorts edits and merges touching or overlapping ones, so editors accept them as one change set. */
function normalizeEdits(doc: Doc, edits: TextEdit[]): TextEdit[] {
  const list: OffsetEdit[] = edits
    .map((e) => ({ start: doc.offsetAt(e.range.startLine, e.range.startCharacter), end: doc.offsetAt(e.range.endLine, e.range.endCharacter), text: e.newText }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: OffsetEdit[] = [];
  for (const e of list) {
    const prev = merged[merged.length - 1];
    // Edits are planned never to overlap; touching ones (a replacement and an insertion at its
    // end, two insertions at one offset) become one so their order cannot be mixed up.
    if (prev !== undefined && e.start === prev.end) merged[merged.length - 1] = { start: prev.start, end: e.end, text: prev.text + e.text };
    else merged.push({ ...e });
  }
  return merged.map((e) => ({ range: rangeFromOffsets(doc, e.start, e.end), newText: e.text }));
}

function edit(doc: Doc, e: OffsetEdit): TextEdit {
  return { range: rangeFromOffsets(doc, e.start, e.end), newText: e.text };
}

/** The node with exactly this range, else the smallest one starting there that covers it. */
function nodeAt(root: PyNode, r: SourceRange): PyNode | undefined {
  let best: PyNode | undefined;
  for (const n of descendants(root)) {
    const s = n.startPosition;
    const e = n.endPosition;
    if (s.row !== r.startLine || s.column !== r.startCharacter) continue;
    if (e.row === r.endLine && e.column === r.endCharacter && n.isNamed) return n;
    const covers = e.row > r.endLine || (e.row === r.endLine && e.column >= r.endCharacter);
    // Ties (a block whose only statement is the loop) go to the inner node: pre-order visits it later.
    if (covers && n.isNamed && (best === undefined || n.endIndex - n.startIndex <= best.endIndex - best.startIndex)) best = n;
  }
  return best;
}

/** Indentation unit of a block: the body's indent minus the header's, or 4 spaces. */
function indentUnit(doc: Doc, header: PyNode, body: PyNode | null): string {
  const outer = doc.indentOf(header.startPosition.row);
  const first = body === null ? undefined : namedKids(body).find((k) => k.type !== 'comment');
  if (first !== undefined && first.startPosition.row !== header.startPosition.row) {
    const inner = doc.indentOf(first.startPosition.row);
    if (inner.startsWith(outer) && inner.length > outer.length) return inner.slice(outer.length);
  }
  return outer.includes('\t') ? '\t' : '    ';
}

/** Rows inside multi-line strings (after their first row): their text must not be re-indented. */
function stringContinuationRows(node: PyNode): Set<number> {
  const rows = new Set<number>();
  for (const n of descendants(node)) {
    if (n.type !== 'string' || n.endPosition.row === n.startPosition.row) continue;
    for (let r = n.startPosition.row + 1; r <= n.endPosition.row; r++) rows.add(r);
  }
  return rows;
}

/**
 * Replaces whole rows [first.row, last.row] by `header` plus those rows indented one unit deeper
 * (blank rows and string continuations kept as they are).
 */
function wrapRows(doc: Doc, first: PyNode, last: PyNode, headerLine: string, unit: string, scope: PyNode): OffsetEdit {
  const fromRow = first.startPosition.row;
  const toRow = last.endPosition.row;
  const keep = stringContinuationRows(scope);
  const ws = doc.indentOf(fromRow);
  const body: string[] = [];
  for (let r = fromRow; r <= toRow; r++) {
    const line = doc.line(r);
    body.push(line.trim() === '' || keep.has(r) ? line : unit + line);
  }
  const start = doc.offsetAt(fromRow, 0);
  const end = doc.offsetAt(toRow, doc.line(toRow).length);
  return { start, end, text: `${ws}${headerLine}\n${body.join('\n')}` };
}

/** The statement (child of a block or the module) that holds the node. */
function statementOf(node: PyNode): PyNode | undefined {
  for (let n: PyNode | null = node; n !== null; n = n.parent) {
    if (n.parent !== null && (n.parent.type === 'block' || n.parent.type === 'module')) return n;
  }
  return undefined;
}

/** How the module spells `torch`: `torch`, an alias (`th`), or undefined (then an import is added). */
function torchName(root: PyNode): string | undefined {
  for (const n of descendants(root)) {
    if (n.type !== 'import_statement') continue;
    for (const item of namedKids(n)) {
      if (item.type === 'dotted_name' && item.text.split('.')[0] === 'torch') return 'torch';
      if (item.type === 'aliased_import' && item.childForFieldName('name')?.text === 'torch') return item.childForFieldName('alias')?.text;
    }
  }
  return undefined;
}

/** `import torch` after the last top-level import (or before the first statement). */
function addTorchImport(doc: Doc, root: PyNode): OffsetEdit {
  const stmts = namedKids(root).filter((k) => k.type !== 'comment');
  const imports = stmts.filter((k) => k.type === 'import_statement' || k.type === 'import_from_statement' || k.type === 'future_import_statement');
  const last = imports[imports.length - 1];
  if (last !== undefined) return doc.insert(doc.offsetAt(last.endPosition.row, doc.line(last.endPosition.row).length), '\nimport torch');
  const first = stmts[0];
  const isDocstring = first?.type === 'expression_statement' && namedKids(first)[0]?.type === 'string';
  if (first !== undefined && isDocstring) return doc.insert(doc.offsetAt(first.endPosition.row, doc.line(first.endPosition.row).length), '\nimport torch');
  return doc.insert(first === undefined ? 0 : doc.offsetAt(first.startPosition.row, 0), 'import torch\n');
}

// ---------------------------------------------------------------------------------------------
// DataLoader arguments

interface LoaderWants {
  numWorkers?: number;
  pinMemory?: boolean;
  persistentWorkers?: boolean;
  prefetchFactor?: number;
}

function dataLoaderFixes(doc: Doc, root: PyNode, target: PyNode, code: Finding['code'], numWorkers: number): QuickFix[] {
  const call = loaderCallOf(target);
  if (call === undefined) return [];
  const args = loaderArgs(call, root);
  // Workers only under the workers finding: its safety checks (IterableDataset, __main__ guard)
  // are the ones that cleared them.
  const all: LoaderWants = { ...(code === 'dataloader-workers' ? { numWorkers } : {}), pinMemory: true, persistentWorkers: true };
  const own: LoaderWants =
    code === 'dataloader-workers' ? { numWorkers } : code === 'dataloader-pin-memory' ? { pinMemory: true } : { persistentWorkers: true };
  // Workers added for a loader read every epoch: keep them (persistent) and let them run ahead.
  if (code === 'dataloader-workers' && multiEpoch(root, call)) {
    own.persistentWorkers = true;
    own.prefetchFactor = 4;
    all.prefetchFactor = 4;
  }
  const ownKey = code === 'dataloader-workers' ? 'num_workers' : code === 'dataloader-pin-memory' ? 'pin_memory' : 'persistent_workers';
  const fixes: QuickFix[] = [];
  for (const want of [own, all]) {
    const planned = planLoaderEdits(doc, call, args, want);
    if (planned === undefined) continue;
    // Each fix matches its finding: no "Set pin_memory=True" under a persistent-workers finding.
    if (!planned.title.includes(ownKey)) continue;
    if (fixes.some((f) => f.title === planned.title)) continue;
    fixes.push(planned);
  }
  return fixes;
}

/** The loader is iterated by a loop nested in another loop (epochs), and built outside that outer loop. */
function multiEpoch(root: PyNode, call: PyNode): boolean {
  const assign = call.parent?.type === 'assignment' ? call.parent : undefined;
  const name = assign?.childForFieldName('left')?.text;
  if (name === undefined) return false;
  return descendants(root).some((n) => {
    if (n.type !== 'for_statement') return false;
    const right = n.childForFieldName('right');
    if (right === null || !descendants(right).some((d) => d.text === name)) return false;
    const outer = enclosingLoops(n)[0] ?? outerLoopViaDef(n);
    return outer !== undefined && !(call.startIndex >= outer.startIndex && call.endIndex <= outer.endIndex);
  });
}

/** `def train_one_epoch(loader): for b in loader: ...` called from an epoch loop. */
function outerLoopViaDef(loop: PyNode): PyNode | undefined {
  const def = loop.parent === null ? undefined : [loop.parent, ...ancestorsOf(loop.parent)].find((a) => a.type === 'function_definition');
  const name = def?.childForFieldName('name')?.text;
  if (def === undefined || name === undefined) return undefined;
  let root: PyNode = def;
  while (root.parent !== null) root = root.parent;
  for (const n of descendants(root)) {
    if (n.type === 'call' && n.childForFieldName('function')?.text === name) {
      const l = enclosingLoops(n)[0];
      if (l !== undefined) return l;
    }
  }
  return undefined;
}

function ancestorsOf(n: PyNode): PyNode[] {
  const out: PyNode[] = [];
  for (let p = n.parent; p !== null; p = p.parent) out.push(p);
  return out;
}

/** The DataLoader call a finding points into: its callee, or one of its own arguments. */
function loaderCallOf(target: PyNode): PyNode | undefined {
  if (target.type === 'call') return target;
  const parent = target.parent;
  if (parent?.type === 'call' && target.fieldName === 'function') return parent;
  if (parent?.type === 'argument_list' && parent.parent?.type === 'call') {
    const call = parent.parent;
    // An argument of `dict(...)` is a splatted config, not the loader: no edit there.
    return call.childForFieldName('function')?.text === 'dict' ? undefined : call;
  }
  return undefined;
}

function planLoaderEdits(doc: Doc, call: PyNode, args: LoaderArgs, want: LoaderWants): QuickFix | undefined {
  const replace: OffsetEdit[] = [];
  const append: string[] = [];
  const changed: string[] = [];
  const setArg = (name: string, st: LoaderArgs['numWorkers'], value: string, ok: (v: LoaderArgs['numWorkers']['value']) => boolean): boolean => {
    if (!st.present) {
      if (args.opaque) return false; // the splat may set it: adding it could raise "multiple values"
      append.push(`${name}=${value}`);
      changed.push(`${name}=${value}`);
      return true;
    }
    if (st.viaSplat || st.node === undefined) return ok(st.value);
    if (ok(st.value)) return true;
    // Resolved elsewhere (`default=0` of --workers, NUM_WORKERS = 0): change it there, keeping the
    // user's knob (`--workers 2` still works); a constant used elsewhere too is not ours to change.
    if (st.via !== undefined) {
      const src = st.sourceNode;
      if (src === undefined || literalValue(src) === undefined || (src.parent?.type === 'assignment' && usedElsewhere(call, src))) return false;
      replace.push({ start: src.startIndex, end: src.endIndex, text: value });
      changed.push(`${name}=${value} (${st.via})`);
      return true;
    }
    if (st.value === undefined) return false; // an expression: the user's choice
    const valueNode = st.node.type === 'keyword_argument' ? st.node.childForFieldName('value') : st.node;
    if (valueNode === null) return false;
    replace.push({ start: valueNode.startIndex, end: valueNode.endIndex, text: value });
    changed.push(`${name}=${value}`);
    return true;
  };
  let workersPositive = typeof args.numWorkers.value === 'number' && args.numWorkers.value > 0;
  if (want.numWorkers !== undefined) {
    const done = setArg('num_workers', args.numWorkers, String(want.numWorkers), (v) => typeof v === 'number' && v > 0);
    if (done) workersPositive = true;
  }
  if (want.pinMemory === true) setArg('pin_memory', args.pinMemory, 'True', (v) => v === true);
  // persistent_workers=True with num_workers=0 raises ValueError: only with workers known > 0, or
  // tied to the expression (`persistent_workers=args.workers > 0`) when the user's value decides.
  const nwExpr = args.numWorkers.node?.type === 'keyword_argument' && !args.numWorkers.viaSplat ? args.numWorkers.node.childForFieldName('value') : null;
  // `num_workers=args.workers`: the command line may still say 0, whatever its default.
  const userDecides = nwExpr !== null && literalValue(nwExpr) === undefined;
  if (want.persistentWorkers === true && workersPositive && !userDecides) setArg('persistent_workers', args.persistentWorkers, 'True', (v) => v === true);
  else if (want.persistentWorkers === true && userDecides && nwExpr !== null && !args.persistentWorkers.present && !args.opaque) {
    append.push(`persistent_workers=${nwExpr.text} > 0`);
    changed.push(`persistent_workers=${nwExpr.text} > 0`);
  }
  // prefetch_factor needs workers too (ValueError with num_workers=0).
  if (want.prefetchFactor !== undefined && workersPositive && !userDecides && !args.opaque && !loaderHas(call, 'prefetch_factor')) {
    append.push(`prefetch_factor=${want.prefetchFactor}`);
    changed.push(`prefetch_factor=${want.prefetchFactor}`);
  }
  if (changed.length === 0) return undefined;
  const edits: OffsetEdit[] = [...replace];
  if (append.length > 0) {
    const ins = appendArgs(doc, call, append);
    if (ins === undefined) return undefined;
    for (const e of ins) edits.push(e);
  }
  return { title: `Set ${changed.join(', ')}`, edits: edits.map((e) => edit(doc, e)) };
}

/** `NAME = 0` whose NAME is read somewhere other than this call. */
function usedElsewhere(call: PyNode, literal: PyNode): boolean {
  const name = literal.parent?.childForFieldName('left')?.text;
  if (name === undefined) return true;
  let root: PyNode = call;
  while (root.parent !== null) root = root.parent;
  const reads = descendants(root).filter((n) => n.type === 'identifier' && n.text === name && n.fieldName !== 'left' && !(n.startIndex >= call.startIndex && n.endIndex <= call.endIndex));
  return reads.length > 0;
}

function loaderHas(call: PyNode, key: string): boolean {
  const list = call.childForFieldName('arguments');
  return (list === null ? [] : namedKids(list)).some((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === key);
}

/** Inserts keyword arguments at the end of a call, in the call's own layout. */
function appendArgs(doc: Doc, call: PyNode, newArgs: string[]): OffsetEdit[] | undefined {
  const list = call.childForFieldName('arguments');
  if (list === null || list.type !== 'argument_list') return undefined;
  const open = list.children.find((k) => k.type === '(');
  const close = list.children.find((k) => k.type === ')');
  if (open === undefined || close === undefined) return undefined;
  const argNodes = namedKids(list).filter((k) => k.type !== 'comment');
  const last = argNodes[argNodes.length - 1];
  if (last === undefined) return [doc.insert(open.endIndex, newArgs.join(', '))];
  const comma = list.children.find((k) => k.type === ',' && k.startIndex >= last.endIndex);
  const trailing = comma !== undefined;
  const after = trailing ? comma.endIndex : last.endIndex;
  const closeOnOwnRow = close.startPosition.row > last.endPosition.row;
  const lastOnOpenRow = last.startPosition.row === open.startPosition.row;
  if (open.startPosition.row === close.startPosition.row || (closeOnOwnRow && lastOnOpenRow)) {
    // One line (or a lone closing paren): `..., a=1, b=2` keeping a trailing comma if there was one.
    return [doc.insert(after, trailing ? ` ${newArgs.join(', ')},` : `, ${newArgs.join(', ')}`)];
  }
  // One argument per line: new lines at the last argument's indentation.
  const lastRowText = doc.line(last.startPosition.row);
  const indent = doc.startsLine(last) ? lastRowText.slice(0, last.startPosition.column) : doc.indentOf(last.startPosition.row);
  if (closeOnOwnRow) {
    // After the rest of the last argument's row (its comma and comment stay on it).
    const rowEnd = doc.offsetAt(last.endPosition.row, doc.line(last.endPosition.row).length);
    const lines = newArgs.map((a, i) => `${indent}${a}${trailing || i < newArgs.length - 1 ? ',' : ''}`);
    const edits: OffsetEdit[] = [doc.insert(rowEnd, `\n${lines.join('\n')}`)];
    if (!trailing) edits.unshift(doc.insert(last.endIndex, ','));
    return edits;
  }
  // Hanging: `DataLoader(ds,\n           shuffle=True)` -> new args aligned below, `)` stays last.
  const lines = newArgs.map((a) => `${indent}${a}`);
  return [doc.insert(after, trailing ? `\n${lines.join(',\n')},` : `,\n${lines.join(',\n')}`)];
}

// ---------------------------------------------------------------------------------------------
// Block wrappers

/**
 * Wraps the loop in `torch.inference_mode()`, or `torch.no_grad()` in a script that also trains
 * (tensors a model caches under inference mode cannot be saved for backward later).
 */
function inferenceModeFix(doc: Doc, root: PyNode, target: PyNode, mode: 'inference_mode' | 'no_grad'): QuickFix[] {
  const loop = target.type === 'for_statement' || target.type === 'while_statement' ? target : undefined;
  if (loop === undefined || !doc.startsLine(loop) || !doc.endsLine(loop)) return [];
  // Never around model construction: parameters made there could not be trained.
  if (buildsLayers(loop)) return [];
  const torch = torchName(root);
  const unit = indentUnit(doc, loop, loop.childForFieldName('body'));
  const edits = [wrapRows(doc, loop, loop, `with ${torch ?? 'torch'}.${mode}():`, unit, loop)];
  if (torch === undefined) edits.unshift(addTorchImport(doc, root));
  return [{ title: `Wrap the loop in torch.${mode}()`, edits: edits.map((e) => edit(doc, e)) }];
}

/**
 * Inference: autocast around the whole loop, not each call. Entered per call, autocast casts the
 * fp32 weights to bf16 on every forward; measured on an H100 with a batch of one (bench/infer-check.sh)
 * that made each request cost 58 % more energy than plain fp32. Around the loop the cast is cached.
 */
function inferenceAutocastFix(doc: Doc, root: PyNode, target: PyNode, dtype: 'bfloat16' | 'float16'): QuickFix[] | undefined {
  const loop = enclosingLoops(target)[0];
  const block = loop?.parent;
  if (loop === undefined || block === null || block === undefined || !doc.startsLine(loop) || !doc.endsLine(loop)) return undefined;
  if (containsBackward(loop) || usesUnsafeAutocastLoss([loop], root) !== undefined) return [];
  const torch = torchName(root);
  const t = torch ?? 'torch';
  const unit = indentUnit(doc, loop, loop.childForFieldName('body'));
  const edits = [wrapRows(doc, loop, loop, `with ${t}.autocast(${deviceTypeOf(root, target)}, dtype=${t}.${dtype}):`, unit, loop)];
  if (torch === undefined) edits.unshift(addTorchImport(doc, root));
  const fix: QuickFix = { title: `Run the loop under ${dtype === 'bfloat16' ? 'bf16' : 'fp16'} autocast`, edits: edits.map((e) => edit(doc, e)) };
  // bf16 values reaching fp32-only code: later in the loop body (now under autocast too), or after the loop.
  const stmt = statementOf(target);
  const inBody = stmt?.parent === null || stmt?.parent === undefined ? [] : namedKids(stmt.parent).filter((k) => k.type !== 'comment');
  const siblings = namedKids(block).filter((k) => k.type !== 'comment');
  const escape =
    (stmt === undefined ? undefined : bf16Escape([stmt], inBody.slice(inBody.findIndex((k) => k.startIndex === stmt.startIndex) + 1))) ??
    bf16Escape([loop], siblings.slice(siblings.findIndex((k) => k.startIndex === loop.startIndex) + 1));
  if (escape !== undefined) fix.review = escape;
  return [fix];
}

function autocastFix(doc: Doc, root: PyNode, target: PyNode, dtype: 'bfloat16' | 'float16'): QuickFix[] {
  if (target.type !== 'call') return [];
  const first = statementOf(target);
  const block = first?.parent;
  if (first === undefined || block === null || block === undefined) return [];
  if (COMPOUND.has(first.type)) return [];
  if (containsBackward(first) || !doc.startsLine(first)) return [];
  // Forward pass and loss: from the model call up to the statement that calls backward()/step().
  const siblings = namedKids(block).filter((k) => k.type !== 'comment');
  const i = siblings.findIndex((k) => k.startIndex === first.startIndex);
  let last = first;
  const stop = siblings.slice(i + 1).findIndex((k) => containsBackward(k) || descendants(k).some((n) => n.type === 'call' && lastName(n.childForFieldName('function')) === 'zero_grad'));
  if (stop >= 0) last = siblings[i + stop] ?? first;
  if (!doc.endsLine(last)) return [];
  const region = siblings.slice(i, i + (stop >= 0 ? stop : 0) + 1);
  // nn.BCELoss / F.binary_cross_entropy raise "unsafe to autocast": never put them under it.
  if (usesUnsafeAutocastLoss(region, root) !== undefined) return [];
  const torch = torchName(root);
  const t = torch ?? 'torch';
  const header = block.type === 'block' && block.parent !== null ? block.parent : first;
  const unit = indentUnit(doc, header, block.type === 'block' ? block : null);
  const edits = [wrapRows(doc, first, last, `with ${t}.autocast(${deviceTypeOf(root, target)}, dtype=${t}.${dtype}):`, unit, block)];
  if (torch === undefined) edits.unshift(addTorchImport(doc, root));
  const title = dtype === 'bfloat16' ? 'Run the forward pass under bf16 autocast' : 'Run the forward pass under fp16 autocast (training also needs a GradScaler)';
  const fix: QuickFix = { title, edits: edits.map((e) => edit(doc, e)) };
  // Values computed under autocast are bf16 after it: fp32-only code after the region would break.
  const escape = bf16Escape(region, siblings.slice(i + region.length));
  if (escape !== undefined) fix.review = escape;
  if (dtype === 'float16') fix.review = [fix.review, 'fp16 training needs a GradScaler'].filter((r) => r !== undefined).join('; ');
  return [fix];
}

/**
 * The autocast device type: `device.type` when the script keeps a `torch.device` in `device`
 * (so the same script runs, and autocasts, on CPU too), else "cuda".
 */
function deviceTypeOf(root: PyNode, at: PyNode): string {
  for (const n of descendants(root)) {
    if (n.type !== 'assignment' || n.startIndex > at.startIndex) continue;
    const left = n.childForFieldName('left');
    const right = n.childForFieldName('right');
    if (left?.type === 'identifier' && right?.type === 'call' && /(^|\.)device$/.test(right.childForFieldName('function')?.text ?? '') && /^torch\.|^th\./.test(right.text)) return `${left.text}.type`;
  }
  return '"cuda"';
}

const COMPOUND = new Set(['for_statement', 'while_statement', 'if_statement', 'with_statement', 'try_statement', 'function_definition', 'class_definition', 'decorated_definition', 'match_statement']);

function containsBackward(node: PyNode): boolean {
  return descendants(node).some((n) => n.type === 'call' && (isBackwardCall(n) || isOptimizerStepCall(n)));
}

const LOG_CALLS = new Set(['print', 'log', 'info', 'debug', 'warning', 'add_scalar', 'add_scalars', 'set_postfix', 'set_postfix_str', 'set_description', 'write', 'log_metrics', 'log_dict', 'pprint']);

/** A bare call statement that only reports (`print(...)`, `logger.info(...)`, `writer.add_scalar(...)`). */
function isLoggingStatement(target: PyNode): boolean {
  const stmt = statementOf(target);
  const call = stmt?.type === 'expression_statement' ? namedKids(stmt)[0] : undefined;
  return call?.type === 'call' && LOG_CALLS.has(lastName(call.childForFieldName('function')) ?? '');
}

/** `if step % N == 0:` around a bare call statement (logging, torch.save, evaluate). */
function everyNStepsFix(doc: Doc, target: PyNode, n: number, verb: string): QuickFix[] {
  const stmt = statementOf(target);
  if (stmt === undefined || stmt.type !== 'expression_statement' || namedKids(stmt)[0]?.type !== 'call') return [];
  if (!doc.startsLine(stmt) || !doc.endsLine(stmt)) return [];
  const loops = enclosingLoops(stmt);
  const loop = loops.find((l) => looksLikeStepLoop(l)) ?? loops[0];
  if (loop === undefined || stmt.startPosition.row === loop.startPosition.row) return [];
  const counter = stepCounter(loop);
  const block = stmt.parent;
  const unit = indentUnit(doc, block?.parent ?? stmt, block ?? null);
  if (counter !== undefined) {
    return [{ title: `${verb} every ${n} steps (if ${counter} % ${n} == 0)`, edits: [edit(doc, wrapRows(doc, stmt, stmt, `if ${counter} % ${n} == 0:`, unit, stmt))] }];
  }
  // No counter: number the iterations with enumerate() (for loops only).
  if (loop.type !== 'for_statement') return [];
  const left = loop.childForFieldName('left');
  const right = loop.childForFieldName('right');
  if (left === null || right === null) return [];
  const name = freshName(loop, ['step', 'step_idx', 'i_step']);
  if (name === undefined) return [];
  const leftText = left.type === 'pattern_list' ? `(${left.text})` : left.text;
  const header: OffsetEdit = { start: left.startIndex, end: right.endIndex, text: `${name}, ${leftText} in enumerate(${right.text})` };
  const wrap = wrapRows(doc, stmt, stmt, `if ${name} % ${n} == 0:`, unit, stmt);
  return [{ title: `${verb} every ${n} steps (enumerate the loop)`, edits: [edit(doc, header), edit(doc, wrap)] }];
}

/** The loop's step counter: `for step, b in enumerate(...)`, `for i in range(...)`, or `i += 1` in its body. */
function stepCounter(loop: PyNode): string | undefined {
  if (loop.type === 'for_statement') {
    const left = loop.childForFieldName('left');
    const right = loop.childForFieldName('right');
    const fn = right?.type === 'call' ? lastName(right.childForFieldName('function')) : undefined;
    if (fn === 'enumerate' && (left?.type === 'pattern_list' || left?.type === 'tuple_pattern')) {
      const first = namedKids(left)[0];
      if (first?.type === 'identifier' && first.text !== '_') return first.text;
    }
    if (fn === 'range' && left?.type === 'identifier') return left.text;
  }
  const body = loop.childForFieldName('body');
  for (const n of body === null ? [] : descendants(body)) {
    if (n.type !== 'augmented_assignment' || enclosingLoops(n)[0]?.startIndex !== loop.startIndex) continue;
    const l = n.childForFieldName('left');
    const r = n.childForFieldName('right');
    if (l?.type === 'identifier' && r?.text === '1' && kids(n).some((k) => k.type === '+=')) return l.text;
  }
  return undefined;
}

/** Step-loop look, without the project context: calls the model, backward or step, or iterates a loader. */
function looksLikeStepLoop(loop: PyNode): boolean {
  const body = loop.childForFieldName('body');
  const direct = (body === null ? [] : descendants(body)).some(
    (n) => n.type === 'call' && enclosingLoops(n)[0]?.startIndex === loop.startIndex && (isForwardCall(n) || isBackwardCall(n) || isOptimizerStepCall(n)),
  );
  return direct || /loader|(^|_)dl\b/i.test(loop.childForFieldName('right')?.text ?? '');
}

function freshName(scope: PyNode, candidates: string[]): string | undefined {
  let top: PyNode = scope;
  while (top.parent !== null && top.type !== 'function_definition') top = top.parent;
  // Attribute names (`opt.step`) and keyword names (`f(step=1)`) do not clash with a variable.
  const used = new Set(
    descendants(top)
      .filter((n) => n.type === 'identifier' && n.fieldName !== 'attribute' && !(n.parent?.type === 'keyword_argument' && n.fieldName === 'name'))
      .map((n) => n.text),
  );
  return candidates.find((c) => !used.has(c));
}
