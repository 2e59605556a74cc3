/**
 * What the three modes share: the one sequence counter (spec §4.1: seeded from the wall clock
 * when the first message is built, +1 for every message of any kind), the tx queue, the
 * receive trackers and the dispatch entry point.
 */
import type { Clock } from '../../core/clock';
import { LinkedQueue } from '../queue';
import type { CtlItem, ModeEvent, ModeHost, ReadyReason, RecvVerdict, SyncObject, TxItem } from './types';
import { newCtlItem } from './types';
import type { NetHeader } from '../wire/header';
import { ModeStats } from './stats';
import { RxTracker } from './tracker';

export abstract class ModeBase {
  readonly stats = new ModeStats();
  protected readonly tx = new LinkedQueue<TxItem>('txqueue');
  protected readonly trackers = new Map<number, RxTracker>();
  private seqNext = 0;
  private seqInit = false;

  constructor(
    protected readonly clock: Clock,
    protected readonly host: ModeHost,
    protected readonly windowSize: number,
  ) {}

  abstract onMessage(h: NetHeader, peer: number, target: number, now?: number): RecvVerdict;
  abstract transmit(budget: number): number;
  abstract onTimer(now: number): void;
  abstract requestResync(): void;

  /** Next sequence number to use (spec §4.1). */
  protected nextSeq(): number {
    if (!this.seqInit) {
      this.seqNext = this.clock.wallSeconds() >>> 0;
      this.seqInit = true;
    }
    const s = this.seqNext;
    this.seqNext = (this.seqNext + 1) >>> 0;
    return s;
  }

  /** The seq of the last message sent (undefined before the first). */
  protected lastSentSeq(): number | undefined {
    return this.seqInit ? (this.seqNext - 1) >>> 0 : undefined;
  }

  get txLength(): number {
    return this.tx.length;
  }

  tracker(peer: number): RxTracker {
    let t = this.trackers.get(peer);
    if (!t) {
      t = new RxTracker(peer, this.windowSize);
      this.trackers.set(peer, t);
    }
    return t;
  }

  /** Receive trackers by sender id (one, id 0, without the envelope). */
  peers(): IterableIterator<RxTracker> {
    return this.trackers.values();
  }

  /** Whether any peer has been heard since start (a tracker exists once it sent something). */
  protected peerHeard(): boolean {
    for (const tr of this.trackers.values()) if (tr.stats.lastRecvAt > 0) return true;
    return false;
  }

  /** Why a mode became ready; answeredAt = when the start-up RESYNC was answered (0 = never). */
  protected readyReasonFor(ready: boolean, answeredAt: number, asked: boolean): ReadyReason | undefined {
    if (!ready) return undefined;
    if (answeredAt > 0) return 'answered';
    if (!asked) return 'notAsked';
    return this.peerHeard() ? 'peerDidNotAnswer' : 'alone';
  }

  hasPending(): boolean {
    return this.tx.length > 0;
  }

  protected queueCtl(flags: number, from = 0, to = 0, target = 0): CtlItem {
    const it = newCtlItem(flags, from, to, target);
    this.tx.push(it);
    this.host.txPending();
    return it;
  }

  enqueue(obj: SyncObject, eventAt: number): void {
    // The oldest unreplicated event wins while the object waits (sync-lag metric).
    if (eventAt > 0 && obj.eventAt === 0) obj.eventAt = eventAt;
    this.tx.push(obj);
    this.host.txPending();
  }

  enqueueBulk(obj: SyncObject): void {
    this.tx.push(obj);
    this.host.txPending();
  }

  onLoaded(_obj: SyncObject): void {}

  forget(obj: SyncObject): void {
    const q = obj.qOwner;
    if (q) {
      q.remove(obj);
      this.host.release(obj);
    }
  }

  dispatch(ev: ModeEvent): RecvVerdict | number | undefined {
    switch (ev.type) {
      case 'local':
        this.enqueue(ev.obj, ev.eventAt);
        return undefined;
      case 'recv':
        return this.onMessage(ev.hdr, ev.peer, ev.target);
      case 'timer':
        this.onTimer(ev.now);
        return undefined;
      case 'resync':
        this.requestResync();
        return undefined;
      case 'transmit':
        return this.transmit(ev.budget);
    }
  }
}

/** min() over deadlines where 0 means "not armed". */
export function earliest(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a , b);
}
