/**
 * What a subscription returns: `dispose` stops the listening. The shape of `vscode.Disposable`,
 * so the editor layer can push a core subscription into `context.subscriptions` as it is.
 */
export interface Disposable {
  dispose(): void;
}

/**
 * One typed event of core objects. Listeners run in subscription order, synchronously; one added
 * while the event fires is called in that same firing, one disposed before its turn is not.
 */
export class Emitter<T extends unknown[]> {
  private readonly listeners = new Set<(...args: T) => void>();

  /**
   * `isolate`: a listener that throws does not stop the others nor reach the firing code (for
   * events whose firing must complete, such as the end of a run). Otherwise the throw propagates.
   */
  constructor(private readonly options: { isolate?: boolean } = {}) {}

  /** Call `listener` on every firing until the returned handle is disposed. */
  subscribe(listener: (...args: T) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** Whether anyone listens: lets a source skip building an event nobody would receive. */
  get listening(): boolean {
    return this.listeners.size > 0;
  }

  fire(...args: T): void {
    for (const l of this.listeners) {
      if (!this.options.isolate) {
        l(...args);
        continue;
      }
      try {
        l(...args);
      } catch {
        // The listener's failure is its own; the event has happened either way.
      }
    }
  }
}
