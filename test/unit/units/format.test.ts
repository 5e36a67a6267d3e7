import assert from 'node:assert/strict';
import { formatBytes, formatClock, formatInt, formatDuration, formatJoules, formatPct, formatWattHours, formatWatts } from '../../../src/core/units/format';

describe('one set of formatters (CLI, status bar, diagnostics, panel)', () => {
  it('energy: J below 10 kJ, kJ up to 1 kWh, kWh above', () => {
    assert.equal(formatJoules(3.24), '3.2 J');
    assert.equal(formatJoules(640), '640 J');
    assert.equal(formatJoules(6579.4), '6,579 J');
    assert.equal(formatJoules(9999), '9,999 J');
    assert.equal(formatJoules(10_000), '10.0 kJ');
    assert.equal(formatJoules(38_100), '38.1 kJ');
    assert.equal(formatJoules(1_234_000), '1,234 kJ');
    assert.equal(formatJoules(4_500_000), '1.25 kWh');
    assert.equal(formatJoules(360_000_000), '100 kWh');
  });

  it('watt-hours beside joules: Wh below 1 kWh, the same kWh as formatJoules above', () => {
    assert.equal(formatWattHours(640), '0.178 Wh');
    assert.equal(formatWattHours(38_100), '10.6 Wh');
    assert.equal(formatWattHours(0), '0 Wh');
    assert.equal(formatWattHours(4_500_000), formatJoules(4_500_000));
  });

  it('durations: one format, seconds then minutes then hours', () => {
    assert.equal(formatDuration(8.44), '8.4 s');
    assert.equal(formatDuration(125), '2 min 05 s');
    assert.equal(formatDuration(59.96), '1 min 00 s');
    assert.equal(formatDuration(7380), '2 h 03 min');
    // A position on a time axis is a clock, not a duration.
    assert.equal(formatClock(125), '2:05');
  });

  it('memory in binary units, as nvidia-smi counts', () => {
    assert.equal(formatBytes(80 * 1024 ** 3), '80.0 GiB');
    assert.equal(formatBytes(141_000_000_000), '131.3 GiB');
    assert.equal(formatBytes(512 * 1024 ** 2), '512 MiB');
  });

  it('power and percentages', () => {
    assert.equal(formatWatts(412.4), '412 W');
    assert.equal(formatWatts(12_345), '12.3 kW');
    assert.equal(formatWatts(undefined), '-- W');
    assert.equal(formatPct(0), '0 %');
    assert.equal(formatPct(0.42), '0.4 %');
    assert.equal(formatPct(4.16), '4.2 %');
    assert.equal(formatPct(15.5), '16 %');
  });

  it('whole numbers are grouped exactly as Intl en-US prints them (without loading Intl at start-up)', () => {
    const intl = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
    const values = [0, -0, 0.4, 0.5, -0.5, 1.5, 2.5, -2.5, 999.5, 1000, 1234.5, -1234.5, 999_999.5, 1e6, 123_456_789.49, 2 ** 53, 1e21, 1.5e22, -1e21, Number.NaN, Infinity, -Infinity];
    let x = 1;
    for (let i = 0; i < 2000; i++) {
      x = (x * 48271) % 2147483647;
      values.push((x / 1000) * (i % 2 ? 1 : -1), x * 1e3 + 0.5, x / 7);
    }
    for (const v of values) assert.equal(formatInt(v), intl.format(v), String(v));
  });
});
