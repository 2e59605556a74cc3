/**
 * ALARM, periodic refresh mode (spec §4.4): no control messages at all. Every internal object has
 * a refresh timer armed on creation/update to `random() % RefreshTime + 1` s plus k·200 ms − 1 µs
 * (k ∈ 1..5); when it fires the object is re-sent (type from status, so a never-updated object
 * goes out as NEW). Deleted objects are sent once as DEL. Receive: any flags → ignored as CTL,
 * otherwise DATA; seqs are tracked but never advance (conntrackd quirk: no loss statistics).
 * External expiry (CacheTimeout) lives in the ExternalCache; the engine drives it.
 */
import type { Clock } from '../../core/clock';
import { ObjStatus } from '../../cache/object';
import type { NetHeader } from '../wire/header';
import { ModeBase } from './base';
import { RefreshHeap } from './refresh-heap';
import type { ModeHost, RecvVerdict, SyncMode, SyncObject } from './types';

export interface AlarmOptions {
  /** RefreshTime (s), default 60. */
  refreshTime: number;
  /** Deterministic randomness for tests; [0, 1). */
  random: () => number;
  /** ALARM converges passively; report ready after this long. */
  readyTimeoutMs: number;
}

/** Small deterministic PRNG (mulberry32) so refresh spreading is reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_ALARM_OPTIONS: Readonly<Omit<AlarmOptions, 'random'>> = Object.freeze({
  refreshTime: 60,
  readyTimeoutMs: 0,
});

export class AlarmMode extends ModeBase implements SyncMode {
  readonly name = 'alarm' as const;
  readonly opts: AlarmOptions;
  private readonly heap = new RefreshHeap();
  private readonly readyAt: number;
  private isReady: boolean;

  constructor(clock: Clock, host: ModeHost, opts: Partial<AlarmOptions> = {}) {
    const o: AlarmOptions = { ...DEFAULT_ALARM_OPTIONS, random: mulberry32(0x5eed), ...opts };
    super(clock, host, 1);
    this.opts = o;
    this.readyAt = clock.now() + o.readyTimeoutMs;
    this.isReady = o.readyTimeoutMs <= 0;
  }

  get ready(): boolean {
    return this.isReady;
  }

  /** Refresh timers currently armed. */
  get armed(): number {
    return this.heap.size;
  }

  /** spec §4.4 refresh delay in ms. */
  refreshDelayMs(): number {
    const r = this.opts.random;
    const secs = Math.floor(r() * this.opts.refreshTime) + 1;
    const k = 1 + Math.floor(r() * 5);
    return secs * 1000 + k * 200 - 0.001;
  }

  private arm(obj: SyncObject): void {
    if (obj.status === ObjStatus.DEAD) this.heap.remove(obj);
    else this.heap.set(obj, this.clock.now() + this.refreshDelayMs());
  }

  override enqueue(obj: SyncObject, eventAt: number): void {
    this.arm(obj);
    super.enqueue(obj, eventAt);
  }

  override onLoaded(obj: SyncObject): void {
    this.arm(obj);
  }

  override forget(obj: SyncObject): void {
    this.heap.remove(obj);
    super.forget(obj);
  }

  /** -n does nothing in ALARM (spec §4.4). */
  requestResync(): void {}

  transmit(budget: number): number {
    const now = this.clock.now();
    let n = 0;
    for (; n < budget; n++) {
      const it = this.tx.shift();
      if (!it) break;
      if (it.kind === 'ctl') continue; // never queued in ALARM
      const seq = this.nextSeq();
      this.host.emitObject(it, 0, seq);
      this.stats.msgsSent++;
      this.stats.dataSent++;
      it.seq = seq;
      it.sentAt = now;
      if (it.eventAt > 0) {
        this.stats.lag.observe(now - it.eventAt);
        it.eventAt = 0;
      }
      this.host.release(it);
    }
    return n;
  }

  onMessage(h: NetHeader, peer: number, _target: number, at?: number): RecvVerdict {
    const tr = this.tracker(peer);
    tr.stats.msgsRecv++;
    tr.stats.bytesRecv += h.len;
    tr.stats.lastRecvAt = at ?? this.clock.now();
    if (h.flags !== 0) return 'ctl';
    tr.stats.dataRecv++;
    return 'data';
  }

  nextTimerAt(): number {
    let t = this.heap.peek()?.refreshAt ?? Number.POSITIVE_INFINITY;
    if (!this.isReady && this.readyAt < t) t = this.readyAt;
    return t;
  }

  onTimer(now: number): void {
    for (let o = this.heap.peek(); o && o.refreshAt <= now; o = this.heap.peek()) {
      this.heap.pop();
      if (!o.inCache || o.status === ObjStatus.DEAD) continue;
      this.stats.refreshes++;
      this.heap.set(o, now + this.refreshDelayMs());
      this.enqueueBulk(o);
    }
    if (!this.isReady && now >= this.readyAt) {
      this.isReady = true;
      this.host.readyChanged?.();
    }
  }
}
