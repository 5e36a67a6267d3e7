// The body both integration entries share (suite/index.ts, smoke/index.ts): the extension host
// calls their run(), which runs mocha over the *.test.js files bundled beside them and prints the
// "integration: N passed, N failed" line the runners read.
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

/** Run every `*.test.js` under `dir`; rejects when any test failed. `banner` names the suite in the log. */
export function runMochaSuite(dir: string, banner: string): Promise<void> {
  // The web workbench logs console arguments joined by spaces, without printf formatting.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => console.log(util.format(...args));
  process.setSourceMapsEnabled(true);
  // JOULES_IT_GREP: run only the matching tests (while working on one; never set by npm test).
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 30_000, ...(process.env.JOULES_IT_GREP ? { grep: process.env.JOULES_IT_GREP } : {}) });
  for (const file of findTests(dir)) mocha.addFile(file);
  console.log(banner);
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
