/**
 * systemd notification protocol (sd_notify(3)): newline-separated KEY=VALUE assignments sent as
 * one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@name' for an
 * abstract socket). Node has no AF_UNIX datagram sockets, so sending goes through the native
 * addon's unixDgramSend (src/netlink/socket.ts), injectable for tests.
 * With NotifyAccess=main systemd only accepts messages from the main PID, which it learns from
 * the kernel's SCM_CREDENTIALS; the addon sends from this process, so that holds.
 */
import { unixDgramSend } from '../netlink/socket';

export type DgramSend = (path: string, data: Buffer) => void;

export interface SdNotifierOptions {
  /** Default process.env.NOTIFY_SOCKET; when unset/empty every call is a no-op returning false. */
  socketPath?: string;
  /** Default: the native addon's unixDgramSend. */
  send?: DgramSend;
  /** Send failures (never thrown: a lost notification must not take the daemon down). */
  onError?: (err: unknown, message: string) => void;
}

/** CLOCK_MONOTONIC in µs; libuv's hrtime reads CLOCK_MONOTONIC on Linux (RELOADING needs it). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** One line per assignment; values lose newlines (they would start a new assignment). */
export function formatNotify(fields: Record<string, string | number | bigint>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`invalid sd_notify key '${k}'`);
    lines.push(`${k}=${String(v).replace(/[\r\n]+/g, ' ')}`);
  }
  return lines.join('\n');
}

export class SdNotifier {
  readonly socketPath: string | undefined;
  private readonly sendFn: DgramSend;
  /** Plain counters (metrics/log may read them). */
  readonly stats = { sent: 0, failed: 0 };

  constructor(private readonly opts: SdNotifierOptions = {}) {
    const p = opts.socketPath ?? process.env.NOTIFY_SOCKET;
    this.socketPath = p && p.length > 0 ? p : undefined;
    this.sendFn = opts.send ?? unixDgramSend;
  }

  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** Sends one message; returns true when it was handed to the kernel. */
  notify(fields: Record<string, string | number | bigint>): boolean {
    if (!this.socketPath) return false;
    const text = formatNotify(fields);
    try {
      this.sendFn(this.socketPath, Buffer.from(text, 'utf8'));
      this.stats.sent++;
      return true;
    } catch (err) {
      this.stats.failed++;
      this.opts.onError?.(err, text);
      return false;
    }
  }

  /** READY=1 (Type=notify: start-up is complete), optionally with STATUS and MAINPID. */
  ready(status?: string): boolean {
    const f: Record<string, string | number> = { READY: 1 };
    if (status !== undefined) f.STATUS = status;
    return this.notify(f);
  }

  status(text: string): boolean {
    return this.notify({ STATUS: text });
  }

  watchdog(): boolean {
    return this.notify({ WATCHDOG: 1 });
  }

  stopping(status?: string): boolean {
    const f: Record<string, string | number> = { STOPPING: 1 };
    if (status !== undefined) f.STATUS = status;
    return this.notify(f);
  }

  /**
   * RELOADING=1 plus MONOTONIC_USEC (required by Type=notify-reload, harmless otherwise).
   * After the reload, send ready() again.
   */
  reloading(status?: string): boolean {
    const f: Record<string, string | number | bigint> = { RELOADING: 1, MONOTONIC_USEC: monotonicUsec() };
    if (status !== undefined) f.STATUS = status;
    return this.notify(f);
  }

  mainPid(pid: number = process.pid): boolean {
    return this.notify({ MAINPID: pid });
  }
}
