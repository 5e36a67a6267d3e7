import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Setting {
  order?: number;
  description?: string;
  markdownDescription?: string;
}

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Setting> }; commands: Array<{ command: string; title: string }> };
};

describe('package.json contributions', () => {
  it('every setting has a description and its own place in the Settings UI (no two share an order)', () => {
    const settings = Object.entries(manifest.contributes.configuration.properties);
    assert.ok(settings.length > 0);
    const orders = settings.map(([, s]) => s.order);
    for (const [k, s] of settings) {
      assert.ok(Number.isInteger(s.order), `${k} has an order`);
      assert.ok((s.description ?? s.markdownDescription ?? '').length > 10, `${k} has a description`);
    }
    const dup = orders.filter((o, i) => orders.indexOf(o) !== i);
    assert.deepEqual(dup, [], `orders used twice: ${dup.join(', ')}`);
  });

  it('every command has a title under the Joules category or prefix', () => {
    for (const c of manifest.contributes.commands) assert.ok(c.command.startsWith('joules.') && c.title.length > 0, c.command);
  });
});
