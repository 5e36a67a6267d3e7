import * as assert from 'node:assert/strict';
import { Emitter } from '../../src/core/events';

describe('core events', () => {
  it('a disposed subscription hears nothing more; the others still do, in order', () => {
    const e = new Emitter<[number]>();
    const heard: string[] = [];
    const a = e.subscribe((n) => heard.push(`a${n}`));
    e.subscribe((n) => heard.push(`b${n}`));
    e.fire(1);
    a.dispose();
    e.fire(2);
    assert.deepEqual(heard, ['a1', 'b1', 'b2']);
  });

  it('an isolated event (the end of a run) reaches every listener even when one throws', () => {
    const e = new Emitter<[string]>({ isolate: true });
    const heard: string[] = [];
    e.subscribe(() => {
      throw new Error('a broken listener');
    });
    e.subscribe((s) => heard.push(s));
    e.fire('summary');
    assert.deepEqual(heard, ['summary']);
    // Without isolation the throw reaches the firing code, as a plain loop over listeners would.
    const plain = new Emitter<[]>();
    plain.subscribe(() => {
      throw new Error('a broken listener');
    });
    assert.throws(() => plain.fire(), /a broken listener/);
  });

  it('says whether anyone listens, so a source can skip building an event nobody receives', () => {
    const e = new Emitter<[number]>();
    assert.equal(e.listening, false);
    const a = e.subscribe(() => undefined);
    const b = e.subscribe(() => undefined);
    assert.equal(e.listening, true);
    a.dispose();
    assert.equal(e.listening, true);
    b.dispose();
    b.dispose();
    assert.equal(e.listening, false);
  });
});
