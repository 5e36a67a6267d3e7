// Extension-host side of the panel-state request (bundled into a suite's test files), like
// screenshot.ts: a test logs `JOULES_PANEL_STATE <file>`; the code-server runner writes the energy
// panel webview's `window.__joulesPanelState` there (the webview is in another process and frame:
// the extension host cannot read it). Resolves with the parsed state, or undefined when the runner
// takes no requests (the desktop runner).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const PANEL_STATE_MARKER = 'JOULES_PANEL_STATE';

let requests = 0;

export async function requestPanelState<T = Record<string, unknown>>(timeoutMs = 15_000): Promise<T | undefined> {
  if (!process.env.JOULES_SCREENSHOT_DIR) return undefined;
  const file = path.join(os.tmpdir(), `joules-panel-state-${process.pid}-${++requests}.json`);
  fs.rmSync(file, { force: true });
  console.log(`${PANEL_STATE_MARKER} ${file}`);
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no panel state at ${file} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const state = JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  fs.rmSync(file, { force: true });
  return state;
}
