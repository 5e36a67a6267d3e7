// The analysis worker run from its TypeScript source (tests, benchmarks under tsx): registers tsx in
// the worker, then loads the source. The bundles never use this file (dist/analysisWorker.js).
require('tsx/cjs');
require('./analysisWorker.ts');
