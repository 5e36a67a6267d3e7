// Import boundaries (see README "Architecture"): src/core and webview/ never import `vscode`;
// webview/ and the panel protocol never import Node built-ins (they run in a browser).
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'util', 'events', 'stream', 'net', 'http', 'url', 'readline', 'zlib', 'module'];
const nodePatterns = ['node:*', ...nodeBuiltins];
const noVscode = { name: 'vscode', message: 'src/core and src/cli must not import vscode (see README: Architecture).' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '**/*.js', '**/*.cjs', 'test/**/.work/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // A spread passes every element as an argument: past ~120,000 it throws RangeError (it once
    // lost the end of an 8-GPU run). The core and the CLI handle series of any length: loop there.
    files: ['src/core/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', {
        selector: "CallExpression[callee.property.name=/^(push|unshift|max|min|splice|fromCharCode)$/] > SpreadElement",
        message: 'No spread of an array into push/unshift/Math.max/Math.min/splice: it throws RangeError on long runs. Use a loop or reduce.',
      }],
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noVscode] }] },
  },
  {
    // The engine is backend-neutral: NVML, a replay and test fakes all reach it through
    // TelemetryBackend (a lost device is `isDeviceLost`, not an NVML code). This block replaces
    // the one above for the file, so it repeats the vscode rule.
    files: ['src/core/sampler/engine.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [noVscode],
        patterns: [{ group: ['../nvml', '../nvml/*', '**/core/nvml/*'], message: 'The sampler engine knows telemetry only through TelemetryBackend (backend.ts), not NVML.' }],
      }],
    },
  },
  {
    files: ['webview/**/*.ts', 'src/core/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'The webview talks to the host only through the typed protocol.' }],
        patterns: [{ group: nodePatterns, message: 'webview/ and the protocol run in a browser: no Node built-ins.' }],
      }],
    },
  },
);
