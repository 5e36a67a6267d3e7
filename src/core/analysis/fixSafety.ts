/**
 * What makes a fix unsafe on real code. Each check stands for a way a quick fix broke or
 * corrupted a real training run (issue 15): workers over an unsharded IterableDataset duplicated
 * the data (16 samples a pass became 128), workers without a `__main__` guard crash under the
 * spawn start method, `torch.inference_mode()` around model construction made the model
 * untrainable, and `nn.BCELoss` under bf16 autocast raises "unsafe to autocast".
 */
import { dirname, normalize } from 'node:path';
import type { FixPolicy } from './findings';
import type { PyNode } from './pythonParser';
import { ancestors, descendants, lastName, namedKids, stringLiteral } from './pythonSyntax';
import { lastAssignment } from './valueResolution';

/** `if __name__ == "__main__":` at the top level of a module. */
export function hasMainGuard(root: PyNode): boolean {
  return namedKids(root).some((n) => {
    if (n.type !== 'if_statement') return false;
    const cond = n.childForFieldName('condition');
    if (cond === null) return false;
    const parts = descendants(cond);
    return parts.some((p) => p.type === 'identifier' && p.text === '__name__') && parts.some((p) => p.type === 'string' && stringLiteral(p) === '__main__');
  });
}

/** A class of the project, found by name in any of `roots`. */
function classDef(roots: PyNode[], name: string): PyNode | undefined {
  for (const r of roots) {
    for (const n of descendants(r)) if (n.type === 'class_definition' && n.childForFieldName('name')?.text === name) return n;
  }
  return undefined;
}

function baseNames(cls: PyNode): string[] {
  const supers = cls.childForFieldName('superclasses');
  return (supers === null ? [] : namedKids(supers)).map((b) => lastName(b) ?? b.text);
}

/** True when the class derives from `IterableDataset`, directly or through project classes. */
function isIterableDatasetClass(roots: PyNode[], cls: PyNode, depth = 0): boolean {
  if (depth > 4) return false;
  return baseNames(cls).some((b) => {
    if (b === 'IterableDataset' || b === 'IterDataPipe') return true;
    const parent = classDef(roots, b);
    return parent !== undefined && isIterableDatasetClass(roots, parent, depth + 1);
  });
}

/** Shards per worker: `get_worker_info()` in the class (or a base), or torch's own splitting helpers. */
function shardsPerWorker(roots: PyNode[], cls: PyNode, depth = 0): boolean {
  if (descendants(cls).some((n) => n.type === 'identifier' && /^(get_worker_info|split_dataset_by_node|worker_init_fn)$/.test(n.text))) return true;
  if (depth > 4) return false;
  return baseNames(cls).some((b) => {
    const parent = classDef(roots, b);
    return parent !== undefined && shardsPerWorker(roots, parent, depth + 1);
  });
}

/**
 * Whether worker processes may be added to this DataLoader call. `none` for an IterableDataset
 * that does not shard by worker (each worker would yield the whole stream); `review` when the
 * dataset cannot be traced and the project has such datasets, or a streaming dataset.
 */
export function workersPolicy(call: PyNode, roots: PyNode[]): FixPolicy | undefined {
  const args = namedKids(call.childForFieldName('arguments') ?? call).filter((a) => a.type !== 'comment');
  if (args.some((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'worker_init_fn')) return undefined;
  const kw = args.find((a) => a.type === 'keyword_argument' && a.childForFieldName('name')?.text === 'dataset');
  const dsExpr = kw?.childForFieldName('value') ?? args.find((a) => a.type !== 'keyword_argument' && a.type !== 'dictionary_splat' && a.type !== 'list_splat');
  const scope = ancestors(call).find((a) => a.type === 'function_definition') ?? rootOf(call);
  const made = dsExpr?.type === 'identifier' ? (lastAssignment(dsExpr.text, scope, call) ?? lastAssignment(dsExpr.text, rootOf(call), call)) : dsExpr;
  const clsName = made?.type === 'call' ? lastName(made.childForFieldName('function')) : undefined;
  const cls = clsName === undefined ? undefined : classDef(roots, clsName);
  const unsharded = `${clsName ?? 'the dataset'} is an IterableDataset that does not shard by worker (no get_worker_info()): every worker would yield the whole stream, duplicating the data`;
  if (cls !== undefined) return isIterableDatasetClass(roots, cls) && !shardsPerWorker(roots, cls) ? { kind: 'none', reason: unsharded } : undefined;
  if (made?.type === 'call' && /streaming\s*=\s*True/.test(made.text)) {
    return { kind: 'review', reason: 'a streaming dataset is an IterableDataset: check that it shards across workers before adding them' };
  }
  // The dataset is not traced: risky only when the project has unsharded iterable datasets.
  for (const r of roots) {
    for (const n of descendants(r)) {
      if (n.type === 'class_definition' && isIterableDatasetClass(roots, n) && !shardsPerWorker(roots, n)) {
        return { kind: 'review', reason: `${n.childForFieldName('name')?.text ?? 'a class'} is an IterableDataset without per-worker sharding; check that this loader does not read it` };
      }
    }
  }
  return undefined;
}

/**
 * A notebook has no script to guard: its kernel is `__main__`. Under the spawn start method
 * (Windows, macOS) each worker imports the dataset's class by name, which fails for a class defined
 * in a notebook cell; on Linux (fork) workers work. Held for review either way.
 */
export function notebookWorkersPolicy(): FixPolicy {
  return {
    kind: 'review',
    reason: 'in a notebook, workers under the spawn start method (Windows, macOS) cannot load a Dataset class defined in a cell: keep it in a .py module there',
  };
}

/**
 * Workers without `if __name__ == "__main__":` in the launched script re-run the whole script in
 * each worker under the spawn start method (the default on Windows and macOS) and crash.
 */
export function mainGuardPolicy(entryRoot: PyNode | undefined): FixPolicy | undefined {
  if (entryRoot === undefined || hasMainGuard(entryRoot)) return undefined;
  return {
    kind: 'review',
    reason: 'the script has no `if __name__ == "__main__":` guard: with workers it crashes under the spawn start method (Windows, macOS); add the guard first',
  };
}

/**
 * Only the launched script and the modules beside it are the user's to edit; a package folder
 * next to it (a vendored `timm/`) is library code: its findings are listed, its fixes reviewed.
 */
export function editPolicy(file: string, entry: string): FixPolicy | undefined {
  if (dirname(normalize(file)) === dirname(normalize(entry))) return undefined;
  return { kind: 'review', reason: `${file} is in a package folder, not beside the script the run launched` };
}

/** A loop that creates layers or registers modules (model construction), not a forward pass. */
export function buildsLayers(loop: PyNode): boolean {
  return descendants(loop).some((n) => {
    if (n.type !== 'call') return false;
    const fn = n.childForFieldName('function');
    const name = lastName(fn) ?? '';
    if (['add_module', 'register_module', 'register_buffer', 'register_parameter', 'Parameter', 'ModuleList', 'Sequential'].includes(name)) return true;
    // nn.Linear(...), torch.nn.Conv2d(...): a layer constructor.
    return fn?.type === 'attribute' && /(^|\.)nn$/.test(fn.childForFieldName('object')?.text ?? '') && /^[A-Z]/.test(name);
  });
}

const BCE_CALLS = /^(binary_cross_entropy|BCELoss)$/;

/**
 * Losses that raise "unsafe to autocast" under autocast (`nn.BCELoss`, `F.binary_cross_entropy`):
 * called in `region`, directly or through a name the file binds to `nn.BCELoss()`.
 */
export function usesUnsafeAutocastLoss(region: PyNode[], root: PyNode): string | undefined {
  const bceNames = new Set<string>();
  for (const n of descendants(root)) {
    if (n.type !== 'assignment') continue;
    const right = n.childForFieldName('right');
    if (right?.type === 'call' && BCE_CALLS.test(lastName(right.childForFieldName('function')) ?? '')) bceNames.add(n.childForFieldName('left')?.text ?? '');
  }
  for (const stmt of region) {
    for (const n of descendants(stmt)) {
      if (n.type !== 'call') continue;
      const fn = n.childForFieldName('function');
      const name = lastName(fn) ?? '';
      if (BCE_CALLS.test(name)) return name;
      if (fn !== null && bceNames.has(fn.text)) return `${fn.text} (nn.BCELoss)`;
    }
  }
  return undefined;
}

function rootOf(n: PyNode): PyNode {
  let r = n;
  while (r.parent !== null) r = r.parent;
  return r;
}

/** Methods that take a bf16 tensor and give something any code can use. */
const BF16_SAFE_METHODS = new Set(['backward', 'item', 'tolist', 'argmax', 'argmin', 'max', 'min', 'topk', 'sum', 'mean', 'float', 'double', 'size', 'dim', 'softmax', 'log_softmax', 'sigmoid', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'shape', 'dtype', 'device', 'to']);

/**
 * A name assigned under autocast and used after the region in a way that needs fp32 (`.numpy()`
 * has no bf16; a non-torch function may not take it): the partial autocast would break there.
 */
export function bf16Escape(region: PyNode[], after: PyNode[]): string | undefined {
  const assigned = new Set<string>();
  for (const stmt of region) {
    for (const n of descendants(stmt)) {
      if (n.type !== 'assignment') continue;
      const left = n.childForFieldName('left');
      for (const id of left === null ? [] : left.type === 'identifier' ? [left] : descendants(left).filter((d) => d.type === 'identifier')) assigned.add(id.text);
    }
  }
  for (const stmt of after) {
    for (const n of descendants(stmt)) {
      if (n.type !== 'identifier' || !assigned.has(n.text) || n.fieldName === 'attribute') continue;
      const parent = n.parent;
      // Re-assigned before use: a new value, not the region's.
      if (parent?.type === 'assignment' && parent.childForFieldName('left')?.id === n.id) continue;
      if (parent?.type === 'attribute' && parent.childForFieldName('object')?.id === n.id) {
        // The whole chain `out.detach().cpu().numpy()`.
        let top: PyNode = parent;
        while (top.parent !== null && (top.parent.type === 'attribute' || top.parent.type === 'call') && top.parent.startIndex === n.startIndex) top = top.parent;
        if (/\.numpy\s*\(/.test(top.text)) return `${n.text} leaves the autocast region in bf16 and reaches .numpy(), which has no bf16`;
        if (BF16_SAFE_METHODS.has(lastName(parent) ?? '')) continue;
        continue; // other tensor methods keep working on bf16
      }
      if (parent?.type === 'argument_list') {
        const call = parent.parent;
        const callee = call?.childForFieldName('function')?.text ?? '';
        if (/^(torch|F|nn|th)\b|^(print|len|isinstance|type)$/.test(callee)) continue;
        return `${n.text} leaves the autocast region in bf16 and is passed to ${callee}(), which may need fp32`;
      }
    }
  }
  return undefined;
}
