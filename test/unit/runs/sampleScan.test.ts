import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeSample } from '../../../src/core/runs/sampleCodec';
import { newReadStats, parseSampleLine, rowToSample, streamSampleRows } from '../../../src/core/runs/sampleReader';
import { scanSampleLine } from '../../../src/core/runs/sampleScan';
import type { GpuSample } from '../../../src/core/sampler/types';

describe('sample line scanner (the fast path)', () => {
  it('reads exactly what JSON.parse reads from the writer\'s lines: nulls, negatives, fractions, large and exponent numbers', () => {
    const samples: GpuSample[] = [
      { tMs: 0, gpu: 0, powerMilliwatts: 231_241, utilGpuPct: 5, memUsedBytes: 25_769_803_776, energyMillijoules: 0 },
      { tMs: 100.125, gpu: 7, powerMilliwatts: 1e21, temperatureC: -3, clockEventReasons: 0x4 },
      { tMs: 3.5e-7, gpu: 1, energyMillijoules: 123_456_789_012_345_678 },
      { tMs: 1, gpu: 2 },
    ];
    const line = JSON.stringify({ s: samples.map(encodeSample), p: [[0, 12.5, 400_000], [1, 13, 390_000]] });
    const fast = scanSampleLine(line);
    assert.ok(fast, 'the writer\'s format takes the fast path');
    const viaJson = parseSampleLine(line)!;
    const viaScan: GpuSample[] = [];
    for (let r = 0; r < fast.rows; r++) viaScan.push(rowToSample(fast.rowValues, r * 14));
    assert.deepEqual(viaScan, viaJson.samples);
    assert.deepEqual(Array.from(fast.pointValues.subarray(0, 6)), [0, 12.5, 400_000, 1, 13, 390_000]);
  });

  it('leaves anything else to the general parser: gaps, spaces, torn or corrupt lines', () => {
    assert.equal(scanSampleLine('{"s":[[1,0,5]],"g":[{"gpu":0,"startMs":1,"reason":"lost"}]}'), undefined);
    assert.equal(scanSampleLine('{"s": [[1,0,5]]}'), undefined);
    assert.equal(scanSampleLine('{"s":[[1,0,5],[2,0,'), undefined);
    assert.equal(scanSampleLine('{"s":[[1,0,5zz]]}'), undefined);
  });

  it('a stream of mixed lines yields every valid sample once and counts the malformed lines', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'joules-scan-')), 'samples.jsonl');
    const lines = [
      JSON.stringify({ s: [encodeSample({ tMs: 0, gpu: 0, powerMilliwatts: 1 })] }),
      '{"s":[[100,0,2]],"g":[{"gpu":0,"startMs":50,"reason":"GPU_IS_LOST"}]}',
      'garbage',
      '{"s":[[200,0,3],[200,1,null,7]]}',
      '{"s":[[300,0,4',
    ];
    fs.writeFileSync(file, lines.join('\n'));
    const seen: GpuSample[] = [];
    const stats = await streamSampleRows(file, { row: (v, o) => seen.push(rowToSample(v, o)) }, newReadStats());
    assert.deepEqual(seen, [
      { tMs: 0, gpu: 0, powerMilliwatts: 1 },
      { tMs: 100, gpu: 0, powerMilliwatts: 2 },
      { tMs: 200, gpu: 0, powerMilliwatts: 3 },
      { tMs: 200, gpu: 1, utilGpuPct: 7 },
    ]);
    assert.equal(stats.malformedLines, 2);
    assert.equal(stats.lines, 5);
  });
});
