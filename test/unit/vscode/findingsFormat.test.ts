import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { correlate } from '../../../src/core/analysis/correlate';
import type { EvidenceSpan, Finding } from '../../../src/core/analysis/findings';
import { explainedWasteJ } from '../../../src/core/analysis/findings';
import { formatJoules } from '../../../src/core/units/format';
import { loadPythonParser } from '../../../src/core/analysis/pythonParser';
import { analyzePythonSource } from '../../../src/core/analysis/pythonSource';
import { analyzeTelemetry, summarizeRun } from '../../../src/core/analysis/telemetry';
import type { RunLabel } from '../../../src/vscode/findings/format';
import {
  diagnosticMessage,
  escapeMd,
  evidenceLines,
  findingKey,
  formatRunTime,
  hoverMarkdown,
  MAX_HOVER_SPANS,
  MAX_RELATED_SPANS,
  notificationFinding,
  notificationText,
  readmeFragment,
} from '../../../src/vscode/findings/format';
import { endOf, gpuInfo, series } from '../analysis/synthetic';

/** A local wall-clock time, so the expected text does not depend on the machine's time zone. */
const started = new Date(2025, 5, 3, 14, 3, 12);
const sameDay = new Date(2025, 5, 3, 18, 0, 0);
const run: RunLabel = { id: 'r1', name: 'train.py', startedAt: started.toISOString() };

const span = (startS: number, endS: number, energyJ: number, avgUtilPct = 5, avgPowerW = energyJ / (endS - startS)): EvidenceSpan => ({ startS, endS, avgUtilPct, avgPowerW, energyJ });

function finding(extra: Partial<Finding>): Finding {
  return {
    id: 'gpu-starved:gpu0:between-kernels',
    code: 'gpu-starved',
    severity: 'warning',
    title: 'GPU 0 starved 3.0 s',
    message: 'GPU 0 was starved for 3.0 s.',
    gpu: 0,
    startS: 1,
    endS: 4,
    stretches: [{ startS: 1, endS: 4 }],
    energyJ: 690,
    wastedJ: 600,
    wastedMethod: 'Energy in the starved time minus what its work would need.',
    evidence: { spans: [span(1, 2.5, 345), span(2.5, 4, 345)], runEnergyJ: 2000, runDurationS: 7, shareOfRunEnergyPct: 34.5, idleFloorW: 95 },
    static: false,
    ...extra,
  };
}

const located = (extra: Partial<Finding> = {}): Finding =>
  finding({
    code: 'dataloader-workers',
    title: 'DataLoader without worker processes',
    message: 'DataLoader without num_workers, while GPU 0 was starved 43 % of the run (3.0 s, 690 J, 600 J wasted): load batches in worker processes.',
    file: '/w/train.py',
    range: { startLine: 17, startCharacter: 13, endLine: 17, endCharacter: 23 },
    ...extra,
  });

describe('findings in the editor: wording', () => {
  it('the diagnostic keeps the measured message and names the run and its start time', () => {
    assert.equal(
      diagnosticMessage(located(), run, sameDay),
      'DataLoader without num_workers, while GPU 0 was starved 43 % of the run (3.0 s, 690 J, 600 J wasted): load batches in worker processes. (run train.py at 14:03:12)',
    );
    // Another day: the date, not a bare time that would look like today's.
    assert.equal(formatRunTime(run.startedAt, new Date(2025, 5, 4, 9, 0, 0)), '2025-06-03 14:03');
    assert.equal(formatRunTime('not a date', sameDay), 'not a date');
  });

  it('related information lists each measured span (GPU, util, power, energy) and the waste with its method', () => {
    assert.deepEqual(evidenceLines(located()), [
      'Measured: GPU 0, 1.0-2.5 s: util 5.0 %, 230 W, 345 J',
      'Measured: GPU 0, 2.5-4.0 s: util 5.0 %, 230 W, 345 J',
      'Wasted 600 J: Energy in the starved time minus what its work would need.',
    ]);
    const many = Array.from({ length: MAX_HOVER_SPANS + 2 }, (_, i) => span(i * 2, i * 2 + 1, 50));
    const lines = evidenceLines(located({ evidence: { spans: many } }));
    assert.equal(lines.filter((l) => l.startsWith('Measured: GPU 0,')).length, MAX_RELATED_SPANS);
    assert.ok(lines.includes(`Measured: ${many.length - MAX_RELATED_SPANS} more span(s), ${many.length - MAX_RELATED_SPANS}.0 s in all`), lines.join('\n'));
    // The hover has room for more rows; the rest is a count, and the total row covers all.
    const md = hoverMarkdown(located({ evidence: { spans: many } }), run, undefined, sameDay);
    assert.equal(md.split('\n').filter((l) => /^\| \d+\.0-\d+\.0 s \|/.test(l)).length, MAX_HOVER_SPANS);
    assert.match(md, /^\| 2 more \| \| \| \| \|$/m);
    assert.match(md, /^\| \*\*all 10\*\* \| 10\.0 s \| 5\.0 % \| 50 W \| 500 J \|$/m);
    // A pattern without a measurement has no numbers to list.
    assert.deepEqual(evidenceLines(located({ static: true, wastedJ: 0, evidence: { spans: [] } })), []);
  });

  it('the hover shows a table of the spans with a total row, the figures, the wasted energy and how it was computed', () => {
    const md = hoverMarkdown(located(), run, 'file:///ext/README.md#finding-dataloader-workers', sameDay);
    const lines = md.split('\n');
    assert.equal(lines[0], '**Joules: DataLoader without worker processes** (warning, run train.py at 14:03:12)');
    assert.ok(lines.includes('| GPU 0 span | duration | avg util | avg power | energy |'), md);
    assert.ok(lines.includes('| 1.0-2.5 s | 1.5 s | 5.0 % | 230 W | 345 J |'), md);
    assert.ok(lines.includes('| **all 2** | 3.0 s | 5.0 % | 230 W | 690 J |'), md);
    assert.ok(lines.includes('| wasted | **600 J** |'), md);
    assert.ok(lines.includes("| share of the run's energy | 35 % |"), md);
    assert.ok(lines.includes('| idle floor (context open, no kernel) | 95 W |'), md);
    assert.ok(lines.includes('Wasted energy: Energy in the starved time minus what its work would need.'), md);
    assert.equal(lines.at(-1), '[What dataloader-workers means and how to fix it](file:///ext/README.md#finding-dataloader-workers)');
  });

  it('a static hint says nothing measured supports it and shows no energy rows', () => {
    const md = hoverMarkdown(located({ static: true, severity: 'hint', wastedJ: 0, energyJ: 0, evidence: { spans: [] }, wastedMethod: 'None: no measurement supports this pattern.' }), run, undefined, sameDay);
    assert.match(md, /Static hint: nothing measured in this run supports it\./);
    assert.doesNotMatch(md, /\| wasted \|/);
    assert.doesNotMatch(md, /\| GPU 0 span/);
    assert.doesNotMatch(md, /\]\(/, 'no link without a README');
  });

  it('Markdown characters from findings cannot break the table or the emphasis', () => {
    assert.equal(escapeMd('a|b *c* [d] <e>'), 'a\\|b \\*c\\* \\[d\\] \\<e\\>');
    assert.match(hoverMarkdown(located({ title: 'x | y' }), run, undefined, sameDay), /^\*\*Joules: x \\\| y\*\*/);
  });

  it('keys and README anchors are stable strings', () => {
    assert.equal(readmeFragment('gpu-idle'), 'finding-gpu-idle');
    assert.equal(findingKey('file:///w/train.py', { startLine: 1, startCharacter: 2, endLine: 3, endCharacter: 4 }, 'small-batch'), 'file:///w/train.py|1:2-3:4|small-batch');
  });
});

describe('findings in the editor: the one notification of a run', () => {
  const starved = finding({});
  const diag = located();
  const afterRun = finding({ code: 'idle-after-run', title: 'GPU 0 still holds 4.3 GB after the run', message: 'After the run exited, GPU 0 stayed idle.', wastedJ: 120, evidence: { spans: [span(8, 20, 700, 0)] } });
  const slowStart = finding({ code: 'slow-start', severity: 'information', title: 'GPU 0 waited 5.0 s for its first kernel', wastedJ: 400, evidence: { spans: [span(0, 5, 400, 0)] } });
  const throttle = finding({ code: 'throttle-power', severity: 'hint', wastedJ: 0, evidence: { spans: [span(3, 9, 4000, 99)] } });

  it('is about a finding without a source line that no diagnostic explains, the most wasted energy first', () => {
    assert.ok(slowStart.wastedJ > afterRun.wastedJ);
    assert.equal(notificationFinding([starved, diag, slowStart, afterRun, throttle]), slowStart);
    assert.equal(notificationFinding([starved, diag, afterRun, throttle]), afterRun);
    assert.equal(notificationFinding([starved, diag, slowStart, throttle]), slowStart);
  });

  it('is not shown when the diagnostics explain every measurement, or only hints are left', () => {
    assert.equal(notificationFinding([starved, diag, throttle]), undefined);
    assert.equal(notificationFinding([diag]), undefined);
    // A static pattern explains nothing: the starved time still deserves the notification.
    assert.equal(notificationFinding([starved, located({ static: true, evidence: { spans: [] } })]), starved);
  });

  it('names the finding, the run and how many more there are', () => {
    assert.equal(
      notificationText(afterRun, run, 2, sameDay),
      'Joules: GPU 0 still holds 4.3 GB after the run in run train.py at 14:03:12. After the run exited, GPU 0 stayed idle. (+2 more findings in the panel)',
    );
    assert.doesNotMatch(notificationText(afterRun, run, 0, sameDay), /more finding/);
  });
});

describe('findings in the editor: a starved run of the integration fixture', () => {
  it('the DataLoader line gets a warning whose message, related lines and hover carry the measured numbers', async () => {
    const parser = await loadPythonParser();
    const script = path.resolve(__dirname, '../../integration/fixtures/workspace/findings_train.py');
    const text = fs.readFileSync(script, 'utf8');
    // The shape of starved.scn: a busy second, then starved seconds between short bursts.
    const samples = series([
      { durS: 0.3, util: 0, powerW: 75 },
      { durS: 1, util: 96, powerW: 520 },
      { durS: 1.3, util: 7, powerW: 230 },
      { durS: 0.5, util: 95, powerW: 520 },
      { durS: 1.3, util: 7, powerW: 230 },
      { durS: 0.5, util: 95, powerW: 520 },
      { durS: 1.3, util: 7, powerW: 230 },
      { durS: 0.5, util: 95, powerW: 520 },
    ]);
    const telemetry = { gpus: [gpuInfo(0, { architecture: 'Hopper' })], samples, runGpus: [0], endMs: endOf(samples) };
    const sites = analyzePythonSource([{ path: script, text }], script, parser);
    const findings = correlate(analyzeTelemetry(telemetry), sites, true, summarizeRun(telemetry));
    const loader = findings.find((f) => f.code === 'dataloader-workers');
    assert.ok(loader?.range, findings.map((f) => f.code).join(', '));
    assert.equal(text.split('\n')[loader.range.startLine]?.trim(), 'loader = DataLoader(ds, batch_size=32)');
    assert.equal(loader.severity, 'warning');
    assert.match(diagnosticMessage(loader, run, sameDay), /GPU 0 was starved \d+ % of the run \([\d.]+ s, [\d,.]+ k?J, [\d,.]+ k?J wasted\).*\(run train\.py at 14:03:12\)$/);
    // The starved loop is one stretch (its short bursts are part of it, by the 2 s window): its
    // average lies between the starved 230 W and the bursts' 520 W, nearer the starved side.
    const measuredLine = evidenceLines(loader).find((l) => /^Measured: GPU 0, /.test(l)) ?? '';
    const m = /^Measured: GPU 0, ([\d.]+)-([\d.]+) s: util ([\d.]+) %, (\d+) W, [\d,.]+ k?J$/.exec(measuredLine);
    assert.ok(m, evidenceLines(loader).join('\n'));
    assert.ok(Number(m[4]) > 230 && Number(m[4]) < 375, measuredLine);
    assert.ok(Number(m[2]) - Number(m[1]) > 4.5, `one stretch over the starved loop: ${measuredLine}`);
    // It refers to the starved finding instead of repeating its joules; the hover shows that finding's waste.
    const starved = findings.find((f) => f.code === 'gpu-starved');
    assert.deepEqual(loader.correlatedWith, [starved?.id]);
    const explained = explainedWasteJ(loader, findings);
    assert.ok(starved && explained === starved.wastedJ && explained > 0);
    assert.ok(hoverMarkdown(loader, run, undefined, sameDay, explained).includes(`| wasted | **${formatJoules(explained)}** |`));
    // Its measurement is the starved time: no notification repeats it.
    assert.equal(notificationFinding(findings), undefined);
  });
});
