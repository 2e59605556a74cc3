/**
 * L3: the netlink socket boundary (ARCHITECTURE: "netlink/socket (the ONLY native boundary)").
 *
 * `NetlinkSocket` is deliberately small so another reader (e.g. a koffi worker with blocking
 * recv, research/netlink-measurements.md §6 "Fallback C") can replace the addon. Received
 * datagrams are handed over in batches from one shared receive area: datagram i of a batch is
 * `buf[offsets[i], offsets[i] + lengths[i])`. The bytes are only valid during the callback /
 * until the next read; parse in place, copy what must be kept.
 *
 * The addon (native/nlsock.cc, built by `npm run build:native`) is loaded lazily so code that
 * only uses the fake (unit tests) needs no compiled binary.
 */
import path from 'node:path';
import { CtsyncError } from '../core/errors';

export const NETLINK_NETFILTER = 12;

export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;

export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_LISTEN_ALL_NSID = 8;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

export const ENOBUFS = 105;

/** One batch of received datagrams (shared, overwritten by the next read). */
export type BatchHandler = (buf: Buffer, offsets: Int32Array, lengths: Int32Array, count: number) => void;

export interface NetlinkSocket {
  /** Our netlink port id (nl_pid); the kernel copies it into nlmsg_pid of events we cause. */
  readonly portId: number;
  /** ENOBUFS reports seen so far (one per congestion episode, not per lost message). */
  readonly overruns: number;
  setsockopt(level: number, opt: number, value: number): void;
  getsockopt(level: number, opt: number): number;
  /** SO_RCVBUF as the kernel reports it (twice the requested size). */
  getRcvBuf(): number;
  /** NETLINK_ADD_MEMBERSHIP for each multicast group. */
  joinGroups(groups: readonly number[]): void;
  /** One synchronous sendmsg to the kernel of a buffer holding one or more messages. */
  send(buf: Buffer): void;
  /**
   * The same sendmsg on a worker thread: `done(errno)` runs on the JS thread once the kernel
   * has processed the datagram (0 = sent; replies are then queued for readNow). The bytes of
   * `buf` must stay unchanged until `done` runs. Lets JS work (encoding the next batch) overlap
   * the kernel's, which for a ctnetlink batch is most of the cost.
   */
  sendAsync(buf: Buffer, done: (errno: number) => void): void;
  /**
   * sendAsync calls whose sendmsg has not returned yet (the kernel is still working on them),
   * known before their `done` has run.
   */
  sendsInKernel(): number;
  /**
   * Synchronously reads what is queued (waiting up to timeoutMs when nothing is) into the
   * shared area and calls `cb` once per read round; returns the number of datagrams read.
   * Reads at most `maxRounds` rounds (default: until the queue is empty).
   */
  readNow(cb: BatchHandler, timeoutMs?: number, maxRounds?: number): number;
  /** Starts asynchronous delivery: one onBatch call per read round while the loop runs. */
  onBatch(cb: BatchHandler): void;
  /** Receive overrun (ENOBUFS): events were lost; the socket keeps running. */
  onOverrun(cb: (overruns: number) => void): void;
  /** Other asynchronous socket errors (rare); the socket keeps running. */
  onError(cb: (err: Error) => void): void;
  /**
   * Stops / restarts asynchronous delivery (onBatch) without leaving any group: while paused
   * the kernel keeps queueing into the receive buffer (up to SO_RCVBUF, then ENOBUFS, reported
   * after resume). No-ops when delivery was never started.
   */
  pauseDelivery(): void;
  resumeDelivery(): void;
  close(): void;
  /** Implementation counters for diagnostics and tests (e.g. pollErrors, truncated). */
  diagnostics?(): Record<string, number>;
}

export interface NetlinkSocketOptions {
  protocol?: number;
  /** Datagrams per recvmmsg round (default 64). */
  slots?: number;
  /** Bytes per datagram slot (default 32 KiB: the kernel sizes dump datagrams to it, ≤32 KiB). */
  slotSize?: number;
  /** SO_RCVBUFFORCE in bytes (falls back to SO_RCVBUF without CAP_NET_ADMIN). */
  rcvbuf?: number;
  sndbuf?: number;
  groups?: readonly number[];
}

interface NativeSocket {
  readonly portId: number;
  readonly fd: number;
  readonly buffer: Buffer;
  readonly lengths: Int32Array;
  readonly slotSize: number;
  readonly slots: number;
  readonly overruns: number;
  readonly truncated: number;
  readonly pollErrors: number;
  setsockopt(level: number, opt: number, value: number): void;
  getsockopt(level: number, opt: number): number;
  send(buf: Uint8Array, off?: number, len?: number): number;
  sendAsync(buf: Uint8Array, off: number, len: number, cb: (errno: number, bytes: number) => void): void;
  readonly sendsInKernel: number;
  readNow(timeoutMs?: number): number;
  start(onBatch: (count: number) => void, onError: (errno: number) => void): void;
  stop(): void;
  close(): void;
}

interface NativeModule {
  NlSocket: new (protocol: number, slots: number, slotSize: number) => NativeSocket;
  unixDgramSend(path: string, data: Uint8Array): void;
}

let nativeModule: NativeModule | undefined;

/** Loads build/Release/nlsock.node; a missing build is one clear error, not a crash later. */
export function loadNative(): NativeModule {
  if (nativeModule) return nativeModule;
  // src/netlink/ when run from source, dist/src/netlink/ when compiled: the addon lives in the
  // package root's build/Release either way.
  const candidates = [
    path.join(__dirname, '..', '..', 'build', 'Release', 'nlsock.node'),
    path.join(__dirname, '..', '..', '..', 'build', 'Release', 'nlsock.node'),
  ];
  let cause: unknown;
  for (const file of candidates) {
    try {
      nativeModule = require(file) as NativeModule;
      return nativeModule;
    } catch (e) {
      cause ??= e;
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') break;
    }
  }
  throw new CtsyncError(
    'CTSYNC_ERR_NATIVE_MISSING',
    'netlink addon build/Release/nlsock.node not loadable; run `npm run build:native`',
    { cause },
  );
}

/** AF_UNIX SOCK_DGRAM sendto (sd_notify); '@name' is an abstract socket. Throws on error. */
export function unixDgramSend(path: string, data: Buffer): void {
  loadNative().unixDgramSend(path, data);
}

function errnoError(errno: number, op: string): Error {
  const e = new Error(`${op}: errno ${errno}`) as Error & { errno: number; code: string };
  e.errno = errno;
  e.code = errno === ENOBUFS ? 'ENOBUFS' : `E${errno}`;
  return e;
}

class AddonNetlinkSocket implements NetlinkSocket {
  private readonly s: NativeSocket;
  private readonly buf: Buffer;
  private readonly lengths: Int32Array;
  private readonly offsets: Int32Array;
  private batchCb: BatchHandler | undefined;
  private overrunCb: ((n: number) => void) | undefined;
  private errorCb: ((e: Error) => void) | undefined;
  private started = false;
  private paused = false;
  private closed = false;

  constructor(opts: NetlinkSocketOptions) {
    const N = loadNative();
    this.s = new N.NlSocket(opts.protocol ?? NETLINK_NETFILTER, opts.slots ?? 64, opts.slotSize ?? 32768);
    this.buf = this.s.buffer;
    this.lengths = this.s.lengths;
    this.offsets = new Int32Array(this.s.slots);
    for (let i = 0; i < this.offsets.length; i++) this.offsets[i] = i * this.s.slotSize;
    try {
      if (opts.rcvbuf) setBufForce(this, SO_RCVBUFFORCE, SO_RCVBUF, opts.rcvbuf);
      if (opts.sndbuf) setBufForce(this, SO_SNDBUFFORCE, SO_SNDBUF, opts.sndbuf);
      if (opts.groups) this.joinGroups(opts.groups);
    } catch (e) {
      this.s.close();
      throw e;
    }
  }

  get portId(): number {
    return this.s.portId;
  }
  get overruns(): number {
    return this.s.overruns;
  }
  /** Datagrams cut short because a slot was too small (should stay 0). */
  get truncated(): number {
    return this.s.truncated;
  }

  setsockopt(level: number, opt: number, value: number): void {
    this.s.setsockopt(level, opt, value);
  }
  getsockopt(level: number, opt: number): number {
    return this.s.getsockopt(level, opt);
  }
  getRcvBuf(): number {
    return this.s.getsockopt(SOL_SOCKET, SO_RCVBUF);
  }
  diagnostics(): Record<string, number> {
    return { overruns: this.s.overruns, pollErrors: this.s.pollErrors, truncated: this.s.truncated };
  }
  joinGroups(groups: readonly number[]): void {
    for (const g of groups) this.s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
  }
  send(buf: Buffer): void {
    this.s.send(buf, 0, buf.length);
  }
  sendsInKernel(): number {
    return this.s.sendsInKernel;
  }
  sendAsync(buf: Buffer, done: (errno: number) => void): void {
    // a throwing `done` must not become an uncaught exception from the addon (habit 2)
    this.s.sendAsync(buf, 0, buf.length, (errno) => {
      try {
        done(errno);
      } catch (e) {
        this.reportError(e);
      }
    });
  }

  readNow(cb: BatchHandler, timeoutMs = 0, maxRounds = Number.POSITIVE_INFINITY): number {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const n = this.s.readNow(round === 0 ? timeoutMs : 0);
      if (n === 0) break;
      total += n;
      cb(this.buf, this.offsets, this.lengths, n);
      if (this.closed) break;
    }
    return total;
  }

  onBatch(cb: BatchHandler): void {
    this.batchCb = cb;
    this.start();
  }
  onOverrun(cb: (n: number) => void): void {
    this.overrunCb = cb;
    this.start();
  }
  onError(cb: (e: Error) => void): void {
    this.errorCb = cb;
  }

  pauseDelivery(): void {
    if (!this.started || this.paused || this.closed) return;
    this.paused = true;
    this.s.stop();
  }
  resumeDelivery(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.arm();
  }

  private start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (!this.paused) this.arm();
  }

  private arm(): void {
    // Exceptions from user callbacks are caught here (ARCHITECTURE habit 2: nothing leaves a
    // socket callback) and reported through onError; the addon would otherwise raise them as
    // uncaught exceptions.
    this.s.start(
      (count) => {
        const cb = this.batchCb;
        if (!cb) return;
        try {
          cb(this.buf, this.offsets, this.lengths, count);
        } catch (e) {
          this.reportError(e);
        }
      },
      (errno) => {
        try {
          if (errno === ENOBUFS) this.overrunCb?.(this.s.overruns);
          else this.reportError(errnoError(errno, 'netlink recv'));
        } catch (e) {
          this.reportError(e);
        }
      },
    );
  }

  private reportError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (this.errorCb) {
      try {
        this.errorCb(err);
        return;
      } catch {
        // an error handler that throws: fall through to the process-level report
      }
    }
    process.emitWarning(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.s.close();
  }
}

/**
 * SO_*BUFFORCE needs CAP_NET_ADMIN (which the daemon has); without it fall back to the capped
 * SO_*BUF so unprivileged tools still work.
 */
function setBufForce(s: NetlinkSocket, force: number, plain: number, bytes: number): void {
  const v = Math.min(bytes, 0x7fffffff) | 0;
  try {
    s.setsockopt(SOL_SOCKET, force, v);
  } catch {
    s.setsockopt(SOL_SOCKET, plain, v);
  }
}

export function openNetlinkSocket(opts: NetlinkSocketOptions = {}): NetlinkSocket {
  return new AddonNetlinkSocket(opts);
}

/** Sets the receive buffer (FORCE when allowed) and returns what the kernel granted. */
export function setReceiveBuffer(s: NetlinkSocket, bytes: number): number {
  setBufForce(s, SO_RCVBUFFORCE, SO_RCVBUF, bytes);
  return s.getRcvBuf();
}
