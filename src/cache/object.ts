/**
 * Cache objects (spec §5.1/§5.2): one per conntrack/expectation key. The sync queues link them
 * intrusively (src/sync/queue.ts), so an object carries its own queue links and is in at most
 * one queue at a time.
 */
import type { QNode } from '../sync/queue';

/** Object status; the wire type is derived from it at send time (spec §2.1). */
export const ObjStatus = {
  NEW: 0,
  ALIVE: 1,
  DEAD: 2,
} as const;
export type ObjStatus = (typeof ObjStatus)[keyof typeof ObjStatus];

export type ObjKind = 'ct' | 'exp';

export interface CacheObject<T> extends QNode {
  readonly kind: ObjKind;
  /** The cached Flow or Expectation; mutated in place by UPDATE merges. */
  data: T;
  status: ObjStatus;
  /** Clock ms when the object was created in the cache ("active since", spec §5.5). */
  created: number;
  /** Clock ms of the last NEW/UPDATE applied (commit timeout arithmetic, ALARM expiry). */
  lastUpdate: number;
  /** Seq of the last message that carried this object (FTFW resend bookkeeping); -1 = never. */
  seq: number;
  /**
   * Monotonic ms at which the kernel event that queued this object was read (sync-lag metric);
   * the oldest pending event wins while the object waits, 0 = none pending.
   */
  eventAt: number;
  /** Clock ms when the object was last handed to the channel (oldest-unacked metric). */
  sentAt: number;
  /** False once the cache has dropped it (replaced by a NEW, flushed, or released). */
  inCache: boolean;
  /** ALARM refresh deadline (clock ms), 0 = none. */
  refreshAt: number;
  /** ALARM external expiry list: set by ExternalCache when expiry is tracked. */
  expireAt: number;
  /** Position in the ALARM refresh heap, -1 = not in it. */
  heapIdx: number;
  /** Per-sender FTFW: bit set of peers that acknowledged the last transmission. */
  ackMask: number;
}

/**
 * Cache timestamps are whole milliseconds: the clock is fractional (performance.now), and V8
 * boxes a fractional number field in a 16-byte heap number per object, where a small integer
 * is stored inline (≈32 bytes per entry for created + lastUpdate, issue 8 memory). Every
 * consumer works in seconds (commit timeout, "active since") or ms deadlines.
 */
export function cacheTime(now: number): number {
  return Math.floor(now);
}

export function newCacheObject<T>(kind: ObjKind, data: T, now0: number): CacheObject<T> {
  const now = cacheTime(now0);
  return {
    qPrev: null,
    qNext: null,
    qOwner: null,
    kind,
    data,
    status: ObjStatus.NEW,
    created: now,
    lastUpdate: now,
    seq: -1,
    eventAt: 0,
    sentAt: 0,
    inCache: true,
    refreshAt: 0,
    expireAt: 0,
    heapIdx: -1,
    ackMask: 0,
  };
}
