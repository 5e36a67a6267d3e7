import * as assert from 'node:assert/strict';
import { commandLineLaunch, launchFromArgument, launchFromHistory, LaunchError, launchName, parseStoredLaunch, pythonLaunch, taskLaunch } from '../../../src/vscode/launch';

describe('launch requests', () => {
  it('a Python file runs with the interpreter, without a shell, named after the script', () => {
    const r = pythonLaunch('/venv/bin/python', '/w/train it.py', ['--epochs', '3'], '/w', 'user');
    assert.equal(r.kind, 'process');
    assert.deepEqual(r.kind === 'process' && r.spec, { command: '/venv/bin/python', args: ['/w/train it.py', '--epochs', '3'], cwd: '/w', scriptPath: '/w/train it.py', name: 'train it.py' });
    assert.equal(r.label, 'train it.py --epochs 3');
    assert.equal(launchName(r), 'train it.py');
  });

  it('a typed command line is split into argv; shell operators send it to the shell', () => {
    const plain = commandLineLaunch(`python3 "my script.py" --lr 0.1`, '/w', false, 'user');
    assert.deepEqual(plain.kind === 'process' && [plain.spec.command, plain.spec.args, plain.spec.shell, plain.spec.scriptPath], ['python3', ['my script.py', '--lr', '0.1'], undefined, '/w/my script.py']);
    const piped = commandLineLaunch('python3 train.py | tee log.txt', '/w', false, 'user');
    assert.deepEqual(piped.kind === 'process' && [piped.spec.command, piped.spec.args, piped.spec.shell], ['python3 train.py | tee log.txt', [], true]);
    const forced = commandLineLaunch('python3 train.py', '/w', true, 'user');
    assert.equal(forced.kind === 'process' && forced.spec.shell, true);
    assert.equal(launchName(piped), 'train.py', 'named after the script it runs');
  });

  it('rejects an empty or unsplittable line with a clear message', () => {
    assert.throws(() => commandLineLaunch('   ', '/w', false, 'user'), LaunchError);
    assert.throws(() => commandLineLaunch(`python3 'oops`, '/w', false, 'user'), /unterminated single quote \(at character 9\)/);
  });

  it('a joules task is workspace-defined; script or command, relative to its folder', () => {
    const t = taskLaunch({ type: 'joules', script: 'train.py', args: ['-v'], cwd: 'sub', name: 'nightly', env: { A: '1' } }, '/w', () => 'python3');
    assert.equal(t.origin, 'workspace');
    assert.deepEqual(t.kind === 'process' && t.spec, { command: 'python3', args: ['/w/sub/train.py', '-v'], cwd: '/w/sub', scriptPath: '/w/sub/train.py', name: 'nightly', env: { A: '1' } });
    const c = taskLaunch({ type: 'joules', command: 'python3 hello.py', args: ['a b'] }, '/w', () => 'unused');
    assert.deepEqual(c.kind === 'process' && [c.spec.command, c.spec.args], ['python3', ['hello.py', 'a b']]);
    assert.throws(() => taskLaunch({ type: 'joules' }, '/w', () => 'python3'), /needs "script"/);
    assert.throws(() => taskLaunch({ type: 'joules', script: 'a.py', command: 'b' }, '/w', () => 'python3'), /not both/);
  });

  it('a command argument (other extensions, tests) is a user launch; junk is ignored', () => {
    const r = launchFromArgument({ command: 'python3', args: ['a.py', 1, 'b'], cwd: '/x' }, '/w');
    assert.deepEqual(r?.kind === 'process' && [r.origin, r.spec.args, r.spec.cwd], ['user', ['a.py', 'b'], '/x']);
    assert.equal(launchFromArgument(undefined, '/w'), undefined);
    assert.equal(launchFromArgument({ args: [] }, '/w'), undefined);
    const line = launchFromArgument({ command: 'echo hi > out.txt' }, '/w');
    assert.equal(line?.kind === 'process' && line.spec.shell, true);
  });

  it('a stored launch is read back only when well-formed', () => {
    const r = pythonLaunch('python3', '/w/a.py', [], '/w', 'workspace');
    assert.deepEqual(parseStoredLaunch(JSON.parse(JSON.stringify(r))), r);
    assert.equal(parseStoredLaunch({ kind: 'process', origin: 'root', label: 'x', spec: { command: 'a', args: [], cwd: '/' } }), undefined);
    assert.equal(parseStoredLaunch({ kind: 'process', origin: 'user', label: 'x', spec: { command: 'a', args: [1], cwd: '/' } }), undefined);
    assert.deepEqual(parseStoredLaunch({ kind: 'replay', tracePath: '/t.jsonl', speed: 2, origin: 'user', label: 'demo' }), { kind: 'replay', tracePath: '/t.jsonl', speed: 2, origin: 'user', label: 'demo' });
  });

  it('a run from the history re-runs its recorded argv; a lone shell line goes through the shell', () => {
    const argv = launchFromHistory(['python3', 'a.py', '--x'], '/w', 'a.py');
    assert.deepEqual(argv.kind === 'process' && [argv.spec.command, argv.spec.args, argv.spec.shell], ['python3', ['a.py', '--x'], undefined]);
    const shell = launchFromHistory(['python3 a.py | tee x'], '/w', 'a.py');
    assert.equal(shell.kind === 'process' && shell.spec.shell, true);
    const exe = launchFromHistory(['/opt/my tools/run'], '/w', 'run');
    assert.deepEqual(exe.kind === 'process' && [exe.spec.command, exe.spec.args], ['/opt/my tools/run', []]);
  });
});
