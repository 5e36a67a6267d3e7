/**
 * The analysed files as one project: the entry script and the local modules it imports, each
 * parsed once, with what its names refer to (imports, aliases, re-exports) and which def a call
 * reaches.
 */
import { dirname, join, normalize } from 'node:path';
import type { PyNode, PythonParser } from './pythonParser';
import { descendants, kids, lastName, namedKids } from './pythonSyntax';

/** A symbol of a local module (a file in the analysed set), or the module itself. */
export interface LocalRef {
  file: string;
  symbol: string | undefined;
}

export type Qualified = { kind: 'ext'; name: string } | { kind: 'local'; ref: LocalRef };

/** One parsed file of the project. */
export interface FileInfo {
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

/** The files of one analysis (built per call: its caches hold that call's trees). */
export class Project {
  readonly files = new Map<string, FileInfo>();
  private readonly texts = new Map<string, string>();
  private callIndex: Map<string, { file: FileInfo; call: PyNode }[]> | undefined;
  private methodIndex: Map<string, { file: FileInfo; def: PyNode }> | undefined;

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

  /** `obj.method(...)` resolved by name to a project class's method (the first of that name). */
  methodDef(call: PyNode): { file: FileInfo; def: PyNode } | undefined {
    const fn = call.childForFieldName('function');
    const name = fn?.type === 'attribute' ? lastName(fn) : undefined;
    if (name === undefined || name === 'forward') return undefined;
    if (this.methodIndex === undefined) {
      this.methodIndex = new Map();
      for (const file of this.files.values()) {
        for (const n of file.all) {
          if (n.type !== 'function_definition' || n.parent?.parent?.type !== 'class_definition') continue;
          const defName = n.childForFieldName('name')?.text;
          if (defName !== undefined && !this.methodIndex.has(defName)) this.methodIndex.set(defName, { file, def: n });
        }
      }
    }
    return this.methodIndex.get(name);
  }

  /** Calls of a def from any analysed file (indexed once: every call resolved a single time). */
  callersOf(f: FileInfo, def: PyNode): { file: FileInfo; call: PyNode }[] {
    if (this.callIndex === undefined) {
      const index = new Map<string, { file: FileInfo; call: PyNode }[]>();
      for (const other of this.files.values()) {
        for (const n of other.all) {
          if (n.type !== 'call') continue;
          const target = this.calledDef(other, n);
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
}

/** A key for a node of a file: node ids are unique per tree only. */
export function nodeKey(f: FileInfo, n: PyNode): string {
  return `${f.path}#${n.id}`;
}
