import type { EnergyAccount, RunEnergyMethod } from './types';

/** A span with no power reading, closed when power is read again (the energy left out of the figure). */
export interface PowerGap {
  startMs: number;
  endMs: number;
}

/**
 * One GPU's energy over a window, kept honest when NVML misbehaves. Pure bookkeeping: the engine
 * feeds it power points and counter reads with their times (ms since the epoch).
 *
 * - Between two good counter reads, energy is their delta (the hardware figure, exact even over
 *   failed power readings in between).
 * - Power is integrated (trapezoid) into a *pending* figure since the last good counter read. A
 *   later good read supersedes it; when no later read succeeds (the counter failed, the final read
 *   failed, the GPU was lost) it is committed as integrated energy, and the summary says so.
 * - A failed power reading opens a gap: the trapezoid never bridges it (bridging a 300 W -> 50 W
 *   change across a failure counts energy that was not measured); its length is reported instead.
 */
export class EnergyLedger {
  private counterMj = 0;
  private counterMs = 0;
  private integratedMj = 0;
  private integratedMs = 0;
  private gapMs = 0;
  private pendingMj = 0;
  private pendingMs = 0;
  private pendingGapMs = 0;
  /** Integration since the last good counter read starts here (power points straddle reads). */
  private pendingFromMs = 0;
  private lastCounter: { tMs: number; mj: number } | undefined;
  private epochCounterMj: number | undefined;
  private lastPower: { tMs: number; mW: number } | undefined;
  /** Start of an open power gap (the last good power point before the failure). */
  private gapFromMs: number | undefined;
  /** First failed counter read of the current failure streak (cleared by a good read). */
  private counterFailedAtMs: number | undefined;
  private closedAtMs: number | undefined;

  /** Energy so far, in mJ: counter spans, committed integration and the pending carry-forward. */
  totalMj(): number {
    return this.counterMj + this.integratedMj + this.pendingMj;
  }

  /** A power point. Returns the gap it closes, when a failure preceded it. */
  power(tMs: number, mW: number): PowerGap | undefined {
    if (this.closedAtMs !== undefined) return undefined;
    let closed: PowerGap | undefined;
    if (this.gapFromMs !== undefined) {
      closed = { startMs: this.gapFromMs, endMs: tMs };
      // Only the part of the gap after the last good counter read is unmeasured so far.
      this.pendingGapMs += Math.max(0, tMs - Math.max(this.gapFromMs, this.pendingFromMs));
      this.gapFromMs = undefined;
    } else if (this.lastPower && tMs > this.lastPower.tMs) {
      const a = this.lastPower;
      const from = Math.max(a.tMs, this.pendingFromMs);
      if (tMs > from) {
        // The part of the segment [a, t] after `from`, under the straight line between the two points.
        const mWFrom = a.mW + ((mW - a.mW) * (from - a.tMs)) / (tMs - a.tMs);
        // mW * ms = µJ; / 1000 -> mJ.
        this.pendingMj += ((mWFrom + mW) / 2) * (tMs - from) / 1000;
        this.pendingMs += tMs - from;
      }
    }
    if (!this.lastPower || tMs >= this.lastPower.tMs) this.lastPower = { tMs, mW };
    return closed;
  }

  /** A power reading failed at `tMs`: open a gap from the last good point (if one is not open). */
  powerFailed(tMs: number): void {
    if (this.closedAtMs !== undefined || this.gapFromMs !== undefined) return;
    this.gapFromMs = this.lastPower ? this.lastPower.tMs : tMs;
  }

  /** True while a power gap is open. */
  inGap(): boolean {
    return this.gapFromMs !== undefined;
  }

  /** Start of the open power gap, if any. */
  openGapStartMs(): number | undefined {
    return this.gapFromMs;
  }

  /** A counter read at `tMs`: its value in mJ, or undefined when the read failed. */
  counter(tMs: number, mj: number | undefined): void {
    if (this.closedAtMs !== undefined) return;
    if (mj === undefined) {
      this.counterFailedAtMs ??= tMs;
      return;
    }
    const last = this.lastCounter;
    if (last && mj >= last.mj) {
      this.counterMj += mj - last.mj;
      this.counterMs += tMs - last.tMs;
      this.pendingMj = 0;
      this.pendingMs = 0;
      this.pendingGapMs = 0;
    } else {
      // First good read (at the epoch, or after the counter failed there), or the counter went
      // backwards (a driver reload resets it): what was integrated up to here stays integrated.
      this.commitPending();
    }
    this.epochCounterMj ??= mj;
    this.lastCounter = { tMs, mj };
    this.pendingFromMs = tMs;
    this.counterFailedAtMs = undefined;
  }

  /** End of the window (finish, or the GPU lost): whatever is pending becomes integrated energy. */
  close(tMs: number): void {
    if (this.closedAtMs !== undefined) return;
    if (this.gapFromMs !== undefined && tMs > this.gapFromMs) {
      this.pendingGapMs += tMs - Math.max(this.gapFromMs, this.pendingFromMs);
      this.gapFromMs = undefined;
    }
    this.commitPending();
    this.closedAtMs = tMs;
  }

  /** Plain-data figures for the owner (posted with every batch). */
  account(): EnergyAccount {
    // Live, pending integration belongs to the counter while the counter works (the next read
    // supersedes it); once the counter has failed it is what the figure will keep.
    const pendingIsIntegrated = this.lastCounter === undefined || this.counterFailedAtMs !== undefined;
    const integratedMs = this.integratedMs + (pendingIsIntegrated ? this.pendingMs : 0);
    const gapMs = this.gapMs + (pendingIsIntegrated ? this.pendingGapMs : 0);
    return {
      method: methodOf(this.counterMs, integratedMs, this.lastCounter !== undefined),
      counterMs: this.counterMs,
      integratedMs,
      gapMs,
      ...(this.counterFailedAtMs !== undefined ? { counterFailedAtMs: this.counterFailedAtMs } : {}),
      ...(this.lastCounter && this.epochCounterMj !== undefined ? { counterDeltaMillijoules: this.lastCounter.mj - this.epochCounterMj } : {}),
    };
  }

  private commitPending(): void {
    this.integratedMj += this.pendingMj;
    this.integratedMs += this.pendingMs;
    this.gapMs += this.pendingGapMs;
    this.pendingMj = 0;
    this.pendingMs = 0;
    this.pendingGapMs = 0;
  }
}

function methodOf(counterMs: number, integratedMs: number, counterWorked: boolean): RunEnergyMethod {
  if (counterWorked && counterMs > 0) return integratedMs > 0 ? 'counter+integrated' : 'counter';
  // A counter read only at the epoch (counterMs 0) covers nothing: the figure is integrated.
  return counterWorked && integratedMs === 0 ? 'counter' : 'integrated';
}
