// `npm test`: install what the suites need (Debian's chromium and a C compiler, the offline VS Code
// harness: scripts/setup-integration.sh, a no-op when already there), build, type-check, lint, then
// every test suite (unit with the fake NVML library, browser with Debian's chromium, integration in
// a real VS Code extension host). Prints each
// suite's "N passed, N failed" line and a total as the last line; exits non-zero on any failure.
// JOULES_TEST_ONLY=unit,cli,python,browser runs a subset (build, typecheck and lint always run).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const only = process.env.JOULES_TEST_ONLY ? new Set(process.env.JOULES_TEST_ONLY.split(',')) : undefined;

const steps = [
  // First, so that no suite meets a missing browser or compiler on a fresh machine.
  { name: 'setup', cmd: ['bash', 'scripts/setup-integration.sh'] },
  { name: 'build', cmd: [process.execPath, 'scripts/build.mjs'] },
  { name: 'typecheck', cmd: [bin('tsc'), '--noEmit', '-p', '.'] },
  { name: 'lint', cmd: [bin('eslint'), '.'] },
  { name: 'unit', suite: true, cmd: [bin('mocha')], env: { JOULES_SUITE_LABEL: 'unit' } },
  // The `joules` command end to end (built CLI, fake NVML, real child processes, faults).
  { name: 'cli', suite: true, cmd: [bin('mocha'), '--config', 'test/cli/.mocharc.json'], env: { JOULES_SUITE_LABEL: 'cli' }, needs: 'test/cli/.mocharc.json' },
  // The `joules` Python package: pytest in the test virtualenv, tiny models under the built CLI.
  { name: 'python', suite: true, cmd: [process.execPath, 'scripts/testPython.mjs'] },
  { name: 'browser', suite: true, cmd: [bin('mocha'), '--config', 'test/browser/.mocharc.json'], env: { JOULES_SUITE_LABEL: 'browser' }, needs: 'test/browser/.mocharc.json' },
  { name: 'integration', suite: true, cmd: [process.execPath, 'test/integration/suite/runAll.mjs'], needs: 'test/integration/suite/runAll.mjs' },
];

function run(step) {
  return new Promise((resolve) => {
    const started = Date.now();
    process.stdout.write(`\n=== ${step.name}: ${step.cmd.map((c) => path.relative(root, c) || c).join(' ')}\n`);
    const child = spawn(step.cmd[0], step.cmd.slice(1), { cwd: root, env: { ...process.env, ...(step.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    // Mocha's failure reports ("N failing" and what follows), kept whole so the summary can repeat
    // them at the very end: a CI log that keeps only its last lines still names what failed.
    let failures = '';
    let inFailures = false;
    let partial = '';
    const forward = (stream) => (chunk) => {
      stream.write(chunk);
      const text = chunk.toString();
      tail = (tail + text).slice(-20_000);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (/^\s+\d+ failing\s*$/.test(line)) inFailures = true;
        else if (/^(?:[\w-]+: )?\d+ passed, \d+ failed/.test(line)) inFailures = false;
        if (inFailures && failures.length < 12_000) failures += `${line}\n`;
      }
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), tail, failures, seconds: (Date.now() - started) / 1000 }));
    child.on('error', (e) => resolve({ code: 1, tail: String(e), seconds: 0 }));
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
const report = [];
const failureReports = [];
for (const step of steps) {
  if (step.suite && only && !only.has(step.name)) continue;
  if (step.needs && !fs.existsSync(path.join(root, step.needs))) {
    report.push(`${step.name}: missing ${step.needs}`);
    failed++;
    continue;
  }
  const r = await run(step);
  if (step.suite) {
    // The suite's own closing line: "<label>: N passed, N failed[, N skipped]".
    const lines = [...r.tail.matchAll(/^(?:[\w-]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$/gm)];
    const last = lines[lines.length - 1];
    if (last) {
      passed += Number(last[1]);
      failed += Number(last[2]);
      skipped += Number(last[3] ?? 0);
    }
    if (r.code !== 0 && (!last || Number(last[2]) === 0)) failed++; // the suite failed outside its tests
    if (r.failures.trim()) failureReports.push(`--- ${step.name}\n${r.failures.trimEnd()}`);
    report.push(`${step.name}: ${last ? `${last[1]} passed, ${last[2]} failed` : 'no result line'} (exit ${r.code}, ${r.seconds.toFixed(0)} s)`);
  } else {
    if (r.code !== 0) failed++;
    report.push(`${step.name}: ${r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`} (${r.seconds.toFixed(0)} s)`);
  }
}
if (failureReports.length) process.stdout.write(`\n=== failures (repeated from above)\n${failureReports.join('\n')}\n`);
process.stdout.write(`\n=== summary\n${report.map((l) => `  ${l}`).join('\n')}\n`);
process.stdout.write(`joules: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 ? 1 : 0;
