/** A user error in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** `boolean` flags take no value; others take the next argument or `--flag=value`. */
  type: 'boolean' | 'string' | 'number';
  /** Short alias, e.g. `-j`. */
  short?: string;
  /** Number flags: the accepted range (inclusive) and whether only whole numbers make sense. */
  min?: number;
  max?: number;
  integer?: boolean;
  /** Number flags: `min` itself is excluded (e.g. a speed must be above 0). */
  minExclusive?: boolean;
}

export interface Parsed {
  flags: Record<string, string | number | boolean>;
  positionals: string[];
  /** Everything after `--` (or after the first positional when `stopAtPositional`). */
  rest: string[];
}

/**
 * Strict option parser: unknown flags are errors (a typo must not silently become part of the
 * command), values are validated, and `--` ends option parsing.
 */
export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, stopAtPositional = false): Parsed {
  const flags: Parsed['flags'] = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([name, s]) => [s.short!, name]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return { flags, positionals, rest: argv.slice(i + 1) };
    if (arg.startsWith('-') && arg !== '-') {
      let name: string;
      let value: string | undefined;
      if (arg.startsWith('--')) {
        const eq = arg.indexOf('=');
        name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
        value = eq >= 0 ? arg.slice(eq + 1) : undefined;
      } else {
        const long = byShort.get(arg.slice(1));
        if (!long) throw new UsageError(`unknown option ${arg}`);
        name = long;
      }
      const s = spec[name];
      if (!s) throw new UsageError(`unknown option --${name}`);
      if (s.type === 'boolean') {
        if (value !== undefined) throw new UsageError(`--${name} takes no value`);
        flags[name] = true;
        continue;
      }
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
      }
      if (s.type === 'number') {
        const n = Number(value);
        if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number, got "${value}"`);
        checkRange(name, s, n, value);
        flags[name] = n;
      } else {
        flags[name] = value;
      }
      continue;
    }
    if (stopAtPositional) return { flags, positionals, rest: argv.slice(i) };
    positionals.push(arg);
  }
  return { flags, positionals, rest: [] };
}

/** One line naming the flag, what it accepts and what it got, e.g. `--workers must be a whole number 0-64, got "-5"`. */
function checkRange(name: string, s: FlagSpec, n: number, raw: string): void {
  const tooLow = s.min !== undefined && (s.minExclusive ? n <= s.min : n < s.min);
  const tooHigh = s.max !== undefined && n > s.max;
  if (!tooLow && !tooHigh && !(s.integer && !Number.isInteger(n))) return;
  const kind = s.integer ? 'a whole number' : 'a number';
  let range: string;
  if (s.min !== undefined && s.max !== undefined && !s.minExclusive) range = ` ${s.min}-${s.max}`;
  else if (s.min !== undefined && s.max !== undefined) range = ` above ${s.min} and at most ${s.max}`;
  else if (s.min !== undefined) range = s.minExclusive ? ` above ${s.min}` : ` of at least ${s.min}`;
  else if (s.max !== undefined) range = ` of at most ${s.max}`;
  else range = '';
  throw new UsageError(`--${name} must be ${kind}${range}, got "${raw}"`);
}
