import * as assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { LiveFiguresView, ToPanel } from '../../src/core/protocol/panel';
import { buildBundle, launch, openPanel, PanelServer } from './support/harness';
import type { PanelPage } from './support/harness';
import { h200Info, interleave, readTrace, runningSummary, runView, summaryOf, traceSamples } from '../support/trace';

const rows = readTrace();
const gpus = [h200Info(0)];
const all = interleave(traceSamples(rows, 0));

describe('efficiency cards in Chromium', function () {
  let server: PanelServer;
  let browser: Browser;
  let base: string;
  const pages: PanelPage[] = [];

  before(async () => {
    buildBundle();
    server = new PanelServer();
    base = await server.start();
    browser = await launch();
  });

  afterEach(async () => {
    for (const p of pages.splice(0)) {
      assert.deepEqual(p.pageErrors, [], 'no uncaught errors in the page');
      await p.page.close();
    }
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const card = (cards: Array<{ key: string; value: string; detail: string }>, k: string): { value: string; detail: string } | undefined => {
    const c = cards.find((x) => x.key === k);
    return c && { value: c.value, detail: c.detail };
  };

  it('a live run: J/step and J/sample are the live energy over the work so far, with its source', async () => {
    const p = await openPanel(browser, base, {});
    pages.push(p);
    const live: LiveFiguresView = { elapsedS: 10, energyJ: 1000, avgPowerW: 100, peakPowerW: 120, countedGpus: [0], energyMethod: 'counter', work: { source: 'log', steps: 40, samples: 320, detail: 'tqdm bar "batches" (40 per bar)' } };
    await p.post({ type: 'init', live: runView(runningSummary('live-w', 'train.py'), gpus, [], { live, seq: 0 }), history: [] } satisfies ToPanel);
    let st = await p.settle();
    assert.deepEqual(card(st.cards, 'jPerStep'), { value: '25.0 J/step', detail: '40 steps · inferred from the log (tqdm bar "batches" (40 per bar))' });
    assert.equal(card(st.cards, 'jPerSample')?.value, '3.13 J/sample');
    assert.equal(card(st.cards, 'jPerToken'), undefined, 'no tokens, no J/token card');
    await p.post({ type: 'samples', runId: 'live-w', seq: 1, batch: { samples: [], powerPoints: [], gaps: [] }, live: { ...live, energyJ: 2000, work: { source: 'package', steps: 80 } } } satisfies ToPanel);
    st = await p.settle();
    assert.deepEqual(card(st.cards, 'jPerStep'), { value: '25.0 J/step', detail: '80 steps · from the joules package' });
    assert.equal(card(st.cards, 'jPerSample'), undefined);
  });

  it('a finished inference run: J/token and the steady-state J/token', async () => {
    const p = await openPanel(browser, base, {});
    pages.push(p);
    const done = summaryOf('inf-1', 'gen.py', all, gpus, { tokens: 60_000, jPerToken: 0.1, workSource: 'package', steadyState: { startS: 2, endS: 18, tokens: 48_000, energyJ: 4320, jPerToken: 0.09 } });
    await p.post({ type: 'init', history: [done] } satisfies ToPanel);
    await p.post({ type: 'showRuns', view: 'run', runs: [runView(done, gpus, all)] } satisfies ToPanel);
    const st = await p.settle();
    assert.deepEqual(card(st.cards, 'jPerToken'), { value: '0.100 J/token', detail: '60,000 tokens · from the joules package' });
    assert.deepEqual(card(st.cards, 'steadyJPerToken'), { value: '0.090 J/token', detail: '48,000 tokens from 2.0 s to 18.0 s (first and last 10 % of tokens left out)' });
  });
});
