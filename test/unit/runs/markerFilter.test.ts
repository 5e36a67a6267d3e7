import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { isMarkerLine } from '../../../src/core/runs/markers';
import { MarkerLineFilter, OutputRelay } from '../../../src/core/runs/output';
import { chunksOf, rng } from '../../support/fuzz';

/** Seeded PRNG (mulberry32): a failing case is reproduced by its seed. */

const VALID = ['::joules steps 1', '::joules steps 32', '::joules mark epoch 1', '::joules tokens 4096', '  ::joules mark indented', '\t::joules steps 2\r', '::joules mark', '::joules steps x'];
const NEAR = ['::joules', '::joules ', '::joule steps 1', ':: joules steps 1', 'x ::joules steps 1', '::joules  steps 1', '::joules stepsy', '37%|███▋      | 370/1000 [00:01<00:02]', '\r 40%|████| 40/100', '', ' ', '::', ':', '\u00a0::joules steps 1', '::joules steps 1 ::joules steps 2x'];

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    b[i] = Math.floor(r() * 256);
    if (b[i] === 0x0a) b[i] = 0x0b;
  }
  return b;
}

/** A random output stream and what the filter must make of it (the specification, line by line). */
function makeCase(r: () => number): { input: Buffer; output: Buffer; markers: string[] } {
  const lines: Buffer[] = [];
  const n = 1 + Math.floor(r() * 60);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.3) lines.push(Buffer.from(VALID[Math.floor(r() * VALID.length)]!));
    else if (k < 0.6) lines.push(Buffer.from(NEAR[Math.floor(r() * NEAR.length)]!));
    else if (k < 0.85) lines.push(randomBytes(r, Math.floor(r() * 80)));
    else if (k < 0.93) lines.push(Buffer.concat([Buffer.from('::joules mark '), Buffer.alloc(3000 + Math.floor(r() * 3000), 'a')]));
    else lines.push(Buffer.from(`text with 'ünïcödé' € ${'x'.repeat(Math.floor(r() * 10))}`));
  }
  const terminated = r() < 0.8;
  const input = Buffer.concat(lines.flatMap((l, i) => (i < lines.length - 1 || terminated ? [l, Buffer.from('\n')] : [l])));
  const out: Buffer[] = [];
  const markers: string[] = [];
  lines.forEach((l, i) => {
    const whole = i < lines.length - 1 || terminated;
    const text = l.toString('utf8');
    // A marker: whole, short, optional ASCII blanks then `::joules `, and a marker by markers.ts.
    if (whole && l.length < 1000 && /^[ \t\r\v\f]*::joules /.test(l.toString('latin1')) && isMarkerLine(text)) {
      markers.push(text);
      return;
    }
    out.push(l);
    if (whole) out.push(Buffer.from('\n'));
  });
  return { input, output: Buffer.concat(out), markers };
}


describe('marker line filter (fuzz)', () => {
  it('removes exactly the marker lines and passes every other byte, for any chunking (2,000 seeded cases)', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const c = makeCase(r);
      const f = new MarkerLineFilter();
      const outs: Buffer[] = [];
      const markers: string[] = [];
      for (const chunk of chunksOf(r, c.input, () => (r() < 0.5 ? 16 : 4000))) {
        const res = f.push(chunk);
        outs.push(res.out);
        markers.push(...res.markers);
      }
      outs.push(f.end());
      const got = Buffer.concat(outs);
      assert.ok(got.equals(c.output), `seed ${seed}: output differs (${got.length} vs ${c.output.length} bytes)`);
      assert.deepEqual(markers, c.markers, `seed ${seed}: markers differ`);
    }
  });

  it('hands back the chunk itself when it holds no marker (no copy on the common path)', () => {
    const f = new MarkerLineFilter();
    const chunk = Buffer.from('loss 0.5\nstep 2\n');
    assert.equal(f.push(chunk).out, chunk);
  });

  it('holds a line that may become a marker only until it is decided', () => {
    const f = new MarkerLineFilter();
    assert.equal(f.push(Buffer.from('a\n::jou')).out.toString(), 'a\n');
    assert.equal(f.push(Buffer.from('les steps 1')).out.toString(), '');
    const r = f.push(Buffer.from('\n::jouX\n'));
    assert.equal(r.out.toString(), '::jouX\n');
    assert.deepEqual(r.markers, ['::joules steps 1']);
  });

  it('keeps memory bounded on a giant line that starts like a marker', () => {
    const f = new MarkerLineFilter();
    let passed = 0;
    passed += f.push(Buffer.from('::joules mark ')).out.length;
    for (let i = 0; i < 1000; i++) passed += f.push(Buffer.alloc(1000, 'z')).out.length;
    passed += f.push(Buffer.from('\n')).out.length;
    assert.equal(passed, 14 + 1_000_000 + 1);
  });
});

describe('output relay without marker lines', () => {
  it('strips marker lines from bytes and text, reports them, and keeps backpressure', () => {
    const relay = new OutputRelay();
    const pipe = new PassThrough();
    relay.attach('stderr', pipe);
    let text = '';
    const bytes: Buffer[] = [];
    const markers: string[] = [];
    const resumes: Array<() => void> = [];
    relay.onText((t) => (text += t));
    relay.onMarkerLine((l) => markers.push(l));
    relay.onBytes((b, _s, resume) => {
      bytes.push(b);
      resumes.push(resume);
      return false;
    });
    relay.relay('stderr', Buffer.from('epoch 1 €\n::joules steps 1\n::jo'));
    assert.equal(pipe.isPaused(), true);
    relay.relay('stderr', Buffer.from('ules mark done\nend'));
    for (const r of resumes) r();
    assert.equal(pipe.isPaused(), false);
    pipe.end();
    return new Promise<void>((resolve) => {
      pipe.on('end', () => {
        setImmediate(() => {
          assert.equal(Buffer.concat(bytes).toString(), 'epoch 1 €\nend');
          assert.equal(text, 'epoch 1 €\nend');
          assert.deepEqual(markers, ['::joules steps 1', '::joules mark done']);
          resolve();
        });
      });
      pipe.resume();
    });
  });
});
