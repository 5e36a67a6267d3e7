// Smoke suite entry: Joules as users get it, the packaged VSIX installed with code-server's
// --install-extension (runAll.mjs --mode vsix). The extension host loads this file (bundled to
// index.js by test/integration/build.mjs) and calls run(), which runs mocha over the *.test.js
// files beside it.
import { runMochaSuite } from '../mochaEntry';

export function run(): Promise<void> {
  return runMochaSuite(__dirname, 'integration: Joules smoke suite on the installed VSIX');
}
