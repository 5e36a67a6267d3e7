import * as vscode from 'vscode';
import type { RunSession } from '../core/runs/runSession';
import type { RunSummary } from '../core/runs/types';
import { terminalSummary } from './runText';

/** Transcript kept for the test API and the summary (the store keeps the full output). */
const MAX_TRANSCRIPT_CHARS = 1_000_000;
const CTRL_C = '\x03';

/** Hooks the terminal calls; the run manager supplies them. */
export interface RunTerminalHooks {
  /** Ctrl-C typed, or the terminal closed while the run lives. `force`: a second Ctrl-C. */
  stop(force: boolean): void;
  /** Called when the terminal opens, for a task: start the run and attach it. */
  onOpen?(terminal: RunTerminal): void;
}

/**
 * The run's terminal: a Pseudoterminal fed by the run's stdout/stderr (colours pass through as
 * written), with Ctrl-C stopping the whole process tree. Typed lines go to the run's stdin
 * (the terminal does the echo and line editing a TTY would do).
 *
 * A run started from a command has its terminal open at once; a task's terminal is opened by the
 * task system, which calls `open` and only then starts the run (hooks.onOpen).
 */
export class RunTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private opened = false;
  private pending: string[] = [];
  private session: RunSession | undefined;
  private ended = false;
  private closed = false;
  private line = '';
  private interrupts = 0;
  private transcriptText = '';

  constructor(
    private readonly hooks: RunTerminalHooks,
    /** Close the terminal when the run ends (task terminals: the task system shows the exit). */
    private readonly closeOnEnd: boolean,
  ) {}

  /** Everything written to the terminal so far (capped). */
  get transcript(): string {
    return this.transcriptText;
  }

  get hasEnded(): boolean {
    return this.ended;
  }

  open(): void {
    this.opened = true;
    for (const text of this.pending.splice(0)) this.writeEmitter.fire(text);
    this.hooks.onOpen?.(this);
  }

  /** Follow a run: its output, then its summary line. */
  attach(session: RunSession): void {
    this.session = session;
    session.onOutput((text) => this.write(toTerminalNewlines(text)));
  }

  /** The run ended: print the outcome; task terminals close with the run's exit code. */
  finish(summary: RunSummary): void {
    this.ended = true;
    this.write(terminalSummary(summary));
    if (this.closeOnEnd) this.close(summary.exitCode ?? 1);
    else this.write('\x1b[2mPress any key to close this terminal.\x1b[0m\r\n');
  }

  /** The run could not start: say why and end (exit code 1 for a task). */
  fail(message: string): void {
    this.ended = true;
    this.write(`\x1b[1;31mJoules: ${message}\x1b[0m\r\n`);
    if (this.closeOnEnd) this.close(1);
    else this.write('\x1b[2mPress any key to close this terminal.\x1b[0m\r\n');
  }

  /** Write text as is (already with \r\n). */
  write(text: string): void {
    if (this.transcriptText.length < MAX_TRANSCRIPT_CHARS) this.transcriptText += text;
    if (this.opened) this.writeEmitter.fire(text);
    else this.pending.push(text);
  }

  handleInput(data: string): void {
    if (this.ended) {
      // The run is over: any key closes, like a finished task's terminal.
      this.close();
      return;
    }
    for (const ch of data) {
      if (ch === CTRL_C) {
        this.interrupts++;
        this.write(this.interrupts === 1 ? '^C\r\n\x1b[33mJoules: stopping the run (Ctrl-C again to kill it)\x1b[0m\r\n' : '^C\r\n\x1b[31mJoules: killing the run\x1b[0m\r\n');
        this.line = '';
        this.hooks.stop(this.interrupts > 1);
      } else if (ch === '\r' || ch === '\n') {
        this.write('\r\n');
        this.session?.write(`${this.line}\n`);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line) {
          this.line = this.line.slice(0, -1);
          this.write('\b \b');
        }
      } else if (ch >= ' ') {
        this.line += ch;
        this.write(ch);
      }
    }
  }

  /** VS Code closed the terminal (the user killed it): the run goes with it. */
  close(exitCode?: number): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.ended) this.hooks.stop(false);
    this.closeEmitter.fire(exitCode);
  }

  dispose(): void {
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
  }
}

/** A terminal moves down on \n but returns to column 0 only on \r: lone \n become \r\n. */
export function toTerminalNewlines(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
