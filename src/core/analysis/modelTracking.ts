/**
 * What the model is, from what the code does with it rather than from its name: its
 * `.parameters()` go to an optimizer, it is moved to a device, switched with `.train()`/`.eval()`,
 * wrapped (`DDP(model)`, `torch.compile(model)`), or built from a project class derived from
 * `nn.Module`. A model named `m` is found this way; `policy_loss(...)` (a function) is not a model.
 */
import type { PyNode } from './pythonParser';
import { descendants, lastName, namedKids } from './pythonSyntax';

const WRAPPERS = new Set(['DDP', 'DistributedDataParallel', 'DataParallel', 'FSDP', 'FullyShardedDataParallel', 'compile', 'prepare', 'to', 'cuda', 'half', 'bfloat16', 'float']);
const MODEL_METHODS = new Set(['parameters', 'named_parameters', 'train', 'eval', 'load_state_dict', 'state_dict', 'zero_grad', 'requires_grad_']);

/** Names (last identifier: `model`, `net`, `m`, `self.encoder` -> `encoder`) that hold a model somewhere in `roots`. */
export function modelNamesByUse(roots: PyNode[]): Set<string> {
  const moduleClasses = new Set<string>();
  for (const r of roots) {
    for (const n of descendants(r)) {
      if (n.type !== 'class_definition') continue;
      const supers = n.childForFieldName('superclasses');
      const bases = (supers === null ? [] : namedKids(supers)).map((b) => b.text);
      if (bases.some((b) => /(^|\.)(Module|LightningModule|PreTrainedModel)$/.test(b))) moduleClasses.add(n.childForFieldName('name')?.text ?? '');
    }
  }
  const out = new Set<string>();
  const assignedFrom = new Map<string, PyNode[]>();
  for (const r of roots) {
    for (const n of descendants(r)) {
      if (n.type === 'assignment') {
        const left = lastName(n.childForFieldName('left'));
        const right = n.childForFieldName('right');
        if (left !== undefined && right !== null) assignedFrom.set(left, [...(assignedFrom.get(left) ?? []), right]);
        if (left !== undefined && right?.type === 'call' && moduleClasses.has(lastName(right.childForFieldName('function')) ?? '')) out.add(left);
        continue;
      }
      if (n.type !== 'call') continue;
      const fn = n.childForFieldName('function');
      if (fn?.type !== 'attribute') continue;
      const method = lastName(fn) ?? '';
      const obj = fn.childForFieldName('object');
      // `model.train()` / `model.eval()` take no argument (a `trainer.train(args)` is not a model).
      const noArgs = namedKids(n.childForFieldName('arguments') ?? n).length === 0;
      if (MODEL_METHODS.has(method) && (noArgs || method === 'load_state_dict')) {
        const name = lastName(obj);
        if (name !== undefined && !/optim|^opt$|scheduler|sched|scaler|loader|dataset/i.test(name)) out.add(name);
      }
    }
  }
  // Wrappers: `model = DDP(net)`, `model = torch.compile(model)`, `model = net.to(device)`.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, rights] of assignedFrom) {
      if (out.has(name)) continue;
      const wraps = rights.some((r) => {
        if (r.type !== 'call') return false;
        const fn = r.childForFieldName('function');
        if (!WRAPPERS.has(lastName(fn) ?? '')) return false;
        const inner = fn?.type === 'attribute' && ['to', 'cuda', 'half', 'bfloat16', 'float'].includes(lastName(fn) ?? '') ? fn.childForFieldName('object') : namedKids(r.childForFieldName('arguments') ?? r)[0];
        return out.has(lastName(inner ?? null) ?? '');
      });
      if (wraps) {
        out.add(name);
        changed = true;
      }
    }
  }
  return out;
}
