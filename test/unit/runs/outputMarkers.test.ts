import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { CounterRead } from '../../../src/core/runs/markers';
import { MarkerScanner, MarkRecorder } from '../../../src/core/runs/markers';
import { OutputRelay } from '../../../src/core/runs/output';

describe('output relay', () => {
  it('decodes a UTF-8 character split across two chunks as one character, and passes the bytes as they came', () => {
    const relay = new OutputRelay();
    let text = '';
    const bytes: Buffer[] = [];
    relay.onText((t) => (text += t));
    relay.onBytes((b) => {
      bytes.push(b);
    });
    const euro = Buffer.from('€'); // e2 82 ac
    relay.relay('stdout', Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]));
    relay.relay('stdout', Buffer.concat([euro.subarray(2), Buffer.from('b')]));
    assert.equal(text, 'a€b');
    assert.ok(Buffer.concat(bytes).equals(Buffer.from('a€b')));
  });

  it('pauses the pipe while a consumer is full and reads again only when every consumer has resumed', () => {
    const relay = new OutputRelay();
    const pipe = new PassThrough();
    relay.attach('stdout', pipe);
    const resumes: Array<() => void> = [];
    relay.onBytes((_b, _s, resume) => {
      resumes.push(resume);
      return false;
    });
    relay.onBytes((_b, _s, resume) => {
      resumes.push(resume);
      return false;
    });
    relay.relay('stdout', Buffer.from('x'));
    assert.equal(pipe.isPaused(), true);
    resumes[0]!();
    assert.equal(pipe.isPaused(), true, 'one consumer is still full');
    resumes[1]!();
    resumes[1]!(); // a second call is harmless
    assert.equal(pipe.isPaused(), false);
    assert.equal(relay.isHeld('stdout'), false);
  });
});

describe('markers', () => {
  it('finds marker lines split across chunks and ignores everything else', () => {
    const s = new MarkerScanner();
    assert.deepEqual(s.scan('loss 1.0\n::joules ma'), []);
    assert.deepEqual(s.scan('rk epoch 1\r\n::joules steps 32\n::joules tokens x\nno ::joules mark here\n'), [
      { kind: 'mark', label: 'epoch 1' },
      { kind: 'steps', count: 32 },
    ]);
  });

  it('reads the counter at most once per 100 ms: a burst shares reads and is labelled interpolated', async () => {
    let now = 0;
    let reads = 0;
    // A counter at 300 W: energy = 0.3 J per ms of run time; the read answers after 4 ms.
    const read = async (): Promise<CounterRead> => {
      reads++;
      now += 4;
      return { energies: [{ gpu: 0, energyMillijoules: now * 300 }] as CounterRead['energies'], elapsedMs: now };
    };
    const rec = new MarkRecorder({ read, energyJ: (r) => r.energies[0]!.energyMillijoules / 1000, nowMs: () => now, minReadIntervalMs: 100 });
    now = 1000;
    for (let i = 0; i < 500; i++) {
      rec.mark(`m${i}`);
      await Promise.resolve();
      now += 0.1; // 500 marks in 50 ms
    }
    const markers = await rec.flush();
    assert.equal(markers.length, 500);
    assert.ok(reads <= 3, `${reads} counter reads for 500 marks`);
    assert.equal(markers[0]!.energySource, 'counter');
    assert.ok(markers.slice(1).every((m) => m.energySource === 'interpolated'));
    // Interpolated energies follow time: 300 W within a few percent, never going backwards.
    for (let i = 1; i < markers.length; i++) assert.ok(markers[i]!.energyJ >= markers[i - 1]!.energyJ);
    const last = markers[markers.length - 1]!;
    assert.ok(Math.abs(last.energyJ / last.tS - 300) < 15, `${(last.energyJ / last.tS).toFixed(1)} W`);
  });
});
