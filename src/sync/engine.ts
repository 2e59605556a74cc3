/**
 * SyncEngine (L4): joins the internal cache, the external cache, a sync mode, the wire codec and
 * one Channel (ARCHITECTURE "data flows one way").
 *
 *   out: kernel event → InternalCache → mode.enqueue → (deferred) transmit pass → encode at send
 *        time from the object's current state → DatagramPacker → [envelope] → channel
 *   in:  channel → [envelope open: sender id] → walkDatagram → mode.onMessage (seq, ack/nack,
 *        hello) → decodeDataMessage → ExternalCache
 *
 * One transmit pass runs per event-loop turn in which the tx queue became non-empty (deferred
 * with the injected scheduler, conntrackd's "per main-loop pass", spec §1.4), packs up to
 * `txBudget` messages and flushes the packer. One real timer is armed at the mode's
 * nextTimerAt() (and the ALARM external-expiry deadline).
 */
import type { ExternalCache, InternalCache } from '../cache/cache';
import { externalCtCache, externalExpCache, internalCtCache, internalExpCache } from '../cache/cache';
import type { CacheObject } from '../cache/object';
import { ObjStatus } from '../cache/object';
import type { CacheStats } from '../cache/stats';
import type { Clock } from '../core/clock';
import { ExpectationFilter, type ExpectationSyncConfig } from '../filter/exp-filter';
import type { FilterStats, FlowFilter } from '../filter/flow-filter';
import type { Expectation, Flow } from '../flow/flow';
import { ENVELOPE_OVERHEAD } from './envelope/envelope';
import type { Channel, EnvelopePort, Scheduler } from './channel-port';
import { EngineStats } from './engine/stats';
import { AlarmMode, type AlarmOptions } from './mode/alarm';
import { FtfwMode, type FtfwOptions, TARGET_TRAILER, windowForReceiveBuffer } from './mode/ftfw';
import { NotrackMode, type NotrackOptions } from './mode/notrack';
import type { ModeStats, PeerStats } from './mode/stats';
import type { ModeHost, ReadyReason, SyncMode, SyncObject } from './mode/types';
import { NET_F, NET_T } from './wire/constants';
import { ctMessageLength, encodeCt } from './wire/ct';
import { WireEncodeError } from './wire/errors';
import { encodeExp, expMessageLength } from './wire/exp';
import { ctlLength, encodeCtl, isAckForm, type NetHeader } from './wire/header';
import { decodeDataBody } from './wire/message';
import type { WireOptions } from './wire/options';
import { DatagramPacker } from './wire/packer';
import { WireRxStats } from './wire/stats';
import { newHeaderScratch, walkDatagram } from './wire/walk';

export type { Channel, EnvelopePort, Scheduler } from './channel-port';
export { realScheduler } from './engine/scheduler';

export type KernelEventKind = 'new' | 'update' | 'destroy';

export interface SyncEngineOptions {
  mode: 'ftfw' | 'notrack' | 'alarm';
  clock: Clock;
  channel: Channel;
  wire: WireOptions;
  /** Authenticated envelope; enables per-sender tracking in FTFW (needs nodeId). */
  envelope?: EnvelopePort;
  /** Our envelope node id (ACK/NACK target matching in per-sender FTFW). */
  nodeId?: number;
  /** Bytes the envelope adds per datagram (default ENVELOPE_OVERHEAD when an envelope is set). */
  envelopeOverhead?: number;
  ftfw?: Partial<FtfwOptions>;
  notrack?: Partial<NotrackOptions>;
  /** refreshTime / cacheTimeout in seconds (spec §7.1 RefreshTime, CacheTimeout). */
  alarm?: Partial<AlarmOptions> & { cacheTimeout?: number };
  /** HashLimit per cache (spec §7.2), 0 = unlimited. */
  cacheLimit: number;
  /** Event filter (spec §6), applied to kernel events and loads, never to received messages. */
  filter?: FlowFilter;
  /** ExpectationSync (spec §6); absent/false = expectation events are ignored. */
  expectationSync?: ExpectationSyncConfig;
  /** Called once when `ready` becomes true. */
  onPeerResyncDone?: () => void;
  scheduler: Scheduler;
  /** Max messages per transmit pass before yielding (bulk sends stay responsive). */
  txBudget?: number;
  /** Unexpected internal errors (bugs), for logging; the engine keeps running. */
  onError?: (err: unknown, where: string) => void;
}

/** Per-peer view: wire rejections and mode counters of one sender (id 0 without envelope). */
export interface PeerView {
  id: number;
  rx: WireRxStats;
  mode: PeerStats;
}

export class SyncEngine {
  readonly internal: InternalCache<Flow>;
  readonly internalExp: InternalCache<Expectation>;
  readonly external: ExternalCache<Flow>;
  readonly externalExp: ExternalCache<Expectation>;
  readonly mode: SyncMode;
  readonly engineStats = new EngineStats();

  private readonly clock: Clock;
  private readonly channel: Channel;
  private readonly wire: WireOptions;
  private readonly envelope: EnvelopePort | undefined;
  private readonly perSender: boolean;
  private readonly sched: Scheduler;
  private readonly packer: DatagramPacker;
  private readonly txBudget: number;
  private readonly filter: FlowFilter | undefined;
  private readonly expFilter: ExpectationFilter | null;
  private readonly rxByPeer = new Map<number, WireRxStats>();
  private readonly onError: (err: unknown, where: string) => void;
  private readonly onReady: (() => void) | undefined;

  private txScheduled = false;
  private timerHandle: unknown = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private readyNotified = false;
  // receive context of the datagram being walked
  private curPeer = 0;
  private curRx: WireRxStats;
  /** Clock reading for every message of the datagram being walked (one read per datagram). */
  private curNow = 0;
  /** Header object the walk refills per message (onMessage and the modes do not keep it). */
  private readonly hdr = newHeaderScratch();

  constructor(opts: SyncEngineOptions) {
    this.clock = opts.clock;
    this.channel = opts.channel;
    this.wire = opts.wire;
    this.envelope = opts.envelope;
    this.sched = opts.scheduler;
    this.filter = opts.filter;
    this.txBudget = opts.txBudget ?? 4096;
    this.onError = opts.onError ?? (() => {});
    this.onReady = opts.onPeerResyncDone;
    this.perSender = opts.mode === 'ftfw' && opts.envelope !== undefined;

    const cacheTimeoutMs = opts.mode === 'alarm' ? (opts.alarm?.cacheTimeout ?? 180) * 1000 : 0;
    this.internal = internalCtCache(opts.cacheLimit);
    this.internalExp = internalExpCache(opts.cacheLimit);
    this.external = externalCtCache(opts.cacheLimit, cacheTimeoutMs);
    this.externalExp = externalExpCache(opts.cacheLimit, cacheTimeoutMs);
    const es = opts.expectationSync ?? false;
    this.expFilter =
      es === false
        ? null
        : new ExpectationFilter(es, (e) => {
            const m = this.internal.find(masterOf(e));
            return m !== undefined && m.status !== ObjStatus.DEAD;
          });

    const overhead = opts.envelope ? (opts.envelopeOverhead ?? ENVELOPE_OVERHEAD) : 0;
    this.packer = new DatagramPacker(opts.channel.maxPayload - overhead, this.sendDatagram);
    this.curRx = new WireRxStats();

    const host: ModeHost = {
      emitObject: (obj, flags, seq) => this.emitObject(obj, flags, seq),
      emitCtl: (flags, seq, from, to, target) => this.emitCtl(flags, seq, from, to, target),
      txPending: this.scheduleTx,
      release: (obj) => this.release(obj),
      bulkRequested: () => this.bulkSend(),
      readyChanged: () => this.checkReady(),
    };
    if (opts.mode === 'ftfw') {
      const ftfw: Partial<FtfwOptions> = { repairStranded: true, ...opts.ftfw };
      // Flow control sized to the receive buffer (ours stands for the peer's), unless given.
      const rb = opts.channel.receiveBufferBytes ?? 0;
      if (ftfw.maxInFlight === undefined && rb > 0) ftfw.maxInFlight = windowForReceiveBuffer(rb, opts.channel.maxPayload - overhead);
      this.mode = new FtfwMode(this.clock, host, {
        ...ftfw,
        perSender: this.perSender,
        nodeId: opts.nodeId ?? 0,
      });
    } else if (opts.mode === 'notrack') {
      this.mode = new NotrackMode(this.clock, host, opts.notrack);
    } else {
      this.mode = new AlarmMode(this.clock, host, opts.alarm);
    }
    this.internal.onReplaced = (old) => this.mode.forget(old as SyncObject);
    this.internalExp.onReplaced = (old) => this.mode.forget(old as SyncObject);
    this.channel.onDatagram(this.onDatagram);
    this.rearm();
    this.checkReady();
  }

  // ------------------------------------------------------------------ public API (daemon)

  /** First state sync from the peers is done (see the mode), or a lone node waited enough. */
  get ready(): boolean {
    return this.mode.ready;
  }

  /** Why the engine became ready (undefined while not ready, and for ALARM). */
  get readyReason(): ReadyReason | undefined {
    return this.mode.readyReason;
  }

  /**
   * A kernel conntrack event (spec §5.1). `selfCaused`: the event's netlink origin is our own
   * commit/flush socket — applied to the internal cache, not queued for peers. `readAtMs`:
   * monotonic clock time the event was read (sync-lag metric). Filtered here (spec §6) for
   * new/update; destroys always reach the cache (a no-op for keys it never accepted).
   */
  onKernelEvent(kind: KernelEventKind, flow: Flow, selfCaused: boolean, readAtMs: number): void {
    if (this.closed) return;
    if (kind !== 'destroy' && this.filter && !this.filter.test(flow)) {
      this.engineStats.filtered++;
      return;
    }
    // readAtMs is a reading of this clock taken when the event was read, microseconds ago: use
    // it rather than reading the clock again for every event (issue 8, CPU per entry)
    const obj = this.internal.apply(kind, flow, selfCaused, readAtMs > 0 ? readAtMs : this.clock.now());
    if (obj) this.mode.enqueue(obj as SyncObject, readAtMs);
  }

  /** A kernel expectation event; ignored unless ExpectationSync is on (spec §6). */
  onKernelExpectation(kind: KernelEventKind, exp: Expectation, selfCaused: boolean, readAtMs = 0): void {
    if (this.closed || !this.expFilter) return;
    if (kind !== 'destroy' && !this.expFilter.test(exp)) return;
    const obj = this.internalExp.apply(kind, exp, selfCaused, this.clock.now());
    if (obj) this.mode.enqueue(obj as SyncObject, readAtMs);
  }

  /** Start-up dump / -R entry: into the internal cache, nothing sent (spec §5.1). */
  loadInternal(flow: Flow): void {
    if (this.filter && !this.filter.test(flow)) {
      this.engineStats.filtered++;
      return;
    }
    const obj = this.internal.load(flow, this.clock.now());
    if (obj) this.mode.onLoaded(obj as SyncObject);
  }

  loadInternalExpectation(exp: Expectation): void {
    if (!this.expFilter?.test(exp)) return;
    const obj = this.internalExp.load(exp, this.clock.now());
    if (obj) this.mode.onLoaded(obj as SyncObject);
  }

  /**
   * -B, or the answer to a peer's RESYNC: queue every live internal object, conntracks then
   * expectations (spec §4.2). No-op in ALARM (spec §4.4). Queuing is pointer work; the
   * transmit passes that follow are bounded by txBudget and yield between passes.
   */
  bulkSend(): void {
    if (this.closed || this.mode.name === 'alarm') return;
    this.engineStats.bulks++;
    let n = 0;
    for (const o of this.internal.objects()) {
      if (o.status === ObjStatus.DEAD) continue;
      this.mode.enqueueBulk(o as SyncObject);
      n++;
    }
    for (const o of this.internalExp.objects()) {
      if (o.status === ObjStatus.DEAD) continue;
      this.mode.enqueueBulk(o as SyncObject);
      n++;
    }
    this.engineStats.bulkObjects += n;
  }

  /** -n: ask the peers for a full state (RESYNC); no-op in ALARM. */
  requestResync(): void {
    if (this.closed) return;
    this.mode.requestResync();
    this.rearm();
  }

  /** -f internal: drop the internal caches; queued objects are withdrawn, nothing is sent. */
  flushInternal(): void {
    for (const cache of [this.internal, this.internalExp] as InternalCache<unknown>[]) {
      const objs = [...cache.objects()];
      cache.flush();
      for (const o of objs) this.mode.forget(o as SyncObject);
    }
  }

  /** -f external. */
  flushExternal(): void {
    this.external.flush();
    this.externalExp.flush();
  }

  externalFlows(): IterableIterator<Flow> {
    return this.external.live();
  }

  externalExpectations(): IterableIterator<Expectation> {
    return this.externalExp.live();
  }

  internalFlows(): IterableIterator<Flow> {
    return this.internal.live();
  }

  internalExpectations(): IterableIterator<Expectation> {
    return this.internalExp.live();
  }

  /** Counters for metrics and `-s`; all plain objects read at scrape time. */
  get stats(): {
    engine: EngineStats;
    mode: ModeStats;
    rx: WireRxStats;
    peers: PeerView[];
    internal: CacheStats;
    internalExp: CacheStats;
    external: CacheStats;
    externalExp: CacheStats;
    filter: FilterStats | undefined;
    txQueue: number;
    rsQueue: number;
    oldestUnackedAgeMs: number | undefined;
  } {
    const peers: PeerView[] = [];
    const ids = new Set<number>(this.rxByPeer.keys());
    for (const t of this.mode.peers()) ids.add(t.peer);
    for (const id of ids) {
      peers.push({ id, rx: this.rxStats(id), mode: this.mode.tracker(id).stats });
    }
    const ftfw = this.mode instanceof FtfwMode ? this.mode : null;
    const oldest = ftfw?.oldestUnackedAt();
    return {
      engine: this.engineStats,
      mode: this.mode.stats,
      rx: this.rxTotal(),
      peers,
      internal: this.internal.stats,
      internalExp: this.internalExp.stats,
      external: this.external.stats,
      externalExp: this.externalExp.stats,
      filter: this.filter?.stats,
      txQueue: this.mode.txLength,
      rsQueue: ftfw ? ftfw.rsLength : 0,
      oldestUnackedAgeMs: oldest === undefined ? undefined : this.clock.now() - oldest,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timerHandle !== null) this.sched.clearTimer(this.timerHandle);
    this.timerHandle = null;
    await this.channel.close();
  }

  // ------------------------------------------------------------------ transmit

  private readonly sendDatagram = (d: Buffer): void => {
    const out = this.envelope ? this.envelope.seal(d) : d;
    this.engineStats.datagramsSent++;
    this.engineStats.bytesSent += out.length;
    this.channel.send(out);
  };

  private readonly scheduleTx = (): void => {
    if (this.txScheduled || this.closed) return;
    this.txScheduled = true;
    this.sched.defer(this.runTx);
  };

  private readonly runTx = (): void => {
    this.txScheduled = false;
    if (this.closed) return;
    const msgs0 = this.mode.stats.msgsSent;
    const bytes0 = this.engineStats.bytesSent;
    try {
      this.mode.transmit(this.txBudget);
      this.engineStats.transmitPasses++;
      this.packer.flush();
    } catch (err) {
      this.onError(err, 'transmit');
    }
    // Sends are broadcast (multicast, or the one unicast peer): every known peer was sent them.
    const dm = this.mode.stats.msgsSent - msgs0;
    const db = this.engineStats.bytesSent - bytes0;
    if (dm > 0) {
      for (const tr of this.mode.peers()) {
        tr.stats.msgsSent += dm;
        tr.stats.bytesSent += db;
      }
    }
    if (this.mode.hasPending()) this.scheduleTx();
    this.rearm();
  };

  private emitObject(obj: SyncObject, flags: number, seq: number): void {
    // spec §2.1: the type comes from the object's status at send time.
    const st = obj.status;
    try {
      if (obj.kind === 'ct') {
        const f = obj.data as Flow;
        const len = ctMessageLength(f, this.wire);
        const off = this.packer.reserve(len);
        const end = encodeCt(this.packer.buffer, off, st === ObjStatus.NEW ? 0 : st === ObjStatus.ALIVE ? 1 : 2, flags, seq, f, this.wire);
        this.packer.commit(end - off);
      } else {
        const e = obj.data as Expectation;
        const len = expMessageLength(e, this.wire);
        const off = this.packer.reserve(len);
        const end = encodeExp(this.packer.buffer, off, st === ObjStatus.NEW ? 3 : st === ObjStatus.ALIVE ? 4 : 5, flags, seq, e, this.wire);
        this.packer.commit(end - off);
      }
    } catch (err) {
      if (!(err instanceof WireEncodeError)) throw err;
      // Never send a message that cannot fit (conntrackd loops forever, spec §1.4); keep the
      // seq in use with an ALIVE so the peer sees no gap.
      this.engineStats.encodeErrors++;
      this.onError(err, 'encode');
      this.emitCtl(NET_F.ALIVE | (flags & (NET_F.HELLO | NET_F.HELLO_BACK)), seq, 0, 0, 0);
    }
  }

  private emitCtl(flags: number, seq: number, from: number, to: number, target: number): void {
    const base = ctlLength(flags);
    const ack = isAckForm(NET_T.CTL, flags) && (flags & (NET_F.ACK | NET_F.NACK)) !== 0;
    const len = ack && target !== 0 ? base + TARGET_TRAILER : base;
    const off = this.packer.reserve(len);
    const buf = this.packer.buffer;
    encodeCtl(buf, off, flags, seq, from, to);
    if (len !== base) {
      // Per-sender FTFW: the ACK/NACK names the node it answers (ours, behind the envelope;
      // conntrackd's receive rules would accept and ignore the extra bytes, spec §1.5).
      buf.writeUInt16BE(len, off + 2);
      buf.writeUInt32BE(target >>> 0, off + base);
    }
    this.packer.commit(len);
  }

  private release(obj: SyncObject): void {
    if (obj.kind === 'ct') this.internal.release(obj as CacheObject<Flow>);
    else this.internalExp.release(obj as CacheObject<Expectation>);
  }

  // ------------------------------------------------------------------ receive

  private rxStats(peer: number): WireRxStats {
    let s = this.rxByPeer.get(peer);
    if (!s) {
      s = new WireRxStats();
      this.rxByPeer.set(peer, s);
    }
    return s;
  }

  private rxTotal(): WireRxStats {
    const t = new WireRxStats();
    const tr = t as unknown as Record<string, number>;
    for (const s of this.rxByPeer.values()) {
      const r = s as unknown as Record<string, number>;
      for (const k of Object.keys(r)) tr[k] = (tr[k] ?? 0) + (r[k] ?? 0);
    }
    return t;
  }

  private readonly onDatagram = (d: Buffer, _from: string): void => {
    if (this.closed) return;
    this.engineStats.datagramsRecv++;
    this.engineStats.bytesRecv += d.length;
    try {
      let payload = d;
      let peer = 0;
      if (this.envelope) {
        const r = this.envelope.open(d);
        if (!r) {
          this.engineStats.envelopeRejected++;
          return;
        }
        payload = r.payload;
        peer = r.nodeId;
      }
      this.curPeer = peer;
      this.curRx = this.rxStats(peer);
      this.curNow = this.clock.now();
      walkDatagram(payload, 0, payload.length, this.curRx, this.onMessage, this.hdr);
    } catch (err) {
      this.engineStats.rxErrors++;
      this.onError(err, 'receive');
    }
    this.rearm();
  };

  private readonly onMessage = (h: NetHeader, buf: Buffer, bodyOff: number, bodyEnd: number): void => {
    let target = 0;
    if (this.perSender && isAckForm(h.type, h.flags) && bodyEnd - bodyOff >= TARGET_TRAILER) {
      target = buf.readUInt32BE(bodyOff);
    }
    const now = this.curNow;
    if (this.mode.onMessage(h, this.curPeer, target, now) !== 'data') return;
    // h is the walk's scratch header: read what is needed before anything else walks
    const type = h.type;
    const d = decodeDataBody(type, buf, bodyOff, bodyEnd, this.curRx, this.wire);
    if (d === null) return;
    const kind = type === 0 || type === 3 ? 'new' : type === 1 || type === 4 ? 'update' : 'destroy';
    if (kind === 'new') this.engineStats.appliedNew++;
    else if (kind === 'update') this.engineStats.appliedUpd++;
    else this.engineStats.appliedDel++;
    // decodeDataBody: types 0..2 give a Flow, 3..5 an Expectation
    if (type <= NET_T.STATE_CT_DEL) this.external.apply(kind, d as Flow, now);
    else this.externalExp.apply(kind, d as Expectation, now);
  };

  // ------------------------------------------------------------------ timers

  private rearm(): void {
    if (this.closed) return;
    let t = this.mode.nextTimerAt();
    const e1 = this.external.nextExpiryAt();
    if (e1 !== undefined && e1 < t) t = e1;
    const e2 = this.externalExp.nextExpiryAt();
    if (e2 !== undefined && e2 < t) t = e2;
    // Keep an armed timer that fires no later than needed: deadlines that move later (the
    // prompt-ACK deadline moves with every received datagram) are picked up when it fires,
    // instead of a clear/set pair per datagram.
    if (this.timerHandle !== null && this.timerAt <= t) return;
    if (this.timerHandle !== null) this.sched.clearTimer(this.timerHandle);
    this.timerHandle = null;
    this.timerAt = t;
    if (Number.isFinite(t)) this.timerHandle = this.sched.setTimer(t, this.onTimer);
  }

  private readonly onTimer = (): void => {
    this.timerHandle = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.clock.now();
    try {
      this.mode.onTimer(now);
      this.external.expire(now);
      this.externalExp.expire(now);
    } catch (err) {
      this.onError(err, 'timer');
    }
    this.rearm();
  };

  private checkReady(): void {
    if (!this.readyNotified && this.mode.ready) {
      this.readyNotified = true;
      this.onReady?.();
    }
  }
}

/** The key fields of an expectation's master flow, as a Flow for a cache lookup. */
function masterOf(e: Expectation): Flow {
  return e.zone === undefined ? { orig: e.master } : { orig: e.master, zone: e.zone };
}
