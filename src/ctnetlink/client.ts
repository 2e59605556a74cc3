/**
 * L3 adapter: conntrack over ctnetlink (events, dump, batched create/update/delete, get, stats).
 *
 * Three kinds of socket (research/netlink-measurements.md §6 "design rules"):
 *  - the event socket, joined to NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY (1-3) and optionally the
 *    expectation groups (4-6), with a large SO_RCVBUFFORCE (≈1.3 KB of buffer per queued event,
 *    so a 100k burst needs ≈128 MiB) and ENOBUFS reporting left on: an overrun is surfaced with
 *    a counter and the owner must resync by dumping;
 *  - the command socket: synchronous batches of up to `batchSize` messages per sendmsg,
 *    NLM_F_ACK on the last message only (errors still come back per seq), NETLINK_CAP_ACK, and a
 *    receive buffer of ≥ batch × 1 KiB so a batch where every entry fails still fits. The kernel
 *    processes the whole batch inside sendmsg (§3.1), so replies are read right after it;
 *  - the bulk socket: like the command socket, for the asynchronous batches of commit
 *    (createBatchAsync/deleteBatchAsync): sendmsg runs on the libuv threadpool while JS encodes
 *    the next batch. A socket of its own so that its replies never mix with those of a
 *    synchronous request (stats, flush, get, kernel-flush deletes) made meanwhile;
 *  - one short-lived socket per dump (32 KiB slots: dump datagrams are sized to the reader).
 *
 * Own changes: events caused by our requests carry the port id of the socket that made them in
 * nlmsg_pid (§3.1), handed to the event handler as `originPortId`; `isOwnOrigin(pid)` is the one
 * place that says whether a port id is one of ours.
 */
import { readFileSync } from 'node:fs';
import type { Expectation, Flow } from '../flow/flow';
import { NlAttrIter } from '../netlink/attr';
import {
  forEachNlMsg,
  IPCTNL_MSG_CT_GET_STATS,
  IPCTNL_MSG_CT_GET_STATS_CPU,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NFNLGRP_CONNTRACK_DESTROY,
  NFNLGRP_CONNTRACK_EXP_DESTROY,
  NFNLGRP_CONNTRACK_EXP_NEW,
  NFNLGRP_CONNTRACK_EXP_UPDATE,
  NFNLGRP_CONNTRACK_NEW,
  NFNLGRP_CONNTRACK_UPDATE,
  nfAttrOff,
  nfnlMsgType,
  NlBuilder,
  type NlMsg,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NFGENMSG_LEN,
  NLMSG_HDRLEN,
  checkDatagramRange,
  nlMsgLenAt,
  parseNlError,
  readNfgenFamily,
} from '../netlink/message';
import { align4 } from '../netlink/attr';
import {
  type NetlinkSocket,
  type NetlinkSocketOptions,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  openNetlinkSocket,
  setReceiveBuffer,
  SOL_NETLINK,
} from '../netlink/socket';
import {
  CtDecodeStats,
  type CtFlow,
  CtnetlinkDecodeError,
  type CtOp,
  decodeConntrack,
  decodeExpectation,
  encodeConntrack,
  encodeConntrackFlush,
  encodeDumpRequest,
  encodeExpectation,
  eventKind,
} from './codec';

export type CtEventKind = 'new' | 'update' | 'destroy';

export const ENOENT = 2;
export const ENOMEM = 12;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOBUFS = 105;
export const ETIMEDOUT = 110;

/**
 * Why an entry failed, as commit reports it. The kernel answers a create with ENOMEM both when
 * it is out of memory and when nf_conntrack_max is reached (__nf_conntrack_alloc returns
 * -ENOMEM after a failed early drop); the client tells them apart by reading the table count
 * (see `classifyErrno`).
 */
export type FailReason = 'exists' | 'notFound' | 'nomem' | 'tableFull' | 'lost' | 'other';

/** Result of a batch: errnos[i] is 0 when entry i succeeded, else the positive errno. */
export interface BatchResult {
  errnos: Int32Array;
  ok: number;
  failed: number;
}

export interface EventHandlers {
  onEvent?(kind: CtEventKind, flow: CtFlow, originPortId: number): void;
  onExpectation?(kind: CtEventKind, exp: Expectation, originPortId: number): void;
  /** Events were lost (ENOBUFS). `overruns` counts reports, not lost events; resync by dump. */
  onOverrun?(overruns: number): void;
  /** An event handler threw (counted in stats.handlerErrors; delivery continues). */
  onError?(err: Error): void;
}

export interface SubscribeOptions {
  /** Also join the expectation groups 4-6. */
  expectations?: boolean;
  /**
   * Event socket receive buffer in bytes (default 96 MiB, which the kernel doubles to 192 MiB:
   * ≈1.3 KB per queued event, so a 100k burst with nobody reading fits with margin; memory is
   * only used while events are queued).
   */
  rcvbuf?: number;
}

/** Counters (plain fields, read by metrics at scrape time). */
export class ClientStats {
  events = 0;
  /** Events whose nlmsg_pid was our command socket (our own changes). */
  ownEvents = 0;
  expectationEvents = 0;
  decodeErrors = 0;
  /** Messages of a type the event path does not handle (e.g. NLMSG_ERROR on the event socket). */
  unknownTypes = 0;
  overruns = 0;
  /** Exceptions thrown by our own event handlers (caught, counted, reported via onError). */
  handlerErrors = 0;
  batches = 0;
  batchEntries = 0;
  batchFailures = 0;
  /** Batch entries for which no answer arrived (command socket overrun). */
  batchLost = 0;
  dumps = 0;
  /** Dumps that the kernel marked NLM_F_DUMP_INTR (the table changed during the dump). */
  dumpsInterrupted = 0;
  readonly decode: CtDecodeStats = new CtDecodeStats();
  readonly decodeErrorsByReason: Record<string, number> = {};
}

export interface ConntrackClientOptions {
  /** Messages per sendmsg (default 1024, §3.1: more gains nothing). */
  batchSize?: number;
  /** Command socket receive buffer (default batchSize × 1 KiB, min 1 MiB). */
  commandRcvbuf?: number;
  /** Replaces the addon (fake sockets in unit tests). */
  socketFactory?: (opts: NetlinkSocketOptions) => NetlinkSocket;
  /** Where /proc/sys/net/netfilter lives (tests). */
  procRoot?: string;
}

/** Kernel conntrack statistics (CT_GET_STATS_CPU summed over CPUs + CT_GET_STATS). */
export interface KernelStats {
  entries: number;
  maxEntries: number;
  found: number;
  invalid: number;
  insert: number;
  insertFailed: number;
  drop: number;
  earlyDrop: number;
  error: number;
  searchRestart: number;
  clashResolve: number;
  chainTooLong: number;
  cpus: number;
}

// enum ctattr_stats_cpu / ctattr_stats_global (nfnetlink_conntrack.h)
const CTA_STATS_CPU_FIELDS: Record<number, keyof KernelStats> = {
  2: 'found',
  4: 'invalid',
  8: 'insert',
  9: 'insertFailed',
  10: 'drop',
  11: 'earlyDrop',
  12: 'error',
  13: 'searchRestart',
  14: 'clashResolve',
  15: 'chainTooLong',
};
const CTA_STATS_GLOBAL_ENTRIES = 1;
const CTA_STATS_GLOBAL_MAX_ENTRIES = 2;

export const DEFAULT_EVENT_RCVBUF = 96 << 20;
/** Most event read rounds (≤ 256 events each) between two datagrams of an async batch run. */
const EVENT_DRAIN_ROUNDS = 16;

export class ConntrackClient {
  readonly stats = new ClientStats();
  private readonly factory: (o: NetlinkSocketOptions) => NetlinkSocket;
  private readonly batchSize: number;
  private readonly procRoot: string;
  private readonly cmd: NetlinkSocket;
  private readonly ownPort: number;
  private readonly bulk: NetlinkSocket;
  private readonly bulkPort: number;
  private readonly b = new NlBuilder(1 << 20);
  /** Two builders for the async batches: one in the kernel, the next being encoded. */
  private readonly bulkBuilders = [new NlBuilder(1 << 20), new NlBuilder(1 << 20)];
  /** Async batch runs go one after the other (they share the bulk socket and builders). */
  private bulkTail: Promise<unknown> = Promise.resolve();
  private seq = 1;
  private ev: NetlinkSocket | undefined;
  private handlers: EventHandlers = {};
  private closed = false;

  constructor(opts: ConntrackClientOptions = {}) {
    this.factory = opts.socketFactory ?? openNetlinkSocket;
    this.batchSize = Math.max(1, Math.min(opts.batchSize ?? 1024, 8192));
    this.procRoot = opts.procRoot ?? '/proc';
    this.cmd = this.openCommandSocket(opts.commandRcvbuf);
    try {
      this.bulk = this.openCommandSocket(opts.commandRcvbuf);
    } catch (e) {
      this.cmd.close();
      throw e;
    }
    // bound in the sockets' constructors, fixed from then on: read once, not per event (a
    // native getter, called per event on the commit path)
    this.ownPort = this.cmd.portId;
    this.bulkPort = this.bulk.portId;
  }

  private openCommandSocket(rcvbuf: number | undefined): NetlinkSocket {
    // Errors come back one datagram each: a full batch of failures needs batchSize slots' worth
    // of buffer (≈832 B each with CAP_ACK) and, per read round, up to 256 datagrams.
    const s = this.factory({
      slots: 256,
      slotSize: 32768,
      rcvbuf: rcvbuf ?? Math.max(1 << 20, this.batchSize * 1024),
      sndbuf: 8 << 20,
    });
    try {
      // NETLINK_CAP_ACK: errors do not echo the whole request (smaller, fewer overruns).
      s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1);
    } catch (e) {
      s.close();
      throw e;
    }
    try {
      s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1);
    } catch {
      // old kernels: plain errors are fine
    }
    return s;
  }

  /** Port id of the command socket (synchronous requests). See also isOwnOrigin. */
  get portId(): number {
    return this.ownPort;
  }

  /** Port ids of every socket through which we change the table (command, bulk). */
  get ownPortIds(): readonly number[] {
    return [this.ownPort, this.bulkPort];
  }

  /** Whether an event's nlmsg_pid says that one of our own requests caused it. */
  isOwnOrigin(pid: number): boolean {
    return pid !== 0 && (pid === this.ownPort || pid === this.bulkPort);
  }

  // -------------------------------------------------------------------------------------------
  // Events
  // -------------------------------------------------------------------------------------------

  /** Opens the event socket and starts delivering events (idempotent: replaces handlers). */
  subscribe(handlers: EventHandlers, opts: SubscribeOptions = {}): void {
    this.handlers = handlers;
    if (this.ev) return;
    const groups = [NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY];
    if (opts.expectations) groups.push(NFNLGRP_CONNTRACK_EXP_NEW, NFNLGRP_CONNTRACK_EXP_UPDATE, NFNLGRP_CONNTRACK_EXP_DESTROY);
    // One event per datagram, each < 1 KiB: small slots, many of them per round.
    const ev = this.factory({ slots: 256, slotSize: 8192, rcvbuf: opts.rcvbuf ?? DEFAULT_EVENT_RCVBUF, groups });
    this.ev = ev;
    ev.onError((e) => {
      this.stats.handlerErrors++;
      this.handlers.onError?.(e);
    });
    ev.onOverrun((n) => {
      this.stats.overruns++;
      this.handlers.onOverrun?.(n);
    });
    ev.onBatch(this.onEventBatch);
  }

  private readonly onEventBatch = (buf: Buffer, offsets: Int32Array, lengths: Int32Array, count: number): void => {
    for (let i = 0; i < count; i++) this.handleEventDatagram(buf, offsets[i]!, offsets[i]! + lengths[i]!);
  };

  /**
   * While async batches run, the event socket is not polled: the events the commit causes are
   * read here, right after the next datagram went to the kernel, one read round (≤ 256 events)
   * at a time for as long as the kernel is still working on that datagram (at most `maxRounds`),
   * so the JS thread uses the wait and the datagram's completion is never held up by more than
   * one round. Polled delivery would wake us for every few events (measured ≈10% more CPU per
   * 100k commit). An overrun seen by this read is reported like one seen by the poller.
   */
  private drainEvents(maxRounds: number): void {
    const ev = this.ev;
    if (!ev) return;
    const overrunsBefore = ev.overruns;
    try {
      for (let r = 0; r < maxRounds; r++) {
        if (ev.readNow(this.onEventBatch, 0, 1) === 0 || this.bulk.sendsInKernel() === 0) break;
      }
    } catch (e) {
      this.stats.handlerErrors++;
      this.handlers.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
    if (ev.overruns !== overrunsBefore) {
      this.stats.overruns++;
      this.handlers.onOverrun?.(ev.overruns);
    }
  }

  /** Event socket implementation counters (pollErrors, truncated...); {} when not subscribed. */
  eventSocketDiagnostics(): Record<string, number> {
    return this.ev?.diagnostics?.() ?? {};
  }

  /**
   * Events the kernel dropped on our event socket so far (/proc/net/netlink "Drops" column):
   * unlike the ENOBUFS count, this counts lost messages (research §3.2). undefined when not
   * subscribed or not found.
   */
  eventDrops(): number | undefined {
    if (!this.ev) return undefined;
    return netlinkDrops(readFileSync(`${this.procRoot}/net/netlink`, 'utf8'), 12, this.ev.portId);
  }

  /** Event socket receive buffer as granted by the kernel (0 when not subscribed). */
  eventReceiveBuffer(): number {
    return this.ev ? this.ev.getRcvBuf() : 0;
  }

  /**
   * After an overrun: doubles the event socket's buffer up to `max` bytes (requested size; the
   * kernel reports twice it). Returns the buffer now granted.
   */
  growReceiveBuffer(max: number): number {
    if (!this.ev) return 0;
    const cur = this.ev.getRcvBuf() / 2;
    return setReceiveBuffer(this.ev, Math.min(max, Math.max(cur * 2, 1 << 20)));
  }

  /** Stops events (closes the event socket). */
  unsubscribe(): void {
    this.ev?.close();
    this.ev = undefined;
  }

  /**
   * One event datagram (the kernel sends one event per datagram, but more are allowed). The
   * header fields are read in place: no NlMsg object or closure per event (100k+ events/s).
   */
  private handleEventDatagram(buf: Buffer, off: number, end: number): void {
    try {
      checkDatagramRange(buf, off, end);
      for (let p = off; p < end; ) {
        const len = nlMsgLenAt(buf, p, end);
        this.handleEventMsg(buf, p, p + len);
        p += align4(len);
      }
    } catch (e) {
      // framing error: the rest of the datagram cannot be trusted
      this.countDecodeError(e);
    }
  }

  /** The message at buf[p, end): nlmsghdr at p, nfgenmsg after it, then the attributes. */
  private handleEventMsg(buf: Buffer, p: number, end: number): void {
    const type = buf.readUInt16LE(p + 4);
    const kind = eventKind(type, buf.readUInt16LE(p + 6));
    if (kind === undefined) {
      this.stats.unknownTypes++;
      return;
    }
    const pid = buf.readUInt32LE(p + 12);
    const payload = p + NLMSG_HDRLEN;
    if (end - payload < NFGENMSG_LEN) {
      this.countReason('truncated');
      this.stats.decodeErrors++;
      return;
    }
    const family = buf[payload]!;
    const isCt = type >> 8 === NFNL_SUBSYS_CTNETLINK;
    let flow: CtFlow | undefined;
    let exp: Expectation | undefined;
    try {
      if (isCt) flow = decodeConntrack(buf, payload + NFGENMSG_LEN, end, family, this.stats.decode);
      else exp = decodeExpectation(buf, payload + NFGENMSG_LEN, end, family, this.stats.decode);
    } catch (e) {
      this.countDecodeError(e);
      return;
    }
    // A throwing handler is a bug upstream; it must not cost the rest of the datagram.
    try {
      if (flow) {
        this.stats.events++;
        if (this.isOwnOrigin(pid)) this.stats.ownEvents++;
        this.handlers.onEvent?.(kind, flow, pid);
      } else if (exp) {
        this.stats.expectationEvents++;
        this.handlers.onExpectation?.(kind, exp, pid);
      }
    } catch (e) {
      this.stats.handlerErrors++;
      this.handlers.onError?.(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private countDecodeError(e: unknown): void {
    this.stats.decodeErrors++;
    this.countReason(e instanceof CtnetlinkDecodeError ? e.reason : 'other');
  }

  private countReason(r: string): void {
    this.stats.decodeErrorsByReason[r] = (this.stats.decodeErrorsByReason[r] ?? 0) + 1;
  }

  // -------------------------------------------------------------------------------------------
  // Dump
  // -------------------------------------------------------------------------------------------

  /**
   * Streams the conntrack table in chunks (one array per read round, ≈100-130 entries per
   * 32 KiB datagram), yielding to the event loop between rounds. Only the current chunk is in
   * memory. `family` 0 = both.
   */
  dump(family = 0): AsyncGenerator<CtFlow[]> {
    return this.dumpGeneric(NFNL_SUBSYS_CTNETLINK, family, (m, fam) =>
      decodeConntrack(m.buf, nfAttrOff(m), m.end, fam, this.stats.decode),
    );
  }

  dumpExpectations(family = 0): AsyncGenerator<Expectation[]> {
    return this.dumpGeneric(NFNL_SUBSYS_CTNETLINK_EXP, family, (m, fam) =>
      decodeExpectation(m.buf, nfAttrOff(m), m.end, fam, this.stats.decode),
    );
  }

  private async *dumpGeneric<T>(subsys: number, family: number, decode: (m: NlMsg, fam: number) => T): AsyncGenerator<T[]> {
    const s = this.factory({ slots: 16, slotSize: 32768, rcvbuf: 4 << 20 });
    try {
      const b = new NlBuilder(64);
      const seq = this.nextSeq(1);
      encodeDumpRequest(b, seq, family, subsys);
      s.send(b.bytes());
      this.stats.dumps++;
      let done = false;
      let error = 0;
      let interrupted = false;
      while (!done) {
        const chunk: T[] = [];
        // The kernel fills the next dump datagrams inside our recvmsg calls, so data is always
        // queued until NLMSG_DONE; the timeout only guards against a stalled dump.
        const n = s.readNow(
          (buf, offsets, lengths, count) => {
            for (let i = 0; i < count && !done; i++) {
              forEachNlMsg(buf, offsets[i]!, offsets[i]! + lengths[i]!, (m) => {
                if (done || m.seq !== seq) return;
                if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
                if (m.type === NLMSG_DONE) {
                  done = true;
                } else if (m.type === NLMSG_ERROR) {
                  error = parseNlError(m).errno;
                  done = true;
                } else if (m.type >> 8 === subsys) {
                  try {
                    chunk.push(decode(m, readNfgenFamily(m)));
                  } catch (e) {
                    this.countDecodeError(e);
                  }
                }
              });
            }
          },
          5000,
          1,
        );
        if (n === 0 && !done) throw new Error('ctnetlink dump stalled (no data for 5 s)');
        if (chunk.length > 0) yield chunk;
        if (!done) await new Promise<void>((r) => setImmediate(r));
      }
      if (interrupted) this.stats.dumpsInterrupted++;
      if (error !== 0) throw errnoError(error, 'ctnetlink dump');
    } finally {
      s.close();
    }
  }

  /** Collects a whole dump into one array (small tables, CLI, tests). */
  async list(family = 0): Promise<CtFlow[]> {
    const out: CtFlow[] = [];
    for await (const chunk of this.dump(family)) for (const f of chunk) out.push(f);
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Batched commands
  // -------------------------------------------------------------------------------------------

  /** opts.timeouts[i] ≥ 0 is sent instead of flows[i].timeout (commit: no flow copies). */
  createBatch(flows: readonly Flow[], opts: { beLiberal?: boolean; timeouts?: ArrayLike<number> } = {}): BatchResult {
    return this.runBatches(flows.length, createEncoder(flows, opts));
  }
  updateBatch(flows: readonly Flow[], opts: { beLiberal?: boolean } = {}): BatchResult {
    return this.batch(flows, 'update', opts.beLiberal === true);
  }
  deleteBatch(flows: readonly Flow[]): BatchResult {
    return this.batch(flows, 'delete', false);
  }

  /**
   * createBatch through the bulk socket: the kernel's work on each datagram runs on a worker
   * thread while the next one is encoded (see runBatchesAsync). Same result mapping.
   */
  createBatchAsync(flows: readonly Flow[], opts: { beLiberal?: boolean; timeouts?: ArrayLike<number> } = {}): Promise<BatchResult> {
    return this.runBatchesAsync(flows.length, createEncoder(flows, opts));
  }
  deleteBatchAsync(flows: readonly Flow[]): Promise<BatchResult> {
    return this.runBatchesAsync(flows.length, (b, i, seq, ack) => encodeConntrack(b, flows[i]!, 'delete', seq, { ack, beLiberal: false }));
  }

  createExpectations(exps: readonly Expectation[]): BatchResult {
    return this.runBatches(exps.length, (b, i, seq, ack) => encodeExpectation(b, exps[i]!, 'create', seq, { ack }));
  }
  deleteExpectations(exps: readonly Expectation[]): BatchResult {
    return this.runBatches(exps.length, (b, i, seq, ack) => encodeExpectation(b, exps[i]!, 'delete', seq, { ack }));
  }

  private batch(flows: readonly Flow[], op: CtOp, beLiberal: boolean): BatchResult {
    return this.runBatches(flows.length, (b, i, seq, ack) => encodeConntrack(b, flows[i]!, op, seq, { ack, beLiberal }));
  }

  /**
   * Sends `count` requests in datagrams of ≤ batchSize messages, ACK requested on the last of
   * each, and matches every NLMSG_ERROR to its entry by seq (readBatchReplies).
   */
  private runBatches(count: number, encode: BatchEncoder): BatchResult {
    this.checkOpen();
    const errnos = new Int32Array(count);
    let failed = 0;
    for (let start = 0; start < count; start += this.batchSize) {
      const batch = this.encodeBatch(this.b, start, Math.min(this.batchSize, count - start), encode);
      const overrunsBefore = this.cmd.overruns;
      try {
        this.cmd.send(batch.b.bytes());
      } catch (e) {
        failed += this.refuseBatch(batch, (e as { errno?: number }).errno ?? EINVAL, errnos);
        continue;
      }
      failed += this.readBatchReplies(this.cmd, batch, overrunsBefore, errnos);
    }
    return this.batchResult(count, failed, errnos);
  }

  /**
   * The asynchronous twin of runBatches, on the bulk socket: while datagram k is in the kernel
   * (sendmsg on the threadpool), datagram k+1 is encoded into the other builder. When k
   * returns, its replies are read (all of them are queued by then, §3.1) before k+1 is sent,
   * so replies of two datagrams never mix; then k+2 is encoded. Results are mapped exactly as
   * runBatches maps them. Runs are serialised (one bulk socket, two builders). A socket-level
   * refusal of one datagram (its errno) fails that datagram's entries and the run goes on; an
   * exception (e.g. the client was closed) rejects.
   */
  runBatchesAsync(count: number, encode: BatchEncoder): Promise<BatchResult> {
    this.checkOpen();
    const run = this.bulkTail.then(() => this.runBatchesAsyncNow(count, encode));
    this.bulkTail = run.catch(() => undefined);
    return run;
  }

  private async runBatchesAsyncNow(count: number, encode: BatchEncoder): Promise<BatchResult> {
    const ev = this.ev;
    ev?.pauseDelivery();
    try {
      return await this.pipelineBatches(count, encode);
    } finally {
      // what is still queued is delivered by the poller again
      if (ev && ev === this.ev) ev.resumeDelivery();
    }
  }

  private pipelineBatches(count: number, encode: BatchEncoder): Promise<BatchResult> {
    return new Promise<BatchResult>((resolve, reject) => {
      this.checkOpen();
      const errnos = new Int32Array(count);
      let failed = 0;
      let next = 0;
      let which = 0;
      const encodeNext = (): EncodedBatch | undefined => {
        if (next >= count) return undefined;
        const n = Math.min(this.batchSize, count - next);
        const b = this.bulkBuilders[which]!;
        which ^= 1;
        const batch = this.encodeBatch(b, next, n, encode);
        next += n;
        return batch;
      };
      const send = (batch: EncodedBatch): void => {
        const overrunsBefore = this.bulk.overruns;
        // encoded while the previous datagram was in the kernel; the kernel works on this one
        // while the callback below is pending and the JS thread encodes the following one
        let following: EncodedBatch | undefined;
        this.bulk.sendAsync(batch.b.bytes(), (errno) => {
          try {
            if (this.closed) throw new Error('ConntrackClient is closed');
            if (errno !== 0) failed += this.refuseBatch(batch, errno, errnos);
            else failed += this.readBatchReplies(this.bulk, batch, overrunsBefore, errnos);
            if (following) {
              send(following);
              this.drainEvents(EVENT_DRAIN_ROUNDS);
            } else resolve(this.batchResult(count, failed, errnos));
          } catch (e) {
            reject(e);
          }
        });
        following = encodeNext();
      };
      try {
        const first = encodeNext();
        if (first) send(first);
        else resolve(this.batchResult(count, 0, errnos));
      } catch (e) {
        reject(e);
      }
    });
  }

  private encodeBatch(b: NlBuilder, start: number, n: number, encode: BatchEncoder): EncodedBatch {
    const base = this.nextSeq(n);
    b.reset();
    for (let i = 0; i < n; i++) encode(b, start + i, (base + i) >>> 0, i === n - 1);
    return { b, start, n, base };
  }

  /** The whole datagram was refused (e.g. EMSGSIZE): every entry in it failed alike. */
  private refuseBatch(batch: EncodedBatch, errno: number, errnos: Int32Array): number {
    for (let i = 0; i < batch.n; i++) errnos[batch.start + i] = errno;
    this.stats.batches++;
    return batch.n;
  }

  /**
   * Reads the replies of one datagram that the kernel has processed and records each entry's
   * errno. Entries without an error before the final ACK succeeded (the kernel answers in
   * order). If the socket overran and the final ACK never comes, unanswered entries are
   * reported as ENOBUFS ('lost'). Returns the number of failed entries.
   */
  private readBatchReplies(sock: NetlinkSocket, batch: EncodedBatch, overrunsBefore: number, errnos: Int32Array): number {
    const { start, n, base } = batch;
    const lastSeq = (base + n - 1) >>> 0;
    const answered = new Uint8Array(n);
    let lastSeen = false;
    let failed = 0;
    const onReplies = (buf: Buffer, offsets: Int32Array, lengths: Int32Array, cnt: number): void => {
      for (let d = 0; d < cnt; d++) {
        forEachNlMsg(buf, offsets[d]!, offsets[d]! + lengths[d]!, (m) => {
          if (m.type !== NLMSG_ERROR) return;
          const { errno, origSeq } = parseNlError(m);
          const idx = (origSeq - base) >>> 0;
          if (idx >= n) return; // a stale answer from an earlier, abandoned batch
          answered[idx] = 1;
          if (errno !== 0) {
            errnos[start + idx] = errno;
            failed++;
          }
          if (origSeq === lastSeq) lastSeen = true;
        });
      }
    };
    // Everything is queued by the time sendmsg returned; the short wait only covers the
    // case where the final ACK is missing, so we do not hang (§3.1 "naive loop hangs").
    sock.readNow(onReplies, 0);
    if (!lastSeen) sock.readNow(onReplies, sock.overruns !== overrunsBefore ? 0 : 200);
    if (!lastSeen) {
      for (let i = 0; i < n; i++) {
        if (!answered[i]) {
          errnos[start + i] = ENOBUFS;
          failed++;
          this.stats.batchLost++;
        }
      }
    }
    this.stats.batches++;
    return failed;
  }

  private batchResult(count: number, failed: number, errnos: Int32Array): BatchResult {
    this.stats.batchEntries += count;
    this.stats.batchFailures += failed;
    return { errnos, ok: count - failed, failed };
  }

  /** Deletes every entry (of one family, or all with 0). Throws on a kernel error. */
  flush(family = 0): void {
    this.checkOpen();
    const b = this.b;
    b.reset();
    const seq = this.nextSeq(1);
    encodeConntrackFlush(b, seq, family);
    this.cmd.send(b.bytes());
    const errno = this.readAck(seq);
    if (errno !== 0) throw errnoError(errno, 'ctnetlink flush');
  }

  /** Looks one entry up by its original tuple (+ zone). undefined when it does not exist. */
  get(flow: Flow): CtFlow | undefined {
    this.checkOpen();
    const b = this.b;
    b.reset();
    const seq = this.nextSeq(1);
    encodeConntrack(b, flow, 'get', seq, { ack: false });
    this.cmd.send(b.bytes());
    let found: CtFlow | undefined;
    let errno = -1;
    for (let round = 0; round < 4 && errno < 0 && found === undefined; round++) {
      this.cmd.readNow(
        (buf, offsets, lengths, cnt) => {
          for (let d = 0; d < cnt; d++) {
            forEachNlMsg(buf, offsets[d]!, offsets[d]! + lengths[d]!, (m) => {
              if (m.seq !== seq) return;
              if (m.type === NLMSG_ERROR) errno = parseNlError(m).errno;
              else if (m.type >> 8 === NFNL_SUBSYS_CTNETLINK) {
                found = decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m), this.stats.decode);
              }
            });
          }
        },
        round === 0 ? 0 : 200,
      );
    }
    if (found) return found;
    if (errno === ENOENT) return undefined;
    throw errnoError(errno < 0 ? ETIMEDOUT : errno, 'ctnetlink get');
  }

  /** Entries in this network namespace's table (/proc/sys/net/netfilter/nf_conntrack_count). */
  count(): number {
    return readProcNumber(`${this.procRoot}/sys/net/netfilter/nf_conntrack_count`);
  }

  /** nf_conntrack_max (global; read-only inside a netns). */
  maxEntries(): number {
    return readProcNumber(`${this.procRoot}/sys/net/netfilter/nf_conntrack_max`);
  }

  /**
   * Refines ENOMEM: ctnetlink reports a full table as ENOMEM too, so check the count against
   * nf_conntrack_max (spec §5.3 counts commit failures; the operator needs to know which).
   */
  classifyErrno(errno: number): FailReason {
    switch (errno) {
      case EEXIST:
        return 'exists';
      case ENOENT:
        return 'notFound';
      case ENOBUFS:
        return 'lost';
      case ENOSPC:
        return 'tableFull';
      case ENOMEM: {
        try {
          const max = this.maxEntries();
          return max > 0 && this.count() >= max ? 'tableFull' : 'nomem';
        } catch {
          return 'nomem';
        }
      }
      default:
        return 'other';
    }
  }

  /** Kernel statistics: CT_GET_STATS_CPU (summed) and CT_GET_STATS (entries, max). */
  kernelStats(): KernelStats {
    this.checkOpen();
    const st: KernelStats = {
      entries: 0,
      maxEntries: 0,
      found: 0,
      invalid: 0,
      insert: 0,
      insertFailed: 0,
      drop: 0,
      earlyDrop: 0,
      error: 0,
      searchRestart: 0,
      clashResolve: 0,
      chainTooLong: 0,
      cpus: 0,
    };
    const request = (msg: number, flags: number, onMsg: (m: NlMsg) => void): void => {
      const b = this.b;
      b.reset();
      const seq = this.nextSeq(1);
      b.beginMsg(nfnlMsgType(NFNL_SUBSYS_CTNETLINK, msg), flags, seq).nfgen(0).endMsg();
      this.cmd.send(b.bytes());
      let done = false;
      for (let round = 0; round < 8 && !done; round++) {
        const got = this.cmd.readNow(
          (buf, offsets, lengths, cnt) => {
            for (let d = 0; d < cnt; d++) {
              forEachNlMsg(buf, offsets[d]!, offsets[d]! + lengths[d]!, (m) => {
                if (m.seq !== seq) return;
                if (m.type === NLMSG_DONE) done = true;
                else if (m.type === NLMSG_ERROR) {
                  const { errno } = parseNlError(m);
                  done = true;
                  if (errno !== 0) throw errnoError(errno, 'ctnetlink stats');
                } else onMsg(m);
              });
            }
          },
          200,
        );
        if (got === 0) break;
      }
    };
    request(IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_REQUEST | NLM_F_DUMP, (m) => {
      st.cpus++;
      const it = new NlAttrIter(m.buf, nfAttrOff(m), m.end, false);
      while (it.next()) {
        const key = CTA_STATS_CPU_FIELDS[it.type];
        if (key && it.len === 4) st[key] += it.u32be();
      }
    });
    request(IPCTNL_MSG_CT_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, (m) => {
      const it = new NlAttrIter(m.buf, nfAttrOff(m), m.end, false);
      while (it.next()) {
        if (it.type === CTA_STATS_GLOBAL_ENTRIES && it.len === 4) st.entries = it.u32be();
        else if (it.type === CTA_STATS_GLOBAL_MAX_ENTRIES && it.len === 4) st.maxEntries = it.u32be();
      }
    });
    return st;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.cmd.close();
    this.bulk.close();
  }

  // -------------------------------------------------------------------------------------------

  private nextSeq(n: number): number {
    // seqs of one batch must not wrap (replies are matched by seq - base); never use 0
    if (this.seq + n > 0xffffffff) this.seq = 1;
    const s = this.seq;
    this.seq += n;
    return s;
  }

  private readAck(seq: number): number {
    let errno = -1;
    for (let round = 0; round < 4 && errno < 0; round++) {
      this.cmd.readNow(
        (buf, offsets, lengths, cnt) => {
          for (let d = 0; d < cnt; d++) {
            forEachNlMsg(buf, offsets[d]!, offsets[d]! + lengths[d]!, (m) => {
              if (m.seq === seq && m.type === NLMSG_ERROR) errno = parseNlError(m).errno;
            });
          }
        },
        round === 0 ? 0 : 500,
      );
    }
    return errno < 0 ? ETIMEDOUT : errno;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('ConntrackClient is closed');
  }
}

/** Encodes request i of a batch run into b with the given seq; ack on the last of a datagram. */
export type BatchEncoder = (b: NlBuilder, i: number, seq: number, ack: boolean) => void;

/** One datagram of a batch run: entries [start, start + n), seqs base .. base + n - 1. */
interface EncodedBatch {
  b: NlBuilder;
  start: number;
  n: number;
  base: number;
}

/** Create requests; opts.timeouts[i] ≥ 0 is sent instead of flows[i].timeout. */
function createEncoder(flows: readonly Flow[], opts: { beLiberal?: boolean; timeouts?: ArrayLike<number> }): BatchEncoder {
  const beLiberal = opts.beLiberal === true;
  const timeouts = opts.timeouts;
  if (!timeouts) return (b, i, seq, ack) => encodeConntrack(b, flows[i]!, 'create', seq, { ack, beLiberal });
  return (b, i, seq, ack) => {
    const t = timeouts[i]!;
    encodeConntrack(b, flows[i]!, 'create', seq, t >= 0 ? { ack, beLiberal, timeout: t } : { ack, beLiberal });
  };
}

/** Error with a Node-style errno code (EEXIST, ENOENT, ...). */
export function errnoError(errno: number, op: string): Error & { errno: number; code: string } {
  const code = ERRNO_NAMES[errno] ?? `E${errno}`;
  const e = new Error(`${op}: ${code}`) as Error & { errno: number; code: string };
  e.errno = errno;
  e.code = code;
  return e;
}

export const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  12: 'ENOMEM',
  13: 'EACCES',
  16: 'EBUSY',
  17: 'EEXIST',
  22: 'EINVAL',
  28: 'ENOSPC',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
};

/** The Drops column of /proc/net/netlink for (protocol, port id). */
export function netlinkDrops(text: string, protocol: number, portId: number): number | undefined {
  const lines = text.split('\n');
  const head = (lines[0] ?? '').trim().split(/\s+/);
  const iEth = head.indexOf('Eth');
  const iPid = head.indexOf('Pid');
  const iDrops = head.indexOf('Drops');
  if (iEth < 0 || iPid < 0 || iDrops < 0) return undefined;
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (Number(f[iEth]) === protocol && Number(f[iPid]) === portId >>> 0) return Number(f[iDrops]);
  }
  return undefined;
}

function readProcNumber(path: string): number {
  const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  if (!Number.isFinite(n)) throw new Error(`${path}: not a number`);
  return n;
}
