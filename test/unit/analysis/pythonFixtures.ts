/** The Python fixture files (test/fixtures/python) as the editor would hand them over. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'python');

/** Every .py file under `dir`, as { path, text }. */
export function fixtureFiles(dir = FIXTURES): { path: string; text: string }[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? fixtureFiles(p) : name.endsWith('.py') ? [{ path: p, text: readFileSync(p, 'utf8') }] : [];
  });
}
