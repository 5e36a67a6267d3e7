/** Small helpers on `PyNode` trees, shared by the analysis, the value resolution and the quick fixes. */
import type { SourceRange } from './findings';
import type { PyNode } from './pythonParser';

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
/** Statements that repeat their body. */
export const LOOP_TYPES = new Set(['for_statement', 'while_statement']);

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


/** The value of a plain string literal ('x', "x"), undefined for f-strings and concatenations. */
export function stringLiteral(node: PyNode): string | undefined {
  if (node.type !== 'string') return undefined;
  const parts = namedKids(node);
  if (parts.some((p) => p.type === 'interpolation')) return undefined;
  const content = parts.find((p) => p.type === 'string_content');
  return content?.text ?? '';
}

/** `for ... in ...:` / `while ...:` header, up to the colon. */
export function loopHeader(loop: PyNode): PyNode {
  const colon = kids(loop).find((k) => k.type === ':');
  return colon ?? loop;
}

/** From the start of `from` to the end of `to`. */
export function rangeOfSpan(from: PyNode, to: PyNode): SourceRange {
  return { startLine: from.startPosition.row, startCharacter: from.startPosition.column, endLine: to.endPosition.row, endCharacter: to.endPosition.column };
}
