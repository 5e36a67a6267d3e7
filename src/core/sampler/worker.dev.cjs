// The sampler worker run from its TypeScript source (tests, benchmarks under tsx): registers tsx in
// the worker, then loads the source. The bundles never use this file (dist/samplerWorker.js).
require('tsx/cjs');
require('./worker.ts');
