/**
 * Inference one request at a time: a Python loop that calls the model once per item with an input
 * whose leading dimension is 1 (`x.unsqueeze(0)`, `x[None]`, `x.view(1, -1)`, a tokenizer called on
 * one string). On an H200 such a script's energy fell 48 % with inference mode and bf16, and 80 %
 * once the requests were batched too (issue 15): the batch, not the dtype, is the larger lever.
 */
import type { PyNode } from './pythonParser';
import { ancestors, descendants, lastName, namedKids } from './pythonSyntax';
import { lastAssignment } from './valueResolution';

/** Expressions that make one sample into a batch of one. */
const SINGLE_SAMPLE = /\.unsqueeze\(\s*(dim\s*=\s*)?0\s*\)|\[\s*None\b|\.view\(\s*1\s*,|\.reshape\(\s*1\s*,|\b(randn|rand|zeros|ones|empty|randint)\(\s*1\s*,|\.expand_dims\(/;

/** Why `forward` (a model call in `loop`) runs a batch of one, or undefined when it does not show. */
export function batchOfOneCall(forward: PyNode, loop: PyNode): string | undefined {
  if (loop.type !== 'for_statement') return undefined;
  const target = loop.childForFieldName('left');
  const itemNames = new Set(target === null ? [] : descendants(target).filter((d) => d.type === 'identifier').map((d) => d.text));
  const args = namedKids(forward.childForFieldName('arguments') ?? forward).filter((a) => a.type !== 'comment');
  for (const a of args) {
    const expr = a.type === 'keyword_argument' ? a.childForFieldName('value') : a.type === 'dictionary_splat' ? (namedKids(a)[0] ?? null) : a;
    const why = singleSample(expr, loop, itemNames, 0);
    if (why !== undefined) return why;
  }
  return undefined;
}

function singleSample(expr: PyNode | null, loop: PyNode, items: Set<string>, depth: number): string | undefined {
  if (expr === null || depth > 3) return undefined;
  if (SINGLE_SAMPLE.test(expr.text)) return `its input \`${short(expr.text)}\` has a leading dimension of 1`;
  if (expr.type === 'call' && isTokenizerCall(expr)) {
    const first = namedKids(expr.childForFieldName('arguments') ?? expr).find((k) => k.type !== 'comment' && k.type !== 'keyword_argument');
    // One string per call: the loop's item itself, or a one-element list of it.
    if (first !== undefined && (items.has(first.text) || (first.type === 'list' && namedKids(first).length === 1))) {
      return `the tokenizer is called on one request (\`${short(expr.text)}\`)`;
    }
  }
  // `x.to(device)`, `inputs.cuda()`: look through the move to what was moved.
  if (expr.type === 'call') {
    const fn = expr.childForFieldName('function');
    if (fn?.type === 'attribute' && ['to', 'cuda', 'half', 'float', 'bfloat16'].includes(lastName(fn) ?? '')) return singleSample(fn.childForFieldName('object'), loop, items, depth + 1);
  }
  if (expr.type === 'identifier') {
    const body = loop.childForFieldName('body');
    const assigned = body === null ? undefined : lastAssignment(expr.text, body, ancestors(expr)[0] ?? expr);
    const inLoop = assigned !== undefined && assigned.startIndex < (ancestors(expr)[0]?.startIndex ?? Infinity) ? assigned : undefined;
    return inLoop === undefined ? undefined : singleSample(inLoop, loop, items, depth + 1);
  }
  return undefined;
}

function isTokenizerCall(call: PyNode): boolean {
  const fn = call.childForFieldName('function');
  const name = (fn?.type === 'attribute' && ['encode', 'encode_plus', '__call__'].includes(lastName(fn) ?? '') ? lastName(fn.childForFieldName('object')) : lastName(fn)) ?? '';
  return /tokeni[sz]er|^tok$|processor/i.test(name);
}

function short(t: string): string {
  const one = t.replace(/\s+/g, ' ');
  return one.length > 50 ? `${one.slice(0, 47)}...` : one;
}
