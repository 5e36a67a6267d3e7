/** Entry of the energy panel bundle (dist/webview/panel.js). */
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import { PanelApp } from './app';
import type { PanelDebugState } from './app';
import { getVsCodeApi } from './vscodeApi';

declare global {
  interface Window {
    __joulesPanelState?: PanelDebugState;
    __joulesPanelTestMode?: boolean;
    __joulesPanelDebug?: { receive(message: unknown): void; renderNow(force?: boolean): void; setDecimation(on: boolean): void };
  }
}

function main(): void {
  const mount = document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));
  const app = new PanelApp(getVsCodeApi(), mount);
  Object.defineProperty(window, '__joulesPanelState', { get: () => app.debugState(), configurable: false, enumerable: false });
  if (window.__joulesPanelTestMode === true) {
    window.__joulesPanelDebug = Object.freeze({
      receive: (m: unknown) => app.receive(m),
      renderNow: (force?: boolean) => app.renderNow(force === true),
      setDecimation: (on: boolean) => app.setDecimation(on),
    });
  }
  app.start();
}

main();
