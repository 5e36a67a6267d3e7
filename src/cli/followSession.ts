import type { RunSession } from '../core/runs/runSession';
import type { Parsed } from './args';
import { LiveMeter } from './liveMeter';
import type { Io } from './stdio';
import type { RunStoreWarnings } from './storeAccess';
import { formatSummary, toJson } from './summary';

/**
 * Shared by `joules run` and `joules demo`: passes the command's output through, draws the live
 * meter, turns Ctrl-C and hangups into a stop, and prints the summary when the run ends.
 */
export async function followSession(session: RunSession, flags: Parsed['flags'], io: Io, warnings: RunStoreWarnings): Promise<number> {
  const json = flags.json === true;
  const meter = !json && !flags.quiet && io.stderr.isTTY === true ? new LiveMeter(session, io.stderr) : undefined;
  // The command's bytes pass through untouched. With --json, stdout carries only the summary, so
  // the command's stdout is moved to stderr. A reader slower than the command pauses the command's
  // pipe (it then blocks in write()) instead of Joules buffering the difference.
  session.onOutputBytes((chunk, stream, resume) => {
    const out = stream === 'stdout' && !json ? io.stdout : io.stderr;
    meter?.clear();
    const ok = out.write(chunk);
    meter?.draw();
    if (ok) return true;
    out.onceDrain(resume);
    return false;
  });
  // `| head -1` or a closed terminal: the measurement is worth more than the rest of the output,
  // so the run goes on (its output still reaches the record's output.log) and the summary is
  // written wherever it still can be.
  io.stdout.onFail((reason) => {
    io.stderr.write(`joules: stdout closed (${reason}); the run goes on, its output is kept in the run record only\n`);
  });
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    meter?.clear();
    const why = signal === 'SIGHUP' ? 'the terminal closed' : signal === 'SIGTERM' ? 'SIGTERM' : undefined;
    io.stderr.write(
      interrupts === 1 ? `\njoules: stopping the run${why ? ` (${why})` : ''} (Ctrl-C again to kill it)\n` : '\njoules: killing the run\n',
    );
    void session.stop({ force: interrupts > 1 });
  };
  // Closing the terminal (SIGHUP) stops the run as Ctrl-C does: the command runs in its own
  // process group, so the terminal's hangup would otherwise leave it running unparented.
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  // Last resort: if the CLI itself dies mid-run, the command must not live on without a monitor.
  let ended = false;
  const onExit = (): void => {
    if (!ended && session.pid && process.platform !== 'win32') {
      try {
        process.kill(-session.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', onExit);
  meter?.start();
  const summary = warnings.annotate(await session.done);
  ended = true;
  meter?.stop();
  for (const sig of signals) process.off(sig, onSignal);
  process.off('exit', onExit);
  if (json) io.stdout.write(JSON.stringify(toJson(summary)) + '\n');
  else io.stderr.write(formatSummary(summary));
  warnings.finish();
  return summary.exitCode ?? 1;
}
