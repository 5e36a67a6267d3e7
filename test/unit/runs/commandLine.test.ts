import * as assert from 'node:assert/strict';
import { CommandLineError, commandWithArgs, joinCommandLine, needsShell, parseCommandLine, quoteForCmd, splitCommandLine } from '../../../src/core/runs/commandLine';

describe('command line splitting (POSIX quoting)', () => {
  const split = (line: string): string[] => splitCommandLine(line, 'posix');

  it('splits on runs of whitespace and ignores leading/trailing blanks', () => {
    assert.deepEqual(split('  python3   train.py\t--epochs 3 \n'), ['python3', 'train.py', '--epochs', '3']);
    assert.deepEqual(split(''), []);
    assert.deepEqual(split('   '), []);
  });

  it('keeps single-quoted text literally, including backslashes and $', () => {
    assert.deepEqual(split(`python3 -c 'print("a b")' '$HOME\\n'`), ['python3', '-c', 'print("a b")', '$HOME\\n']);
  });

  it('handles double quotes with the four escapes POSIX allows', () => {
    assert.deepEqual(split('echo "a \\"b\\" c\\\\d \\q"'), ['echo', 'a "b" c\\d \\q']);
  });

  it('joins adjacent quoted and bare parts into one word', () => {
    assert.deepEqual(split(`--name="my run"'s' x`), ['--name=my runs', 'x']);
  });

  it('keeps empty quoted words', () => {
    assert.deepEqual(split(`prog '' "" x`), ['prog', '', '', 'x']);
  });

  it('escapes with a backslash outside quotes; backslash-newline continues the line', () => {
    assert.deepEqual(split('python3 my\\ file.py a\\\nb'), ['python3', 'my file.py', 'ab']);
  });

  it('reports an unterminated quote with its offset', () => {
    assert.throws(() => split(`python3 'oops`), (e: unknown) => e instanceof CommandLineError && e.offset === 8);
    assert.throws(() => split('python3 "oops'), CommandLineError);
    assert.throws(() => split('python3 x\\'), CommandLineError);
  });

  it('paths with spaces survive a join/split round trip', () => {
    const argv = ['/opt/my env/bin/python', 'train it.py', "it's", '', '$x', 'a"b', 'plain-arg=1'];
    assert.deepEqual(split(joinCommandLine(argv, 'posix')), argv);
    assert.equal(joinCommandLine(['python3', 'train.py', '--lr=0.1'], 'posix'), 'python3 train.py --lr=0.1');
  });
});

describe('shell detection', () => {
  const features = (line: string): string[] => parseCommandLine(line, 'posix').shellFeatures;

  it('a plain command needs no shell', () => {
    assert.equal(needsShell('python3 train.py --epochs 3 --lr=0.1 --out runs/a', 'posix'), false);
    assert.equal(needsShell(`python3 -c "print('a | b > c && d')"`, 'posix'), false);
    assert.equal(needsShell(`echo 'a|b' "x>y" a\\|b`, 'posix'), false);
  });

  it('finds pipes, lists and redirections outside quotes', () => {
    assert.deepEqual(features('python3 a.py | tee log'), ['|']);
    assert.deepEqual(features('make && python3 a.py'), ['&&']);
    assert.deepEqual(features('python3 a.py > out.txt 2>&1'), ['>', '&']);
    assert.deepEqual(features('python3 a.py 2>err.log'), ['>']);
    assert.deepEqual(features('a; b'), [';']);
    assert.deepEqual(features('(cd x && y)'), ['(', '&&', ')']);
    assert.deepEqual(features('sleep 10 &'), ['&']);
    assert.deepEqual(features('python3 < in.txt'), ['<']);
  });

  it('a 2 inside a word is not a redirection of stderr', () => {
    const p = parseCommandLine('python3 x2>out', 'posix');
    assert.deepEqual(p.argv, ['python3', 'x2', 'out']);
    assert.deepEqual(p.shellFeatures, ['>']);
  });

  it('finds expansions, globs, assignments and home directories', () => {
    assert.deepEqual(features('python3 $SCRIPT'), ['$']);
    assert.deepEqual(features('python3 "${SCRIPT}"'), ['$']);
    assert.deepEqual(features('python3 `which x`'), ['`']);
    assert.deepEqual(features('python3 data/*.csv'), ['glob']);
    assert.deepEqual(features('CUDA_VISIBLE_DEVICES=1 python3 a.py'), ['NAME=value']);
    assert.deepEqual(features('python3 ~/a.py'), ['~']);
    assert.deepEqual(features('cp x.{py,bak}'), ['{a,b}']);
    // A lone $ or a price is literal to the shell too.
    assert.deepEqual(features('echo 5$ costs'), []);
  });

  it('an unbalanced quote is left to the shell', () => {
    assert.equal(needsShell('echo "oops', 'posix'), true);
  });
});

describe('command line splitting (Windows rules)', () => {
  const split = (line: string): string[] => splitCommandLine(line, 'win32');

  it('keeps backslashes in paths', () => {
    assert.deepEqual(split('C:\\Python312\\python.exe C:\\work\\train.py'), ['C:\\Python312\\python.exe', 'C:\\work\\train.py']);
  });

  it('applies the 2n / 2n+1 backslash rules before a quote', () => {
    assert.deepEqual(split('a\\\\\\"b "c d" e\\\\"f g"'), ['a\\"b', 'c d', 'e\\f g']);
  });

  it('round-trips arguments with spaces, quotes and trailing backslashes', () => {
    const argv = ['C:\\Program Files\\Python\\python.exe', 'say "hi"', 'dir\\', ''];
    assert.deepEqual(split(joinCommandLine(argv, 'win32')), argv);
  });

  it('detects cmd operators and variables outside quotes', () => {
    assert.deepEqual(parseCommandLine('python a.py | more', 'win32').shellFeatures, ['|']);
    assert.deepEqual(parseCommandLine('python %SCRIPT%', 'win32').shellFeatures, ['%VAR%']);
    assert.deepEqual(parseCommandLine('python "a | b"', 'win32').shellFeatures, []);
  });
});

/**
 * What cmd.exe does to `cmd /d /s /c "<line>"` before starting the program, in the order it does
 * it: %VAR% expansion (a name that is not defined stays as written), then `^` escapes, quoted
 * regions and the operators & | < > outside them. Returns the line the program receives, or the
 * operators it would act on instead.
 */
function throughCmd(line: string, env: Record<string, string>): { line: string; operators: string[] } {
  const expanded = line.replace(/%([^%]+)%/g, (m, name: string) => env[name.toUpperCase()] ?? m);
  let out = '';
  let quoted = false;
  const operators: string[] = [];
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i]!;
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '^') {
      out += expanded[++i] ?? '';
      continue;
    } else if (!quoted && '&|<>'.includes(c)) operators.push(c);
    out += c;
  }
  return { line: out, operators };
}

describe('task arguments on Windows (cmd.exe quoting)', () => {
  const env = { PATH: 'C:\\Windows', HOME: 'C:\\Users\\me', X: 'expanded' };
  const nasty = ['a&b', 'x|y', 'in<out>', '%PATH%', '%X%%X%', '100%', 'a\\"&calc', 'say "hi"', 'a"b', '^caret', '(paren)', '!X!', 'dir\\', '', 'C:\\Program Files\\a.py'];

  it('the simulator catches what the plain C-runtime quoting lets through (so the test below can fail)', () => {
    // Lines as the C-runtime quoting alone writes them (what tasks sent to cmd.exe before).
    assert.deepEqual(throughCmd('python a&b', env).operators, ['&']);
    assert.deepEqual(splitCommandLine(throughCmd('python "%X%"', env).line, 'win32'), ['python', 'expanded']);
    assert.deepEqual(throughCmd('python "a\\\\\\"&calc"', env).operators, ['&']);
  });

  it('through cmd.exe every argument arrives unchanged: no operator runs, no variable expands', () => {
    const line = commandWithArgs('python', nasty, true, 'win32');
    const seen = throughCmd(line, env);
    assert.deepEqual(seen.operators, [], line);
    assert.deepEqual(splitCommandLine(seen.line, 'win32'), ['python', ...nasty], line);
  });

  it('each argument alone survives cmd.exe', () => {
    for (const a of nasty) {
      const seen = throughCmd(`prog ${quoteForCmd(a)}`, env);
      assert.deepEqual(seen.operators, [], a);
      assert.deepEqual(splitCommandLine(seen.line, 'win32'), ['prog', a], a);
    }
  });

  it('without a shell, & | and %VAR% in arguments are quoted so the line needs no shell and splits back exactly', () => {
    const line = commandWithArgs('python', nasty, false, 'win32');
    const parsed = parseCommandLine(line, 'win32');
    assert.equal(parsed.needsShell, false, `${line}: ${parsed.shellFeatures.join(' ')}`);
    assert.deepEqual(parsed.argv, ['python', ...nasty]);
  });

  it('POSIX: arguments are quoted so the line splits back exactly and needs no shell', () => {
    const argv = ['a&b', '$HOME', "it's", '*', ''];
    const line = commandWithArgs('python3', argv, false, 'posix');
    assert.equal(needsShell(line, 'posix'), false, line);
    assert.deepEqual(splitCommandLine(line, 'posix'), ['python3', ...argv]);
  });
});
