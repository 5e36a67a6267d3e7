import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fakeNvml } from '../support/fakeNvml';
import { BIN, ROOT } from './support';

/**
 * `::joules` lines through the real pipeline (child pipe -> relay -> the CLI's stdout and the
 * store): taken out, counted, and every other byte passed as written, across write boundaries.
 */
describe('joules run: marker lines are taken out of the output', function () {
  this.timeout(120_000);
  let lib: string;

  before(async () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(b.status, 0, b.stderr);
    lib = await fakeNvml('constant-300w.scn');
  });

  it('stdout and output.log keep every other byte (invalid UTF-8 and split writes included); the markers count', () => {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-cli-'));
    // Writes split in the middle of marker lines and of ordinary lines, with pauses so the pipe
    // delivers them as separate chunks; raw bytes that are not UTF-8; a marker-like line that is not one.
    const script = [
      'import os, sys, time',
      'w = lambda b: (os.write(1, b), time.sleep(0.05))',
      "w(b'loss 0.5\\n::jou')",
      "w(b'les steps 3\\n\\xff\\xfe raw\\n  ::joules mark ep')",
      "w(b'och 1\\r\\nnot ::joules steps 9\\n::joules steps')",
      "w(b' 4\\n37%|###| 37/100\\rend')",
    ].join('\n');
    const r = spawnSync(process.execPath, [BIN, 'run', '--store', store, '--', 'python3', '-c', script], {
      cwd: ROOT, env: { ...process.env, JOULES_NVML_LIBRARY: lib }, timeout: 90_000,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    const expected = Buffer.concat([Buffer.from('loss 0.5\n'), Buffer.from([0xff, 0xfe]), Buffer.from(' raw\nnot ::joules steps 9\n37%|###| 37/100\rend')]);
    assert.ok(r.stdout.equals(expected), `stdout: ${JSON.stringify(r.stdout.toString('latin1'))}`);
    assert.doesNotMatch(r.stderr.toString(), /^\s*::joules/m);
    const [id] = fs.readdirSync(path.join(store));
    const log = fs.readFileSync(path.join(store, id!, 'output.log'), 'utf8');
    assert.doesNotMatch(log, /^\s*::joules/m);
    assert.match(log, /loss 0\.5\n\uFFFD\uFFFD raw\nnot ::joules steps 9\n/);
    const s = JSON.parse(fs.readFileSync(path.join(store, id!, 'run.json'), 'utf8')) as { summary?: { steps?: number; markers?: Array<{ label: string }>; workSource?: string } } & { steps?: number; markers?: Array<{ label: string }>; workSource?: string };
    const sum = s.summary ?? s;
    assert.equal(sum.steps, 7);
    assert.equal(sum.workSource, 'markers');
    assert.deepEqual(sum.markers?.map((m) => m.label), ['epoch 1']);
  });
});
