/**
 * Loads tree-sitter's Python grammar and copies its trees into plain JS (`PyNode`). Callers get a
 * `PythonParser` from `loadPythonParser` and pass it on: nothing here remembers the last one.
 *
 * Ranges are 0-based lines and UTF-16 columns: web-tree-sitter parses JS strings as UTF-16, so its
 * `Point.column` already counts UTF-16 code units, which is what LSP and `vscode.Range` use.
 */
import { dirname, join, normalize } from 'node:path';
import type * as TreeSitterModule from '@vscode/tree-sitter-wasm';
import type { Point, Tree } from '@vscode/tree-sitter-wasm';
import { descendants } from './pythonSyntax';

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
type TreeSitter = typeof TreeSitterModule;

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
    // Loaded on first use, not with the module: evaluating the runtime's 190 kB of JS is a third of
    // the extension's activation (`npm run bench:activation`), and most windows parse nothing at once.
    const mod = (await import('@vscode/tree-sitter-wasm')) as TreeSitter & { default?: TreeSitter };
    // A CommonJS package imported from ESM (tests through tsx) may show its exports under `default`.
    const { Language, Parser } = mod.Parser !== undefined ? mod : (mod.default as TreeSitter);
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
