import * as assert from 'node:assert/strict';
import { rangeAfterChange, readmeFileName } from '../../../src/vscode/findings/format';

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

  it('finding links name the README the installed package has (vsce stores readme.md)', () => {
    assert.equal(readmeFileName((n) => n === 'readme.md'), 'readme.md');
    assert.equal(readmeFileName((n) => n === 'README.md'), 'README.md');
  });
});
