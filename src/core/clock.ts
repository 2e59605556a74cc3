/**
 * Time is injected into all protocol logic so that state machines are testable (ARCHITECTURE L0).
 * Only the composition root uses the real clock.
 */
export interface Clock {
  /** Monotonic milliseconds (fractional allowed). */
  now(): number;
  /** Wall-clock seconds since the epoch (sequence seeding, spec §4.1). */
  wallSeconds(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallSeconds: () => Math.floor(Date.now() / 1000),
};

/** A clock the tests move by hand. */
export class ManualClock implements Clock {
  constructor(
    private ms = 0,
    private wall = 1_700_000_000,
  ) {}
  now(): number {
    return this.ms;
  }
  wallSeconds(): number {
    return this.wall + Math.floor(this.ms / 1000);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
