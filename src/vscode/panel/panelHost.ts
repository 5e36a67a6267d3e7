/**
 * The energy panel in VS Code: creates and reveals the WebviewPanel, serves the bundled page under
 * a strict CSP, and connects it to the run manager through `PanelDataSource`. The protocol logic
 * lives in PanelSession (tested without VS Code); this file only adapts it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { FindingView, RunSummaryView } from '../../core/protocol/panel';
import { panelHtml } from './panelHtml';
import { PanelSession } from './panelSession';
import type { LiveBatch, PanelLog, PanelRunSource } from './panelSession';

/** What the extension provides to the panel (wired to the run manager and the run store). */
export interface PanelDataSource extends PanelRunSource {
  /** Batches of the live run, a few per second. */
  onSamples(cb: (e: LiveBatch) => void): vscode.Disposable;
  onRunEnded(cb: (summary: RunSummaryView) => void): vscode.Disposable;
  /** Findings of a run as the analysis produces them (replaces the previous set). */
  onFindings?(cb: (runId: string, findings: FindingView[]) => void): vscode.Disposable;
}

export class PanelHost implements vscode.Disposable {
  static readonly viewType = 'joules.panel';
  private panel: vscode.WebviewPanel | undefined;
  private panelDisposables: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly session: PanelSession;

  constructor(private readonly extensionUri: vscode.Uri, source: PanelDataSource, log: PanelLog) {
    this.session = new PanelSession(source, log);
    this.disposables.push(
      source.onSamples((e) => this.session.samples(e)),
      source.onRunEnded((summary) => this.session.runEnded(summary)),
    );
    if (source.onFindings) this.disposables.push(source.onFindings((runId, f) => this.session.findings(runId, f)));
  }

  /** The runs the panel shows (opened or compared); empty while it follows the live run. */
  get selection(): readonly string[] {
    return this.session.selection;
  }

  /** What the session posted and dropped (for the integration tests and the log). */
  get counters(): Readonly<PanelSession['counters']> {
    return this.session.counters;
  }

  /** Opens the panel, or brings it to the front. */
  show(column: vscode.ViewColumn = vscode.ViewColumn.Beside): void {
    if (this.panel) {
      this.panel.reveal(column);
      return;
    }
    const roots = [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(this.extensionUri, 'media')];
    const panel = vscode.window.createWebviewPanel(PanelHost.viewType, 'Joules: Energy', column, {
      enableScripts: true,
      // Off: a hidden panel costs nothing and is rebuilt from `init` when shown again.
      retainContextWhenHidden: false,
      localResourceRoots: roots,
    });
    this.panel = panel;
    this.session.attach({ get visible() { return panel.visible; }, post: (m) => panel.webview.postMessage(m) });
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.session.receive(raw)),
      panel.onDidChangeViewState((e) => this.session.visibilityChanged(e.webviewPanel.visible)),
      panel.onDidDispose(() => this.disposePanel()),
    ];
    panel.webview.html = this.html(panel.webview);
  }

  /** Opens the panel on the live run (whatever it showed before). */
  async showLive(): Promise<void> {
    const existed = !!this.panel;
    this.show();
    // A new panel asks for its state itself (`ready`); an existing one is told to go back to live.
    if (existed) await this.session.showLive();
  }

  /** Opens one past run in the panel. */
  async showRun(runId: string): Promise<void> {
    this.show();
    await this.session.showRun(runId);
  }

  async compare(runIds: string[]): Promise<void> {
    this.show();
    await this.session.compare(runIds);
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposePanel();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private html(webview: vscode.Webview): string {
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    return panelHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'panel.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'panel.css')).toString(),
    });
  }

  private disposePanel(): void {
    this.session.detach();
    this.panel = undefined;
    for (const d of this.panelDisposables.splice(0)) d.dispose();
  }
}
