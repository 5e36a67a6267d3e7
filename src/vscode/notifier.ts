import * as vscode from 'vscode';

export type NoticeLevel = 'info' | 'warning' | 'error';

/** A message shown to the user, as kept for the log and the integration tests. */
export interface Notice {
  level: NoticeLevel;
  message: string;
  actions: string[];
}

const KEPT_NOTICES = 50;

/**
 * Every notification and log line of the extension goes through here: one "Joules" log channel,
 * and the last notices kept in memory because VS Code's API cannot read notifications back.
 */
export class Notifier implements vscode.Disposable {
  private channel: vscode.LogOutputChannel | undefined;
  readonly notices: Notice[] = [];

  /** The "Joules" output channel, created on first use (nothing to log means nothing to create). */
  get log(): vscode.LogOutputChannel {
    this.channel ??= vscode.window.createOutputChannel('Joules', { log: true });
    return this.channel;
  }

  info<T extends string>(message: string, ...actions: T[]): Thenable<T | undefined> {
    this.keep('info', message, actions);
    this.log.info(message);
    return vscode.window.showInformationMessage(message, ...actions);
  }

  warn<T extends string>(message: string, ...actions: T[]): Thenable<T | undefined> {
    this.keep('warning', message, actions);
    this.log.warn(message);
    return vscode.window.showWarningMessage(message, ...actions);
  }

  error<T extends string>(message: string, ...actions: T[]): Thenable<T | undefined> {
    this.keep('error', message, actions);
    this.log.error(message);
    return vscode.window.showErrorMessage(message, ...actions);
  }

  /** Shows an error from a failed operation; the stack goes to the log only. */
  failure(context: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof Error && e.stack) this.log.error(e.stack);
    void this.error(`Joules: ${context}: ${message}`);
  }

  dispose(): void {
    this.channel?.dispose();
  }

  private keep(level: NoticeLevel, message: string, actions: string[]): void {
    this.notices.push({ level, message, actions });
    if (this.notices.length > KEPT_NOTICES) this.notices.shift();
  }
}
