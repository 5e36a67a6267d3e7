import * as assert from 'node:assert/strict';
import type { Finding } from '../../../src/core/analysis/findings';
import { notificationFinding, rangeAfterChange, readmeFileName } from '../../../src/vscode/findings/format';

const at = (startLine: number, endLine = startLine) => ({ startLine, startCharacter: 4, endLine, endCharacter: 20 });

describe('findings in the editor: edits and links', () => {
  it('a quick fix on one line keeps the other findings of the file, moved with their lines', () => {
    // The fix on line 10 adds two lines (`num_workers=8,` and `pin_memory=True,` on lines of their own).
    const fix = { range: { startLine: 10, startCharacter: 30, endLine: 10, endCharacter: 31 }, text: ',\n    num_workers=8,\n    pin_memory=True)' };
    assert.equal(rangeAfterChange(at(10), fix), undefined, 'the fixed line loses its diagnostic');
    assert.deepEqual(rangeAfterChange(at(27), fix), at(29), 'a line below moves down by the added lines');
    assert.deepEqual(rangeAfterChange(at(3), fix), at(3), 'a line above stays');
    // Deleting lines 5-7 moves a finding on line 20 up by two.
    assert.deepEqual(rangeAfterChange(at(20), { range: { startLine: 5, startCharacter: 0, endLine: 7, endCharacter: 0 }, text: '' }), at(18));
    // An edit inside a multi-line finding drops it.
    assert.equal(rangeAfterChange(at(12, 15), { range: { startLine: 14, startCharacter: 0, endLine: 14, endCharacter: 3 }, text: 'x' }), undefined);
  });

  it('the end-of-run notification names the finding that wasted the most, not a smaller warning', () => {
    const base = { message: '', gpu: 0, wastedMethod: '', static: false, energyJ: 0 };
    const small: Finding = { ...base, id: 'slow-start:gpu0', code: 'slow-start', severity: 'warning', title: 'slow start', startS: 0, endS: 2, stretches: [{ startS: 0, endS: 2 }], wastedJ: 400, evidence: { spans: [{ startS: 0, endS: 2, avgUtilPct: 0, avgPowerW: 200, energyJ: 400 }], shareOfRunEnergyPct: 4 } };
    const large: Finding = { ...base, id: 'gpu-idle:gpu0', code: 'gpu-idle', severity: 'information', title: 'idle', startS: 10, endS: 20, stretches: [{ startS: 10, endS: 20 }], wastedJ: 1400, evidence: { spans: [{ startS: 10, endS: 20, avgUtilPct: 0, avgPowerW: 140, energyJ: 1400 }], shareOfRunEnergyPct: 14 } };
    assert.equal(notificationFinding([small, large])?.id, 'gpu-idle:gpu0');
  });

  it('finding links name the README the installed package has (vsce stores readme.md)', () => {
    assert.equal(readmeFileName((n) => n === 'readme.md'), 'readme.md');
    assert.equal(readmeFileName((n) => n === 'README.md'), 'README.md');
  });
});
