// Extension-host side of the screenshot request (bundled into a suite's test files).
//
// A test calls `await requestScreenshot('name')`. Under the code-server runner this logs the line
// `JOULES_SCREENSHOT <absolute path>`; the extension host's console reaches the runner through the
// page's codeAutomationLog, the runner saves a PNG of the whole workbench page there, and this
// function resolves with the path once the file exists. Under runners that cannot take screenshots
// (the desktop runner) it resolves with undefined at once.
import * as fs from 'fs';
import * as path from 'path';

export const SCREENSHOT_MARKER = 'JOULES_SCREENSHOT';

/** Whether the runner hosting this extension host takes screenshots on request. */
export function screenshotsSupported(): boolean {
  return !!process.env.JOULES_SCREENSHOT_DIR;
}

/**
 * Asks the runner for a screenshot of the workbench page.
 * @param crop `below-title`: without the title bar; `statusbar`: the status bar alone
 * @param name file name (".png" added when missing) under the runner's screenshot folder, or an absolute path
 * @returns the PNG's path, or undefined when the runner takes no screenshots
 */
export async function requestScreenshot(name: string, timeoutMs = 15_000, crop?: 'below-title' | 'statusbar'): Promise<string | undefined> {
  const dir = process.env.JOULES_SCREENSHOT_DIR;
  if (!dir) return undefined;
  const file = path.isAbsolute(name) ? name : path.join(dir, name.endsWith('.png') ? name : `${name}.png`);
  if (/[\r\n]/.test(file)) throw new Error(`screenshot path must be one line: ${JSON.stringify(file)}`);
  fs.rmSync(file, { force: true });
  console.log(`${SCREENSHOT_MARKER} ${file}${crop ? ` crop=${crop}` : ''}`);
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`no screenshot at ${file} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return file;
}
