import * as vscode from 'vscode';
import type { AmbientMeter } from './ambientMeter';
import type { Config } from './config';
import type { GpuAvailability } from './gpuAvailability';
import { launchName } from './launch';
import type { RunManager } from './runManager';
import { ambientRows, ambientText, ambientTooltip, noGpuTooltip, runAccessibility, runText, runTooltip, wasteReason } from './statusText';

const REFRESH_MS = 1000;

/** What the wattmeter shows now (also read by the integration tests). */
export type WattmeterMode = 'hidden' | 'run' | 'ambient' | 'noGpu';

/**
 * The status-bar wattmeter. During a run: the run's GPUs' power and the energy so far, in the
 * warning colour while the run wastes energy. Between runs (setting on): all GPUs' power. No GPU:
 * says so once, with the demo on click.
 *
 * One item for the window's life, refreshed once a second while there is something live to show;
 * text, tooltip and colour are only assigned when they change, so nothing flickers.
 */
export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private timer: ReturnType<typeof setInterval> | undefined;
  private shownMode: WattmeterMode = 'hidden';
  private shownText = '';
  private shownTooltip = '';
  private warningShown = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly config: Config,
    private readonly runs: RunManager,
    private readonly ambient: AmbientMeter,
    private readonly availability: GpuAvailability,
  ) {
    this.item = vscode.window.createStatusBarItem('joules.wattmeter', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Joules Wattmeter';
    this.disposables.push(
      this.item,
      runs.onDidStart(() => this.update()),
      runs.onDidEnd(() => this.update()),
      availability.onDidChange(() => this.update()),
      ambient.onDidUpdate(() => this.update()),
    );
  }

  /** The command a click runs (the panel, or the demo when there is no GPU). */
  get command(): string | undefined {
    const c = this.item.command;
    return typeof c === 'string' ? c : c?.command;
  }

  /** The arguments the click passes (`{ live: true }` during a run: back to the live run). */
  get commandArguments(): readonly unknown[] {
    const c = this.item.command;
    return typeof c === 'string' ? [] : (c?.arguments ?? []);
  }

  /** What a screen reader announces for the item. */
  get accessibilityLabel(): string | undefined {
    return this.item.accessibilityInformation?.label;
  }

  /** The item's current text, e.g. `$(zap) 412 W · 38.1 kJ` (VS Code cannot read it back). */
  get text(): string {
    return this.shownMode === 'hidden' ? '' : this.shownText;
  }

  get tooltip(): string {
    return this.shownTooltip;
  }

  get mode(): WattmeterMode {
    return this.shownMode;
  }

  /** True while the warning background is on (the run is wasting energy). */
  get warning(): boolean {
    return this.warningShown;
  }

  /** Recompute now; also starts or stops the once-a-second refresh as needed. */
  update(): void {
    const mode = this.render();
    const live = mode === 'run' || mode === 'ambient';
    if (live && !this.timer) this.timer = setInterval(() => this.render(), REFRESH_MS);
    else if (!live && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private render(): WattmeterMode {
    const run = this.runs.current;
    if (run) {
      const live = run.session.live();
      const reason = wasteReason(live, { idleS: this.config.idleWarningS, starvedS: this.config.starvedWarningS, starvedUtilPct: this.config.starvedUtilPct });
      const name = launchName(run.request);
      this.show('run', runText(live, reason !== undefined), runTooltip(name, live, reason, run.session.replay), { title: 'Show the live run', command: 'joules.showPanel', arguments: [{ live: true }] }, reason !== undefined);
      this.item.accessibilityInformation = { label: runAccessibility(live, reason), role: 'button' };
      return 'run';
    }
    const reading = this.ambient.latest;
    if (reading && this.config.ambientWattmeter) {
      const rows = ambientRows(reading.gpus, reading.latest);
      this.show('ambient', ambientText(rows), ambientTooltip(rows), 'joules.showPanel', false);
      return 'ambient';
    }
    const state = this.availability.state;
    if (state.kind === 'unavailable') {
      this.show('noGpu', '$(circle-slash) No GPU', noGpuTooltip(state.detail), 'joules.replayDemo', false);
      return 'noGpu';
    }
    if (this.ambient.wanted && this.config.ambientWattmeter && this.shownMode !== 'hidden') {
      // The ambient sampler is (re)starting, e.g. around a run: keep the item in place, without
      // figures, rather than hide it and show it again a moment later.
      this.show('ambient', '$(pulse) -- W', 'Joules: reading the GPUs…', 'joules.showPanel', false);
      return 'ambient';
    }
    if (this.shownMode !== 'hidden') {
      this.item.hide();
      this.item.backgroundColor = undefined;
      this.warningShown = false;
      this.shownMode = 'hidden';
    }
    return 'hidden';
  }

  private show(mode: WattmeterMode, text: string, tooltip: string, command: string | vscode.Command, warning: boolean): void {
    if (text !== this.shownText) {
      this.item.text = text;
      this.shownText = text;
      // The screen-reader label follows the text (it stayed "Joules: -- W" once figures arrived).
      if (mode !== 'run') this.item.accessibilityInformation = { label: text.replace(/\$\([^)]*\)\s*/g, 'Joules: '), role: 'button' };
    }
    if (tooltip !== this.shownTooltip) {
      const md = new vscode.MarkdownString(tooltip, true);
      // Only the demo link is a command; nothing else in the tooltip may run one.
      md.isTrusted = { enabledCommands: ['joules.replayDemo'] };
      this.item.tooltip = md;
      this.shownTooltip = tooltip;
    }
    if (warning !== this.warningShown) {
      this.item.backgroundColor = warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
      this.warningShown = warning;
    }
    if (mode !== this.shownMode) {
      this.item.command = command;
      if (mode !== 'run') this.item.accessibilityInformation = { label: text.replace(/\$\([^)]*\)\s*/g, 'Joules: '), role: 'button' };
      this.item.show();
      this.shownMode = mode;
    }
  }
}
