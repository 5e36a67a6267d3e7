/**
 * Python source locator: parses the user's training or inference script (and the local modules it
 * imports) with tree-sitter and finds the lines behind common GPU waste. It only locates; whether
 * a site becomes a warning depends on the run's telemetry (see `correlate`).
 *
 * Ranges are 0-based lines and UTF-16 columns: web-tree-sitter parses JS strings as UTF-16, so its
 * `Point.column` already counts UTF-16 code units, which is what LSP and `vscode.Range` use.
 */
import { dirname, join, normalize } from 'node:path';
import { Language, Parser } from '@vscode/tree-sitter-wasm';
import type { Point, Tree } from '@vscode/tree-sitter-wasm';
import type { FixPolicy, RelatedLocation, SourceRange, SourceSite } from './findings';
import { gpuBranch, lastAssignment, resolveValue } from './valueResolution';
import { buildsLayers, editPolicy, mainGuardPolicy, usesUnsafeAutocastLoss, workersPolicy } from './fixSafety';
import { modelNamesByUse } from './modelTracking';
import { batchOfOneCall } from './inferenceLoops';

// ---------------------------------------------------------------------------------------------
// Parser loading

/** A loaded Python parser. */
export interface PythonParser {
  /** Folder holding `tree-sitter.wasm` and `tree-sitter-python.wasm`. */
  readonly wasmDir: string;
  /** Parses into a plain-JS syntax tree (the WebAssembly tree is freed before this returns). */
  parse(text: string): PyNode;
}

/**
 * A syntax node copied out of tree-sitter. The analysis walks trees many times; every access to a
 * web-tree-sitter `Node` crosses into WebAssembly and allocates a wrapper, so one copy is several
 * times faster, and nothing has to be freed. Names mirror web-tree-sitter's `Node`.
 */
export class PyNode {
  readonly children: PyNode[] = [];
  private named: PyNode[] | undefined;

  constructor(
    /** Pre-order index in its tree: unique per tree. */
    readonly id: number,
    readonly type: string,
    readonly isNamed: boolean,
    readonly isMissing: boolean,
    /** Field of this node in its parent (`function`, `arguments`, `body`, ...). */
    readonly fieldName: string | null,
    readonly startIndex: number,
    readonly endIndex: number,
    readonly startPosition: Point,
    readonly endPosition: Point,
    readonly parent: PyNode | null,
    private readonly source: string,
  ) {}

  get text(): string {
    return this.source.slice(this.startIndex, this.endIndex);
  }

  get namedChildren(): PyNode[] {
    this.named ??= this.children.filter((c) => c.isNamed);
    return this.named;
  }

  childForFieldName(name: string): PyNode | null {
    return this.children.find((c) => c.fieldName === name) ?? null;
  }

  childrenForFieldName(name: string): PyNode[] {
    return this.children.filter((c) => c.fieldName === name);
  }
}

function mirror(tree: Tree, source: string): PyNode {
  const cursor = tree.walk();
  let nextId = 0;
  const make = (parent: PyNode | null): PyNode =>
    new PyNode(nextId++, cursor.nodeType, cursor.nodeIsNamed, cursor.nodeIsMissing, parent === null ? null : cursor.currentFieldName,
      cursor.startIndex, cursor.endIndex, cursor.startPosition, cursor.endPosition, parent, source);
  const root = make(null);
  const stack: PyNode[] = [root];
  try {
    if (!cursor.gotoFirstChild()) return root;
    for (;;) {
      const parent = stack[stack.length - 1];
      if (parent === undefined) break;
      const node = make(parent);
      parent.children.push(node);
      if (cursor.gotoFirstChild()) {
        stack.push(node);
        continue;
      }
      let advanced = cursor.gotoNextSibling();
      while (!advanced) {
        if (!cursor.gotoParent()) return root;
        stack.pop();
        if (stack.length === 0) return root;
        advanced = cursor.gotoNextSibling();
      }
    }
    return root;
  } finally {
    cursor.delete();
  }
}

/** True when the tree has ERROR or MISSING nodes (the text does not parse cleanly). */
export function hasSyntaxErrors(root: PyNode): boolean {
  return descendants(root).some((n) => n.type === 'ERROR' || n.isMissing);
}

/**
 * The `wasm/` folder of the installed `@vscode/tree-sitter-wasm` package. Bundles that copy the
 * .wasm files next to themselves pass their own folder to `loadPythonParser` instead.
 */
export function defaultPythonWasmDir(): string {
  if (typeof require !== 'function') throw new Error('Pass the folder of tree-sitter-python.wasm to loadPythonParser (no CommonJS require here).');
  // A variable, not a literal: bundlers would otherwise try (and warn) to resolve it at build time.
  const pkg = '@vscode/tree-sitter-wasm';
  return dirname(require.resolve(pkg));
}

// The emscripten runtime is one per process: initialise it once, from the first folder given.
let runtimeReady: Promise<void> | undefined;
const parsers = new Map<string, Promise<PythonParser>>();

/**
 * Loads the tree-sitter runtime and the Python grammar from `wasmDir` (default: the installed
 * package). Works in Node, in the VS Code extension host and from an esbuild bundle. Cached per folder.
 */
export function loadPythonParser(wasmDir: string = defaultPythonWasmDir()): Promise<PythonParser> {
  const dir = normalize(wasmDir);
  const cached = parsers.get(dir);
  if (cached !== undefined) return cached;
  const loading = (async (): Promise<PythonParser> => {
    runtimeReady ??= Parser.init({ locateFile: (file: string) => join(dir, file) }).catch((e: unknown) => {
      runtimeReady = undefined;
      throw e;
    });
    await runtimeReady;
    const language = await Language.load(join(dir, 'tree-sitter-python.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    const loaded: PythonParser = {
      wasmDir: dir,
      parse(text: string): PyNode {
        const tree = parser.parse(text);
        if (tree === null) throw new Error('tree-sitter returned no tree');
        try {
          return mirror(tree, text);
        } finally {
          tree.delete();
        }
      },
    };
    return loaded;
  })();
  loading.catch(() => parsers.delete(dir));
  parsers.set(dir, loading);
  return loading;
}

// ---------------------------------------------------------------------------------------------
// Syntax helpers (shared with quickFixes.ts)

/** The node's range as a plain-data `SourceRange`. */
export function rangeOf(node: PyNode): SourceRange {
  return {
    startLine: node.startPosition.row,
    startCharacter: node.startPosition.column,
    endLine: node.endPosition.row,
    endCharacter: node.endPosition.column,
  };
}

/** Named children (comments included). */
export function namedKids(node: PyNode): PyNode[] {
  return node.namedChildren;
}

/** All children, anonymous tokens included. */
export function kids(node: PyNode): PyNode[] {
  return node.children;
}

/** Every node below `node` (pre-order), itself included. */
export function descendants(node: PyNode): PyNode[] {
  const out: PyNode[] = [];
  const stack: PyNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop();
    if (n === undefined) break;
    out.push(n);
    const c = kids(n);
    for (let i = c.length - 1; i >= 0; i--) {
      const k = c[i];
      if (k !== undefined) stack.push(k);
    }
  }
  return out;
}

/** Parents from the node up to the root (the node itself excluded). */
export function ancestors(node: PyNode): PyNode[] {
  const out: PyNode[] = [];
  for (let p = node.parent; p !== null; p = p.parent) out.push(p);
  return out;
}

const SCOPE_TYPES = new Set(['function_definition', 'lambda', 'class_definition']);
const LOOP_TYPES = new Set(['for_statement', 'while_statement']);

/** True when `inner` lies within `outer`'s text. */
export function within(inner: PyNode, outer: PyNode): boolean {
  return inner.startIndex >= outer.startIndex && inner.endIndex <= outer.endIndex;
}

/** Enclosing loops whose body holds the node, nearest first, stopping at a def/lambda/class. */
export function enclosingLoops(node: PyNode): PyNode[] {
  const out: PyNode[] = [];
  for (const a of ancestors(node)) {
    if (SCOPE_TYPES.has(a.type)) break;
    if (LOOP_TYPES.has(a.type)) {
      const body = a.childForFieldName('body');
      if (body !== null && within(node, body)) out.push(a);
    }
  }
  return out;
}

/** The last identifier of a callee: `DataLoader` for `tud.DataLoader`, `item` for `x.item`. */
export function lastName(node: PyNode | null): string | undefined {
  if (node === null) return undefined;
  if (node.type === 'identifier') return node.text;
  if (node.type === 'attribute') return node.childForFieldName('attribute')?.text;
  return undefined;
}

/** An argument's value when it is an int or bool literal; undefined for anything else. */
export type LiteralValue = number | boolean | undefined;

/** `8`, `1_000`, `True`, `(0)` -> their value; names, calls and other expressions -> undefined. */
export function literalValue(node: PyNode | null): LiteralValue {
  if (node === null) return undefined;
  if (node.type === 'integer') {
    const v = Number(node.text.replace(/_/g, ''));
    return Number.isFinite(v) ? v : undefined;
  }
  if (node.type === 'true') return true;
  if (node.type === 'false') return false;
  if (node.type === 'parenthesized_expression') return literalValue(namedKids(node)[0] ?? null);
  return undefined;
}

/** One DataLoader parameter as the call sets it. */
export interface ArgState {
  /** Set in the call or in a resolved `**dict` splat. */
  present: boolean;
  value: LiteralValue;
  /** The keyword_argument / positional argument / dict pair that sets it. */
  node?: PyNode;
  /** Set through a `**cfg` splat (the node then lies in the dict literal). */
  viaSplat: boolean;
  /** Where a non-literal value was resolved from ("the default of --workers"). */
  via?: string;
  /** The literal the value was resolved to (an argparse default, a constant), when it is not at the call. */
  sourceNode?: PyNode;
  /** Values chosen at run time by a condition Joules cannot decide (`x if cond else y`). */
  alternatives?: { value: number | boolean; when: string }[];
  /** Set, but to something Joules cannot read: why (then `value` is undefined). */
  unknown?: string;
}

/** What a DataLoader call sets. `opaque` means a splat we cannot see into: missing params are unknown. */
export interface LoaderArgs {
  numWorkers: ArgState;
  pinMemory: ArgState;
  persistentWorkers: ArgState;
  batchSize: ArgState;
  opaque: boolean;
}

// torch.utils.data.DataLoader(dataset, batch_size=1, shuffle, sampler, batch_sampler, num_workers,
// collate_fn, pin_memory, ...); persistent_workers is keyword-only.
const POSITIONAL: Record<string, number> = { batch_size: 1, num_workers: 5, pin_memory: 7 };

/**
 * Reads `num_workers`, `pin_memory`, `persistent_workers` and `batch_size` from a DataLoader call,
 * following `**name` splats to a `name = dict(...)` or `name = {...}` literal assigned earlier in
 * the same file (and never mutated through `name[...] =` / `name.update(...)`).
 */
export function loaderArgs(call: PyNode, root: PyNode): LoaderArgs {
  const absent = (): ArgState => ({ present: false, value: undefined, viaSplat: false });
  const res: LoaderArgs = { numWorkers: absent(), pinMemory: absent(), persistentWorkers: absent(), batchSize: absent(), opaque: false };
  const set = (key: string, value: PyNode | null, node: PyNode, viaSplat: boolean): void => {
    const st: ArgState = { present: true, value: literalValue(value), node, viaSplat };
    if (st.value === undefined && value !== null) {
      // Names, argparse defaults, constants: resolved where the file says; else said unknown.
      const r = resolveValue(value);
      if (r.kind === 'known') {
        st.value = r.value;
        st.sourceNode = r.node;
        if (r.via !== undefined) st.via = r.via;
      } else if (r.kind === 'alternatives') {
        const branch = gpuBranch(r.condition);
        const pick = branch === undefined ? undefined : r.values[branch === 'then' ? 0 : 1];
        if (pick !== undefined) {
          st.value = pick.value;
          st.via = `the GPU branch of \`${r.condition}\``;
        } else st.alternatives = r.values.map((v) => ({ value: v.value, when: v.when }));
      } else st.unknown = r.reason;
    }
    if (key === 'num_workers') res.numWorkers = st;
    else if (key === 'pin_memory') res.pinMemory = st;
    else if (key === 'persistent_workers') res.persistentWorkers = st;
    else if (key === 'batch_size') res.batchSize = st;
  };
  const stateOf = (key: string): ArgState | undefined =>
    key === 'num_workers' ? res.numWorkers : key === 'pin_memory' ? res.pinMemory : key === 'persistent_workers' ? res.persistentWorkers : key === 'batch_size' ? res.batchSize : undefined;
  const setDefault = (key: string, value: number | boolean): void => {
    const st = stateOf(key);
    if (st === undefined) return;
    st.value = value;
    delete st.unknown;
    st.via = 'left out on the GPU branch';
  };
  const setAlternatives = (key: string, alternatives: { value: number | boolean; when: string }[]): void => {
    const st = stateOf(key);
    if (st === undefined) return;
    st.value = undefined;
    if (alternatives.length > 0) st.alternatives = alternatives;
    else st.unknown = 'set differently by a condition Joules cannot read';
  };
  const args = call.childForFieldName('arguments');
  if (args === null) return res;
  let position = 0;
  for (const a of namedKids(args)) {
    if (a.type === 'comment') continue;
    if (a.type === 'keyword_argument') {
      const name = a.childForFieldName('name')?.text;
      if (name !== undefined) set(name, a.childForFieldName('value'), a, false);
    } else if (a.type === 'dictionary_splat') {
      const dict = resolveDictSplat(a, root);
      if (dict === undefined) res.opaque = true;
      else {
        if (dict.opaque) res.opaque = true;
        for (const [k, v] of dict.entries) {
          set(k, v.value, v.node, true);
          if (v.alternatives !== undefined) setAlternatives(k, v.alternatives);
          if (v.defaultValue !== undefined) setDefault(k, v.defaultValue);
        }
      }
    } else if (a.type === 'list_splat') {
      res.opaque = true;
      position = Infinity;
    } else {
      for (const [k, idx] of Object.entries(POSITIONAL)) if (idx === position) set(k, a, a, false);
      position++;
    }
  }
  return res;
}

/** A `dict(...)` / `{...}` literal: its string keys, and whether it has entries we cannot read. */
export interface DictLiteral {
  entries: Map<string, DictEntry>;
  opaque: boolean;
}

/** One key of a dict literal; `alternatives` when a condition Joules cannot decide picks the dict. */
export interface DictEntry {
  value: PyNode | null;
  node: PyNode;
  alternatives?: { value: number | boolean; when: string }[];
  /** Left out of this dict but set by the other branch: the parameter's default applies. */
  defaultValue?: number | boolean;
}

function gpuDictNode(n: PyNode): PyNode | undefined {
  return n.type === 'dictionary' || n.type === 'call' ? n : undefined;
}

/** What a DataLoader parameter is when a dict leaves it out. */
const LOADER_DEFAULTS: Record<string, number | boolean> = { num_workers: 0, pin_memory: false, persistent_workers: false, batch_size: 1 };

/**
 * Resolves `**name` to the dict literal last assigned to `name` before the splat, if any. Follows
 * `kw = dict(...) if cond else dict(...)` (the GPU branch when the condition tells; else both, as
 * alternatives) and `kw.update(dict(...))` (unconditional or on the GPU branch, like the PyTorch
 * MNIST example's `if use_cuda: train_kwargs.update(cuda_kwargs)`).
 */
export function resolveDictSplat(splat: PyNode, root: PyNode): DictLiteral | undefined {
  const target = namedKids(splat)[0];
  if (target === undefined) return undefined;
  if (target.type === 'dictionary' || target.type === 'call') return dictLiteral(target);
  if (target.type !== 'identifier') return undefined;
  const name = target.text;
  const best = lastAssignment(name, root, splat);
  if (best === undefined) return undefined;
  const base = dictOrConditional(best, root, splat);
  if (base === undefined) return undefined;
  // Changes after the literal: `.update(...)` with readable arguments is merged; anything else
  // (cfg["num_workers"] = 0, cfg.pop(...)) makes the dict unknown.
  for (const n of descendants(root)) {
    if (n.startIndex <= best.startIndex || n.startIndex >= splat.startIndex) continue;
    if (n.type === 'subscript' && n.childForFieldName('value')?.text === name && n.parent?.type === 'assignment' && n.parent.childForFieldName('left') === n) return undefined;
    if (n.type === 'subscript' && n.childForFieldName('value')?.text === name && n.parent?.type === 'augmented_assignment') return undefined;
    if (n.type !== 'attribute' || n.childForFieldName('object')?.text !== name) continue;
    const method = lastName(n) ?? '';
    if (['setdefault', 'pop', '__setitem__', 'clear'].includes(method)) return undefined;
    if (method !== 'update') continue;
    const call = n.parent?.type === 'call' ? n.parent : undefined;
    if (call === undefined || !updateRuns(call)) return undefined;
    for (const a of namedKids(call.childForFieldName('arguments') ?? call)) {
      if (a.type === 'comment') continue;
      const added = a.type === 'keyword_argument' ? keywordEntry(a) : dictOrConditional(a.type === 'identifier' ? (lastAssignment(a.text, root, call) ?? a) : a, root, call);
      if (added === undefined) return undefined;
      if (added.opaque) base.opaque = true;
      for (const [k, v] of added.entries) base.entries.set(k, v);
    }
  }
  return base;
}

function keywordEntry(a: PyNode): DictLiteral | undefined {
  const k = a.childForFieldName('name')?.text;
  return k === undefined ? undefined : { entries: new Map([[k, { value: a.childForFieldName('value'), node: a }]]), opaque: false };
}

/** An `.update()` that runs on a GPU run: unconditional in its scope, or under a GPU-branch `if`. */
function updateRuns(call: PyNode): boolean {
  for (const a of ancestors(call)) {
    if (a.type === 'function_definition' || a.type === 'module') return true;
    if (a.type === 'if_statement') {
      const cond = a.childForFieldName('condition')?.text ?? '';
      const consequence = a.childForFieldName('consequence');
      const inThen = consequence !== null && within(call, consequence);
      const branch = gpuBranch(cond);
      if (branch === undefined || (branch === 'then') !== inThen) return false;
    }
    if (a.type === 'elif_clause' || a.type === 'else_clause' || a.type === 'try_statement') return false;
  }
  return true;
}

/** A dict literal, or `d1 if cond else d2` of two (its GPU branch, else both as alternatives). */
function dictOrConditional(node: PyNode, root: PyNode, before: PyNode): DictLiteral | undefined {
  if (node.type !== 'conditional_expression') {
    if (node.type === 'identifier') {
      const v = lastAssignment(node.text, root, before);
      return v === undefined || v.type === 'identifier' ? undefined : dictOrConditional(v, root, before);
    }
    return dictLiteral(node);
  }
  const [a, cond, b] = namedKids(node).filter((k) => k.type !== 'comment');
  if (a === undefined || cond === undefined || b === undefined) return undefined;
  const da = dictOrConditional(a, root, before);
  const db = dictOrConditional(b, root, before);
  if (da === undefined || db === undefined) return undefined;
  const branch = gpuBranch(cond.text);
  if (branch !== undefined) {
    // The GPU branch ran; a key only the other branch sets keeps its default there, and must not be
    // added to the call (on the other branch it would be passed twice).
    // Every loader parameter is then read from (and fixed in) the GPU branch's dict: adding one to
    // the call could clash with the other branch (num_workers=0 there and persistent_workers=True).
    const [gpu, gpuNode] = branch === 'then' ? [da, gpuDictNode(a)] : [db, gpuDictNode(b)];
    if (gpuNode === undefined) return { entries: gpu.entries, opaque: true };
    for (const [k, dflt] of Object.entries(LOADER_DEFAULTS)) {
      if (!gpu.entries.has(k)) gpu.entries.set(k, { value: null, node: gpuNode, defaultValue: dflt });
    }
    return gpu;
  }
  const entries = new Map<string, DictEntry>();
  for (const k of new Set([...da.entries.keys(), ...db.entries.keys()])) {
    const ea = da.entries.get(k);
    const eb = db.entries.get(k);
    const va = ea === undefined ? LOADER_DEFAULTS[k] : literalValue(ea.value);
    const vb = eb === undefined ? LOADER_DEFAULTS[k] : literalValue(eb.value);
    const node0 = (ea ?? eb)?.node;
    if (node0 === undefined) continue;
    if (va !== undefined && va === vb) entries.set(k, { value: (ea ?? eb)?.value ?? null, node: node0 });
    else if (va !== undefined && vb !== undefined) {
      // Both readable, different: the entry of the branch that has the key, with both values.
      entries.set(k, { value: null, node: node0, alternatives: [{ value: va, when: `when ${cond.text}` }, { value: vb, when: 'otherwise' }] });
    } else entries.set(k, { value: null, node: node0, alternatives: [] });
  }
  return { entries, opaque: da.opaque || db.opaque };
}

function dictLiteral(node: PyNode): DictLiteral | undefined {
  const entries = new Map<string, DictEntry>();
  let opaque = false;
  if (node.type === 'dictionary') {
    for (const p of namedKids(node)) {
      if (p.type === 'comment') continue;
      if (p.type !== 'pair') {
        opaque = true;
        continue;
      }
      const key = p.childForFieldName('key');
      const k = key === null ? undefined : stringLiteral(key);
      if (k === undefined) opaque = true;
      else entries.set(k, { value: p.childForFieldName('value'), node: p });
    }
    return { entries, opaque };
  }
  if (node.type === 'call' && node.childForFieldName('function')?.text === 'dict') {
    const args = node.childForFieldName('arguments');
    for (const a of args === null ? [] : namedKids(args)) {
      if (a.type === 'comment') continue;
      const name = a.type === 'keyword_argument' ? a.childForFieldName('name')?.text : undefined;
      if (name === undefined) opaque = true;
      else entries.set(name, { value: a.childForFieldName('value'), node: a });
    }
    return { entries, opaque };
  }
  return undefined;
}

/** The value of a plain string literal ('x', "x"), undefined for f-strings and concatenations. */
export function stringLiteral(node: PyNode): string | undefined {
  if (node.type !== 'string') return undefined;
  const parts = namedKids(node);
  if (parts.some((p) => p.type === 'interpolation')) return undefined;
  const content = parts.find((p) => p.type === 'string_content');
  return content?.text ?? '';
}

// ---------------------------------------------------------------------------------------------
// Names, imports and modules

/** A symbol of a local module (a file in the analysed set), or the module itself. */
interface LocalRef {
  file: string;
  symbol: string | undefined;
}

type Qualified = { kind: 'ext'; name: string } | { kind: 'local'; ref: LocalRef };

interface FileInfo {
  path: string;
  text: string;
  root: PyNode;
  /** Every node, pre-order. */
  all: PyNode[];
  depth: number;
  /** Local name -> dotted name of an external module or symbol (`tud` -> `torch.utils.data`). */
  aliases: Map<string, string>;
  locals: Map<string, LocalRef>;
  stars: string[];
  defs: Map<string, PyNode>;
  /** Simple `name = value` assignments, in source order. */
  assigns: Map<string, PyNode[]>;
}

const DATALOADER_NAMES = new Set(['torch.utils.data.DataLoader', 'torch.utils.data.dataloader.DataLoader']);
// What `from X import *` brings in, for the names this analysis cares about.
const STAR_EXPORTS: Record<string, string[]> = {
  'torch.utils.data': ['DataLoader'],
  torch: ['autocast', 'save', 'inference_mode', 'no_grad', 'set_grad_enabled', 'bfloat16', 'float16', 'half'],
  'torch.cuda.amp': ['autocast'],
  'torch.amp': ['autocast'],
};

class Project {
  readonly files = new Map<string, FileInfo>();
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly parser: PythonParser,
    files: { path: string; text: string }[],
    private readonly entryDir: string,
  ) {
    for (const f of files) this.texts.set(normalize(f.path), f.text);
  }

  /** Parses the entry and the local modules it imports, up to `maxDepth` levels. */
  load(entry: string, maxDepth: number): void {
    const queue: { path: string; depth: number }[] = [{ path: normalize(entry), depth: 0 }];
    while (queue.length > 0) {
      const next = queue.shift();
      if (next === undefined || this.files.has(next.path)) continue;
      const text = this.texts.get(next.path);
      if (text === undefined) continue;
      const info = this.parse(next.path, text, next.depth);
      this.files.set(next.path, info);
      if (next.depth < maxDepth) {
        const deps = new Set<string>();
        for (const ref of info.locals.values()) deps.add(ref.file);
        for (const d of deps) queue.push({ path: d, depth: next.depth + 1 });
      }
    }
  }

  private parse(path: string, text: string, depth: number): FileInfo {
    const root = this.parser.parse(text);
    const all = descendants(root);
    const info: FileInfo = { path, text, root, all, depth, aliases: new Map(), locals: new Map(), stars: [], defs: new Map(), assigns: new Map() };
    for (const n of all) {
      if (n.type === 'import_statement') this.readImport(info, n);
      else if (n.type === 'import_from_statement') this.readFromImport(info, n);
      else if (n.type === 'function_definition') {
        const name = n.childForFieldName('name')?.text;
        if (name !== undefined && !info.defs.has(name)) info.defs.set(name, n);
      } else if (n.type === 'assignment') {
        const left = n.childForFieldName('left');
        const right = n.childForFieldName('right');
        if (left?.type === 'identifier' && right !== null) {
          const list = info.assigns.get(left.text) ?? [];
          list.push(right);
          info.assigns.set(left.text, list);
        }
      }
    }
    return info;
  }

  private readImport(info: FileInfo, n: PyNode): void {
    for (const item of namedKids(n)) {
      const dotted = item.type === 'aliased_import' ? item.childForFieldName('name') : item;
      const alias = item.type === 'aliased_import' ? item.childForFieldName('alias')?.text : undefined;
      if (dotted === null || dotted.type !== 'dotted_name') continue;
      const name = dotted.text;
      const local = this.resolveModule(info.path, name, 0);
      if (local !== undefined) {
        info.locals.set(alias ?? name.split('.')[0] ?? name, { file: local, symbol: undefined });
        continue;
      }
      // `import torch.utils.data` binds `torch`; `import torch.utils.data as tud` binds `tud`.
      if (alias !== undefined) info.aliases.set(alias, name);
      else {
        const head = name.split('.')[0] ?? name;
        info.aliases.set(head, head);
      }
    }
  }

  private readFromImport(info: FileInfo, n: PyNode): void {
    const moduleNode = n.childForFieldName('module_name');
    if (moduleNode === null) return;
    let level = 0;
    let moduleName = moduleNode.text;
    if (moduleNode.type === 'relative_import') {
      const prefix = namedKids(moduleNode).find((k) => k.type === 'import_prefix')?.text ?? '';
      level = prefix.length;
      moduleName = namedKids(moduleNode).find((k) => k.type === 'dotted_name')?.text ?? '';
    }
    const localModule = this.resolveModule(info.path, moduleName, level);
    const wildcard = kids(n).some((k) => k.type === 'wildcard_import');
    if (wildcard) {
      if (localModule === undefined && level === 0) info.stars.push(moduleName);
      return;
    }
    for (const item of n.childrenForFieldName('name')) {
      if (item === null) continue;
      const nameNode = item.type === 'aliased_import' ? item.childForFieldName('name') : item;
      const alias = item.type === 'aliased_import' ? item.childForFieldName('alias')?.text : undefined;
      const name = nameNode?.text;
      if (name === undefined) continue;
      const bound = alias ?? name;
      // `from . import data` / `from pkg import data` may name a submodule file.
      const sub = this.resolveModule(info.path, moduleName === '' ? name : `${moduleName}.${name}`, level);
      if (sub !== undefined) info.locals.set(bound, { file: sub, symbol: undefined });
      else if (localModule !== undefined) info.locals.set(bound, { file: localModule, symbol: name });
      else if (level === 0) info.aliases.set(bound, `${moduleName}.${name}`);
    }
  }

  /** The file of a local module, if it is in the given set (script folder or relative import). */
  private resolveModule(fromFile: string, dotted: string, level: number): string | undefined {
    const rel = dotted === '' ? [] : dotted.split('.');
    const bases: string[] = [];
    if (level > 0) {
      let base = dirname(fromFile);
      for (let i = 1; i < level; i++) base = dirname(base);
      bases.push(base);
    } else bases.push(dirname(fromFile), this.entryDir);
    for (const base of bases) {
      const stem = join(base, ...rel);
      for (const candidate of rel.length === 0 ? [join(base, '__init__.py')] : [`${stem}.py`, join(stem, '__init__.py')]) {
        const p = normalize(candidate);
        if (p !== fromFile && this.texts.has(p)) return p;
      }
    }
    return undefined;
  }

  /** What a name or dotted attribute refers to, through imports and local modules. */
  qualify(info: FileInfo, node: PyNode | null, hops = 0): Qualified | undefined {
    if (node === null || hops > 4) return undefined;
    if (node.type === 'identifier') {
      const name = node.text;
      if (info.defs.has(name)) return { kind: 'local', ref: { file: info.path, symbol: name } };
      const alias = info.aliases.get(name);
      if (alias !== undefined) return { kind: 'ext', name: alias };
      const local = info.locals.get(name);
      if (local !== undefined) return this.follow(local, hops);
      for (const star of info.stars) if (STAR_EXPORTS[star]?.includes(name) === true) return { kind: 'ext', name: `${star}.${name}` };
      return undefined;
    }
    if (node.type === 'attribute') {
      const obj = this.qualify(info, node.childForFieldName('object'), hops);
      const attr = node.childForFieldName('attribute')?.text;
      if (obj === undefined || attr === undefined) return undefined;
      if (obj.kind === 'ext') return { kind: 'ext', name: `${obj.name}.${attr}` };
      if (obj.ref.symbol === undefined) return this.follow({ file: obj.ref.file, symbol: attr }, hops);
    }
    return undefined;
  }

  /** Follows re-exports: `from data import make_loader` where data.py itself imports it. */
  private follow(ref: LocalRef, hops: number): Qualified | undefined {
    if (ref.symbol === undefined) return { kind: 'local', ref };
    const target = this.files.get(ref.file);
    if (target === undefined || target.defs.has(ref.symbol)) return { kind: 'local', ref };
    const alias = target.aliases.get(ref.symbol);
    if (alias !== undefined) return { kind: 'ext', name: alias };
    const local = target.locals.get(ref.symbol);
    if (local !== undefined && hops < 4) return this.follow(local, hops + 1);
    return { kind: 'local', ref };
  }

  extName(info: FileInfo, node: PyNode | null): string | undefined {
    const q = this.qualify(info, node);
    return q?.kind === 'ext' ? q.name : undefined;
  }

  isDataLoaderCall(info: FileInfo, call: PyNode): boolean {
    if (call.type !== 'call') return false;
    const fn = call.childForFieldName('function');
    const name = this.extName(info, fn);
    if (name !== undefined) return DATALOADER_NAMES.has(name);
    // A bare `DataLoader` we cannot trace (re-exported through a module outside the set) is torch's.
    return fn?.type === 'identifier' && fn.text === 'DataLoader' && this.qualify(info, fn) === undefined;
  }

  /** The def a call resolves to, in any analysed file. */
  calledDef(info: FileInfo, call: PyNode): { file: FileInfo; def: PyNode } | undefined {
    const q = this.qualify(info, call.childForFieldName('function'));
    if (q?.kind !== 'local' || q.ref.symbol === undefined) return undefined;
    const file = this.files.get(q.ref.file);
    const def = file?.defs.get(q.ref.symbol);
    return file !== undefined && def !== undefined ? { file, def } : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Heuristics on names and calls

const MODEL_WORDS = /(model|net|encoder|decoder|generator|discriminator|classifier|backbone|policy|unet|vae|transformer|llm)/;
const NOT_MODEL = /^(make|build|get|create|load|init|setup|prepare|save|convert|compute|calc|apply|update|wrap)_|(config|cfg|path|name|dir|loader|dataset|optim|param|state|ckpt|checkpoint|loss|metric|criterion)/;

/** Does this name look like a model (`model`, `net`, `self.encoder`, `ema_model`)? */
export function isModelName(name: string | undefined): boolean {
  if (name === undefined) return false;
  const lower = name.toLowerCase();
  if (lower === 'pipe' || lower === 'pipeline') return true;
  return MODEL_WORDS.test(lower) && !NOT_MODEL.test(lower);
}

/** `model(x)`, `self.net(x)`, `model.forward(x)`, `model.generate(...)`. */
export function isForwardCall(call: PyNode): boolean {
  const fn = call.childForFieldName('function');
  if (fn === null) return false;
  if (fn.type === 'identifier') return isModelName(fn.text);
  if (fn.type !== 'attribute') return false;
  const attr = lastName(fn);
  if (attr === 'forward' || attr === 'generate') return isModelName(lastName(fn.childForFieldName('object')));
  return isModelName(attr);
}

/** `loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`. */
export function isBackwardCall(call: PyNode): boolean {
  const fn = call.childForFieldName('function');
  return fn?.type === 'attribute' && lastName(fn) === 'backward';
}

/** `optimizer.step()`, `opt.step()`, `scaler.step(optimizer)`; not `scheduler.step()` (often per epoch). */
export function isOptimizerStepCall(call: PyNode): boolean {
  const fn = call.childForFieldName('function');
  if (fn?.type !== 'attribute' || lastName(fn) !== 'step') return false;
  const obj = lastName(fn.childForFieldName('object'))?.toLowerCase() ?? '';
  return /optim|^opt|scaler/.test(obj);
}

const SYNC_METHODS = new Set(['item', 'cpu', 'numpy', 'tolist']);
const TENSORISH = /^(loss|losses|total_loss|logits|out|outs|output|outputs|pred|preds|prediction|predictions|y_hat|yhat|probs|scores|grad_norm|acc|accuracy)$/i;
const LOADER_NAME = /loader|(^|_)dl$/i;
const ITER_WRAPPERS = new Set(['enumerate', 'tqdm', 'zip', 'iter', 'islice', 'track', 'progress_bar', 'trange']);
const EVAL_NAME = /^(eval|evaluate|validate|validation|run_eval|run_validation|do_eval)/i;

// ---------------------------------------------------------------------------------------------
// The analysis

interface LoopFacts {
  node: PyNode;
  file: FileInfo;
  isStep: boolean;
  hasBackward: boolean;
  forwards: PyNode[];
}

class Analysis {
  readonly sites: SourceSite[] = [];
  // Keyed by `nodeKey` (file + node id): node ids are unique per tree only.
  private readonly loops = new Map<string, LoopFacts>();
  private readonly loaderFactories = new Set<string>();
  private callIndex: Map<string, { file: FileInfo; call: PyNode }[]> | undefined;
  /** Names that hold a model by what the code does with them (see modelTracking.ts). */
  private models = new Set<string>();
  private methodIndex: Map<string, { file: FileInfo; def: PyNode }> | undefined;
  private entry: FileInfo | undefined;

  constructor(
    private readonly project: Project,
    private readonly options: SourceAnalysisOptions = {},
  ) {}

  run(): SourceSite[] {
    const files = [...this.project.files.values()];
    this.entry = files[0];
    this.models = modelNamesByUse(files.map((f) => f.root));
    // A script that never touches a GPU gets no GPU hints (regression or time-series examples on CPU).
    if (this.options.ranOnGpu !== true && !files.some((f) => usesCudaIn(f))) return [];
    for (const f of files) for (const n of f.all) if (n.type === 'function_definition' && this.returnsLoader(f, n)) this.loaderFactories.add(nodeKey(f, n));
    for (const f of files) for (const n of f.all) if (LOOP_TYPES.has(n.type)) this.loops.set(nodeKey(f, n), this.loopFacts(f, n));
    const usesCuda = this.options.ranOnGpu === true || files.some((f) => usesCudaIn(f));
    for (const f of files) this.fileSites(f, usesCuda);
    this.globalSites(files, usesCuda);
    return dedupe(this.sites);
  }

  private returnsLoader(f: FileInfo, def: PyNode): boolean {
    for (const n of descendants(def)) {
      if (n.type !== 'return_statement') continue;
      const v = namedKids(n)[0];
      if (v === undefined) continue;
      if (this.project.isDataLoaderCall(f, v)) return true;
      if (v.type === 'identifier') {
        for (const a of descendants(def)) {
          if (a.type === 'assignment' && a.childForFieldName('left')?.text === v.text) {
            const r = a.childForFieldName('right');
            if (r !== null && this.project.isDataLoaderCall(f, r)) return true;
          }
        }
      }
    }
    return false;
  }

  /** Is this expression (a `for` iterable) a DataLoader, through wrappers and assignments? */
  private isLoaderExpr(f: FileInfo, expr: PyNode | null, depth = 0): boolean {
    if (expr === null || depth > 3) return false;
    if (expr.type === 'call') {
      if (this.project.isDataLoaderCall(f, expr)) return true;
      const def = this.project.calledDef(f, expr);
      if (def !== undefined && this.loaderFactories.has(nodeKey(def.file, def.def))) return true;
      const name = lastName(expr.childForFieldName('function'));
      if (name !== undefined && ITER_WRAPPERS.has(name)) {
        const args = expr.childForFieldName('arguments');
        return (args === null ? [] : namedKids(args)).some((a) => this.isLoaderExpr(f, a, depth + 1));
      }
      return false;
    }
    if (expr.type === 'identifier' || expr.type === 'attribute') {
      const name = lastName(expr) ?? '';
      if (LOADER_NAME.test(name)) return true;
      if (expr.type === 'identifier') return (f.assigns.get(name) ?? []).some((r) => r !== expr && this.isLoaderExpr(f, r, depth + 1));
    }
    return false;
  }

  private loopFacts(f: FileInfo, loop: PyNode): LoopFacts {
    let direct = false;
    let hasBackward = false;
    const forwards: PyNode[] = [];
    const body = loop.childForFieldName('body');
    for (const n of body === null ? [] : descendants(body)) {
      if (n.type !== 'call') continue;
      const loops = enclosingLoops(n);
      if (!loops.some((l) => l.id === loop.id)) continue;
      const nearest = loops[0]?.id === loop.id;
      if (isBackwardCall(n) || isOptimizerStepCall(n)) {
        hasBackward = true;
        if (nearest) direct = true;
      } else if (nearest && this.isModelCall(f, n)) {
        forwards.push(n);
        direct = true;
      }
    }
    const iteratesLoader = loop.type === 'for_statement' && this.isLoaderExpr(f, loop.childForFieldName('right'));
    return { node: loop, file: f, isStep: direct || iteratesLoader, hasBackward, forwards };
  }

  /** A call of the model: a name the code uses as a model, or a model-like name that is not a project function. */
  private isModelCall(f: FileInfo, call: PyNode): boolean {
    const fn = call.childForFieldName('function');
    const name = fn?.type === 'attribute' && ['forward', 'generate'].includes(lastName(fn) ?? '') ? lastName(fn.childForFieldName('object')) : lastName(fn);
    if (name !== undefined && this.models.has(name)) return true;
    // `policy_loss(...)` or `build_model(...)` defined in the project is a function, not a model.
    if (this.project.calledDef(f, call) !== undefined) return false;
    return isForwardCall(call) || this.calleeIsModelParam(call);
  }

  /**
   * `def evaluate(m, loader): ... m(x)` called as `evaluate(model, ...)`: the parameter holds a
   * model when some caller passes a model-like name in its place.
   */
  private calleeIsModelParam(call: PyNode): boolean {
    const fn = call.childForFieldName('function');
    if (fn?.type !== 'identifier') return false;
    const def = ancestors(call).find((a) => a.type === 'function_definition');
    const file = def === undefined ? undefined : [...this.project.files.values()].find((f) => f.root === rootOf(def));
    if (def === undefined || file === undefined) return false;
    const params = paramNames(def);
    const idx = params.indexOf(fn.text);
    if (idx < 0) return false;
    return this.callersOf(file, def).some((c) => {
      const args = namedKids(c.call.childForFieldName('arguments') ?? c.call).filter((a) => a.type !== 'comment');
      const keyword = args.find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === fn.text);
      const arg = keyword?.childForFieldName('value') ?? args.filter((a) => a.type !== 'keyword_argument')[idx];
      return arg !== undefined && arg !== null && isModelName(lastName(arg));
    });
  }

  /** The nearest enclosing loop that is a step loop, and the `if`s between it and the node. */
  private stepLoopOf(f: FileInfo, node: PyNode): { loop: PyNode; ifs: PyNode[] } | undefined {
    const loops = enclosingLoops(node);
    const step = loops.find((l) => this.loops.get(nodeKey(f, l))?.isStep === true);
    if (step === undefined) return undefined;
    const ifs: PyNode[] = [];
    for (const a of ancestors(node)) {
      if (a.id === step.id) break;
      if (a.type === 'if_statement' || a.type === 'conditional_expression') ifs.push(a);
    }
    return { loop: step, ifs };
  }

  private fileSites(f: FileInfo, usesCuda: boolean): void {
    const p = this.project;
    for (const n of f.all) {
      if (n.type !== 'call') continue;
      if (p.isDataLoaderCall(f, n)) this.dataLoaderSites(f, n, usesCuda);
      const step = this.stepLoopOf(f, n);
      if (step === undefined) continue;
      const loopLine = step.loop.startPosition.row;
      const fn = n.childForFieldName('function');
      const method = fn?.type === 'attribute' ? lastName(fn) : undefined;
      const qualified = p.extName(f, fn);
      // `if step % N == 0:`, `if i == 0:`, `if args.verbose:`: not every iteration.
      const periodic = step.ifs.some((i) => isPeriodicCondition(i));
      const everyN = step.ifs.find((i) => isEveryNCondition(i));
      // An evaluation loop runs once per eval batch, far less often than the training step.
      const evalLoop = this.isEvalLoop(f, step.loop);
      const where = evalLoop ? `the evaluation loop (line ${loopLine + 1})` : `the step loop (line ${loopLine + 1})`;
      const often = evalLoop ? 'every evaluation batch (this matters less than in the training loop)' : 'every iteration';
      const syncDetails = (call: string, kind: string): SourceSite['details'] => ({ call, kind, loopLine, ...(evalLoop ? { evalLoop: true } : {}) });
      // Host syncs: report the outermost of a chain (`x.detach().cpu().numpy()` once).
      if (method !== undefined && SYNC_METHODS.has(method) && namedKids(n.childForFieldName('arguments') ?? n).length === 0 && !periodic && !isInnerOfSyncChain(n)) {
        this.add(f, 'host-sync-in-loop', n, `.${method}() in ${where} waits for the GPU ${often}`, syncDetails(`.${method}()`, method));
      } else if (qualified === 'torch.cuda.synchronize' && !periodic) {
        this.add(f, 'host-sync-in-loop', n, `torch.cuda.synchronize() in ${where} waits for the GPU ${often}`, syncDetails('torch.cuda.synchronize()', 'synchronize'));
      } else if (fn?.type === 'identifier' && fn.text === 'print' && p.qualify(f, fn) === undefined && !periodic && printsTensor(n)) {
        this.add(f, 'host-sync-in-loop', n, `print() of a tensor in ${where} copies it to the host ${often}`, syncDetails('print()', 'print'));
      }
      if (everyN !== undefined && !evalLoop) this.periodicSite(f, n, everyN, loopLine);
      if (step.ifs.length > 0) continue;
      if (qualified === 'torch.save') {
        this.add(f, 'save-every-step', n, `torch.save in the step loop (line ${loopLine + 1}) writes a checkpoint every iteration`, { loopLine });
      } else if (isEvalCall(p, f, n)) {
        this.add(f, 'eval-every-step', n, `${fn?.text ?? 'evaluation'}() runs inside the step loop (line ${loopLine + 1}) on every iteration`, { call: fn?.text ?? '', loopLine });
      }
    }
  }

  /**
   * Work done every N steps (`if step % N == 0:` holding torch.save, an evaluation, a logger): a
   * GPU that stalls again and again at that period is waiting for it, not starved of data.
   */
  private periodicSite(f: FileInfo, call: PyNode, cond: PyNode, loopLine: number): void {
    const fn = call.childForFieldName('function');
    const qualified = this.project.extName(f, fn);
    const condText = cond.childForFieldName('condition')?.text ?? '';
    const details = (kind: string, advice: string): SourceSite['details'] => ({ kind, advice, condition: condText, loopLine });
    if (qualified === 'torch.save' || /^(save_checkpoint|save_model|save_pretrained|save_state)$/.test(lastName(fn) ?? '')) {
      this.add(f, 'periodic-work', call, `${fn?.text ?? 'torch.save'}() under \`${condText}\` writes a checkpoint while the GPU waits`, details('save', 'save less often, or save asynchronously (copy the state dict to CPU and write it from another thread, or torch.distributed.checkpoint.async_save)'));
    } else if (isEvalCall(this.project, f, call)) {
      this.add(f, 'periodic-work', call, `${fn?.text ?? 'evaluation'}() under \`${condText}\` evaluates while the training loop waits`, details('eval', 'evaluate less often, or on fewer batches'));
    }
  }

  /** A loop that only evaluates: in an eval-named def, or without backward while the project trains. */
  private isEvalLoop(f: FileInfo, loop: PyNode): boolean {
    const facts = this.loops.get(nodeKey(f, loop));
    if (facts === undefined || facts.hasBackward) return false;
    const def = ancestors(loop).find((a) => a.type === 'function_definition');
    if (def !== undefined && EVAL_NAME.test(def.childForFieldName('name')?.text ?? '')) return true;
    if (def !== undefined && /^(test|predict|infer)/i.test(def.childForFieldName('name')?.text ?? '')) return true;
    return [...this.loops.values()].some((l) => l.hasBackward) && this.gradDisabled(f, loop, 0);
  }

  private dataLoaderSites(f: FileInfo, call: PyNode, usesCuda: boolean): void {
    const args = loaderArgs(call, f.root);
    const callee = call.childForFieldName('function') ?? call;
    const factoryCallers = this.callersOfFactory(f, call);
    // A value set in a `**cfg` dict is reported on the dict; point back at the call that uses it.
    const relatedFor = (st: ArgState): RelatedLocation[] | undefined =>
      st.viaSplat ? [{ file: f.path, range: rangeOf(callee), message: 'Passed to this DataLoader through a ** splat' }, ...(factoryCallers ?? [])] : factoryCallers;
    const nw = args.numWorkers;
    const workersSafety = combinePolicies(workersPolicy(call, [...this.project.files.values()].map((x) => x.root)), mainGuardPolicy(this.entry?.root));
    const zeroAlt = nw.alternatives?.find((a) => a.value === 0);
    if (nw.present ? nw.value === 0 : !args.opaque) {
      const explicit = nw.present;
      const via = nw.via === undefined ? '' : ` (${nw.via})`;
      this.add(f, 'dataloader-workers', explicit && nw.node !== undefined ? nw.node : callee,
        explicit ? `DataLoader with num_workers=0${via} loads every batch in the training process` : 'DataLoader without num_workers (defaults to 0) loads every batch in the training process',
        { numWorkers: 0, explicit, viaSplat: nw.viaSplat, ...(nw.via !== undefined ? { via: nw.via } : {}) }, relatedFor(nw), undefined, workersSafety);
    } else if (zeroAlt !== undefined && nw.node !== undefined) {
      this.add(f, 'dataloader-workers', nw.node, `DataLoader num_workers is 0 ${zeroAlt.when}: then every batch loads in the training process`,
        { numWorkers: 0, explicit: true, viaSplat: nw.viaSplat, unresolved: true }, relatedFor(nw), undefined, { kind: 'none', reason: 'the value depends on a condition Joules cannot decide' });
    } else if (nw.unknown !== undefined && nw.node !== undefined) {
      // Unknown is said, not guessed: a hint that never claims measured support (correlate.ts).
      this.add(f, 'dataloader-workers', nw.node, `DataLoader num_workers cannot be read (${nw.unknown}); if it is 0, every batch loads in the training process`,
        { explicit: true, viaSplat: nw.viaSplat, unresolved: true }, relatedFor(nw), undefined, { kind: 'none', reason: 'the value is not known' });
    }
    const pm = args.pinMemory;
    if (usesCuda && (pm.present ? pm.value === false : !args.opaque)) {
      this.add(f, 'dataloader-pin-memory', pm.present && pm.node !== undefined ? pm.node : callee,
        'DataLoader without pin_memory=True: host-to-GPU copies go through pageable memory', { explicit: pm.present, viaSplat: pm.viaSplat }, relatedFor(pm));
    }
    const pw = args.persistentWorkers;
    const workersOn = nw.present && nw.value !== 0 && nw.value !== false;
    if (workersOn && (pw.present ? pw.value === false : !args.opaque)) {
      this.add(f, 'dataloader-persistent-workers', pw.present && pw.node !== undefined ? pw.node : callee,
        'DataLoader without persistent_workers=True restarts its worker processes every epoch',
        { numWorkers: typeof nw.value === 'number' ? nw.value : 'expression', explicit: pw.present }, relatedFor(pw));
    }
    const bs = args.batchSize;
    if (bs.present && typeof bs.value === 'number' && bs.value <= 64 && bs.node !== undefined) {
      this.add(f, 'small-batch', bs.node, `DataLoader batch_size=${bs.value}: small batches leave the GPU's memory and cores idle`, { batchSize: bs.value, viaSplat: bs.viaSplat }, relatedFor(bs));
    }
  }

  /** Where a loader-building helper is called from other files (the entry's point of view). */
  private callersOfFactory(f: FileInfo, call: PyNode): RelatedLocation[] | undefined {
    const def = ancestors(call).find((a) => a.type === 'function_definition');
    if (def === undefined || !this.loaderFactories.has(nodeKey(f, def))) return undefined;
    const name = def.childForFieldName('name')?.text ?? 'a helper';
    const out = this.callersOf(f, def)
      .filter((c) => !(c.file.path === f.path && within(c.call, def)))
      .map((c): RelatedLocation => ({ file: c.file.path, range: rangeOf(c.call), message: `The DataLoader is built by this call to ${name}()` }));
    return out.length > 0 ? out : undefined;
  }

  private globalSites(files: FileInfo[], usesCuda: boolean): void {
    const loops = [...this.loops.values()];
    const entry = files[0];
    // no-autocast: the run trains or runs a model on CUDA and nothing enables 16-bit math (in the
    // code, a framework's own precision setting, or the launcher's command line).
    const launcherPrecision = (this.options.launchArgs ?? []).some((a) => LAUNCH_PRECISION.test(a));
    if (usesCuda && !launcherPrecision && !files.some((f) => usesMixedPrecision(this.project, f) || frameworkSetsPrecision(f))) {
      const stepLoops = loops.filter((l) => l.isStep && l.forwards.length > 0);
      const pick = stepLoops.find((l) => l.hasBackward && l.file === entry) ?? stepLoops.find((l) => l.hasBackward) ?? stepLoops[0];
      const fwd = pick?.forwards[0];
      if (pick !== undefined && fwd !== undefined) {
        // nn.BCELoss / F.binary_cross_entropy raise "unsafe to autocast": no fix, and say what to change.
        const bce = usesUnsafeAutocastLoss([pick.node], pick.file.root);
        const policy: FixPolicy | undefined = bce === undefined ? undefined : { kind: 'none', reason: `the loss ${bce} raises "unsafe to autocast" under autocast: use nn.BCEWithLogitsLoss on the logits (drop the final sigmoid), then autocast` };
        this.add(pick.file, 'no-autocast', fwd, `${pick.hasBackward ? 'Training' : 'Inference'} runs in full precision: no torch.autocast or bf16 anywhere in the script`, { trains: pick.hasBackward }, undefined, undefined, policy);
      }
    }
    const trainsSomewhere = loops.some((l) => l.hasBackward) || files.some((f) => f.all.some((n) => n.type === 'call' && isBackwardCall(n)));
    for (const l of loops) {
      if (l.hasBackward || l.forwards.length === 0 || this.reachesTraining(l.file, l.node, 0)) continue;
      const fwd = l.forwards[0];
      const why = fwd === undefined ? undefined : batchOfOneCall(fwd, l.node);
      if (why !== undefined && fwd !== undefined && !ancestors(l.node).some((a) => a.type === 'class_definition')) {
        this.add(l.file, 'batch-of-one', fwd, `The model is called once per item in this loop (line ${l.node.startPosition.row + 1}): ${why}`, { loopLine: l.node.startPosition.row },
          undefined, undefined, { kind: 'none', reason: 'batching changes how requests are collected; Joules does not rewrite it' });
      }
    }
    // no-inference-mode: a loop that runs the model without backward, with autograd still on.
    for (const l of loops) {
      if (l.hasBackward || l.forwards.length === 0) continue;
      // Loops in a model's own code (forward over blocks, __init__ building layers) are not inference loops.
      if (ancestors(l.node).some((a) => a.type === 'class_definition') || buildsLayers(l.node)) continue;
      // No backward() reachable through the project's helpers (a train_step in another module).
      if (this.reachesTraining(l.file, l.node, 0)) continue;
      // HF `generate()` and pipelines turn autograd off themselves.
      const selfGuarded = (c: PyNode): boolean => ['generate', 'pipe', 'pipeline'].includes((lastName(c.childForFieldName('function')) ?? '').toLowerCase());
      if (l.forwards.every(selfGuarded)) continue;
      const file = l.file;
      if (this.gradDisabled(file, l.node, 0)) continue;
      // An inner loop of a training step (micro-batches, then backward outside it) is training.
      if (enclosingLoops(l.node).some((o) => this.loops.get(nodeKey(file, o))?.hasBackward === true)) continue;
      const header = loopHeader(l.node);
      // In a script that also trains, no_grad: inference_mode tensors cached by the model (lazy
      // buffers, rotary caches) would break the next training step.
      const gradOff = trainsSomewhere ? 'no_grad' : 'inference_mode';
      const unresolved = this.trainingLookingCalls(l.node);
      const wrapper = this.forwardTrains();
      const policy: FixPolicy | undefined =
        unresolved.length > 0 ? { kind: 'review', reason: `the loop calls ${unresolved.join(', ')}, which Joules cannot follow: check that it never calls backward()` }
        : wrapper !== undefined ? { kind: 'review', reason: `${wrapper}.forward() calls backward(): check that this loop does not train through it` }
        : undefined;
      this.add(file, 'no-inference-mode', header, `This loop runs the model without backward() but with autograd on (no torch.inference_mode() / torch.no_grad())`,
        { loop: l.node.type === 'for_statement' ? 'for' : 'while', loopLine: l.node.startPosition.row, gradOff }, undefined, rangeOfSpan(l.node, header), policy);
    }
  }

  /** A backward() or optimizer step in a project function the loop calls (three calls deep). */
  private reachesTraining(f: FileInfo, node: PyNode, depth: number): boolean {
    if (depth > 3) return false;
    for (const n of descendants(node)) {
      if (n.type !== 'call') continue;
      if (depth > 0 && (isBackwardCall(n) || isOptimizerStepCall(n))) return true;
      const target = this.project.calledDef(f, n) ?? this.methodDef(n);
      if (target !== undefined && target.def.id !== node.id && this.reachesTraining(target.file, target.def, depth + 1)) return true;
    }
    return false;
  }

  /** `obj.method(...)` resolved by name to a project class's method (the first of that name). */
  private methodDef(call: PyNode): { file: FileInfo; def: PyNode } | undefined {
    const fn = call.childForFieldName('function');
    const name = fn?.type === 'attribute' ? lastName(fn) : undefined;
    if (name === undefined || name === 'forward') return undefined;
    if (this.methodIndex === undefined) {
      this.methodIndex = new Map();
      for (const file of this.project.files.values()) {
        for (const n of file.all) {
          if (n.type !== 'function_definition' || n.parent?.parent?.type !== 'class_definition') continue;
          const defName = n.childForFieldName('name')?.text;
          if (defName !== undefined && !this.methodIndex.has(defName)) this.methodIndex.set(defName, { file, def: n });
        }
      }
    }
    return this.methodIndex.get(name);
  }

  /** A project class whose forward() calls backward(): calling "the model" may train. */
  private forwardTrains(): string | undefined {
    for (const file of this.project.files.values()) {
      for (const n of file.all) {
        if (n.type !== 'function_definition' || n.childForFieldName('name')?.text !== 'forward' || n.parent?.parent?.type !== 'class_definition') continue;
        if (descendants(n).some((c) => c.type === 'call' && (isBackwardCall(c) || isOptimizerStepCall(c)))) return n.parent.parent.childForFieldName('name')?.text ?? 'a class';
      }
    }
    return undefined;
  }

  /** Calls in the loop that may train but resolve to nothing in the project (`loss_scaler(...)`, `trainer.step()`). */
  private trainingLookingCalls(loop: PyNode): string[] {
    const out = new Set<string>();
    for (const n of descendants(loop)) {
      if (n.type !== 'call') continue;
      const name = lastName(n.childForFieldName('function')) ?? '';
      if (/train|backward|scaler|optimi[sz]|fit$|update_params|step$/i.test(name) && name !== 'step') out.add(`${name}()`);
    }
    return [...out].slice(0, 3);
  }

  /** Inside `with torch.no_grad()/inference_mode()`, a decorated def, or a def only called so. */
  private gradDisabled(f: FileInfo, node: PyNode, depth: number): boolean {
    for (const a of ancestors(node)) {
      if (a.type === 'with_statement' && withDisablesGrad(this.project, f, a)) return true;
      if (a.type !== 'function_definition') continue;
      const decorated = a.parent?.type === 'decorated_definition' ? a.parent : undefined;
      for (const d of decorated === undefined ? [] : namedKids(decorated).filter((k) => k.type === 'decorator')) {
        const expr = namedKids(d)[0] ?? null;
        const target = expr?.type === 'call' ? expr.childForFieldName('function') : expr;
        if (GRAD_OFF.has(this.project.extName(f, target) ?? '')) return true;
      }
      if (depth >= 2) return false;
      const callers = this.callersOf(f, a);
      return callers.length > 0 && callers.every((c) => this.gradDisabled(c.file, c.call, depth + 1));
    }
    return false;
  }

  /** Calls of a def from any analysed file (indexed once: every call resolved a single time). */
  private callersOf(f: FileInfo, def: PyNode): { file: FileInfo; call: PyNode }[] {
    if (this.callIndex === undefined) {
      const index = new Map<string, { file: FileInfo; call: PyNode }[]>();
      for (const other of this.project.files.values()) {
        for (const n of other.all) {
          if (n.type !== 'call') continue;
          const target = this.project.calledDef(other, n);
          if (target === undefined) continue;
          const key = nodeKey(target.file, target.def);
          const list = index.get(key) ?? [];
          list.push({ file: other, call: n });
          index.set(key, list);
        }
      }
      this.callIndex = index;
    }
    return this.callIndex.get(nodeKey(f, def)) ?? [];
  }

  private add(f: FileInfo, code: SourceSite['code'], node: PyNode, message: string, details: SourceSite['details'], related?: RelatedLocation[], range?: SourceRange, policy?: FixPolicy): void {
    const site: SourceSite = { code, file: f.path, range: range ?? rangeOf(node), message, details };
    if (related !== undefined) site.related = related;
    // Files outside the launched script's folder are library code: never auto-edited.
    const fixPolicy = combinePolicies(policy, this.entry === undefined ? undefined : editPolicy(f.path, this.entry.path));
    if (fixPolicy !== undefined) site.fixPolicy = fixPolicy;
    this.sites.push(site);
  }
}

/** The stricter of two policies ('none' over 'review'), reasons joined. */
function combinePolicies(a: FixPolicy | undefined, b: FixPolicy | undefined): FixPolicy | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { kind: a.kind === 'none' || b.kind === 'none' ? 'none' : 'review', reason: `${a.reason}; ${b.reason}` };
}

function rootOf(n: PyNode): PyNode {
  let r = n;
  while (r.parent !== null) r = r.parent;
  return r;
}

/** Parameter names of a def, in order (`self` included). */
function paramNames(def: PyNode): string[] {
  const params = def.childForFieldName('parameters');
  return (params === null ? [] : namedKids(params)).flatMap((p) => {
    if (p.type === 'identifier') return [p.text];
    const name = p.childForFieldName('name') ?? namedKids(p).find((k) => k.type === 'identifier');
    return name === undefined || name === null ? [] : [name.text];
  });
}

function nodeKey(f: FileInfo, n: PyNode): string {
  return `${f.path}#${n.id}`;
}

const GRAD_OFF = new Set(['torch.no_grad', 'torch.inference_mode', 'torch.set_grad_enabled', 'torch.autograd.no_grad', 'torch.autograd.grad_mode.no_grad']);

function withDisablesGrad(p: Project, f: FileInfo, w: PyNode): boolean {
  const clause = namedKids(w).find((k) => k.type === 'with_clause');
  for (const item of clause === undefined ? [] : namedKids(clause)) {
    if (item.type !== 'with_item') continue;
    let v = item.childForFieldName('value');
    if (v?.type === 'as_pattern') v = namedKids(v)[0] ?? null;
    const target = v?.type === 'call' ? v.childForFieldName('function') : v;
    const name = p.extName(f, target);
    if (name === undefined || !GRAD_OFF.has(name)) continue;
    // set_grad_enabled(True) turns autograd on.
    if (name === 'torch.set_grad_enabled') {
      const args = v?.childForFieldName('arguments') ?? null;
      const first = args === null ? undefined : namedKids(args)[0];
      if (first?.type !== 'false') continue;
    }
    return true;
  }
  return false;
}

/** `for ... in ...:` / `while ...:` header, up to the colon. */
export function loopHeader(loop: PyNode): PyNode {
  const colon = kids(loop).find((k) => k.type === ':');
  return colon ?? loop;
}

function rangeOfSpan(from: PyNode, to: PyNode): SourceRange {
  return { startLine: from.startPosition.row, startCharacter: from.startPosition.column, endLine: to.endPosition.row, endCharacter: to.endPosition.column };
}

/** `if step % 100 == 0:` and friends: work done every N steps, not every step. */
function isEveryNCondition(n: PyNode): boolean {
  const cond = n.childForFieldName('condition');
  if (cond === null) return false;
  return descendants(cond).some((d) => (d.type === 'binary_operator' && kids(d).some((k) => k.type === '%')) || (d.type === 'identifier' && /(every|interval|freq|period)/i.test(d.text)));
}

/**
 * Not every iteration: every N steps, one step (`if i == 0:`, `if step == warmup:`), or an opt-in
 * flag (`if args.verbose:`, `if debug:`, `if log_metrics and ...`).
 */
function isPeriodicCondition(n: PyNode): boolean {
  if (isEveryNCondition(n)) return true;
  const cond = n.childForFieldName('condition');
  if (cond === null) return false;
  const parts = descendants(cond);
  if (parts.some((d) => d.type === 'comparison_operator' && kids(d).some((k) => k.type === '==') && namedKids(d).some((k) => k.type === 'integer'))) return true;
  // A flag: a bare name or attribute (or `not` of one) is a switch the user turns on.
  const bare = cond.type === 'not_operator' ? namedKids(cond)[0] : cond;
  if (bare?.type === 'identifier' || bare?.type === 'attribute') return true;
  return parts.some((d) => d.type === 'identifier' && /^(verbose|debug|log_\w*|print_\w*|profile\w*|dry_run|args|opt|cfg|config|flags)$/i.test(d.text));
}

function isInnerOfSyncChain(call: PyNode): boolean {
  const attr = call.parent;
  if (attr?.type !== 'attribute' || attr.childForFieldName('object')?.id !== call.id) return false;
  const outer = attr.parent;
  return outer?.type === 'call' && SYNC_METHODS.has(lastName(attr) ?? '');
}

function printsTensor(call: PyNode): boolean {
  const args = call.childForFieldName('arguments');
  if (args === null) return false;
  return descendants(args).some((d) => {
    if (d.type !== 'identifier' || !TENSORISH.test(d.text)) return false;
    const parent = d.parent;
    if (parent?.type === 'attribute' && parent.childForFieldName('object')?.id === d.id) return false; // loss.item(), out.shape
    if (parent?.type === 'keyword_argument' && parent.childForFieldName('name')?.id === d.id) return false;
    return true;
  });
}

function isEvalCall(p: Project, f: FileInfo, call: PyNode): boolean {
  const fn = call.childForFieldName('function');
  const name = lastName(fn);
  if (name === undefined || !EVAL_NAME.test(name)) return false;
  const args = call.childForFieldName('arguments');
  const argCount = args === null ? 0 : namedKids(args).length;
  // `model.eval()` switches a module's mode; the bare builtin `eval(...)` evaluates a string.
  if (fn?.type === 'attribute' && name === 'eval' && argCount === 0) return false;
  if (fn?.type === 'identifier' && name === 'eval' && p.qualify(f, fn) === undefined) return false;
  return true;
}

/** Any sign of a GPU: "cuda", `.cuda()`, `torch.accelerator`, HF Accelerate, Lightning, `device_map=`. */
function usesCudaIn(f: FileInfo): boolean {
  for (const n of f.all) {
    if (n.type === 'string' && /\b(cuda|gpu)\b/.test(n.text)) return true;
    if (n.type === 'attribute' && ['cuda', 'accelerator'].includes(lastName(n) ?? '')) return true;
    if (n.type === 'call' && /^(Accelerator|Trainer|pipeline)$/.test(lastName(n.childForFieldName('function')) ?? '')) return true;
    if (n.type === 'keyword_argument' && n.childForFieldName('name')?.text === 'device_map') return true;
  }
  return false;
}

/** Launcher flags that set mixed precision (`accelerate launch --mixed_precision bf16`, `--bf16`, DeepSpeed). */
const LAUNCH_PRECISION = /^--(mixed[_-]precision|precision|bf16|fp16|amp|deepspeed)(=|$)/;

/**
 * Precision a framework sets from its own configuration: `Accelerator(...)` (mixed_precision in
 * the call or in the accelerate config), Lightning `Trainer(precision=...)`, HF
 * `TrainingArguments(bf16=...)`, DeepSpeed (its JSON config decides).
 */
function frameworkSetsPrecision(f: FileInfo): boolean {
  for (const n of f.all) {
    if (n.type !== 'call') continue;
    const name = lastName(n.childForFieldName('function')) ?? '';
    const kw = (k: string): PyNode | undefined =>
      namedKids(n.childForFieldName('arguments') ?? n).find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === k)?.childForFieldName('value') ?? undefined;
    if (name === 'Accelerator') {
      const mp = kw('mixed_precision');
      if (mp === undefined || !/^["']no["']$/.test(mp.text)) return true;
    }
    if (name === 'Trainer' && kw('precision') !== undefined && !/^["']?32(-true)?["']?$/.test(kw('precision')?.text ?? '')) return true;
    if (/Arguments$|Config$/.test(name) && ['bf16', 'fp16', 'mixed_precision'].some((k) => kw(k) !== undefined && kw(k)?.text !== 'False')) return true;
    if (name === 'initialize' && /deepspeed/.test(n.childForFieldName('function')?.text ?? '')) return true;
  }
  return false;
}

function usesMixedPrecision(p: Project, f: FileInfo): boolean {
  for (const n of f.all) {
    if (n.type === 'attribute' || n.type === 'identifier') {
      const name = p.extName(f, n);
      if (name !== undefined && /^torch\.(bfloat16|float16|half|autocast|cuda\.amp\.autocast|amp\.autocast|cuda\.amp\.GradScaler|amp\.GradScaler)$/.test(name)) return true;
      if (n.type === 'attribute' && ['half', 'bfloat16', 'autocast'].includes(lastName(n) ?? '')) return true;
    }
    if (n.type === 'string' && /^(bf16|fp16|16-mixed|bf16-mixed|bfloat16|float16)$/.test(stringLiteral(n) ?? '')) return true;
  }
  return false;
}

function dedupe(sites: SourceSite[]): SourceSite[] {
  const seen = new Set<string>();
  return sites.filter((s) => {
    const key = `${s.code}|${s.file}|${s.range.startLine}:${s.range.startCharacter}-${s.range.endLine}:${s.range.endCharacter}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Finds the source patterns behind GPU waste in the entry script and the local modules it imports
 * (followed two levels deep, among `files`). Sites come with exact 0-based ranges:
 * - dataloader-workers / -pin-memory / -persistent-workers: the callee of the DataLoader call, or
 *   the argument that sets the value (`num_workers=0`, or the pair in a `**cfg` dict literal).
 * - small-batch: the `batch_size=N` argument (N <= 64).
 * - host-sync-in-loop, save-every-step, eval-every-step: the call.
 * - no-autocast: the first forward call (`model(x)`) of the training loop.
 * - no-inference-mode: the loop header (`for ... :`).
 * `parser` comes from `loadPythonParser` (awaited by the caller: the analysis itself is synchronous).
 */
export function analyzePythonSource(files: { path: string; text: string }[], entry: string, parser: PythonParser, options: SourceAnalysisOptions = {}): SourceSite[] {
  const project = new Project(parser, files, dirname(normalize(entry)));
  project.load(entry, 2);
  return new Analysis(project, options).run();
}

/** What the source alone cannot tell. */
export interface SourceAnalysisOptions {
  /** The run's command line (`accelerate launch --mixed_precision bf16 train.py`): launcher flags count. */
  launchArgs?: string[];
  /** The run was measured busy on a GPU: GPU hints apply even when the source shows no GPU use. */
  ranOnGpu?: boolean;
}
