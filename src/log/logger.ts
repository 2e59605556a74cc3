/**
 * Logging (L5): pino, JSON lines by default; a small built-in readable formatter when stdout is
 * a TTY (pino-pretty is deliberately not a dependency). `rateLimited(key, intervalMs)` returns
 * a logger at most once per interval and key, so per-packet conditions never become per-packet
 * log lines (ARCHITECTURE habit 8: runtime faults are counted and logged).
 */
import pino from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Anything with write(line): a stream, or a test sink. */
export interface LineSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** 'json' | 'pretty' | 'auto' (pretty when the destination is a TTY). Default 'auto'. */
  format?: 'json' | 'pretty' | 'auto';
  /** Default process.stdout. */
  destination?: LineSink & { isTTY?: boolean };
  /** Bindings added to every line (e.g. { node: 'fw-a' }). */
  base?: Record<string, unknown>;
  /** Clock for the rate limiter (ms). */
  now?: () => number;
}

/** pino's Logger whose child() keeps rateLimited (pino's own child() type is generic over custom levels). */
export type Logger = Omit<pino.Logger, 'child'> & {
  /** The logger if `key` has not logged within `intervalMs`, else undefined. Lines carry `suppressed: n` when some were dropped. */
  rateLimited(key: string, intervalMs: number): pino.Logger | undefined;
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): Logger;
};

/** Per-key gate shared by a logger and all its children. */
export class RateGate {
  private readonly state = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Returns -1 when the key must stay quiet, else the number of suppressed calls since the last pass. */
  pass(key: string, intervalMs: number): number {
    const t = this.now();
    const s = this.state.get(key);
    if (s && t - s.at < intervalMs) {
      s.suppressed++;
      return -1;
    }
    const suppressed = s?.suppressed ?? 0;
    this.state.set(key, { at: t, suppressed: 0 });
    return suppressed;
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One pino JSON line → "HH:MM:SS.mmm LEVEL msg key=value ...". Non-JSON passes through. */
export function formatReadable(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
  const parts = [time, level.padEnd(5), String(rec.msg ?? '')];
  for (const [k, v] of Object.entries(rec)) {
    if (SKIP.has(k)) continue;
    if (v !== null && typeof v === 'object') {
      const o = v as { message?: unknown; stack?: unknown };
      parts.push(`${k}=${typeof o.message === 'string' ? JSON.stringify(o.message) : JSON.stringify(v)}`);
    } else {
      parts.push(`${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`);
    }
  }
  return `${parts.filter((p) => p !== '').join(' ')}\n`;
}

function augment(l: pino.Logger, gate: RateGate): Logger {
  const out = l as unknown as Logger;
  const originalChild = l.child.bind(l);
  out.rateLimited = (key: string, intervalMs: number) => {
    const suppressed = gate.pass(key, intervalMs);
    if (suppressed < 0) return undefined;
    return suppressed > 0 ? l.child({ suppressed }) : l;
  };
  const child = (bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => augment(originalChild(bindings, options), gate);
  // pino's child() is generic over custom levels, which we never use
  out.child = child;
  return out;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? process.stdout;
  const format = opts.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && (dest as { isTTY?: boolean }).isTTY === true);
  const stream: LineSink = pretty ? { write: (line: string) => dest.write(formatReadable(line)) } : dest;
  const base = opts.base ?? {};
  const l = pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid, ...base },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    stream as pino.DestinationStream,
  );
  return augment(l, new RateGate(opts.now));
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}
