/**
 * The host side of the panel protocol, without `vscode`: what to post when, and what to do with
 * what the webview sends. PanelHost adapts it to a real WebviewPanel; tests drive it directly.
 *
 * Rules: post only to a visible panel (a hidden one is destroyed, retainContextWhenHidden is
 * off); re-send the full state (`init`) when the panel becomes visible or the page says `ready`;
 * validate every incoming message and drop what fails.
 */
import { assertNever, parseFromPanel, ProtocolLimits } from '../../core/protocol/panel';
import type { ExportFormat, FindingView, FromPanel, LiveFiguresView, RangeView, RunSummaryView, RunView, ToPanel } from '../../core/protocol/panel';
import type { SampleBatch } from '../../core/sampler/types';

/** One batch of the live run, numbered from 1 in the order the run produced them. */
export interface LiveBatch {
  runId: string;
  seq: number;
  batch: SampleBatch;
  /** The live model's figures after this batch. */
  live?: LiveFiguresView;
}

/** What the panel reads from the rest of the extension. */
export interface PanelRunSource {
  /**
   * The live run as the panel draws it (a decimated snapshot), or undefined when none runs. Its
   * `seq` is the last batch it includes: every batch whose `onSamples` has fired, so the batches
   * after it follow with no gap and no duplicate.
   */
  current(): RunView | undefined;
  history(): Promise<RunSummaryView[]>;
  load(runId: string): Promise<RunView | undefined>;
  /** [startMs, endMs] of a stored run at full bucket resolution (zoom); undefined: no such run. */
  range(runId: string, requestId: number, startMs: number, endMs: number): Promise<RangeView | undefined>;
  /** Writes the runs to a file the user picks; rejects with a message to show on failure. */
  exportRuns(runIds: string[], format: ExportFormat): Promise<void>;
}

/** Where the session posts; a WebviewPanel in the extension. */
export interface PanelPort {
  readonly visible: boolean;
  post(message: ToPanel): PromiseLike<boolean>;
}

/** Matches vscode.LogOutputChannel. */
export interface PanelLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function describe(x: unknown): string {
  if (typeof x !== 'object' || x === null) return typeof x;
  const t = (x as { type?: unknown }).type;
  return typeof t === 'string' ? `type '${t.slice(0, 40)}'` : 'object without a string type';
}

export class PanelSession {
  private port: PanelPort | undefined;
  /** Run ids the user opened or is comparing; re-sent in `init` so a re-shown panel shows them again. */
  private selected: string[] = [];
  private liveRunId: string | undefined;
  private initSeq = 0;
  /** An `init` is being gathered; it will carry batches that arrive meanwhile. */
  private initPending = false;
  /** Messages posted and dropped, for tests and the log. */
  readonly counters = { posted: 0, samples: 0, skippedHidden: 0, rejected: 0 };

  constructor(private readonly source: PanelRunSource, private readonly log: PanelLog) {}

  /** The runs opened or compared in the panel; empty while it follows the live run. */
  get selection(): readonly string[] {
    return this.selected.slice();
  }

  attach(port: PanelPort): void {
    this.port = port;
  }

  detach(): void {
    this.port = undefined;
    this.initSeq++;
  }

  /** Call on WebviewPanel.onDidChangeViewState. */
  visibilityChanged(visible: boolean): void {
    if (visible) void this.sendInit();
  }

  /**
   * Back to the live run (the wattmeter's click during a run): forgets the opened or compared runs
   * and re-sends the state, so the panel shows the run being measured, not a comparison of old ones.
   */
  async showLive(): Promise<void> {
    this.selected = [];
    await this.sendInit();
  }

  /** Opens a run in the panel (e.g. from a command); the panel must be attached. */
  async showRun(runId: string): Promise<void> {
    await this.handle({ type: 'selectRun', runId });
  }

  async compare(runIds: string[]): Promise<void> {
    await this.handle({ type: 'compare', runIds: runIds.slice(0, ProtocolLimits.compareRuns) });
  }

  /** Entry point for WebviewPanel.webview.onDidReceiveMessage. */
  async receive(raw: unknown): Promise<void> {
    const msg = parseFromPanel(raw);
    if (!msg) {
      this.counters.rejected++;
      this.log.warn(`Energy panel: dropped an invalid message (${describe(raw)})`);
      return;
    }
    await this.handle(msg);
  }

  samples(e: LiveBatch): void {
    if (e.runId !== this.liveRunId) {
      // A run this webview has not seen: send everything, which includes this batch.
      this.liveRunId = e.runId;
      void this.sendInit();
      return;
    }
    // The snapshot being gathered is read after this batch, so it includes it.
    if (this.initPending) return;
    this.post({ type: 'samples', runId: e.runId, seq: e.seq, batch: e.batch, ...(e.live ? { live: e.live } : {}) });
  }

  runEnded(summary: RunSummaryView): void {
    this.post({ type: 'runEnded', summary });
  }

  findings(runId: string, findings: FindingView[]): void {
    this.post({ type: 'findings', runId, findings });
  }

  /** Full state to the webview. The live run is read last, after the awaits, so no batch falls between. */
  async sendInit(): Promise<void> {
    const seq = ++this.initSeq;
    this.initPending = true;
    try {
      const history = await this.source.history();
      const selected = (await Promise.all(this.selected.map((id) => this.source.load(id)))).filter((r): r is RunView => !!r);
      if (seq !== this.initSeq) return; // a newer init is on its way
      const live = this.source.current();
      this.liveRunId = live?.summary.id;
      this.post({ type: 'init', live, history, selected });
    } catch (err) {
      this.log.error(`Energy panel: could not gather its state: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (seq === this.initSeq) this.initPending = false;
    }
  }

  private async handle(msg: FromPanel): Promise<void> {
    switch (msg.type) {
      case 'ready':
        await this.sendInit();
        return;
      case 'showLive':
        this.selected = [];
        return;
      case 'selectRun': {
        const run = await this.loadQuietly(msg.runId);
        if (!run) {
          this.notice('error', `Run ${msg.runId} was not found in the history.`);
          return;
        }
        this.selected = [msg.runId];
        this.post({ type: 'showRuns', view: 'run', runs: [run] });
        return;
      }
      case 'compare': {
        const runs = await Promise.all(msg.runIds.map((id) => this.loadQuietly(id)));
        const missing = msg.runIds.filter((_, i) => !runs[i]);
        const found = runs.filter((r): r is RunView => !!r);
        if (missing.length > 0) this.notice('error', `Not found in the history: ${missing.join(', ')}.`);
        if (found.length < 2) return;
        this.selected = found.map((r) => r.summary.id);
        this.post({ type: 'showRuns', view: 'compare', runs: found });
        return;
      }
      case 'export':
        try {
          await this.source.exportRuns(msg.runIds, msg.format);
        } catch (err) {
          const text = err instanceof Error ? err.message : String(err);
          this.log.error(`Energy panel: export failed: ${text}`);
          this.notice('error', `Export failed: ${text}`);
        }
        return;
      case 'zoom': {
        let range: RangeView | undefined;
        try {
          range = await this.source.range(msg.runId, msg.requestId, msg.startMs, msg.endMs);
        } catch (err) {
          const text = err instanceof Error ? err.message : String(err);
          this.log.error(`Energy panel: reading ${msg.startMs}-${msg.endMs} ms of run ${msg.runId} failed: ${text}`);
          this.notice('error', `Could not read that part of the run: ${text}`);
          return;
        }
        if (!range) this.notice('error', `Run ${msg.runId} was not found in the history.`);
        else this.post({ type: 'range', range });
        return;
      }
      case 'log':
        this.log[msg.level](`Energy panel (webview): ${msg.message}`);
        return;
      default:
        assertNever(msg);
    }
  }

  private async loadQuietly(runId: string): Promise<RunView | undefined> {
    try {
      return await this.source.load(runId);
    } catch (err) {
      this.log.error(`Energy panel: loading run ${runId} failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  private notice(level: 'info' | 'error', message: string): void {
    this.post({ type: 'notice', level, message: message.slice(0, ProtocolLimits.textChars) });
  }

  private post(message: ToPanel): void {
    const port = this.port;
    if (!port || !port.visible) {
      // Hidden: the webview does not exist; the next `init` carries everything.
      this.counters.skippedHidden++;
      return;
    }
    this.counters.posted++;
    if (message.type === 'samples') this.counters.samples++;
    port.post(message).then(
      (ok) => {
        if (!ok) this.log.warn(`Energy panel: '${message.type}' was not delivered`);
      },
      (err: unknown) => this.log.warn(`Energy panel: posting '${message.type}' failed: ${String(err)}`),
    );
  }
}
