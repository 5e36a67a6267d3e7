import * as assert from 'node:assert/strict';
import { distinctRunLabels } from '../../../src/core/protocol/compare';

const at = (iso: string): string => iso.slice(11, 19);

describe('Compare: run names told apart', () => {
  it('distinct names are shown as they are', () => {
    assert.deepEqual(distinctRunLabels([{ name: 'a.py', startedAt: '2026-01-01T10:00:00Z' }, { name: 'b.py', startedAt: '2026-01-01T10:00:00Z' }], at), ['a.py', 'b.py']);
  });

  it('two runs of the same script get their start times', () => {
    const runs = [{ name: 'train.py', startedAt: '2026-01-01T10:00:00Z' }, { name: 'train.py', startedAt: '2026-01-01T11:30:05Z' }, { name: 'eval.py', startedAt: '2026-01-01T12:00:00Z' }];
    assert.deepEqual(distinctRunLabels(runs, at), ['train.py (10:00:00)', 'train.py (11:30:05)', 'eval.py']);
  });

  it('same name and same start time: numbered', () => {
    const runs = [{ name: 'x.py', startedAt: '2026-01-01T10:00:00Z' }, { name: 'x.py', startedAt: '2026-01-01T10:00:00Z' }];
    assert.deepEqual(distinctRunLabels(runs, at), ['x.py (10:00:00) #1', 'x.py (10:00:00) #2']);
  });
});
