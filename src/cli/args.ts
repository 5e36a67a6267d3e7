/** A user error in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** `boolean` flags take no value; others take the next argument or `--flag=value`. */
  type: 'boolean' | 'string' | 'number';
  /** Short alias, e.g. `-j`. */
  short?: string;
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
