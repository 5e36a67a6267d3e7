/**
 * The GPU Processes view (`joules.gpuProcesses`): every process on every GPU, nvitop-like, from
 * the bundled CLI's `joules processes --json` (a child process: NVML stays off the extension host's
 * thread). Attach measures the process as the editor's run (RunSession.attach through the
 * RunManager: the status bar, the live panel, findings and history, as for a launched run); Detach
 * stops measuring and leaves the process running.
 */
import { execFile } from 'node:child_process';
import * as vscode from 'vscode';
import type { GpuProcessesListing, GpuProcessRow } from '../core/runs/attachTargets';
import type { GpuEnergySince } from './gpuProcessesModel';
import { FirstSeenCounters, gpuText, parseListing, processText } from './gpuProcessesModel';

/** While the view is visible it refreshes this often (each refresh opens NVML in a short child process). */
const REFRESH_MS = 5000;
/** A listing is a few lines per process. */
const MAX_LISTING_BYTES = 8 * 1024 * 1024;

type ListedGpu = GpuProcessesListing['gpus'][number];

class GpuItem extends vscode.TreeItem {
  constructor(readonly gpu: ListedGpu) {
    const t = gpuText(gpu);
    super(t.label, gpu.processes?.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    this.id = `gpu:${gpu.uuid}`;
    this.description = t.description;
    this.iconPath = new vscode.ThemeIcon('circuit-board');
    this.contextValue = 'joulesGpu';
  }
}

export class ProcessItem extends vscode.TreeItem {
  constructor(
    readonly row: GpuProcessRow,
    attached: boolean,
    since?: GpuEnergySince,
  ) {
    const t = processText(row, attached, since);
    super(t.label, vscode.TreeItemCollapsibleState.None);
    this.id = `proc:${row.gpu}:${row.pid}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.iconPath = new vscode.ThemeIcon(attached ? 'debug-alt' : 'terminal');
    // Attach or Detach in the item's menu (package.json matches on it); a container's process can
    // also attach its whole container.
    this.contextValue = attached ? 'joulesGpuProcess.attached' : row.container ? 'joulesGpuProcess.container' : 'joulesGpuProcess';
  }
}

/** GPUs, their processes, or one line saying why nothing could be listed. */
type Item = vscode.TreeItem;

/** What the view needs of the RunManager. */
export interface AttachRuns {
  /** Start measuring `pid` as the editor's run; rejects (with the reason shown) when it cannot. */
  attach(pid: number): Promise<void>;
  /** Start measuring every process of a container (its full id) as the editor's run. */
  attachContainer(id: string): Promise<void>;
  /** Stop the attached run (detach). */
  detach(): Promise<void>;
  /** The pid of the attached run being measured, if any. */
  attachedPid(): number | undefined;
  /** A run started or ended. */
  onDidChange(cb: () => void): vscode.Disposable;
}

export class GpuProcessesProvider implements vscode.TreeDataProvider<Item>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<Item | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private listing: GpuProcessesListing | undefined;
  private listedAtMs = 0;
  private readonly firstSeen = new FirstSeenCounters();
  private error: string | undefined;
  private loading: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Whether Joules is measuring `pid` as an attached run. */
  isAttached(pid: number): boolean {
    return this.runs.attachedPid() === pid;
  }

  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly cliPath: string,
    private readonly runs: AttachRuns,
  ) {
    // An attached run that ends (detached, or the process exited) changes the items' state.
    this.subscriptions.push(runs.onDidChange(() => this.changeEmitter.fire(undefined)));
  }

  /** Refresh while `visible` (the view's visibility), every REFRESH_MS. */
  setVisible(visible: boolean): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!visible) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  /** List the processes again (one listing at a time). */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
      this.changeEmitter.fire(undefined);
    });
    return this.loading;
  }

  private load(): Promise<void> {
    return new Promise((resolve) => {
      // The extension host's binary runs the CLI as plain Node (Electron's switch; ignored by Node).
      execFile(process.execPath, [this.cliPath, 'processes', '--json'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, maxBuffer: MAX_LISTING_BYTES, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) {
          this.listing = undefined;
          this.error = (String(stderr).split('\n').find((l) => l.trim()) ?? err.message).replace(/^joules: /, '');
        } else {
          try {
            this.listing = parseListing(String(stdout));
            this.listedAtMs = Date.now();
            this.firstSeen.update(this.listing, this.listedAtMs);
            this.error = undefined;
          } catch (e) {
            this.listing = undefined;
            this.error = (e as Error).message;
          }
        }
        resolve();
      });
    });
  }

  getTreeItem(element: Item): vscode.TreeItem {
    return element;
  }

  async getChildren(element?: Item): Promise<vscode.TreeItem[]> {
    if (element instanceof GpuItem) {
      const listing = this.listing;
      return (element.gpu.processes ?? []).map((p) => new ProcessItem(p, this.isAttached(p.pid), listing ? this.firstSeen.since(listing, p, this.listedAtMs) : undefined));
    }
    if (element) return [];
    if (!this.listing && !this.error) await this.refresh();
    if (this.error) {
      const item = new vscode.TreeItem(this.error);
      item.iconPath = new vscode.ThemeIcon('warning');
      return [item];
    }
    return (this.listing?.gpus ?? []).map((g) => new GpuItem(g));
  }

  /** Measure the process as the editor's run, from now on (one run at a time, as for launches). */
  async attach(item: ProcessItem | undefined): Promise<void> {
    if (!item) return;
    await this.runs.attach(item.row.pid);
    this.changeEmitter.fire(undefined);
  }

  /** Measure all of the item's container (by cgroup, `docker exec` processes included) as the editor's run. */
  async attachContainer(item: ProcessItem | undefined): Promise<void> {
    if (!item?.row.container) return;
    await this.runs.attachContainer(item.row.container);
    this.changeEmitter.fire(undefined);
  }

  /** Stop measuring it; the process runs on, and its run is stored (`attached.end: "detached"`). */
  async detach(item: ProcessItem | undefined): Promise<void> {
    if (!item || !this.isAttached(item.row.pid)) return;
    await this.runs.detach();
    this.changeEmitter.fire(undefined);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subscriptions) s.dispose();
    this.changeEmitter.dispose();
  }
}

/** The view, its refresh on visibility, and its three commands; the provider is returned for the tests. */
export function registerGpuProcessesView(o: { cliPath: string; runs: AttachRuns }): { provider: GpuProcessesProvider; disposables: vscode.Disposable[] } {
  const provider = new GpuProcessesProvider(o.cliPath, o.runs);
  const view = vscode.window.createTreeView('joules.gpuProcesses', { treeDataProvider: provider });
  provider.setVisible(view.visible);
  const disposables = [
    provider,
    view,
    view.onDidChangeVisibility((e) => provider.setVisible(e.visible)),
    vscode.commands.registerCommand('joules.gpuProcesses.refresh', () => provider.refresh()),
    vscode.commands.registerCommand('joules.gpuProcesses.attach', (item?: ProcessItem) => provider.attach(item)),
    vscode.commands.registerCommand('joules.gpuProcesses.detach', (item?: ProcessItem) => provider.detach(item)),
    vscode.commands.registerCommand('joules.gpuProcesses.attachContainer', (item?: ProcessItem) => provider.attachContainer(item)),
  ];
  return { provider, disposables };
}
