/**
 * NOTRACK, best-effort mode (spec §4.3): data without HELLO bits, no ACK/NACK, no resend queue
 * (an object is released once sent), ALIVE after 1 s of transmit idleness, RESYNC both ways.
 * Receive tracks seqs for statistics only and never drops.
 *
 * Ours: a requested RESYNC is repeated (1 s, doubling, capped) until data arrives from a peer
 * after the request, at most resyncMaxAttempts times (there is no ACK to prove it arrived).
 * The sync-lag histogram records event → send (there is no acknowledgement).
 */
import type { Clock } from '../../core/clock';
import { seqAdd } from '../../core/seq';
import { NET_F } from '../wire/constants';
import type { NetHeader } from '../wire/header';
import { earliest, ModeBase } from './base';
import { SeqState } from './tracker';
import type { ModeHost, ReadyReason, RecvVerdict, SyncMode } from './types';

export interface NotrackOptions {
  aliveMs: number;
  startupResync: boolean;
  resyncRetryMs: number;
  resyncRetryMaxMs: number;
  resyncMaxAttempts: number;
  readyTimeoutMs: number;
  readyIdleMs: number;
}

export const DEFAULT_NOTRACK_OPTIONS: Readonly<NotrackOptions> = Object.freeze({
  aliveMs: 1000,
  startupResync: true,
  resyncRetryMs: 1000,
  resyncRetryMaxMs: 4000,
  resyncMaxAttempts: 5,
  readyTimeoutMs: 3000,
  readyIdleMs: 200,
});

export class NotrackMode extends ModeBase implements SyncMode {
  readonly name = 'notrack' as const;
  readonly opts: NotrackOptions;
  private aliveAt: number;
  private resyncAt = 0;
  private resyncAttempts = 0;
  private resyncBackoff: number;
  private resyncSentAt = 0;
  private answeredAt = 0;
  private readonly startedAt: number;
  private isReady = false;

  constructor(clock: Clock, host: ModeHost, opts: Partial<NotrackOptions> = {}) {
    const o = { ...DEFAULT_NOTRACK_OPTIONS, ...opts };
    super(clock, host, 1);
    this.opts = o;
    this.startedAt = clock.now();
    this.aliveAt = this.startedAt + o.aliveMs;
    this.resyncBackoff = o.resyncRetryMs;
    if (o.startupResync) this.requestResync();
    else this.isReady = true;
  }

  get ready(): boolean {
    return this.isReady;
  }

  requestResync(): void {
    this.resyncAttempts = 0;
    this.resyncBackoff = this.opts.resyncRetryMs;
    this.answeredAt = 0;
    this.sendResync();
  }

  private sendResync(): void {
    this.queueCtl(NET_F.RESYNC);
    this.stats.resyncRequests++;
    this.resyncAttempts++;
    const now = this.clock.now();
    this.resyncSentAt = now;
    this.resyncAt = this.resyncAttempts < this.opts.resyncMaxAttempts ? now + this.resyncBackoff : 0;
    this.resyncBackoff = Math.min(this.resyncBackoff * 2, this.opts.resyncRetryMaxMs);
  }

  transmit(budget: number): number {
    const now = this.clock.now();
    let n = 0;
    for (; n < budget; n++) {
      const it = this.tx.shift();
      if (!it) break;
      const seq = this.nextSeq();
      this.stats.msgsSent++;
      if (it.kind === 'ctl') {
        this.host.emitCtl(it.flags, seq, it.from, it.to, 0);
        this.stats.ctlSent++;
        if (it.flags & NET_F.ALIVE) this.stats.alivesSent++;
        else if (it.flags & NET_F.RESYNC) this.stats.resyncsSent++;
      } else {
        this.host.emitObject(it, 0, seq);
        this.stats.dataSent++;
        it.seq = seq;
        it.sentAt = now;
        if (it.eventAt > 0) {
          this.stats.lag.observe(now - it.eventAt);
          it.eventAt = 0;
        }
        this.host.release(it); // sent once, done (spec §4.3)
      }
    }
    if (n > 0) this.aliveAt = now + this.opts.aliveMs;
    return n;
  }

  onMessage(h: NetHeader, peer: number, _target: number, at?: number): RecvVerdict {
    const now = at ?? this.clock.now();
    const tr = this.tracker(peer);
    const ps = tr.stats;
    ps.msgsRecv++;
    ps.bytesRecv += h.len;
    ps.lastRecvAt = now;
    const f = h.flags;
    let v: RecvVerdict;
    if (h.type <= 5 && (f & ~(NET_F.HELLO | NET_F.HELLO_BACK)) === 0) v = 'data';
    else if (h.type === 10 && f & NET_F.RESYNC) {
      ps.resyncsRecv++;
      this.stats.resyncsRecv++;
      this.host.bulkRequested(peer);
      v = 'ctl';
    } else if (h.type === 10 && f & NET_F.ALIVE) v = 'ctl';
    else {
      // e.g. FTFW's ACK/NACK: "Malformed header" (spec §4.5), seq not updated.
      ps.badCtl++;
      this.stats.badCtl++;
      return 'drop';
    }
    // Statistics only (spec §4.3): never drop on seq.
    const st = tr.classify(h.seq);
    if (st === SeqState.AFTER) {
      const missing = (h.seq - seqAdd(tr.last, 1)) >>> 0;
      ps.gaps++;
      ps.lost += missing;
      ps.lostConntrackd += missing + 2;
      this.stats.lost += missing;
      this.stats.lostConntrackd += missing + 2;
    } else if (st === SeqState.BEFORE) {
      ps.before++;
      this.stats.before++;
    }
    tr.last = h.seq;
    tr.set = true;
    if (v === 'data') {
      ps.dataRecv++;
      if (this.resyncSentAt > 0 && this.answeredAt === 0) {
        this.answeredAt = now;
        this.resyncAt = 0;
        this.stats.resyncAnswered++;
      }
    }
    return v;
  }

  nextTimerAt(): number {
    let t = earliest(this.aliveAt, this.resyncAt);
    if (!this.isReady) t = earliest(t, this.readyCheckAt());
    return t === 0 ? Number.POSITIVE_INFINITY : t;
  }

  private readyCheckAt(): number {
    if (this.answeredAt > 0) {
      let last = this.answeredAt;
      for (const tr of this.trackers.values()) if (tr.stats.lastRecvAt > last) last = tr.stats.lastRecvAt;
      return last + this.opts.readyIdleMs;
    }
    // No ACK exists in NOTRACK: a heard peer that sends no data may simply have nothing, so
    // (unlike FTFW's readyPeerWaitMs) a heard peer does not extend the wait.
    return this.startedAt + this.opts.readyTimeoutMs;
  }

  get readyReason(): ReadyReason | undefined {
    return this.readyReasonFor(this.isReady, this.answeredAt, this.opts.startupResync);
  }

  onTimer(now: number): void {
    if (now >= this.aliveAt) {
      this.queueCtl(NET_F.ALIVE);
      this.aliveAt = now + this.opts.aliveMs;
    }
    if (this.resyncAt !== 0 && now >= this.resyncAt) this.sendResync();
    if (!this.isReady && now >= this.readyCheckAt()) {
      this.isReady = true;
      this.host.readyChanged?.();
    }
  }
}
