/**
 * Where a value comes from: the literal behind `num_workers=args.workers`, `NUM_WORKERS`,
 * `cfg["num_workers"]`, a parameter default, or `kw = dict(...) if cond else dict(...)`.
 *
 * Real training scripts rarely pass literals to a DataLoader (31 public ones read for issue 15:
 * argparse defaults, module constants, config dicts and conditional `**kw` dicts). A value that
 * cannot be known is said to be unknown, with the reason, never guessed.
 */
import type { PyNode } from './pythonParser';
import { ancestors, descendants, literalValue, namedKids, stringLiteral } from './pythonSyntax';
import type { LiteralValue } from './pythonSyntax';

/** What an expression evaluates to, as far as the source tells. */
export type Resolved =
  /** One value; `via` says where it was found ("argparse default of --workers", "NUM_WORKERS = 4"). */
  | { kind: 'known'; value: number | boolean; via?: string; node: PyNode }
  /** One of several values, chosen at run time by `condition` (its source text). */
  | { kind: 'alternatives'; values: { value: number | boolean; node: PyNode; when: string }[]; condition: string }
  | { kind: 'unknown'; reason: string };

const MAX_DEPTH = 4;

/** Resolves an expression to the literal(s) it holds, following names through the file. */
export function resolveValue(expr: PyNode | null, depth = 0): Resolved {
  if (expr === null) return { kind: 'unknown', reason: 'no value' };
  const lit: LiteralValue = literalValue(expr);
  if (lit !== undefined) return { kind: 'known', value: lit, node: expr };
  if (depth >= MAX_DEPTH) return { kind: 'unknown', reason: `\`${short(expr)}\` is too many steps away` };
  const root = rootOf(expr);
  switch (expr.type) {
    case 'parenthesized_expression':
      return resolveValue(namedKids(expr)[0] ?? null, depth + 1);
    case 'conditional_expression': {
      const [a, cond, b] = namedKids(expr).filter((k) => k.type !== 'comment');
      if (a === undefined || cond === undefined || b === undefined) return { kind: 'unknown', reason: 'an incomplete conditional' };
      const ra = resolveValue(a, depth + 1);
      const rb = resolveValue(b, depth + 1);
      if (ra.kind !== 'known' || rb.kind !== 'known') return { kind: 'unknown', reason: `\`${short(expr)}\` depends on values Joules cannot read` };
      if (ra.value === rb.value) return { kind: 'known', value: ra.value, via: 'both branches', node: ra.node };
      return {
        kind: 'alternatives',
        condition: cond.text,
        values: [
          { value: ra.value, node: ra.node, when: `when ${cond.text}` },
          { value: rb.value, node: rb.node, when: `otherwise` },
        ],
      };
    }
    case 'identifier':
      return resolveName(expr, root, depth);
    case 'attribute':
      return resolveAttribute(expr, root, depth);
    case 'subscript': {
      // cfg["num_workers"] with cfg a dict literal.
      const obj = expr.childForFieldName('value');
      const key = expr.childForFieldName('subscript');
      const k = key === null ? undefined : stringLiteral(key);
      if (obj?.type !== 'identifier' || k === undefined) break;
      const dict = lastAssignment(obj.text, root, expr);
      const entry = dict === undefined ? undefined : dictEntry(dict, k);
      if (entry !== undefined) return withVia(resolveValue(entry, depth + 1), `${obj.text}["${k}"]`);
      break;
    }
    default:
      break;
  }
  return { kind: 'unknown', reason: `\`${short(expr)}\` is computed at run time` };
}

function resolveName(id: PyNode, root: PyNode, depth: number): Resolved {
  const name = id.text;
  // A parameter of the enclosing def: its default (callers may pass another value: said in `via`).
  const def = ancestors(id).find((a) => a.type === 'function_definition');
  if (def !== undefined) {
    const local = lastAssignment(name, def, id);
    if (local !== undefined) return withVia(resolveValue(local, depth + 1), `${name} = ${short(local)}`);
    const dflt = parameterDefault(def, name);
    if (dflt !== undefined) return withVia(resolveValue(dflt, depth + 1), `the default of parameter ${name}`);
  }
  const assigned = moduleAssignments(name, root);
  if (assigned.length === 1 && assigned[0] !== undefined) return withVia(resolveValue(assigned[0], depth + 1), `${name} = ${short(assigned[0])}`);
  if (assigned.length > 1) return { kind: 'unknown', reason: `${name} is assigned ${assigned.length} times` };
  return { kind: 'unknown', reason: `${name} is not set in this file` };
}

/** `args.workers` -> `parser.add_argument("--workers", default=4)`; `cfg.num_workers` -> a class field default. */
function resolveAttribute(attr: PyNode, root: PyNode, depth: number): Resolved {
  const field = attr.childForFieldName('attribute')?.text;
  if (field === undefined) return { kind: 'unknown', reason: 'an attribute without a name' };
  const arg = argparseDefault(root, field);
  if (arg !== undefined) {
    if (arg.default === undefined) return { kind: 'unknown', reason: `--${arg.flag} has no default` };
    return withVia(resolveValue(arg.default, depth + 1), `the default of --${arg.flag}`);
  }
  const fieldDefault = classFieldDefault(root, field);
  if (fieldDefault !== undefined) return withVia(resolveValue(fieldDefault, depth + 1), `the default of field ${field}`);
  return { kind: 'unknown', reason: `\`${attr.text}\` is set outside this file (a config or the command line)` };
}

function withVia(r: Resolved, via: string): Resolved {
  if (r.kind !== 'known') return r;
  return { ...r, via: r.via === undefined ? via : `${via}, ${r.via}` };
}

/** `add_argument("--num-workers", "-j", type=int, default=4, dest=...)` whose dest is `field`. */
export function argparseDefault(root: PyNode, field: string): { flag: string; default: PyNode | undefined } | undefined {
  for (const n of descendants(root)) {
    if (n.type !== 'call') continue;
    const fn = n.childForFieldName('function');
    if (fn?.type !== 'attribute' || fn.childForFieldName('attribute')?.text !== 'add_argument') continue;
    const args = namedKids(n.childForFieldName('arguments') ?? n).filter((a) => a.type !== 'comment');
    const flags = args.filter((a) => a.type === 'string').map((a) => stringLiteral(a) ?? '');
    const kw = (k: string): PyNode | undefined => {
      const a = args.find((x) => x.type === 'keyword_argument' && x.childForFieldName('name')?.text === k);
      return a?.childForFieldName('value') ?? undefined;
    };
    const destNode = kw('dest');
    const long = flags.find((f) => f.startsWith('--')) ?? flags[0] ?? '';
    const dest = destNode !== undefined ? stringLiteral(destNode) : long.replace(/^-+/, '').replace(/-/g, '_');
    if (dest !== field) continue;
    return { flag: long.replace(/^-+/, ''), default: kw('default') };
  }
  return undefined;
}

/** `num_workers: int = 4` or `num_workers = 4` directly in a class body (dataclasses, config classes). */
function classFieldDefault(root: PyNode, field: string): PyNode | undefined {
  for (const n of descendants(root)) {
    if (n.type !== 'assignment' || n.parent?.parent?.type !== 'block' || n.parent.parent.parent?.type !== 'class_definition') continue;
    if (n.childForFieldName('left')?.text === field) return n.childForFieldName('right') ?? undefined;
  }
  return undefined;
}

function parameterDefault(def: PyNode, name: string): PyNode | undefined {
  const params = def.childForFieldName('parameters');
  for (const p of params === null ? [] : namedKids(params)) {
    if ((p.type === 'default_parameter' || p.type === 'typed_default_parameter') && p.childForFieldName('name')?.text === name) {
      return p.childForFieldName('value') ?? undefined;
    }
  }
  return undefined;
}

/** Right-hand sides of `name = ...` at module level (not inside a def or class). */
function moduleAssignments(name: string, root: PyNode): PyNode[] {
  const out: PyNode[] = [];
  for (const n of descendants(root)) {
    if (n.type !== 'assignment' || n.childForFieldName('left')?.text !== name) continue;
    if (ancestors(n).some((a) => a.type === 'function_definition' || a.type === 'class_definition')) continue;
    const r = n.childForFieldName('right');
    if (r !== null) out.push(r);
  }
  return out;
}

/** The last `name = value` in `scope` that starts before `before`. */
export function lastAssignment(name: string, scope: PyNode, before: PyNode): PyNode | undefined {
  let best: PyNode | undefined;
  for (const n of descendants(scope)) {
    if (n.startIndex >= before.startIndex) break;
    if (n.type === 'assignment' && n.childForFieldName('left')?.text === name) best = n.childForFieldName('right') ?? undefined;
  }
  return best;
}

function dictEntry(dict: PyNode, key: string): PyNode | undefined {
  if (dict.type === 'dictionary') {
    for (const p of namedKids(dict)) {
      const k = p.type === 'pair' ? p.childForFieldName('key') : null;
      if (k !== null && stringLiteral(k) === key) return p.childForFieldName('value') ?? undefined;
    }
  }
  if (dict.type === 'call' && dict.childForFieldName('function')?.text === 'dict') {
    for (const a of namedKids(dict.childForFieldName('arguments') ?? dict)) {
      if (a.type === 'keyword_argument' && a.childForFieldName('name')?.text === key) return a.childForFieldName('value') ?? undefined;
    }
  }
  return undefined;
}

function rootOf(n: PyNode): PyNode {
  let r = n;
  while (r.parent !== null) r = r.parent;
  return r;
}

function short(n: PyNode): string {
  const t = n.text.replace(/\s+/g, ' ');
  return t.length > 40 ? `${t.slice(0, 37)}...` : t;
}

/**
 * For a condition that tells a GPU run from a CPU one (`use_cuda`, `args.cpu`, `device.type == "cuda"`,
 * `not torch.cuda.is_available()`), the branch a GPU run takes: 'then' or 'else'; undefined otherwise.
 * Joules measures GPU runs, so that branch is the one that ran.
 */
export function gpuBranch(condition: string): 'then' | 'else' | undefined {
  const c = condition.replace(/\s+/g, ' ');
  const negated = /^not\b|!=|\bis None\b/.test(c);
  if (/\b(no_cuda|cpu|no_gpu|no_accel)\b|"cpu"|'cpu'/i.test(c)) return negated ? 'then' : 'else';
  if (/cuda|gpu|accelerat|\bmps\b/i.test(c)) return negated ? 'else' : 'then';
  return undefined;
}
