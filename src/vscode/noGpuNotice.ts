import * as vscode from 'vscode';
import type { GpuAvailability } from './gpuAvailability';
import type { Notifier } from './notifier';

const DISMISSED_KEY = 'joules.noGpuNoticeDismissed';

/**
 * "No GPU here; want the demo?" at most once per session, and never again once the user has
 * dismissed it (remembered in globalState across sessions). The status-bar item keeps saying
 * "No GPU" quietly after that.
 */
export class NoGpuNotice implements vscode.Disposable {
  private shown = false;
  private readonly subscription: { dispose(): void };

  constructor(
    availability: GpuAvailability,
    private readonly notifier: Notifier,
    private readonly globalState: vscode.Memento,
  ) {
    this.subscription = availability.onDidChange((state) => {
      // A run that failed to start has said so already, with the same demo action.
      if (state.kind === 'unavailable' && state.source === 'wattmeter') this.maybeShow();
    });
  }

  dispose(): void {
    this.subscription.dispose();
  }

  private maybeShow(): void {
    if (this.shown || this.globalState.get<boolean>(DISMISSED_KEY) === true) return;
    this.shown = true;
    void this.notifier
      .info('Joules found no NVIDIA GPU to measure on this machine. Replay a recorded H200 run to see what Joules shows?', 'Replay Demo Run', "Don't Show Again")
      .then((action) => {
        if (action === 'Replay Demo Run') void vscode.commands.executeCommand('joules.replayDemo');
        // Closing the notification counts as "not interested" too.
        else void this.globalState.update(DISMISSED_KEY, true);
      });
  }
}
