// The test virtualenv (scripts/setup-python.sh: CPU PyTorch, the frameworks, Jupyter, tensorboard),
// made once and cached outside the repository; shared by every suite that runs Python.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

/** The virtualenv's python (made first when missing: minutes, once per machine). */
export function testPython(): string {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_200_000 });
  const m = /^PYTHON=(.+)$/m.exec(r.stdout ?? '');
  assert.ok(r.status === 0 && m, `scripts/setup-python.sh failed (exit ${r.status})`);
  return m[1]!;
}
