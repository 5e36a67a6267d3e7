// Joules integration suite entry, in the standard shape: the extension host loads this file
// (bundled to index.js by test/integration/build.mjs) and calls run(), which runs mocha over the
// *.test.js files beside it. Each test file picks the mode it belongs to (see support.ts), so the
// same bundle serves the GPU, Restricted Mode and no-NVML runs of runAll.mjs.
import { runMochaSuite } from '../mochaEntry';
import { suiteMode } from './support';

export function run(): Promise<void> {
  return runMochaSuite(__dirname, `integration: Joules suite, mode ${suiteMode()}`);
}
