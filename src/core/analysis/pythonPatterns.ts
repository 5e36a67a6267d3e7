/**
 * What the analysis recognises in code by name and shape: model, backward and optimizer calls,
 * host syncs, periodic conditions, evaluation, autograd switched off, GPU and precision settings.
 */
import type { PyNode } from './pythonParser';
import type { FileInfo, Project } from './pythonProject';
import { ancestors, descendants, kids, lastName, namedKids, stringLiteral } from './pythonSyntax';

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

/** Tensor methods that copy to the host, so the CPU waits for the GPU to finish (`loss.item()`). */
export const SYNC_METHODS = new Set(['item', 'cpu', 'numpy', 'tolist']);
const TENSORISH = /^(loss|losses|total_loss|logits|out|outs|output|outputs|pred|preds|prediction|predictions|y_hat|yhat|probs|scores|grad_norm|acc|accuracy)$/i;
/** Names that hold a DataLoader, and the wrappers iterated over one (`enumerate(tqdm(loader))`). */
export const LOADER_NAME = /loader|(^|_)dl$/i;
export const ITER_WRAPPERS = new Set(['enumerate', 'tqdm', 'zip', 'iter', 'islice', 'track', 'progress_bar', 'trange']);
/** Defs and calls that evaluate rather than train. */
export const EVAL_NAME = /^(eval|evaluate|validate|validation|run_eval|run_validation|do_eval)/i;

/** The root of the node's tree. */
export function rootOf(n: PyNode): PyNode {
  let r = n;
  while (r.parent !== null) r = r.parent;
  return r;
}

/** Parameter names of a def, in order (`self` included). */
export function paramNames(def: PyNode): string[] {
  const params = def.childForFieldName('parameters');
  return (params === null ? [] : namedKids(params)).flatMap((p) => {
    if (p.type === 'identifier') return [p.text];
    const name = p.childForFieldName('name') ?? namedKids(p).find((k) => k.type === 'identifier');
    return name === undefined || name === null ? [] : [name.text];
  });
}

const GRAD_OFF = new Set(['torch.no_grad', 'torch.inference_mode', 'torch.set_grad_enabled', 'torch.autograd.no_grad', 'torch.autograd.grad_mode.no_grad']);

/** `with torch.no_grad():` and friends (`set_grad_enabled(False)` only). */
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

/** `if step % 100 == 0:` and friends: work done every N steps, not every step. */
export function isEveryNCondition(n: PyNode): boolean {
  const cond = n.childForFieldName('condition');
  if (cond === null) return false;
  return descendants(cond).some((d) => (d.type === 'binary_operator' && kids(d).some((k) => k.type === '%')) || (d.type === 'identifier' && /(every|interval|freq|period)/i.test(d.text)));
}

/**
 * Not every iteration: every N steps, one step (`if i == 0:`, `if step == warmup:`), or an opt-in
 * flag (`if args.verbose:`, `if debug:`, `if log_metrics and ...`).
 */
export function isPeriodicCondition(n: PyNode): boolean {
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

/** `x.cpu()` in `x.cpu().numpy()`: the chain is reported once, at its outermost call. */
export function isInnerOfSyncChain(call: PyNode): boolean {
  const attr = call.parent;
  if (attr?.type !== 'attribute' || attr.childForFieldName('object')?.id !== call.id) return false;
  const outer = attr.parent;
  return outer?.type === 'call' && SYNC_METHODS.has(lastName(attr) ?? '');
}

/** `print(loss)`, `print(f"{out}")`: a tensor-like name printed (not `loss.item()`, `out.shape`). */
export function printsTensor(call: PyNode): boolean {
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

/** `evaluate(model)`, `trainer.validate()`: not `model.eval()` nor the builtin `eval(...)`. */
export function isEvalCall(p: Project, f: FileInfo, call: PyNode): boolean {
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
export function usesCudaIn(f: FileInfo): boolean {
  for (const n of f.all) {
    if (n.type === 'string' && /\b(cuda|gpu)\b/.test(n.text)) return true;
    if (n.type === 'attribute' && ['cuda', 'accelerator'].includes(lastName(n) ?? '')) return true;
    if (n.type === 'call' && /^(Accelerator|Trainer|pipeline)$/.test(lastName(n.childForFieldName('function')) ?? '')) return true;
    if (n.type === 'keyword_argument' && n.childForFieldName('name')?.text === 'device_map') return true;
  }
  return false;
}

/** Launcher flags that set mixed precision (`accelerate launch --mixed_precision bf16`, `--bf16`, DeepSpeed). */
export const LAUNCH_PRECISION = /^--(mixed[_-]precision|precision|bf16|fp16|amp|deepspeed)(=|$)/;

/**
 * Precision a framework sets from its own configuration: `Accelerator(...)` (mixed_precision in
 * the call or in the accelerate config), Lightning `Trainer(precision=...)`, HF
 * `TrainingArguments(bf16=...)`, DeepSpeed (its JSON config decides).
 */
export function frameworkSetsPrecision(f: FileInfo): boolean {
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

/** torch's 16-bit dtypes, autocast or GradScaler named anywhere in the file, or a bf16/fp16 string. */
export function usesMixedPrecision(p: Project, f: FileInfo): boolean {
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

/** Inside `with torch.no_grad()/inference_mode()`, a decorated def, or a def only called so. */
export function gradDisabled(p: Project, f: FileInfo, node: PyNode, depth: number): boolean {
  for (const a of ancestors(node)) {
    if (a.type === 'with_statement' && withDisablesGrad(p, f, a)) return true;
    if (a.type !== 'function_definition') continue;
    const decorated = a.parent?.type === 'decorated_definition' ? a.parent : undefined;
    for (const d of decorated === undefined ? [] : namedKids(decorated).filter((k) => k.type === 'decorator')) {
      const expr = namedKids(d)[0] ?? null;
      const target = expr?.type === 'call' ? expr.childForFieldName('function') : expr;
      if (GRAD_OFF.has(p.extName(f, target) ?? '')) return true;
    }
    if (depth >= 2) return false;
    const callers = p.callersOf(f, a);
    return callers.length > 0 && callers.every((c) => gradDisabled(p, c.file, c.call, depth + 1));
  }
  return false;
}

/** A backward() or optimizer step in a project function the loop calls (three calls deep). */
export function reachesTraining(p: Project, f: FileInfo, node: PyNode, depth: number): boolean {
  if (depth > 3) return false;
  for (const n of descendants(node)) {
    if (n.type !== 'call') continue;
    if (depth > 0 && (isBackwardCall(n) || isOptimizerStepCall(n))) return true;
    const target = p.calledDef(f, n) ?? p.methodDef(n);
    if (target !== undefined && target.def.id !== node.id && reachesTraining(p, target.file, target.def, depth + 1)) return true;
  }
  return false;
}

/** A project class whose forward() calls backward(): calling "the model" may train. */
export function forwardTrains(p: Project): string | undefined {
  for (const file of p.files.values()) {
    for (const n of file.all) {
      if (n.type !== 'function_definition' || n.childForFieldName('name')?.text !== 'forward' || n.parent?.parent?.type !== 'class_definition') continue;
      if (descendants(n).some((c) => c.type === 'call' && (isBackwardCall(c) || isOptimizerStepCall(c)))) return n.parent.parent.childForFieldName('name')?.text ?? 'a class';
    }
  }
  return undefined;
}

/** Calls in the loop that may train but resolve to nothing in the project (`loss_scaler(...)`, `trainer.step()`). */
export function trainingLookingCalls(loop: PyNode): string[] {
  const out = new Set<string>();
  for (const n of descendants(loop)) {
    if (n.type !== 'call') continue;
    const name = lastName(n.childForFieldName('function')) ?? '';
    if (/train|backward|scaler|optimi[sz]|fit$|update_params|step$/i.test(name) && name !== 'step') out.add(`${name}()`);
  }
  return [...out].slice(0, 3);
}
