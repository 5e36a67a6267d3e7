import * as assert from 'node:assert/strict';
import type { MetricFamily } from '../../../src/core/metrics/exposition';
import { escapeLabelValue, formatExposition, formatValue, negotiateFormat } from '../../../src/core/metrics/exposition';
import { GpuMetrics, JOULES_METRICS } from '../../../src/core/metrics/gpuMetrics';
import type { GpuInfo } from '../../../src/core/sampler/types';

const families: MetricFamily[] = [
  { name: 'x_power_watts', type: 'gauge', unit: 'watts', help: 'Power.', samples: [{ labels: { gpu: '0' }, value: 312.5 }] },
  { name: 'x_energy_joules', type: 'counter', unit: 'joules', help: 'Energy "so far"\\n.', samples: [{ labels: { gpu: '0', method: 'counter' }, value: 1000 }] },
];

describe('exposition format', () => {
  it('writes the Prometheus 0.0.4 text: counter families named with _total, no UNIT, no EOF', () => {
    assert.equal(
      formatExposition(families, 'prometheus'),
      [
        '# HELP x_power_watts Power.',
        '# TYPE x_power_watts gauge',
        'x_power_watts{gpu="0"} 312.5',
        '# HELP x_energy_joules_total Energy "so far"\\\\n.',
        '# TYPE x_energy_joules_total counter',
        'x_energy_joules_total{gpu="0",method="counter"} 1000',
        '',
      ].join('\n'),
    );
  });

  it('writes OpenMetrics: counter family without _total, samples with it, UNIT lines, quotes escaped in HELP, # EOF last', () => {
    assert.equal(
      formatExposition(families, 'openmetrics'),
      [
        '# HELP x_power_watts Power.',
        '# TYPE x_power_watts gauge',
        '# UNIT x_power_watts watts',
        'x_power_watts{gpu="0"} 312.5',
        '# HELP x_energy_joules Energy \\"so far\\"\\\\n.',
        '# TYPE x_energy_joules counter',
        '# UNIT x_energy_joules joules',
        'x_energy_joules_total{gpu="0",method="counter"} 1000',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and spells special numbers as both formats do', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(formatValue(NaN), 'NaN');
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(1e21), '1e+21');
    const text = formatExposition([{ name: 'g', type: 'gauge', help: 'h', samples: [{ labels: { name: 'NVIDIA "H200"\n' }, value: 1 }] }], 'prometheus');
    assert.match(text, /^g\{name="NVIDIA \\"H200\\"\\n"\} 1$/m);
  });

  it('refuses what a scraper would reject: bad names, a counter named _total, a unit not in the name, a negative counter, a duplicate family', () => {
    const g = (over: Partial<MetricFamily>): MetricFamily[] => [{ name: 'ok_joules', type: 'counter', help: 'h', samples: [], ...over }];
    assert.throws(() => formatExposition(g({ name: '1bad' }), 'prometheus'), /invalid metric name/);
    assert.throws(() => formatExposition(g({ name: 'a_total' }), 'prometheus'), /without _total/);
    assert.throws(() => formatExposition(g({ unit: 'watts' }), 'prometheus'), /must end with its unit/);
    assert.throws(() => formatExposition(g({ samples: [{ labels: {}, value: -1 }] }), 'prometheus'), /non-negative/);
    assert.throws(() => formatExposition(g({ samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }), 'prometheus'), /invalid label name/);
    assert.throws(() => formatExposition([...g({}), ...g({})], 'prometheus'), /written twice/);
  });

  it('negotiates OpenMetrics only when the scraper asks for it', () => {
    // What Prometheus 2.x sends.
    assert.equal(negotiateFormat('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), 'openmetrics');
    assert.equal(negotiateFormat('text/plain;version=0.0.4'), 'prometheus');
    assert.equal(negotiateFormat(undefined), 'prometheus');
    assert.equal(negotiateFormat('*/*'), 'prometheus');
    assert.equal(negotiateFormat('application/openmetrics-text; q=0, text/plain'), 'prometheus');
  });
});

describe('GpuMetrics', () => {
  const gpu = (index: number, over: Partial<GpuInfo> = {}): GpuInfo => ({
    index,
    name: 'NVIDIA H200',
    uuid: `GPU-${index}`,
    memTotalBytes: 1000,
    powerSource: 'instant',
    energyMethod: 'counter',
    supported: {},
    ...over,
  });

  it('publishes per-GPU gauges with host and GPU labels, energy as a counter labelled with its method, and run state', () => {
    const m = new GpuMetrics('node-a', [gpu(0), gpu(1, { energyMethod: 'integrated' })], 1_700_000_000_000);
    m.addSamples([
      { tMs: 1000, gpu: 0, powerMilliwatts: 300_000, utilGpuPct: 97, memUsedBytes: 600, temperatureC: 61, energyMillijoules: 310_000 },
      { tMs: 1000, gpu: 1, powerMilliwatts: 50_000, utilGpuPct: 0, energyMillijoules: 50_000 },
      // A later tick without the slow fields keeps memory and temperature; power and energy move.
      { tMs: 1100, gpu: 0, powerMilliwatts: 320_000, utilGpuPct: 98, energyMillijoules: 341_000 },
    ]);
    m.setRun('r1', 'train.py', 12.5, 'running');
    const text = formatExposition(m.families(), 'openmetrics');
    const l0 = 'host="node-a",gpu="0",uuid="GPU-0",name="NVIDIA H200"';
    assert.match(text, new RegExp(`^${JOULES_METRICS.power}\\{${l0}\\} 320$`, 'm'));
    assert.match(text, new RegExp(`^${JOULES_METRICS.energy}_total\\{${l0},method="counter"\\} 341$`, 'm'));
    assert.match(text, /^joules_gpu_energy_joules_total\{host="node-a",gpu="1",uuid="GPU-1",name="NVIDIA H200",method="integrated"\} 50$/m);
    assert.match(text, new RegExp(`^${JOULES_METRICS.memUsed}\\{${l0}\\} 600$`, 'm'));
    assert.match(text, new RegExp(`^${JOULES_METRICS.temperature}\\{${l0}\\} 61$`, 'm'));
    assert.match(text, new RegExp(`^${JOULES_METRICS.util}\\{${l0}\\} 98$`, 'm'));
    assert.match(text, /^joules_gpu_memory_total_bytes\{host="node-a",gpu="1",uuid="GPU-1",name="NVIDIA H200"\} 1000$/m);
    assert.match(text, /^joules_sampling_start_time_seconds\{host="node-a"\} 1700000000$/m);
    assert.match(text, /^joules_run_energy_joules_total\{host="node-a",run_id="r1",run_name="train.py"\} 12.5$/m);
    assert.match(text, /^joules_run_state\{host="node-a",run_id="r1",run_name="train.py",state="running"\} 1$/m);
    assert.match(text, /^joules_run_state\{host="node-a",run_id="r1",run_name="train.py",state="succeeded"\} 0$/m);
    m.setRun('r1', 'train.py', 20, 'succeeded');
    assert.match(formatExposition(m.families(), 'prometheus'), /^joules_run_state\{[^}]*state="succeeded"\} 1$/m);
  });

  it('a lost GPU keeps its last energy, drops its gauges and reads joules_gpu_up 0', () => {
    const m = new GpuMetrics('h', [gpu(0)], 0);
    m.addSamples([{ tMs: 1, gpu: 0, powerMilliwatts: 1000, energyMillijoules: 5000 }]);
    m.markLost(0);
    const text = formatExposition(m.families(), 'prometheus');
    assert.match(text, /^joules_gpu_up\{[^}]*\} 0$/m);
    assert.match(text, /^joules_gpu_energy_joules_total\{[^}]*\} 5$/m);
    assert.doesNotMatch(text, /^joules_gpu_power_watts\{/m);
  });

  it('the energy counter never steps back when batches arrive out of order', () => {
    const m = new GpuMetrics('h', [gpu(0)], 0);
    m.addSamples([{ tMs: 2, gpu: 0, energyMillijoules: 9000 }]);
    m.addSamples([{ tMs: 1, gpu: 0, energyMillijoules: 4000 }]);
    assert.match(formatExposition(m.families(), 'prometheus'), /^joules_gpu_energy_joules_total\{[^}]*\} 9$/m);
  });
});
