import assert from 'node:assert/strict';
import { bucketMsFor, MAX_POINTS_PER_SERIES, SeriesReducer } from '../../../src/core/export/exportSeries';
import { crc32c, maskedCrc32c, ProtoWriter, tfRecord } from '../../../src/core/export/tfrecord';
import type { GpuSample } from '../../../src/core/sampler/types';

describe('TensorBoard records by hand', () => {
  it('CRC-32C: the standard check value of "123456789" is 0xE3069283; empty input gives 0', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  it('the TFRecord mask: the CRC rotated right by 15 plus 0xa282ead8 (the empty input\'s CRC 0 masks to the constant itself)', () => {
    assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
    // 0xe3069283 rotated right by 15 is 0x2507c60d; + 0xa282ead8 = 0xc78ab0e5 (mod 2^32).
    assert.equal(maskedCrc32c(new TextEncoder().encode('123456789')), 0xc78ab0e5);
  });

  it('a record: 8-byte little-endian length, masked CRC of it, the data, masked CRC of the data', () => {
    const data = Uint8Array.from([1, 2, 3]);
    const r = tfRecord(data);
    const v = new DataView(r.buffer);
    assert.equal(r.length, 8 + 4 + 3 + 4);
    assert.equal(v.getBigUint64(0, true), 3n);
    assert.equal(v.getUint32(8, true), maskedCrc32c(r.subarray(0, 8)));
    assert.deepEqual([...r.subarray(12, 15)], [1, 2, 3]);
    assert.equal(v.getUint32(15, true), maskedCrc32c(data));
  });

  it('protobuf wire format: varints (300 = ac 02; -1 = ten bytes), a fixed32 float, a length-delimited string', () => {
    assert.deepEqual([...new ProtoWriter().varint(1, 300).finish()], [0x08, 0xac, 0x02]);
    assert.deepEqual([...new ProtoWriter().varint(2, -1).finish()], [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0x00, 0x00, 0x80, 0x3f]);
    assert.deepEqual([...new ProtoWriter().string(1, 'ab').finish()], [0x0a, 0x02, 0x61, 0x62]);
  });
});

describe('export series: per-time-bucket points of a stored run, streaming', () => {
  const s = (tMs: number, gpu: number, powerW: number, energyJ: number, util = 50): GpuSample => ({ tMs, gpu, powerMilliwatts: powerW * 1000, energyMillijoules: energyJ * 1000, utilGpuPct: util });

  it('bucket width: the sampling interval, or wider so a series stays within its points bound', () => {
    assert.equal(bucketMsFor(60, 100), 100);
    assert.equal(bucketMsFor(86_400, 100), Math.ceil(86_400_000 / MAX_POINTS_PER_SERIES));
  });

  it('mean power and utilization per bucket, the last cumulative energy, and totals over the counted GPUs only', () => {
    const r = new SeriesReducer(1000, new Set([0, 1]));
    const points = [
      ...r.add([s(0, 0, 100, 0), s(0, 1, 200, 0), s(0, 2, 999, 0), s(500, 0, 300, 50), s(500, 1, 200, 100, 100)]),
      // A new bucket on every GPU: bucket 0 is complete.
      ...r.add([s(1000, 0, 100, 150), s(1000, 1, 200, 200), s(1000, 2, 999, 999)]),
      ...r.finish(),
    ];
    const at = (gpu: number | 'total', tMs: number) => points.find((p) => p.gpu === gpu && p.tMs === tMs);
    assert.deepEqual(at(0, 500), { tMs: 500, gpu: 0, powerW: 200, energyJ: 50, utilPct: 50 });
    assert.deepEqual(at(1, 500), { tMs: 500, gpu: 1, powerW: 200, energyJ: 100, utilPct: 75 });
    // GPU 2 is not counted: its 999 W is in its own series, not in the total.
    assert.deepEqual(at('total', 500), { tMs: 500, gpu: 'total', powerW: 400, energyJ: 150, utilPct: 62.5 });
    assert.deepEqual(at('total', 1000), { tMs: 1000, gpu: 'total', powerW: 300, energyJ: 350, utilPct: 50 });
    assert.equal(points.filter((p) => p.gpu === 'total').length, 2);
    assert.equal(points.filter((p) => p.gpu === 2).length, 2);
  });
});
