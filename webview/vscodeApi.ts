import type { FromPanel } from '../src/core/protocol/panel';

/** The part of the webview API the panel uses (injected by VS Code as `acquireVsCodeApi`). */
export interface VsCodeApi {
  postMessage(message: FromPanel): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  // Provided by the VS Code webview runtime, and by the browser tests' stand-in.
  function acquireVsCodeApi(): VsCodeApi;
}

/** May be called once per page (VS Code throws on a second call), so main.ts calls it and passes it on. */
export function getVsCodeApi(): VsCodeApi {
  if (typeof acquireVsCodeApi === 'function') return acquireVsCodeApi();
  // Opened outside VS Code (e.g. a page under development): keep working, post nowhere.
  let state: unknown;
  return {
    postMessage: (m) => console.info('[joules panel] would post', m),
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}
