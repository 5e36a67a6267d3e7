/**
 * Python source locator: parses the user's training or inference script (and the local modules it
 * imports) with tree-sitter and finds the lines behind common GPU waste. It only locates; whether
 * a site becomes a warning depends on the run's telemetry (see `correlate`).
 *
 * Ranges are 0-based lines and UTF-16 columns (see pythonParser.ts).
 */
import { dirname, normalize } from 'node:path';
import type { ArgState } from './dataLoaderArgs';
import { loaderArgs } from './dataLoaderArgs';
import type { FixPolicy, RelatedLocation, SourceRange, SourceSite } from './findings';
import { buildsLayers, editPolicy, mainGuardPolicy, notebookWorkersPolicy, usesUnsafeAutocastLoss, workersPolicy } from './fixSafety';
import { batchOfOneCall } from './inferenceLoops';
import { modelNamesByUse } from './modelTracking';
import type { PyNode, PythonParser } from './pythonParser';
import {
  EVAL_NAME,
  forwardTrains,
  frameworkSetsPrecision,
  gradDisabled,
  isBackwardCall,
  isEvalCall,
  isEveryNCondition,
  isForwardCall,
  isInnerOfSyncChain,
  isModelName,
  isOptimizerStepCall,
  isPeriodicCondition,
  ITER_WRAPPERS,
  LAUNCH_PRECISION,
  LOADER_NAME,
  paramNames,
  printsTensor,
  reachesTraining,
  rootOf,
  SYNC_METHODS,
  trainingLookingCalls,
  usesCudaIn,
  usesMixedPrecision,
} from './pythonPatterns';
import type { FileInfo } from './pythonProject';
import { nodeKey, Project } from './pythonProject';
import { ancestors, descendants, enclosingLoops, lastName, LOOP_TYPES, loopHeader, namedKids, rangeOf, rangeOfSpan, within } from './pythonSyntax';

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
  /** Names that hold a model by what the code does with them (see modelTracking.ts). */
  private models = new Set<string>();
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
    return this.project.callersOf(file, def).some((c) => {
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
    return [...this.loops.values()].some((l) => l.hasBackward) && gradDisabled(this.project, f, loop, 0);
  }

  private dataLoaderSites(f: FileInfo, call: PyNode, usesCuda: boolean): void {
    const args = loaderArgs(call, f.root);
    const callee = call.childForFieldName('function') ?? call;
    const factoryCallers = this.callersOfFactory(f, call);
    // A value set in a `**cfg` dict is reported on the dict; point back at the call that uses it.
    const relatedFor = (st: ArgState): RelatedLocation[] | undefined =>
      st.viaSplat ? [{ file: f.path, range: rangeOf(callee), message: 'Passed to this DataLoader through a ** splat' }, ...(factoryCallers ?? [])] : factoryCallers;
    const nw = args.numWorkers;
    const workersSafety = combinePolicies(workersPolicy(call, [...this.project.files.values()].map((x) => x.root)), this.options.notebook ? notebookWorkersPolicy() : mainGuardPolicy(this.entry?.root));
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
    const out = this.project.callersOf(f, def)
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
      if (l.hasBackward || l.forwards.length === 0 || reachesTraining(this.project, l.file, l.node, 0)) continue;
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
      if (reachesTraining(this.project, l.file, l.node, 0)) continue;
      // HF `generate()` and pipelines turn autograd off themselves.
      const selfGuarded = (c: PyNode): boolean => ['generate', 'pipe', 'pipeline'].includes((lastName(c.childForFieldName('function')) ?? '').toLowerCase());
      if (l.forwards.every(selfGuarded)) continue;
      const file = l.file;
      if (gradDisabled(this.project, file, l.node, 0)) continue;
      // An inner loop of a training step (micro-batches, then backward outside it) is training.
      if (enclosingLoops(l.node).some((o) => this.loops.get(nodeKey(file, o))?.hasBackward === true)) continue;
      const header = loopHeader(l.node);
      // In a script that also trains, no_grad: inference_mode tensors cached by the model (lazy
      // buffers, rotary caches) would break the next training step.
      const gradOff = trainsSomewhere ? 'no_grad' : 'inference_mode';
      const unresolved = trainingLookingCalls(l.node);
      const wrapper = forwardTrains(this.project);
      const policy: FixPolicy | undefined =
        unresolved.length > 0 ? { kind: 'review', reason: `the loop calls ${unresolved.join(', ')}, which Joules cannot follow: check that it never calls backward()` }
        : wrapper !== undefined ? { kind: 'review', reason: `${wrapper}.forward() calls backward(): check that this loop does not train through it` }
        : undefined;
      this.add(file, 'no-inference-mode', header, `This loop runs the model without backward() but with autograd on (no torch.inference_mode() / torch.no_grad())`,
        { loop: l.node.type === 'for_statement' ? 'for' : 'while', loopLine: l.node.startPosition.row, gradOff }, undefined, rangeOfSpan(l.node, header), policy);
    }
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
  /** The code is a notebook's cells: no `__main__` guard to ask for (the kernel is `__main__`). */
  notebook?: boolean;
}
