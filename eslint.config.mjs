// Import boundaries (see README "Architecture"): src/core and webview/ never import `vscode`;
// webview/ and the panel protocol never import Node built-ins (they run in a browser). The webview
// bundle holds everything webview/ imports, transitively: webview/ may import only itself and the
// shared layer (src/core/protocol, src/core/units, and two pure leaf modules), and the shared layer
// only itself. Anything else only with `import type`, which the bundler erases.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'worker_threads', 'crypto', 'util', 'events', 'stream', 'net', 'http', 'url', 'readline', 'zlib', 'module'];
const nodePatterns = ['node:*', ...nodeBuiltins];
const noVscode = { name: 'vscode', message: 'src/core and src/cli must not import vscode (see README: Architecture).' };

/**
 * Pure modules outside src/core/protocol that the webview and the protocol use at run time (they
 * import nothing but types), so they count as part of the shared layer.
 */
const sharedLeaves = ['analysis/findings', 'runs/minMaxView'];
const sharedLeavesText = sharedLeaves.map((l) => `src/core/${l}`).join(' and ');

/** Any import that starts with none of `allowed` (regex sources) needs `import type`. */
function sharedLayerImports(allowed, what) {
  return {
    patterns: [{
      regex: `^(?!${allowed.join('|')})`,
      caseSensitive: true,
      allowTypeImports: true,
      message: `${what}: it is shared with the webview, so anything else only with \`import type\`, or its code lands in the browser bundle.`,
    }],
  };
}

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
  // The shared layer: code both the host and the webview run. Matched on the import as written, so
  // each group lists what its folder may reach by relative path.
  {
    files: ['webview/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: `^\\.\\./(?!src/core/(protocol|units)/|${sharedLeaves.map((l) => `src/core/${l}$`).join('|')})`,
          caseSensitive: true,
          allowTypeImports: true,
          message: `webview/ imports only webview/, src/core/protocol/, src/core/units/ and ${sharedLeavesText} (the shared layer); anything else only with \`import type\`, or its code lands in the browser bundle.`,
        }],
      }],
    },
  },
  {
    files: ['src/core/protocol/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', sharedLayerImports(['\\./', '\\.\\./units/', ...sharedLeaves.map((l) => `\\.\\./${l}$`)], 'src/core/protocol/ imports only itself, src/core/units/ and ' + sharedLeavesText)] },
  },
  {
    files: ['src/core/units/**/*.ts', ...sharedLeaves.map((l) => `src/core/${l}.ts`)],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', sharedLayerImports(['\\./', '\\.\\./units/'], 'src/core/units/ and the shared leaf modules import only src/core/units/')] },
  },
);
