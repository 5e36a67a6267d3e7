import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ChannelEnergy, ChannelHandlers } from '../../../src/core/runs/channel';
import { RunChannel } from '../../../src/core/runs/channel';
import type { ChannelMessage } from '../../../src/core/runs/channelProtocol';
import { LineSplitter, MAX_CHANNEL_LINE_BYTES, parseChannelLine } from '../../../src/core/runs/channelProtocol';
import { chunksOf, rng } from '../../support/fuzz';


function randomMessage(r: () => number, i: number): ChannelMessage {
  switch (Math.floor(r() * 4)) {
    case 0:
      return { t: 'step', n: 1 + Math.floor(r() * 5), samples: Math.floor(r() * 64) };
    case 1:
      return { t: 'begin', w: `w${i}`, label: `épоch ${i} ✓` };
    case 2:
      return { t: 'end', w: `w${i}` };
    default:
      return { t: 'mark', label: `m${i}` };
  }
}

function garbage(r: () => number): Buffer {
  const k = r();
  if (k < 0.3) {
    const b = Buffer.alloc(1 + Math.floor(r() * 200));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256) === 0x0a ? 0x20 : Math.floor(r() * 256);
    for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) b[i] = 0x20;
    return b;
  }
  if (k < 0.5) return Buffer.alloc(MAX_CHANNEL_LINE_BYTES + 1 + Math.floor(r() * 50_000), '{');
  if (k < 0.7) return Buffer.from(['{"t":"step","n":-1}', '{"t":"nope"}', '[1,2]', 'null', '{"t":"step","n":"NaN"}', '{"t":"begin"}', '{"t":"energy","q":1.5}'][Math.floor(r() * 7)]!);
  if (k < 0.85) return Buffer.from('{"t":"step","n":1'); // a half message, then its newline
  return Buffer.from('');
}


describe('channel parser (fuzz)', () => {
  it('keeps every valid message, in order, among random bytes, partial and giant lines, for any chunking (500 seeded cases)', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const sent: ChannelMessage[] = [];
      const parts: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        if (r() < 0.5) {
          const m = randomMessage(r, i);
          sent.push(m);
          parts.push(Buffer.from(`${JSON.stringify(m)}${r() < 0.2 ? '\r' : ''}\n`));
        } else {
          parts.push(garbage(r), Buffer.from('\n'));
        }
      }
      const splitter = new LineSplitter();
      const got: ChannelMessage[] = [];
      for (const chunk of chunksOf(r, Buffer.concat(parts), () => 3000)) {
        for (const line of splitter.push(chunk)) {
          const m = parseChannelLine(line);
          if (!('error' in m)) got.push(m);
        }
        assert.ok(splitter.pendingBytes <= MAX_CHANNEL_LINE_BYTES, `seed ${seed}: ${splitter.pendingBytes} bytes held`);
      }
      assert.deepEqual(got, sent, `seed ${seed}`);
    }
  });

  it('checks fields: counts non-negative and finite, labels one line and clipped', () => {
    assert.deepEqual(parseChannelLine('{"t":"step"}'), { t: 'step', n: 1 });
    assert.deepEqual(parseChannelLine('{"t":"step","n":2,"samples":64,"tokens":null}'), { t: 'step', n: 2, samples: 64 });
    assert.ok('error' in parseChannelLine('{"t":"step","n":1e400}'));
    assert.ok('error' in parseChannelLine('{"t":"step","n":1,"tokens":-3}'));
    const m = parseChannelLine(JSON.stringify({ t: 'begin', w: 3, label: `a\nb${'x'.repeat(500)}` }));
    assert.ok(!('error' in m) && m.t === 'begin' && m.w === '3' && m.label.startsWith('a b') && m.label.length === 200);
  });
});

interface Recorded {
  steps: Array<[number, number | undefined, number | undefined]>;
  events: string[];
}

function handlers(rec: Recorded, energy: () => Promise<ChannelEnergy>): ChannelHandlers {
  return {
    step: (n, s, t) => void rec.steps.push([n, s, t]),
    begin: (_key, label) => void rec.events.push(`begin ${label}`),
    end: (_key, atEnd) => void rec.events.push(`end${atEnd ? ' at run end' : ''}`),
    mark: (label) => void rec.events.push(`mark ${label}`),
    energy,
  };
}

function connect(ch: RunChannel): Promise<net.Socket> {
  const [where] = ch.envValue.split('#');
  const addr = where!.slice(where!.indexOf(':') + 1);
  return new Promise((resolve, reject) => {
    const s = where!.startsWith('unix:') ? net.connect(addr) : net.connect(Number(addr.split(':')[1]), '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const tokenOf = (ch: RunChannel): string => ch.envValue.split('#')[1]!;
const until = async (test: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !test(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(test(), 'timed out');
};

for (const platform of ['linux', 'win32'] as const) {
  describe(`run channel over ${platform === 'win32' ? 'loopback TCP' : 'a Unix socket'}`, () => {
    it('takes interleaved clients, refuses one without the token, answers energy, closes a crashed client\'s window at the end', async () => {
      const rec: Recorded = { steps: [], events: [] };
      const ch = await RunChannel.open(handlers(rec, async () => ({ tS: 1.5, energyJ: { '0': 12.5 }, totalJ: 12.5 })), platform);
      const hello = `${JSON.stringify({ t: 'hello', token: tokenOf(ch) })}\n`;
      const a = await connect(ch);
      const b = await connect(ch);
      const intruder = await connect(ch);
      intruder.write('{"t":"hello","token":"wrong"}\n{"t":"step","n":1000}\n');
      a.write(hello);
      b.write(hello);
      // Interleaved byte by byte: each connection has its own line buffer.
      const la = Buffer.from('{"t":"step","n":1,"samples":8}\n{"t":"begin","w":1,"label":"A"}\n');
      const lb = Buffer.from('{"t":"step","n":2}\n{"t":"begin","w":1,"label":"B"}\n{"t":"end","w":1}\n');
      for (let i = 0; i < Math.max(la.length, lb.length); i++) {
        if (i < la.length) a.write(la.subarray(i, i + 1));
        if (i < lb.length) b.write(lb.subarray(i, i + 1));
      }
      await until(() => rec.steps.length === 2 && rec.events.length === 3);
      assert.deepEqual(rec.steps.map((s) => s[0]).sort(), [1, 2]);
      assert.deepEqual(rec.events.slice().sort(), ['begin A', 'begin B', 'end']);
      // energy: answered on the asking connection, with its request id.
      const reply = new Promise<string>((resolve) => a.once('data', (d) => resolve(d.toString())));
      a.write('{"t":"energy","q":7}\n');
      assert.deepEqual(JSON.parse(await reply), { t: 'energy', q: 7, tS: 1.5, energyJ: { '0': 12.5 }, totalJ: 12.5 });
      // a crashes with window A open: it stays open until the run ends.
      a.destroy();
      await until(() => ch.connectionCount === 1);
      assert.equal(rec.events.filter((e) => e.startsWith('end')).length, 1);
      assert.equal(ch.problems['connection without the token'], 1);
      ch.close();
      assert.equal(rec.events[rec.events.length - 1], 'end at run end');
      b.destroy();
      if (platform !== 'win32') assert.equal(fs.existsSync(ch.envValue.slice(5).split('#')[0]!), false, 'the socket folder is removed');
    });

    it('survives random bytes from an authenticated client and keeps the valid messages', async () => {
      const rec: Recorded = { steps: [], events: [] };
      const ch = await RunChannel.open(handlers(rec, () => Promise.reject(new Error('sampler gone'))), platform);
      const s = await connect(ch);
      s.write(`${JSON.stringify({ t: 'hello', token: tokenOf(ch) })}\n`);
      const r = rng(42);
      let expected = 0;
      for (let i = 0; i < 200; i++) {
        if (r() < 0.5) {
          s.write('{"t":"step","n":1}\n');
          expected++;
        } else {
          s.write(Buffer.concat([garbage(r), Buffer.from('\n')]));
        }
      }
      const reply = new Promise<string>((resolve) => s.once('data', (d) => resolve(d.toString())));
      s.write('{"t":"energy","q":1}\n');
      assert.deepEqual(JSON.parse(await reply), { t: 'error', q: 1, message: 'sampler gone' });
      await until(() => rec.steps.length === expected);
      assert.ok(Object.keys(ch.problems).some((k) => k.startsWith('bad message')));
      ch.close();
      s.destroy();
    });
  });
}
