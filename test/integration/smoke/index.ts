// Smoke suite entry: Joules as users get it, the packaged VSIX installed with code-server's
// --install-extension (runAll.mjs --mode vsix). The extension host loads this file (bundled to
// index.js by test/integration/build.mjs) and calls run(), which runs mocha over the *.test.js
// files beside it.
import * as fs from 'fs';
import * as path from 'path';
import * as util from 'util';
import Mocha from 'mocha';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

export function run(): Promise<void> {
  // The web workbench logs console arguments joined by spaces, without printf formatting.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));
  process.setSourceMapsEnabled(true);
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 30_000 });
  for (const file of findTests(__dirname)) mocha.addFile(file);
  console.log('integration: Joules smoke suite on the installed VSIX');
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const passed = runner.stats?.passes ?? 0;
        const skipped = runner.stats?.pending ?? 0;
        console.log(`integration: ${passed} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ''}`);
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else resolve();
      });
    } catch (err) {
      console.error(err);
      console.log('integration: 0 passed, 1 failed');
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
