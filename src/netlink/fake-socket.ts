/**
 * In-memory twin of NetlinkSocket for unit tests of the layers above (ctnetlink/client,
 * commit, engine). No kernel, no addon.
 *
 *  - `responder(datagram)` plays the kernel for send(): it returns the reply datagrams, which are
 *    queued and handed out by readNow() (the real kernel also answers inside sendmsg).
 *  - `deliver(datagrams)` pushes datagrams (e.g. events) to the onBatch handler, slots-at-a-time,
 *    like one wake-up of the real socket.
 *  - `overrun()` simulates ENOBUFS.
 *  - `sendAsync` completes on a later turn of the event loop (setImmediate), with the replies
 *    queued just before `done` runs, like the addon's threadpool send; `sendErrno` can refuse a
 *    datagram (the errno `done` gets; nothing is queued).
 *  - `pauseDelivery()`: `deliver()`ed datagrams wait in the queue (readNow reads them, like the
 *    real socket's receive queue) until `resumeDelivery()` delivers what is left.
 */
import {
  type BatchHandler,
  type NetlinkSocket,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SOL_NETLINK,
  SOL_SOCKET,
  NETLINK_ADD_MEMBERSHIP,
} from './socket';

let nextPortId = 0x7f000001;

export class FakeNetlinkSocket implements NetlinkSocket {
  readonly portId: number;
  overruns = 0;
  readonly sent: Buffer[] = [];
  readonly groups = new Set<number>();
  readonly options = new Map<string, number>();
  responder: ((datagram: Buffer) => Buffer[]) | undefined;
  /** sendAsync: a non-zero errno refuses the datagram (e.g. EMSGSIZE); nothing is answered. */
  sendErrno: ((datagram: Buffer) => number) | undefined;
  /** sendAsync calls not completed yet (the real addon runs one per pool thread). */
  inflight = 0;
  /** Most sendAsync calls in flight at once so far (pipelining depth seen by tests). */
  maxInflight = 0;
  closed = false;
  paused = false;
  private readonly queue: Buffer[] = [];
  private readonly slots: number;
  private readonly slotSize: number;
  private readonly area: Buffer;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private batchCb: BatchHandler | undefined;
  private overrunCb: ((n: number) => void) | undefined;
  private errorCb: ((e: Error) => void) | undefined;

  constructor(opts: { portId?: number; slots?: number; slotSize?: number } = {}) {
    this.portId = opts.portId ?? nextPortId++;
    this.slots = opts.slots ?? 16;
    this.slotSize = opts.slotSize ?? 32768;
    this.area = Buffer.alloc(this.slots * this.slotSize);
    this.offsets = new Int32Array(this.slots);
    this.lengths = new Int32Array(this.slots);
    for (let i = 0; i < this.slots; i++) this.offsets[i] = i * this.slotSize;
  }

  setsockopt(level: number, opt: number, value: number): void {
    this.checkOpen();
    if (level === SOL_NETLINK && opt === NETLINK_ADD_MEMBERSHIP) this.groups.add(value);
    // The kernel doubles SO_RCVBUF for bookkeeping overhead; mirror that.
    if (level === SOL_SOCKET && (opt === SO_RCVBUF || opt === SO_RCVBUFFORCE)) {
      this.options.set(`${SOL_SOCKET}:${SO_RCVBUF}`, value * 2);
      return;
    }
    this.options.set(`${level}:${opt}`, value);
  }
  getsockopt(level: number, opt: number): number {
    return this.options.get(`${level}:${opt}`) ?? (opt === SO_RCVBUF ? 212992 : 0);
  }
  getRcvBuf(): number {
    return this.getsockopt(SOL_SOCKET, SO_RCVBUF);
  }
  joinGroups(groups: readonly number[]): void {
    for (const g of groups) this.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
  }

  send(buf: Buffer): void {
    this.checkOpen();
    const copy = Buffer.from(buf);
    this.sent.push(copy);
    if (this.responder) for (const d of this.responder(copy)) this.queue.push(d);
  }

  /** The fake "kernel" finishes a sendAsync on the next turn of the loop, just before `done`. */
  sendsInKernel(): number {
    return this.inflight;
  }
  sendAsync(buf: Buffer, done: (errno: number) => void): void {
    this.checkOpen();
    const copy = Buffer.from(buf);
    this.inflight++;
    if (this.inflight > this.maxInflight) this.maxInflight = this.inflight;
    setImmediate(() => {
      this.inflight--;
      const errno = this.sendErrno?.(copy) ?? 0;
      if (errno === 0) {
        this.sent.push(copy);
        if (this.responder) for (const d of this.responder(copy)) this.queue.push(d);
      }
      done(errno);
    });
  }

  /** Queues datagrams for the next readNow() without delivering them. */
  enqueue(datagrams: Buffer[]): void {
    for (const d of datagrams) this.queue.push(d);
  }

  readNow(cb: BatchHandler, _timeoutMs = 0, maxRounds = Number.POSITIVE_INFINITY): number {
    this.checkOpen();
    let total = 0;
    for (let r = 0; r < maxRounds && this.queue.length > 0; r++) {
      const n = this.fill(this.queue.splice(0, this.slots));
      total += n;
      cb(this.area, this.offsets, this.lengths, n);
    }
    return total;
  }

  /** Delivers datagrams to the onBatch handler as the real socket would on a wake-up. */
  deliver(datagrams: Buffer[]): void {
    if (this.paused) {
      for (const d of datagrams) this.queue.push(d);
      return;
    }
    for (let i = 0; i < datagrams.length && !this.closed; i += this.slots) {
      const n = this.fill(datagrams.slice(i, i + this.slots));
      if (!this.batchCb) continue;
      try {
        this.batchCb(this.area, this.offsets, this.lengths, n);
      } catch (e) {
        this.errorCb?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  overrun(): void {
    this.overruns++;
    this.overrunCb?.(this.overruns);
  }

  private fill(ds: Buffer[]): number {
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i]!;
      if (d.length > this.slotSize) throw new Error('FakeNetlinkSocket: datagram larger than slot');
      d.copy(this.area, this.offsets[i]!);
      this.lengths[i] = d.length;
    }
    return ds.length;
  }

  onBatch(cb: BatchHandler): void {
    this.batchCb = cb;
  }
  pauseDelivery(): void {
    this.paused = true;
  }
  resumeDelivery(): void {
    if (!this.paused) return;
    this.paused = false;
    this.deliver(this.queue.splice(0));
  }
  onOverrun(cb: (n: number) => void): void {
    this.overrunCb = cb;
  }
  onError(cb: (e: Error) => void): void {
    this.errorCb = cb;
  }
  close(): void {
    this.closed = true;
  }
  private checkOpen(): void {
    if (this.closed) throw new Error('FakeNetlinkSocket: closed');
  }
}
