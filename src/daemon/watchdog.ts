/**
 * systemd watchdog (sd_watchdog_enabled(3)): when $WATCHDOG_USEC is set (and $WATCHDOG_PID is
 * unset or ours) send WATCHDOG=1 every WATCHDOG_USEC/2. Pings come from a timer on the main
 * event loop, so a blocked loop stops them and systemd restarts us. A tick that fires much later
 * than planned (the loop was stalled) or while `healthy()` says no is skipped, not sent: we only
 * vouch for a loop that is keeping time.
 */

export interface WatchdogOptions {
  /** WATCHDOG=1 sender (SdNotifier.watchdog). */
  ping: () => boolean;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Extra health predicate (e.g. "the engine loop ran recently"). */
  healthy?: () => boolean;
  /** Late-tick threshold (ms); default half the ping interval. */
  maxLagMs?: number;
  now?: () => number;
}

/** Ping interval in ms for this process, or undefined when the watchdog is off. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (!usecText) return undefined;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const wpid = env.WATCHDOG_PID;
  if (wpid && Number(wpid) !== pid) return undefined; // meant for another process
  return Math.max(1, Math.floor(usec / 2000));
}

export class Watchdog {
  readonly intervalMs: number | undefined;
  /** Plain counters: pings sent, ticks skipped (late or unhealthy), ping failures. */
  readonly stats = { pings: 0, skippedLate: 0, skippedUnhealthy: 0, failed: 0 };
  private timer: NodeJS.Timeout | undefined;
  private due = 0;
  private readonly now: () => number;
  private readonly maxLagMs: number;

  constructor(private readonly opts: WatchdogOptions) {
    this.intervalMs = watchdogIntervalMs(opts.env ?? process.env);
    this.now = opts.now ?? (() => performance.now());
    this.maxLagMs = opts.maxLagMs ?? (this.intervalMs ?? 0) / 2;
  }

  get enabled(): boolean {
    return this.intervalMs !== undefined;
  }

  /** Starts pinging (first ping right away). No-op when disabled or running. */
  start(): void {
    if (this.intervalMs === undefined || this.timer) return;
    this.due = this.now();
    this.tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const interval = this.intervalMs!;
    const t = this.now();
    const late = t - this.due;
    if (late > this.maxLagMs) {
      this.stats.skippedLate++;
    } else if (this.opts.healthy && !this.opts.healthy()) {
      this.stats.skippedUnhealthy++;
    } else if (this.opts.ping()) {
      this.stats.pings++;
    } else {
      this.stats.failed++;
    }
    this.due = t + interval;
    this.timer = setTimeout(() => this.tick(), interval);
    this.timer.unref(); // the watchdog never keeps the process alive by itself
  }
}
