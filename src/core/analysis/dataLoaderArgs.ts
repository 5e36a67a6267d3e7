/**
 * What a `torch.utils.data.DataLoader(...)` call sets: its arguments, `**cfg` dict splats followed
 * to the literal they name, and values resolved through names and argparse defaults.
 */
import type { PyNode } from './pythonParser';
import type { LiteralValue } from './pythonSyntax';
import { ancestors, descendants, lastName, literalValue, namedKids, stringLiteral, within } from './pythonSyntax';
import { gpuBranch, lastAssignment, resolveValue } from './valueResolution';

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
