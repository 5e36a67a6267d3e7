/** Minimal element builder; the panel builds its DOM in code since the CSP forbids inline markup tricks. */
export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A header cell with `scope`, so screen readers announce it with each data cell. */
export function th(text: string, scope: 'col' | 'row' = 'col'): HTMLTableCellElement {
  return h('th', { text, attrs: { scope } });
}

export function td(text: string, cls?: string): HTMLTableCellElement {
  return h('td', { text, class: cls });
}

/** Sets text only when it differs: rewriting equal text still invalidates style and layout. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function setAttr(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}
