import * as vscode from 'vscode';
import type { StoredRun } from '../core/runs/store';
import type { RunStatus } from '../core/runs/types';
import { formatDuration, formatJoules, formatWatts } from '../core/units/format';
import type { RunManager } from './runManager';
import { shortTime } from './runText';

/** A run in the Runs view. */
export class RunItem extends vscode.TreeItem {
  constructor(readonly run: StoredRun) {
    super(run.name, vscode.TreeItemCollapsibleState.None);
    this.id = run.id;
    this.description = runDescription(run);
    this.tooltip = runTooltip(run);
    this.iconPath = statusIcon(run.status);
    // `joulesRun.running` gets Stop, the others Re-run/Delete (package.json menus match on it).
    this.contextValue = `joulesRun.${run.status}${run.replay ? '.replay' : ''}`;
    this.command = { command: 'joules.runs.open', title: 'Open Run', arguments: [this] };
    this.accessibilityInformation = { label: `${run.name}, ${run.status}, ${this.description}` };
  }
}

/** `Nov 26, 11:38 · 1:02 · 38.1 kJ` */
export function runDescription(run: StoredRun): string {
  const parts = [shortTime(run.startedAt)];
  if (run.status !== 'running') parts.push(formatDuration(run.durationS), formatJoules(run.energyJ));
  else parts.push('running');
  return parts.join(' · ');
}

function runTooltip(run: StoredRun): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${escape(run.name)}**${run.replay ? ' (replay)' : ''}  \n`);
  md.appendMarkdown(`${statusLabel(run.status)}${run.exitCode !== null ? `, exit ${run.exitCode}` : ''}  \n`);
  md.appendMarkdown(`Started ${escape(new Date(run.startedAt).toLocaleString())}  \n`);
  if (run.status !== 'running') {
    md.appendMarkdown(`${formatDuration(run.durationS)} · ${formatJoules(run.energyJ)} · ${formatWatts(run.avgPowerW)} avg · ${formatWatts(run.peakPowerW)} peak  \n`);
  }
  md.appendMarkdown('\n');
  md.appendCodeblock(run.command.join(' '), 'shell');
  return md;
}

function escape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

function statusLabel(status: RunStatus): string {
  switch (status) {
    case 'running':
      return 'Running';
    case 'succeeded':
      return 'Succeeded';
    case 'failed':
      return 'Failed';
    case 'stopped':
      return 'Stopped';
    case 'interrupted':
      return 'Interrupted (the editor closed before the run ended)';
  }
}

export function statusIcon(status: RunStatus): vscode.ThemeIcon {
  switch (status) {
    case 'running':
      return new vscode.ThemeIcon('sync~spin');
    case 'succeeded':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'stopped':
      return new vscode.ThemeIcon('debug-stop', new vscode.ThemeColor('testing.iconSkipped'));
    case 'interrupted':
      return new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  }
}

/** The Runs view (`joules.runs`): the stored history, newest first. */
export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<RunItem | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly runs: RunManager) {
    this.subscription = runs.onDidChangeHistory(() => this.refresh());
  }

  refresh(): void {
    this.changeEmitter.fire(undefined);
  }

  getTreeItem(element: RunItem): RunItem {
    return element;
  }

  async getChildren(element?: RunItem): Promise<RunItem[]> {
    if (element) return [];
    const runs = await this.runs.list();
    return runs.map((r) => new RunItem(r));
  }

  dispose(): void {
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }
}
