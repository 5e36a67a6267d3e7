/**
 * Turning a command line the user typed into an argv array, so it can be launched without a shell,
 * and telling when it cannot: a line with pipes, redirections, `&&`, variables or globs only means
 * what the user meant when a shell runs it. Pure; no Node or `vscode` imports.
 *
 * Quoting rules:
 * - `posix` follows the POSIX shell's (sh, bash): whitespace separates words; single quotes keep
 *   everything literally; double quotes keep everything but `\"`, `\\`, `\$` and `` \` ``; a
 *   backslash outside quotes escapes the next character (backslash-newline is removed).
 * - `win32` follows the Microsoft C runtime's argv rules (what CommandLineToArgvW and Python's
 *   launcher use): 2n backslashes before `"` give n backslashes and a quote toggle, 2n+1 give n
 *   backslashes and a literal `"`; other backslashes are literal, so `C:\path\x.py` survives.
 */

export type CommandLineSyntax = 'posix' | 'win32';

/** A line that cannot be split (an unterminated quote or a trailing escape). */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
  constructor(
    message: string,
    /** 0-based offset in the line where the problem starts. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Result of {@link parseCommandLine}. */
export interface ParsedCommandLine {
  /** The words, quotes removed. Empty for a blank line. */
  argv: string[];
  /**
   * Shell features found outside single quotes (e.g. `|`, `&&`, `>`, `$VAR`, `*`), in order of
   * appearance, each once. Non-empty means the line only works through a shell.
   */
  shellFeatures: string[];
  /** `shellFeatures.length > 0`. */
  needsShell: boolean;
}

// Longest first, so `&&` wins over `&` and `>>` over `>`.
const OPERATORS = ['&&', '||', ';;', '>>', '<<', '2>', '&>', '|&', '|', '&', ';', '<', '>', '(', ')'];

/** Split a typed command line and report the shell features it uses. Throws {@link CommandLineError}. */
export function parseCommandLine(line: string, syntax: CommandLineSyntax = defaultSyntax()): ParsedCommandLine {
  const { argv, features } = syntax === 'win32' ? scanWin32(line) : scanPosix(line);
  return { argv, shellFeatures: features, needsShell: features.length > 0 };
}

/** {@link parseCommandLine}'s words only. */
export function splitCommandLine(line: string, syntax: CommandLineSyntax = defaultSyntax()): string[] {
  return parseCommandLine(line, syntax).argv;
}

/** Whether the line needs a shell to mean what it says (`a | b`, `x > log`, `A=1 cmd`...). */
export function needsShell(line: string, syntax: CommandLineSyntax = defaultSyntax()): boolean {
  try {
    return parseCommandLine(line, syntax).needsShell;
  } catch {
    // An unbalanced quote is for the shell to report in its own words.
    return true;
  }
}

/**
 * Quote argv for display or for a shell, so that splitting the result gives argv back
 * (`splitCommandLine(joinCommandLine(a)) == a`). Plain words stay bare.
 */
export function joinCommandLine(argv: readonly string[], syntax: CommandLineSyntax = defaultSyntax()): string {
  return argv.map((a) => (syntax === 'win32' ? quoteWin32(a) : quotePosix(a))).join(' ');
}

/**
 * `command` followed by `args`, as one line for {@link parseCommandLine} (no shell) or, with
 * `shell`, for the shell itself. On Windows that shell is cmd.exe, which expands `%VAR%` even
 * inside double quotes and ends a quoted region at a `\"` that the C runtime reads as a literal
 * quote, so an argument like `a\"&calc` would run `calc`: there every argument is escaped for
 * cmd.exe ({@link quoteForCmd}). Without a shell the arguments are quoted so the line splits back
 * into exactly `args`, and none of their `&`, `|` or `%VAR%` makes the line need a shell.
 */
export function commandWithArgs(command: string, args: readonly string[], shell: boolean, syntax: CommandLineSyntax = defaultSyntax()): string {
  if (!args.length) return command;
  const quoted = shell && syntax === 'win32' ? args.map(quoteForCmd) : args.map((a) => (syntax === 'win32' ? quoteWin32(a) : quotePosix(a)));
  return `${command} ${quoted.join(' ')}`;
}

/** Characters cmd.exe acts on in a command line (`!` only with delayed expansion, escaped anyway). */
const CMD_META = /[()%!^"<>&|]/g;

/**
 * One argument for a cmd.exe command line (`cmd /d /s /c "..."`, what Node's `shell: true` runs):
 * quoted for the program's C runtime first, then every cmd.exe metacharacter, the quotes
 * included, escaped with `^`. cmd.exe then sees no quoted region and no operator, removes the
 * carets and hands the program the C-runtime-quoted word. `%PATH%` becomes `^%PATH^%`: cmd.exe's
 * variable expansion, which runs before caret removal, looks for a variable named `PATH^` and,
 * finding none, leaves the text as it is. (A .bat/.cmd program expands `%` in its arguments once
 * more itself; nothing in the caller can prevent that.)
 */
export function quoteForCmd(arg: string): string {
  return quoteWin32(arg, true).replace(CMD_META, '^$&');
}

function defaultSyntax(): CommandLineSyntax {
  // `process` exists under Node; the check keeps this file importable from a browser bundle.
  return typeof process !== 'undefined' && process.platform === 'win32' ? 'win32' : 'posix';
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Collects words; `inWord` distinguishes an empty quoted word ('') from no word at all. */
class Words {
  readonly argv: string[] = [];
  readonly features: string[] = [];
  private current = '';
  private inWord = false;

  add(text: string): void {
    this.current += text;
    this.inWord = true;
  }

  /** Marks a word as started even when its content is empty (`""`). */
  touch(): void {
    this.inWord = true;
  }

  get started(): boolean {
    return this.inWord;
  }

  /** The current word's text so far. */
  get text(): string {
    return this.current;
  }

  end(): void {
    if (this.inWord) this.argv.push(this.current);
    this.current = '';
    this.inWord = false;
  }

  feature(f: string): void {
    if (!this.features.includes(f)) this.features.push(f);
  }
}

function scanPosix(line: string): { argv: string[]; features: string[] } {
  const w = new Words();
  let i = 0;
  // Only a word's start can hold a `NAME=value` assignment or a `~` to expand.
  let wordHasOnlyLiterals = true;
  while (i < line.length) {
    const c = line[i]!;
    if (isSpace(c)) {
      w.end();
      wordHasOnlyLiterals = true;
      i++;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= line.length) throw new CommandLineError('the line ends with an escape (\\)', i);
      const next = line[i + 1]!;
      if (next === '\n') {
        // Line continuation: both characters disappear.
        i += 2;
        continue;
      }
      w.add(next);
      wordHasOnlyLiterals = false;
      i += 2;
      continue;
    }
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new CommandLineError('unterminated single quote', i);
      w.add(line.slice(i + 1, close));
      w.touch();
      wordHasOnlyLiterals = false;
      i = close + 1;
      continue;
    }
    if (c === '"') {
      const start = i;
      i++;
      w.touch();
      let closed = false;
      while (i < line.length) {
        const d = line[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) {
          if (line[i + 1] !== '\n') w.add(line[i + 1]!);
          i += 2;
          continue;
        }
        // Expansions still happen inside double quotes.
        if (d === '$' && isExpansionStart(line, i)) w.feature('$');
        if (d === '`') w.feature('`');
        w.add(d);
        i++;
      }
      if (!closed) throw new CommandLineError('unterminated double quote', start);
      wordHasOnlyLiterals = false;
      continue;
    }
    // `2>` redirects only at a word's start: in `x2>b` the 2 belongs to the word `x2`.
    const op = OPERATORS.find((o) => line.startsWith(o, i) && !(o === '2>' && w.started));
    if (op) {
      w.end();
      w.feature(op === '2>' || op === '&>' ? '>' : op === '|&' ? '|' : op);
      wordHasOnlyLiterals = true;
      i += op.length;
      continue;
    }
    if (c === '$' && isExpansionStart(line, i)) w.feature('$');
    else if (c === '`') w.feature('`');
    else if ((c === '*' || c === '?' || c === '[') && !(c === '[' && !line.includes(']', i))) w.feature('glob');
    else if (c === '{' && /^\{[^{}\s]*,[^{}\s]*\}/.test(line.slice(i))) w.feature('{a,b}');
    else if (c === '~' && !w.started && (i + 1 >= line.length || line[i + 1] === '/' || isSpace(line[i + 1]!))) w.feature('~');
    else if (c === '=' && wordHasOnlyLiterals && w.argv.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(w.text)) w.feature('NAME=value');
    else if (c === '#' && !w.started) {
      // A comment: the rest of the line is not part of the command.
      break;
    }
    w.add(c);
    i++;
  }
  w.end();
  return { argv: w.argv, features: w.features };
}

function isExpansionStart(line: string, i: number): boolean {
  const next = line[i + 1];
  return next !== undefined && /[A-Za-z0-9_{(?#@*!$-]/.test(next);
}

function scanWin32(line: string): { argv: string[]; features: string[] } {
  const w = new Words();
  let i = 0;
  let quoted = false;
  let quoteStart = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\') {
      let n = 0;
      while (line[i + n] === '\\') n++;
      if (line[i + n] === '"') {
        w.add('\\'.repeat(Math.floor(n / 2)));
        if (n % 2 === 1) {
          w.add('"');
          i += n + 1;
        } else {
          i += n;
        }
      } else {
        w.add('\\'.repeat(n));
        i += n;
      }
      continue;
    }
    if (c === '"') {
      if (quoted && line[i + 1] === '"') {
        // `""` inside quotes is a literal quote (MSVC 2008+ rule).
        w.add('"');
        i += 2;
        continue;
      }
      quoted = !quoted;
      if (quoted) quoteStart = i;
      w.touch();
      i++;
      continue;
    }
    if (!quoted && isSpace(c)) {
      w.end();
      i++;
      continue;
    }
    if (!quoted) {
      const op = ['&&', '||', '>>', '2>', '|', '&', '<', '>'].find((o) => line.startsWith(o, i));
      if (op) {
        w.end();
        w.feature(op === '2>' ? '>' : op);
        i += op.length;
        continue;
      }
      if (c === '%' && /^%[A-Za-z_][A-Za-z0-9_]*%/.test(line.slice(i))) w.feature('%VAR%');
      if (c === '^') w.feature('^');
    }
    w.add(c);
    i++;
  }
  if (quoted) throw new CommandLineError('unterminated double quote', quoteStart);
  w.end();
  return { argv: w.argv, features: w.features };
}

function quotePosix(a: string): string {
  if (a === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a)) return a;
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/**
 * C-runtime quoting. Words with cmd.exe operators or `%` are quoted too, so a line built from them
 * splits back without reading as one that needs a shell (see {@link scanWin32}).
 */
function quoteWin32(a: string, always = false): string {
  if (a === '') return '""';
  if (!always && !/[\s"&|<>^%()!]/.test(a)) return a;
  let out = '"';
  let backslashes = 0;
  for (const c of a) {
    if (c === '\\') {
      backslashes++;
      continue;
    }
    if (c === '"') {
      out += '\\'.repeat(backslashes * 2 + 1) + '"';
    } else {
      out += '\\'.repeat(backslashes) + c;
    }
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

/**
 * A POSIX sh script that execs `argv` byte for byte. Node decodes its own arguments as UTF-8
 * (an invalid byte becomes U+FFFD) and encodes a child's arguments as UTF-8, so a JavaScript
 * string cannot carry the byte 0xFF to a child; sh's printf can, from octal escapes. The script
 * `exec`s, so the command keeps the process id (and group) Joules spawned. Run it as
 * `sh -c <script>`.
 */
export function execBytesScript(argv: readonly Uint8Array[]): string {
  const parts = ['set --'];
  for (const arg of argv) {
    let octal = '';
    for (const b of arg) octal += `\\${b.toString(8).padStart(3, '0')}`;
    // $(...) drops trailing newlines: a sentinel after the bytes keeps them.
    parts.push(`a=$(printf '${octal}_'); set -- "$@" "\${a%_}"`);
  }
  parts.push('exec "$@"');
  return parts.join('\n');
}
