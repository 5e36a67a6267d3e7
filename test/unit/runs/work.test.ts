import * as assert from 'node:assert/strict';
import { LogWorkInference } from '../../../src/core/runs/logWork';
import type { CounterRead } from '../../../src/core/runs/markers';
import { MAX_MARKERS, SessionMarkers } from '../../../src/core/runs/markers';
import { StepPoints } from '../../../src/core/runs/stepPoints';
import { EnergyTimeline, steadyState, WorkTracker } from '../../../src/core/runs/work';

/** A tqdm bar's output as tqdm writes it to a pipe: `\r`-separated updates of one line. */
function bar(desc: string, total: number, every = 1): string {
  let out = '';
  for (let n = 0; n <= total; n += every) {
    const pct = Math.round((100 * n) / total);
    out += `\r${desc}${String(pct).padStart(3)}%|${'█'.repeat(Math.floor(pct / 10)).padEnd(10)}| ${n}/${total} [00:01<00:02, 35.00it/s]`;
  }
  if (total % every !== 0) out += `\r${desc}100%|██████████| ${total}/${total} [00:03<00:00, 35.00it/s]`;
  return `${out}\n`;
}

function feedInChunks(inf: LogWorkInference, text: string, size: number): void {
  for (let i = 0; i < text.length; i += size) inf.feed(text.slice(i, i + size), 'stderr', i / 1000);
}

describe('work inferred from the log', () => {
  it('counts a Hugging Face Trainer run once: its bar, not its eval bars; samples from its closing figures', () => {
    const inf = new LogWorkInference();
    const log =
      bar('', 40, 3).replace(/\n$/, '') + // the training bar stays open while evaluation runs
      `\n${bar('', 10)}` + // an eval bar (no description, another total)
      `{'loss': 0.69, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 1.0}\n` +
      `{'train_runtime': '2.5', 'train_samples_per_second': '64.0', 'train_steps_per_second': 16.0, 'train_loss': 0.6, 'epoch': 1.0}\n`;
    feedInChunks(inf, log, 7);
    const r = inf.result();
    assert.equal(r?.steps, 40);
    assert.equal(r?.samples, 160);
    assert.equal(r?.detail, 'tqdm bar (40 per bar)');
  });

  it('Hugging Face Trainer without a bar (disable_tqdm): steps from its closing figures; tokens seen from its log dicts', () => {
    const inf = new LogWorkInference();
    inf.feed("{'loss': 0.7, 'num_input_tokens_seen': 4096, 'epoch': 0.5}\n{'loss': 0.6, 'num_input_tokens_seen': 8192, 'epoch': 1.0}\n", 'stdout', 1);
    inf.feed("{'train_runtime': 4.0, 'train_samples_per_second': 16.0, 'train_steps_per_second': 2.0, 'train_loss': 0.65, 'epoch': 1.0}\n", 'stdout', 4);
    const r = inf.result()!;
    assert.deepEqual([r.steps, r.samples, r.tokens, r.detail], [8, 64, 8192, "the Trainer's closing figures (rounded by it)"]);
  });

  it('Lightning: one family over epochs, validation bars ignored', () => {
    const inf = new LogWorkInference();
    let log = bar('Sanity Checking DataLoader 0: ', 2);
    for (let e = 0; e < 3; e++) log += bar(`Epoch ${e}: `, 25, 4) + bar('Validation DataLoader 0: ', 5);
    feedInChunks(inf, log, 13);
    assert.equal(inf.result()?.steps, 75);
    assert.equal(inf.result()?.detail, 'tqdm bar "Epoch #" (25 per bar)');
  });

  it('Lightning with rich: the last state of each epoch bar, validation ignored', () => {
    const inf = new LogWorkInference();
    inf.feed('Sanity Checking DataLoader 0 \u2501\u2501\u2501 2/2 0:00:00 \u2022 0:00:00 0.00it/s\n', 'stdout', 0);
    for (let e = 0; e < 3; e++) {
      inf.feed(`Epoch ${e}/2 ${'\u2501'.repeat(30)} 12/12 0:00:01 \u2022 0:00:00 35.00it/s v_num: 0.000\n`, 'stdout', e + 1);
      inf.feed(`Validation DataLoader 0 ${'\u2501'.repeat(30)} 5/5 0:00:00 \u2022 0:00:00 90.00it/s\n`, 'stdout', e + 1);
    }
    assert.equal(inf.result()?.steps, 36);
    assert.equal(inf.result()?.detail, 'rich bar "Epoch #/#" (12 per bar)');
  });

  it('nested bars: the inner one counts, the outer one is never added to it', () => {
    const inf = new LogWorkInference();
    let log = '';
    for (let e = 0; e < 3; e++) log += `\x1b[A${bar('epochs: ', 3).slice(0, 0)}` + bar('batches: ', 50, 7) + `\repochs: ${Math.round(((e + 1) * 100) / 3)}%|███| ${e + 1}/3 [00:01<00:00]\n`;
    feedInChunks(inf, log, 64);
    assert.equal(inf.result()?.steps, 150);
  });

  it('a tqdm description updated in place (a loss in it) does not start a new bar', () => {
    const inf = new LogWorkInference();
    let log = '';
    for (let n = 0; n <= 20; n++) log += `\rloss ${(1 / (n + 1)).toFixed(3)}: ${String(5 * n).padStart(3)}%|##        | ${n}/20 [00:01<00:01]`;
    // a refresh that changes only the description, at the same count
    log += '\rloss 0.001: 100%|##########| 20/20 [00:02<00:00]\n';
    inf.feed(log, 'stderr', 1);
    assert.equal(inf.result()?.steps, 20);
  });

  it('a bar without a total, and nothing from ordinary lines', () => {
    const inf = new LogWorkInference();
    inf.feed('loss 0.5 at 100% of [budget]\n', 'stdout', 0);
    assert.equal(inf.result(), undefined);
    inf.feed('\rgen: 10it [00:01, 9.9it/s]\rgen: 25it [00:02, 9.9it/s]\n', 'stdout', 1);
    assert.equal(inf.result()?.steps, 25);
  });
});

describe('work tracker', () => {
  it('uses inferred steps only when the run reported none, and says where the work came from', () => {
    const w = new WorkTracker();
    w.output(bar('', 10), 'stderr', 1);
    assert.deepEqual(w.live(), { source: 'log', steps: 10, detail: 'tqdm bar (10 per bar)' });
    w.report('package', 2, { steps: 4, samples: 32 });
    w.output(bar('', 10), 'stderr', 3);
    const f = w.summaryFields(80, 4);
    assert.equal(f.workSource, 'package');
    assert.equal(f.steps, 4);
    assert.equal(f.jPerStep, 20);
    assert.equal(f.jPerSample, 2.5);
    w.report('markers', 3, { tokens: 8 });
    assert.equal(w.summaryFields(80, 4).workSource, 'package+markers');
  });

  it('steady-state J/token leaves out the first and last 10 % of the tokens', () => {
    // 100 W throughout; tokens: a slow warm-up (1 token/s for 10 s), then 10 tokens/s for 8 s, then a slow drain.
    const energy = new EnergyTimeline();
    for (let t = 1; t <= 30; t++) energy.add(t, 100 * t);
    const tokens = new StepPoints();
    let tS = 0;
    for (let i = 0; i < 10; i++) tokens.add(++tS, 1); // t=1..10: 10 tokens
    for (let i = 0; i < 8; i++) tokens.add(++tS, 10); // t=11..18: 80 tokens (cumulative 90)
    for (let i = 0; i < 10; i++) tokens.add(++tS, 1); // t=19..28: 10 tokens (100)
    const st = steadyState(tokens, energy)!;
    // 10 % of 100 = 10 tokens, first reached at t=10; 90 % = 90 tokens, first reached at t=18.
    assert.equal(st.startS, 10);
    assert.equal(st.endS, 18);
    assert.equal(st.tokens, 80);
    assert.equal(st.energyJ, 800);
    assert.equal(st.jPerToken, 10);
    // The whole run's J/token would be 2800 J / 100 tokens = 28: warm-up and drain dominate it.
  });

  it('energy timeline interpolates between readings and stays bounded', () => {
    const e = new EnergyTimeline(16);
    for (let t = 1; t <= 1000; t++) e.add(t, 3 * t);
    assert.equal(e.at(0), 0);
    assert.ok(Math.abs(e.at(500.5) - 1501.5) < 1e-9);
    assert.equal(e.at(5000), 3000);
  });
});

describe('session markers: windows', () => {
  it('pairs window edges, closes at the run end, and keeps at most MAX_MARKERS (a window begun past it is not kept at its end)', async () => {
    let now = 0;
    const m = new SessionMarkers(
      { read: async () => ({ energies: [{ gpu: 0, energyMillijoules: now * 300 }] as CounterRead['energies'], elapsedMs: now }), energyJ: (r) => r.energies[0]!.energyMillijoules / 1000, nowMs: () => now },
      () => now / 1000,
    );
    m.beginWindow('1:a', 'first');
    now = 500;
    m.endWindow('1:a', false);
    for (let i = 0; i < MAX_MARKERS; i++) m.mark(`m${i}`);
    m.beginWindow('1:b', 'too late');
    m.endWindow('1:b', false);
    await m.settle(1000);
    const f = m.summaryFields(200, 1);
    assert.equal(f.markers!.length, MAX_MARKERS);
    assert.equal(m.droppedMarks, 2 + 1); // the last two marks and the late window's beginning
    const edges = f.markers!.filter((x) => x.window);
    assert.deepEqual(edges.map((x) => [x.label, x.window, x.windowId]), [['first', 'begin', 1], ['first', 'end', 1]]);
  });
});
