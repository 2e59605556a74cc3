/**
 * FTFW, conntrackd's reliable mode (spec §4.2), as a pure state machine.
 *
 * Wire behaviour is conntrackd 1.4.7's: one seq per message (data and control), ACK every
 * ACKWindowSize in-sequence messages, ALIVE/ACK 1 s after the last transmit pass, NACK on a gap,
 * state-based resend from a bounded resend queue with fresh seqs, HELLO/HELLO_BACK with resend
 * queue flush, RESYNC → bulk of the internal cache.
 *
 * Improvements (all local decisions; every message stays one conntrackd accepts):
 *  - startup RESYNC that is retried (1 s, doubling, capped at resyncRetryMaxMs) until a peer
 *    acknowledges it (conntrackd sends one, often before the peer listens; spec §9);
 *  - per-sender receive tracking when the authenticated envelope gives sender ids
 *    (`perSender`): one RxTracker per peer, ACK/NACK carry the target node id in a 4-byte
 *    trailer (len 20; conntrackd would ignore it), and each resend-queue entry keeps a bit set of
 *    the peers that acknowledged it: it is released once every live peer has (spec §4.6 fixed);
 *  - tail-loss detection ≤ 200 ms: after a transmit pass that sent data, if it stays
 *    unacknowledged an ALIVE (or pending ACK) probe goes out after `probeMs` of idleness (then
 *    2×, 4×, up to maxProbes); the probe consumes a seq, so a receiver that lost the tail sees
 *    the gap and NACKs at once. The receiver side ACKs a window holding data after `ackDelayMs`
 *    of receive idleness instead of waiting for 300 messages or the 1 s tick. Windows with only
 *    ACK/ALIVE are still acknowledged on the 1 s tick, so idle links keep conntrackd's 1/s ACK
 *    ping-pong instead of a fast one;
 *  - a HELLO period flushes the resend queue once (when it starts), not on every message of it,
 *    so our answer to a restarted peer's RESYNC survives until acknowledged;
 *  - gap counts are real (s − last − 1); conntrackd's off-by-two figure is kept separately;
 *  - flow control (`maxInFlight`): at most a window of messages is sent beyond the highest seq
 *    a peer acknowledged; objects wait in the tx queue (where later changes still coalesce)
 *    instead of overflowing the peer's socket buffer. conntrackd sends as fast as events come,
 *    which a slower receiver turns into drops, NACKs and resends of whole ranges (measured: a
 *    100k burst into a 208 KiB buffer lost 60% of its datagrams and resent 2.5× the table).
 *    Control messages (ACK/NACK/RESYNC/ALIVE) are never held back, so two nodes bulk-sending to
 *    each other cannot deadlock; a window that sees no ACK progress for `windowStallMs` is
 *    forced open (a peer that never ACKs, e.g. NOTRACK, gets conntrackd's behaviour, slowly).
 *  - stranded entries (`repairStranded`): an ACK that starts after entries still in the resend
 *    queue means their NACK (or ACK) was lost; they are re-sent at once instead of waiting
 *    forever for a NACK that will not come (in conntrackd that change is lost).
 *
 * Timing defaults: ACK delay 30 ms, probes at 80/160/320 ms, ALIVE 1 s; so a lost tail is
 * NACKed ~80 ms + RTT after the burst, and data is acknowledged ~30 ms + RTT after it arrives.
 */
import type { Clock } from '../../core/clock';
import { seqAdd, seqAfter, seqBefore } from '../../core/seq';
import { ObjStatus } from '../../cache/object';
import { NET_F } from '../wire/constants';
import type { NetHeader } from '../wire/header';
import { LinkedQueue } from '../queue';
import { earliest, ModeBase } from './base';
import { SeqState, type RxTracker } from './tracker';
import type { CtlItem, ModeHost, ReadyReason, RecvVerdict, SyncMode, TxItem } from './types';

export interface FtfwOptions {
  /** ACKWindowSize (spec §7.1), default 300. */
  ackWindow: number;
  /** ResendQueueSize (spec §7.1), default 131072. */
  resendQueueSize: number;
  /** ALIVE/ACK timer, fixed 1 s in conntrackd. */
  aliveMs: number;
  /** ACK a received data window after this much receive idleness; 0 = conntrackd behaviour. */
  ackDelayMs: number;
  /** First tail-loss probe after a data pass; 0 = off (conntrackd behaviour). */
  probeMs: number;
  maxProbes: number;
  /** Ask peers for their state at start (StartupResync, but retried until answered). */
  startupResync: boolean;
  resyncRetryMs: number;
  resyncRetryMaxMs: number;
  /**
   * Requests sent while a peer is heard from but never acknowledges them (e.g. a NOTRACK peer,
   * which answers every RESYNC with a bulk but never ACKs): give up after this many. While no
   * peer is heard at all, retrying goes on (a lone node waiting for its peer).
   */
  resyncMaxAttemptsWithPeer: number;
  /** A lone node (no peer answers) becomes ready after this long. */
  readyTimeoutMs: number;
  /**
   * A peer that is heard (ALIVE, ACK, data) but has not answered our RESYNC is slow, not absent:
   * its state is on the way, so readiness waits this long from start instead of
   * readyTimeoutMs (a node declared ready with an empty external cache could be made master by
   * keepalived). Only when readyTimeoutMs > 0.
   */
  readyPeerWaitMs: number;
  /** After our RESYNC is acknowledged, ready once the peer's bulk stops (this much idle). */
  readyIdleMs: number;
  /** One tracker per sender node id (requires the envelope); false = conntrackd's single one. */
  perSender: boolean;
  /** Our node id (per-sender mode: ACK/NACK target matching). */
  nodeId: number;
  /** Per-sender mode: a peer silent this long no longer holds back resend-queue releases. */
  peerTimeoutMs: number;
  /**
   * Flow control (ours): at most this many messages in flight beyond the highest acknowledged
   * seq (raised to 2 × ackWindow, so a conntrackd receiver that ACKs every ackWindow messages
   * keeps it open). 0 = off (conntrackd). In per-sender mode the fastest peer's ACKs move it.
   */
  maxInFlight: number;
  /** A full window without ACK progress for this long is forced open (peer that never ACKs). */
  windowStallMs: number;
  /**
   * Re-send resend-queue entries an ACK skipped (their NACK was lost); false = conntrackd
   * (they wait for a NACK that never comes). Not in per-sender mode (ACKs there are per peer).
   * Default false here, true in SyncEngine (the daemon).
   */
  repairStranded: boolean;
}

export const DEFAULT_FTFW_OPTIONS: Readonly<FtfwOptions> = Object.freeze({
  ackWindow: 300,
  resendQueueSize: 131072,
  aliveMs: 1000,
  ackDelayMs: 30,
  probeMs: 80,
  maxProbes: 3,
  startupResync: true,
  resyncRetryMs: 1000,
  resyncRetryMaxMs: 4000,
  resyncMaxAttemptsWithPeer: 5,
  readyTimeoutMs: 3000,
  readyPeerWaitMs: 15000,
  readyIdleMs: 200,
  perSender: false,
  nodeId: 0,
  peerTimeoutMs: 10000,
  // ≈120 datagrams of 1472 B: about a third of a 208 KiB default socket buffer in skb truesize
  // terms (≈2.3 KiB per datagram on veth), so even a peer with kernel-default buffers keeps up.
  maxInFlight: 2048,
  windowStallMs: 1500,
  // off in the bare mode (spec §4.2 behaviour, unit-tested as such); the engine turns it on
  repairStranded: false,
});

/**
 * maxInFlight for a peer whose socket accepts `rcvBufBytes` (the getsockopt(SO_RCVBUF) figure:
 * the kernel's limit on the truesize of queued datagrams). The engine passes our own buffer as
 * the estimate of the peer's (same config, same rmem_max). Half of it, at a conservative 4 KiB
 * of truesize per full datagram (≈2.3 KiB measured on veth) and 128 bytes per message
 * (plain TCP flows take ≈85), within [256, 16384]: 208 KiB → 286 (then 2 × ackWindow = 600),
 * 8 MiB → 11264 messages.
 */
export function windowForReceiveBuffer(rcvBufBytes: number, maxPayload: number): number {
  const datagrams = Math.floor(rcvBufBytes / 2 / 4096);
  const perDatagram = Math.max(1, Math.floor(maxPayload / 128));
  return Math.max(256, Math.min(16384, datagrams * perDatagram));
}

const HelloState = { INIT: 0, SAY: 1, DONE: 2 } as const;
type HelloState = (typeof HelloState)[keyof typeof HelloState];

/** Bytes of the per-sender ACK/NACK trailer (target node id). */
export const TARGET_TRAILER = 4;

export class FtfwMode extends ModeBase implements SyncMode {
  readonly name = 'ftfw' as const;
  readonly opts: FtfwOptions;
  private readonly rs = new LinkedQueue<TxItem>('rsqueue');
  private hello: HelloState = HelloState.INIT;
  private sayHelloBack = false;

  private aliveAt: number;
  private probeAt = 0;
  private probeCount = 0;
  /** Seq of the last data object sent; highest seq acknowledged (all peers). */
  private lastDataSeq = 0;
  private dataSent = false;
  private highestAcked = 0;
  private anyAcked = false;

  private resyncWanted = false;
  private resyncAt = 0;
  private resyncBackoff: number;
  private resyncAnsweredAt = 0;
  /** Clock time of the last receive gap (-1: none yet); readiness waits longer after one. */
  private lastGapAt = -1;
  /** Clock time of the last data message received from any peer. */
  private lastDataAt = 0;
  private readonly startedAt: number;
  private isReady = false;

  // flow control: messages with seq in [flowBase, next seq) are in flight (sent, not yet
  // covered by an ACK); `window` = 0 when off.
  private readonly window: number;
  private flowBase = 0;
  private flowBaseSet = false;
  /** When the window became full (-1 = not blocked; 0 is a valid clock time): the stall valve's clock. */
  private blockedSince = -1;
  /** Control items in the tx queue (they may overtake data held back by the window). */
  private ctlInTx = 0;

  constructor(clock: Clock, host: ModeHost, opts: Partial<FtfwOptions> = {}) {
    const o = { ...DEFAULT_FTFW_OPTIONS, ...opts };
    super(clock, host, o.ackWindow);
    this.opts = o;
    const now = clock.now();
    this.startedAt = now;
    this.aliveAt = now + o.aliveMs;
    this.resyncBackoff = o.resyncRetryMs;
    this.window = o.maxInFlight > 0 ? Math.max(o.maxInFlight, 2 * o.ackWindow) : 0;
    if (o.startupResync) this.requestResync();
    else this.isReady = true; // nothing to wait for
  }

  get ready(): boolean {
    return this.isReady;
  }

  get rsLength(): number {
    return this.rs.length;
  }

  /** Resend queue contents for `-s rsqueue` (spec §5.7). */
  rsEntries(): IterableIterator<TxItem> {
    return this.rs[Symbol.iterator]();
  }

  /** Monotonic time the oldest unacknowledged message was sent, or undefined. */
  oldestUnackedAt(): number | undefined {
    return this.rs.head?.sentAt;
  }

  requestResync(): void {
    this.resyncWanted = true;
    this.resyncBackoff = this.opts.resyncRetryMs;
    this.resyncWithPeer = 0;
    this.sendResync();
  }

  private resyncWithPeer = 0;
  /** Data messages received from all peers when the last RESYNC went out (see onTimer). */
  private dataAtResync = 0;

  private dataRecvTotal(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.stats.dataRecv;
    return n;
  }

  private sendResync(): void {
    if (this.trackers.size > 0 && ++this.resyncWithPeer > this.opts.resyncMaxAttemptsWithPeer) {
      this.resyncWanted = false;
      this.resyncAt = 0;
      this.stats.resyncGaveUp++;
      return;
    }
    this.queueCtl(NET_F.RESYNC);
    this.dataAtResync = this.dataRecvTotal();
    this.stats.resyncRequests++;
    this.resyncAt = this.clock.now() + this.resyncBackoff;
    this.resyncBackoff = Math.min(this.resyncBackoff * 2, this.opts.resyncRetryMaxMs);
  }

  // ---------------------------------------------------------------- transmit (spec §4.2)

  private helloFlags(): number {
    if (this.hello === HelloState.INIT) this.hello = HelloState.SAY;
    let f = this.hello === HelloState.SAY ? NET_F.HELLO : 0;
    if (this.sayHelloBack) {
      f |= NET_F.HELLO_BACK;
      this.sayHelloBack = false;
    }
    return f;
  }

  transmit(budget: number): number {
    const now = this.clock.now();
    let n = 0;
    let data = false;
    while (n < budget) {
      const it = this.tx.head;
      if (!it) break;
      if (it.kind !== 'ctl' && this.window > 0 && this.windowFull(now)) {
        // Data waits for ACKs; control messages queued behind it go now.
        n += this.sendHeldCtl(budget - n, now);
        break;
      }
      this.tx.remove(it);
      if (this.sendOne(it, now)) data = true;
      n++;
    }
    if (n > 0) {
      // spec §4.2: after the pass the ALIVE timer is re-armed to 1 s.
      this.aliveAt = now + this.opts.aliveMs;
      if (data && this.opts.probeMs > 0) {
        this.probeAt = now + this.opts.probeMs;
        this.probeCount = 0;
      }
    }
    return n;
  }

  /** Emits one item taken off the tx queue; returns whether it was data. */
  private sendOne(it: TxItem, now: number): boolean {
    const hf = this.helloFlags();
    const seq = this.nextSeq();
    if (!this.flowBaseSet) {
      this.flowBase = seq;
      this.flowBaseSet = true;
    }
    this.stats.msgsSent++;
    if (it.kind === 'ctl') {
      this.ctlInTx--;
      this.host.emitCtl(it.flags | hf, seq, it.from, it.to, it.target);
      this.stats.ctlSent++;
      if (it.flags & NET_F.ALIVE) {
        this.stats.alivesSent++;
        return false; // ALIVE is not kept for retransmission
      }
      if (it.flags & NET_F.ACK) this.stats.acksSent++;
      else if (it.flags & NET_F.NACK) this.stats.nacksSent++;
      else if (it.flags & NET_F.RESYNC) this.stats.resyncsSent++;
      it.seq = seq;
      it.sentAt = now;
      it.ackMask = 0;
      this.pushRs(it);
      return false;
    }
    this.host.emitObject(it, hf, seq);
    this.stats.dataSent++;
    it.seq = seq;
    it.sentAt = now;
    it.ackMask = 0;
    this.lastDataSeq = seq;
    this.dataSent = true;
    this.pushRs(it);
    return true;
  }

  /**
   * While the window holds data back: send the control items queued behind it, oldest first.
   * They sit near the tail (queued after the held-back data), so the walk starts there.
   */
  private sendHeldCtl(budget: number, now: number): number {
    if (this.ctlInTx <= 0 || budget <= 0) return 0;
    const found: CtlItem[] = [];
    let left = this.ctlInTx;
    for (let it = this.tx.tail; it && left > 0; it = it.qPrev as TxItem | null) {
      if (it.kind === 'ctl') {
        found.push(it);
        left--;
      }
    }
    let k = 0;
    for (let i = found.length - 1; i >= 0 && k < budget; i--, k++) {
      const it = found[i]!;
      this.tx.remove(it);
      this.sendOne(it, now);
    }
    return k;
  }

  /** Messages sent beyond the highest acknowledged seq. */
  get inFlight(): number {
    const last = this.lastSentSeq();
    if (!this.flowBaseSet || last === undefined) return 0;
    return (last + 1 - this.flowBase) >>> 0;
  }

  /**
   * Whether the window is full (flow control). Tracks when it became full; after
   * windowStallMs without ACK progress it is forced open (conntrackd's unpaced behaviour).
   */
  private windowFull(now: number): boolean {
    if (this.inFlight < this.window) {
      this.blockedSince = -1;
      return false;
    }
    if (this.blockedSince === -1) {
      this.blockedSince = now;
      this.stats.windowFull++;
      return true;
    }
    if (now - this.blockedSince >= this.opts.windowStallMs) {
      this.stats.windowStalls++;
      this.openWindow();
      return false;
    }
    return true;
  }

  /** Nothing counts as in flight any more (peer restarted, or the stall valve). */
  private openWindow(): void {
    const last = this.lastSentSeq();
    if (last !== undefined) this.flowBase = (last + 1) >>> 0;
    this.blockedSince = -1;
  }

  /** Data waits in the tx queue only while the window is full; control never waits. */
  override hasPending(): boolean {
    if (this.tx.length === 0) return false;
    if (this.ctlInTx > 0 || this.window === 0) return true;
    return !this.windowFull(this.clock.now());
  }

  protected override queueCtl(flags: number, from = 0, to = 0, target = 0): CtlItem {
    this.ctlInTx++;
    return super.queueCtl(flags, from, to, target);
  }

  private pushRs(it: TxItem): void {
    if (this.rs.length >= this.opts.resendQueueSize) {
      const old = this.rs.shift();
      if (old) {
        this.stats.rsOverflow++;
        this.releaseItem(old);
      }
    }
    this.rs.push(it);
  }

  private releaseItem(it: TxItem): void {
    if (it.kind !== 'ctl') this.host.release(it);
  }

  // ---------------------------------------------------------------- receive (spec §4.2 recv)

  onMessage(h: NetHeader, peer: number, target: number, at?: number): RecvVerdict {
    const now = at ?? this.clock.now();
    const tr = this.tracker(peer);
    const ps = tr.stats;
    ps.msgsRecv++;
    ps.bytesRecv += h.len;
    ps.lastRecvAt = now;
    if (this.opts.perSender && ps.msgsRecv === 1 && this.nextBit <= 31) {
      // A newly seen peer needs nothing we sent before it appeared (it will RESYNC).
      tr.bit = 1 << (this.nextBit++ - 1);
      this.markAll(tr.bit);
    }

    if (h.flags & NET_F.HELLO_BACK && this.hello === HelloState.SAY) this.hello = HelloState.DONE;

    let st: number;
    if (h.flags & NET_F.HELLO) {
      this.sayHelloBack = true;
      if (!tr.helloing) {
        tr.helloing = true;
        ps.hellos++;
        this.peerRestarted(tr);
      }
      if (tr.ackFromSet && seqBefore(h.seq, tr.ackFrom)) {
        tr.window = this.windowSize - 1;
        tr.ackFrom = h.seq;
      }
      st = SeqState.IN_SYNC;
    } else {
      tr.helloing = false;
      st = tr.classify(h.seq);
    }

    if (st === SeqState.BEFORE) {
      ps.before++;
      this.stats.before++;
      return 'drop';
    }

    const wasSet = tr.set;
    const v = this.digest(h, tr, target, now);
    if (v === 'bad') {
      ps.badCtl++;
      this.stats.badCtl++;
      return 'drop';
    }

    if (st === SeqState.AFTER) {
      const exp = seqAdd(tr.last, 1);
      const missing = ((h.seq - exp) >>> 0);
      ps.gaps++;
      this.lastGapAt = now;
      ps.lost += missing;
      ps.lostConntrackd += missing + 2;
      this.stats.lost += missing;
      this.stats.lostConntrackd += missing + 2;
      if (tr.ackFromSet) this.queueAckFor(tr, tr.ackFrom, (exp - 1) >>> 0);
      this.queueCtl(NET_F.NACK, exp, (h.seq - 1) >>> 0, this.targetOf(tr));
      ps.nacksSent++;
      tr.window = this.windowSize - 1;
      tr.ackFrom = h.seq;
      tr.ackFromSet = true;
    } else {
      if (!tr.ackFromSet) {
        tr.ackFrom = h.seq;
        tr.ackFromSet = true;
      }
      if (--tr.window <= 0) {
        this.queueAckFor(tr, tr.ackFrom, h.seq);
        tr.window = this.windowSize;
        tr.ackFromSet = false;
        tr.pendingData = false;
        tr.ackAt = 0;
      }
    }
    tr.last = h.seq;
    tr.set = true;
    if (!wasSet && this.hello === HelloState.SAY && !(h.flags & NET_F.HELLO_BACK) && !(h.flags & NET_F.HELLO)) {
      tr.uncertainStart = true;
    }
    if (v !== 'ctl-quiet' && tr.ackFromSet && this.opts.ackDelayMs > 0) {
      tr.pendingData = true;
      tr.ackAt = now + this.opts.ackDelayMs;
    }
    if (v === 'data') {
      ps.dataRecv++;
      this.lastDataAt = now;
    }
    return v === 'data' ? 'data' : 'ctl';
  }

  private targetOf(tr: RxTracker): number {
    return this.opts.perSender ? tr.peer : 0;
  }

  private queueAckFor(tr: RxTracker, from: number, to: number): void {
    this.queueCtl(NET_F.ACK, from, to, this.targetOf(tr));
    tr.stats.acksSent++;
  }

  /**
   * Control semantics (spec §4.2 digest). 'ctl' = control worth a prompt ACK (NACK, RESYNC),
   * 'ctl-quiet' = ACK/ALIVE (acknowledged on the 1 s tick only).
   */
  private digest(h: NetHeader, tr: RxTracker, target: number, now: number): 'data' | 'ctl' | 'ctl-quiet' | 'bad' {
    const f = h.flags;
    if (h.type <= 5 && (f & ~(NET_F.HELLO | NET_F.HELLO_BACK)) === 0) return 'data';
    if (h.type !== 10) return 'bad';
    const forUs = !this.opts.perSender || target === 0 || target === this.opts.nodeId;
    if (f & NET_F.ACK) {
      if (seqBefore(h.to, h.from)) return 'bad';
      if (!forUs) {
        tr.stats.notForUs++;
        return 'ctl-quiet';
      }
      tr.stats.acksRecv++;
      this.stats.acksRecv++;
      this.onAck(tr, h.from, h.to, now);
      return 'ctl-quiet';
    }
    if (f & NET_F.NACK) {
      if (seqBefore(h.to, h.from)) return 'bad';
      if (!forUs) {
        tr.stats.notForUs++;
        return 'ctl-quiet';
      }
      tr.stats.nacksRecv++;
      this.stats.nacksRecv++;
      this.onNack(tr, h.from, h.to);
      return 'ctl';
    }
    if (f & NET_F.RESYNC) {
      tr.stats.resyncsRecv++;
      this.stats.resyncsRecv++;
      this.host.bulkRequested(tr.peer);
      return 'ctl';
    }
    if (f & NET_F.ALIVE) return 'ctl-quiet';
    return 'bad';
  }

  /** A peer (re)started: it has lost all context (spec §4.2 HELLO). */
  private peerRestarted(tr: RxTracker): void {
    // It lost all context: nothing we sent before is in flight to it any more.
    if (this.window > 0) {
      this.openWindow();
      if (this.tx.length > 0) this.host.txPending();
    }
    if (this.opts.perSender) {
      // Only this peer stops needing what we sent so far; others still may.
      this.markAll(tr.bit);
      return;
    }
    const n = this.rs.length;
    let resyncLost = false;
    this.rs.clear((it) => {
      if (it.kind === 'ctl' && it.flags & NET_F.RESYNC) resyncLost = true;
      this.releaseItem(it);
    });
    this.stats.rsFlushed += n;
    // Our unacknowledged RESYNC went with the flush (both nodes starting together): ask again
    // now rather than at the next retry tick.
    if (resyncLost && this.resyncWanted) this.sendResync();
  }

  private onAck(tr: RxTracker, from: number, to: number, now: number): void {
    if (!this.anyAcked || seqAfter(to, this.highestAcked)) {
      this.highestAcked = to;
      this.anyAcked = true;
    }
    this.advanceWindow(to);
    const live = this.opts.perSender ? this.liveMask(now) : 0;
    const repair = this.opts.repairStranded && !this.opts.perSender;
    let stranded = 0;
    // spec §4.2: skip entries before `from` (kept), remove [from, to], stop after `to`.
    // Per-sender: mark the entry acknowledged by this peer; remove once all live peers did.
    let it = this.rs.head;
    while (it) {
      const next = this.rs.next(it);
      if (seqBefore(it.seq, from)) {
        if (repair) stranded += this.repairStrandedItem(it);
        it = next;
        continue;
      }
      if (seqAfter(it.seq, to)) break;
      if (this.opts.perSender) {
        it.ackMask |= tr.bit;
        if ((it.ackMask & live) !== live) {
          it = next;
          continue;
        }
      }
      this.rs.remove(it);
      this.acked(it, now);
      it = next;
    }
    if (stranded > 0) {
      this.stats.strandedResends += stranded;
      tr.stats.resends += stranded;
      this.host.txPending();
    }
  }

  /**
   * An entry older than an ACK's `from` was neither acknowledged nor re-sent: the receiver
   * ACKs contiguous windows and NACKs every gap before acknowledging past it, so the NACK
   * (or the ACK) covering it was lost. conntrackd keeps such an entry until the resend queue
   * overflows, i.e. the change is lost for good; we re-send it now (a duplicate, if only the
   * ACK was lost, is harmless: the peer applies the current state again). A stranded RESYNC
   * is dropped instead (re-sending it would trigger a second bulk; the retry timer re-asks if
   * it is still unanswered). Returns 1 when the entry was queued again.
   */
  private repairStrandedItem(it: TxItem): number {
    if (it.kind === 'ctl') {
      if (it.flags & NET_F.RESYNC) {
        this.rs.remove(it);
        return 0;
      }
      this.ctlInTx++;
    }
    this.tx.push(it);
    return 1;
  }

  /** An ACK up to `to` (of anything we really sent) moves the flow-control window. */
  private advanceWindow(to: number): void {
    const last = this.lastSentSeq();
    if (!this.flowBaseSet || last === undefined || seqAfter(to, last)) return;
    const nb = (to + 1) >>> 0;
    if (!seqAfter(nb, this.flowBase)) return;
    this.flowBase = nb;
    if (this.blockedSince !== -1) {
      this.blockedSince = -1; // progress: the stall valve starts again if it fills up
      if (this.tx.length > 0) this.host.txPending();
    }
  }

  private nextBit = 1;

  /** Bits of the peers heard from within peerTimeoutMs. */
  private liveMask(now: number): number {
    let m = 0;
    for (const t of this.trackers.values()) {
      if (t.bit !== 0 && now - t.stats.lastRecvAt <= this.opts.peerTimeoutMs) m |= t.bit;
    }
    return m;
  }

  /** Per-sender: `bit` no longer needs anything in the resend queue; release what is done. */
  private markAll(bit: number): void {
    for (const it of this.rs) it.ackMask |= bit;
    this.releaseAckedByAll();
  }

  private acked(it: TxItem, now: number): void {
    if (it.kind === 'ctl') {
      if (it.flags & NET_F.RESYNC && this.resyncWanted) this.resyncDone(now);
      return;
    }
    this.stats.acked++;
    if (it.eventAt > 0) {
      this.stats.lag.observe(now - it.eventAt);
      it.eventAt = 0;
    }
    this.host.release(it);
  }

  /**
   * Per-sender mode: release every resend-queue entry all live peers acknowledged (peers come
   * and go, so this also runs on the ALIVE tick). Nobody live: keep everything, as conntrackd.
   */
  private releaseAckedByAll(): void {
    const now = this.clock.now();
    const live = this.liveMask(now);
    if (live === 0) return;
    let it = this.rs.head;
    while (it) {
      const next = this.rs.next(it);
      if ((it.ackMask & live) === live) {
        this.rs.remove(it);
        this.acked(it, now);
      }
      it = next;
    }
  }

  private onNack(tr: RxTracker, from: number, to: number): void {
    // spec §4.2: entries in [from, to] go back to the tx queue; rebuilt from current state
    // (objects) or re-sent with the same range (control), each with a new seq.
    let it = this.rs.head;
    let moved = 0;
    while (it) {
      const next = this.rs.next(it);
      if (seqBefore(it.seq, from)) {
        it = next;
        continue;
      }
      if (seqAfter(it.seq, to)) break;
      if (it.kind === 'ctl') this.ctlInTx++;
      this.tx.push(it);
      moved++;
      it = next;
    }
    if (moved > 0) {
      this.stats.resends += moved;
      tr.stats.resends += moved;
      this.host.txPending();
    }
  }

  private resyncDone(now: number): void {
    let uncertain = false;
    for (const t of this.trackers.values()) {
      if (t.uncertainStart) uncertain = true;
      t.uncertainStart = false;
    }
    if (uncertain) {
      // Our RESYNC reached the peer but we may have missed the head of its answer: ask once
      // more now that tracking is established (duplicates are harmless: NEW replaces).
      this.resyncBackoff = this.opts.resyncRetryMs;
      this.sendResync();
      return;
    }
    this.resyncWanted = false;
    this.resyncAt = 0;
    this.stats.resyncAnswered++;
    this.resyncAnsweredAt = now;
  }

  // ---------------------------------------------------------------- timers

  nextTimerAt(): number {
    let t = earliest(this.aliveAt, this.probeAt);
    if (this.resyncWanted) t = earliest(t, this.resyncAt);
    for (const tr of this.trackers.values()) t = earliest(t, tr.ackAt);
    if (this.blockedSince !== -1) t = earliest(t, this.blockedSince + this.opts.windowStallMs);
    if (!this.isReady) t = earliest(t, this.readyCheckAt());
    return t === 0 ? Number.POSITIVE_INFINITY : t;
  }

  private readyCheckAt(): number {
    if (this.resyncAnsweredAt > 0) {
      let last = this.resyncAnsweredAt;
      for (const tr of this.trackers.values()) if (tr.stats.lastRecvAt > last) last = tr.stats.lastRecvAt;
      if (this.lastGapAt < 0) return last + this.opts.readyIdleMs;
      // A link that lost something is repaired only after a NACK/ACK round trip, a tail probe or
      // the window stall valve: pauses that long (with ALIVEs/ACKs in them) do not mean the bulk
      // is over. So after a gap: that long without data (found by
      // test/daemon/fixtures/ready-under-loss.repro.ts: ready with 19068 of 20000 flows).
      const lastData = Math.max(this.resyncAnsweredAt, this.lastDataAt);
      return Math.max(last + this.opts.readyIdleMs, lastData + this.opts.aliveMs + this.opts.windowStallMs);
    }
    return this.startedAt + this.unansweredWaitMs();
  }

  /** How long an unanswered start-up RESYNC holds readiness back (see readyPeerWaitMs). */
  private unansweredWaitMs(): number {
    const t = this.opts.readyTimeoutMs;
    return t > 0 && this.peerHeard() ? Math.max(t, this.opts.readyPeerWaitMs) : t;
  }

  get readyReason(): ReadyReason | undefined {
    return this.readyReasonFor(this.isReady, this.resyncAnsweredAt, this.opts.startupResync);
  }

  onTimer(now: number): void {
    for (const tr of this.trackers.values()) {
      if (tr.ackAt !== 0 && now >= tr.ackAt) {
        tr.ackAt = 0;
        if (tr.ackFromSet && tr.pendingData && tr.set) {
          this.queueAckFor(tr, tr.ackFrom, tr.last);
          this.stats.promptAcks++;
          tr.ackFromSet = false;
          tr.window = this.windowSize;
        }
        tr.pendingData = false;
      }
    }
    if (this.probeAt !== 0 && now >= this.probeAt) {
      this.probeAt = 0;
      const unacked = this.dataSent && (!this.anyAcked || seqAfter(this.lastDataSeq, this.highestAcked));
      if (unacked && this.rs.length > 0 && this.probeCount < this.opts.maxProbes) {
        this.aliveTick();
        this.stats.probesSent++;
        this.probeCount++;
        this.probeAt = now + this.opts.probeMs * 2 ** this.probeCount;
      }
    }
    if (now >= this.aliveAt) {
      this.aliveTick();
      this.aliveAt = now + this.opts.aliveMs;
      if (this.opts.perSender) this.releaseAckedByAll();
    }
    if (this.resyncWanted && this.resyncAt !== 0 && now >= this.resyncAt) {
      // Data arriving since our RESYNC went out is most likely the answer. conntrackd ACKs it
      // only on its 1 s ALIVE tick, which every transmission (its bulk included) re-arms, so the
      // ACK lands at or after our 1 s retry: re-asking then made conntrackd send its whole table
      // a second time, and that late bulk could refill an external cache just flushed by the
      // primary-backup.sh primary branch (found by test/interop). Wait for the ACK instead; a
      // lost RESYNC is NACKed and re-sent like any message once both sides talk (spec §4.2).
      const d = this.dataRecvTotal();
      if (d !== this.dataAtResync) {
        this.dataAtResync = d;
        this.resyncAt = now + this.resyncBackoff;
      } else this.sendResync();
    }
    // Stall valve: the transmit pass forces the window open (windowFull).
    if (this.blockedSince !== -1 && now >= this.blockedSince + this.opts.windowStallMs) this.host.txPending();
    if (!this.isReady && now >= this.readyCheckAt()) {
      this.isReady = true;
      this.host.readyChanged?.();
    }
  }

  /** spec §4.2 ALIVE timer: ACK the open receive window(s), else send ALIVE. */
  private aliveTick(): void {
    let acked = false;
    for (const tr of this.trackers.values()) {
      if (tr.ackFromSet && tr.set) {
        this.queueAckFor(tr, tr.ackFrom, tr.last);
        tr.ackFromSet = false;
        tr.pendingData = false;
        tr.ackAt = 0;
        acked = true;
      }
    }
    if (!acked) this.queueCtl(NET_F.ALIVE);
  }

  /** For tests and `-s`: hello state name. */
  get helloState(): 'init' | 'say' | 'done' {
    return this.hello === HelloState.INIT ? 'init' : this.hello === HelloState.SAY ? 'say' : 'done';
  }
}

/** Re-exported for the engine: DEAD objects are released after their last queue. */
export { ObjStatus };
