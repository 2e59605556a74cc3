/**
 * Helpers shared by the UDP-based channels: MTU lookup, socket buffer sizing, counted and
 * rate-limited send errors.
 */
import type * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { formatAddr, parseAddr } from '../flow/address';
import type { ChannelLog, ChannelStats } from './types';

/** Spec §1.1/§1.4: conntrackd reserves 28 bytes (IPv4+UDP) of the MTU, even for IPv6. */
export const UDP_HEADER_ALLOWANCE = 28;

/** Reads the interface MTU from sysfs (conntrackd uses SIOCGIFMTU once at start-up, spec §1.1). */
export function readInterfaceMtu(ifname: string, sysRoot = '/sys/class/net'): number {
  if (!/^[^/\s]{1,15}$/.test(ifname)) throw new Error(`invalid interface name '${ifname}'`);
  const text = fs.readFileSync(`${sysRoot}/${ifname}/mtu`, 'utf8').trim();
  const mtu = Number(text);
  if (!Number.isInteger(mtu) || mtu < 68) throw new Error(`bad MTU '${text}' for ${ifname}`);
  return mtu;
}

/**
 * maxPayload handed to the engine. conntrackd's buffer is MTU − 28 and it appends with a strict
 * `<`, so its datagrams carry at most MTU − 29 bytes (spec §1.4); the engine's packer follows
 * that rule itself, we report the buffer size.
 */
export function maxPayloadFor(mtu: number): number {
  return mtu - UDP_HEADER_ALLOWANCE;
}

export interface BufferOptions {
  /** SndSocketBuffer (bytes); 0/undefined keeps the kernel default. */
  sndBuf?: number;
  /** RcvSocketBuffer (bytes); 0/undefined keeps the kernel default. */
  rcvBuf?: number;
}

/**
 * Socket buffer sizes go through node's sendBufferSize/recvBufferSize (plain SO_SNDBUF /
 * SO_RCVBUF), which the kernel caps at net.core.wmem_max / rmem_max. conntrackd uses
 * SO_SNDBUFFORCE / SO_RCVBUFFORCE (spec §1.1) to exceed the cap with CAP_NET_ADMIN; that needs
 * a raw setsockopt on the UDP fd, which only the native addon could do (its generic setsockopt
 * is for netlink sockets only), so we deliberately do not depend on it: raise rmem_max instead.
 */
export function socketOptions(type: 'udp4' | 'udp6', bufs: BufferOptions, reuseAddr: boolean): dgram.SocketOptions {
  const opts: dgram.SocketOptions = { type, reuseAddr };
  if (bufs.rcvBuf && bufs.rcvBuf > 0) opts.recvBufferSize = bufs.rcvBuf;
  if (bufs.sndBuf && bufs.sndBuf > 0) opts.sendBufferSize = bufs.sndBuf;
  return opts;
}

export function bindAsync(sock: dgram.Socket, opts: dgram.BindOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    sock.once('error', onError);
    sock.bind(opts, () => {
      sock.removeListener('error', onError);
      resolve();
    });
  });
}

export function closeAsync(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** Records the effective buffer sizes after bind (getsockopt doubles the request on Linux). */
export function recordBufferSizes(stats: ChannelStats, rx: dgram.Socket, tx: dgram.Socket): void {
  try {
    stats.rcvBufBytes = rx.getRecvBufferSize();
    stats.sndBufBytes = tx.getSendBufferSize();
  } catch {
    // only fails on an unbound socket; the counters stay 0
  }
}

/** At most one log line per key and interval; the rest are counted and reported with the next. */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly log: ChannelLog | undefined,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    if (!this.log) return;
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    this.log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}

/**
 * Builds the dgram send callback: counts bytes on success, counts and logs errors by errno code
 * (ENOBUFS, EHOSTUNREACH, ENETDOWN ...). It never throws (ARCHITECTURE habit 2).
 */
export function makeSendCallback(
  stats: ChannelStats,
  limiter: LogLimiter,
  channelName: string,
): (err: Error | null, bytes: number) => void {
  return (err, bytes) => {
    if (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      stats.sendErrors++;
      stats.sendErrorsByCode[code] = (stats.sendErrorsByCode[code] ?? 0) + 1;
      limiter.warn(`send:${code}`, { channel: channelName, code, err: err.message }, 'sync channel send failed');
      return;
    }
    stats.sentDatagrams++;
    stats.sentBytes += bytes;
  };
}

/** Strips an IPv6 zone ("fe80::1%eth0") and IPv4-mapped prefix so addresses compare as text. */
export function normalizeAddress(addr: string): string {
  let a = addr.toLowerCase();
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  if (!a.includes(':')) return a;
  try {
    return formatAddr(parseAddr(a)); // canonical RFC 5952 text: "fe80:0::1" == "fe80::1"
  } catch {
    return a;
  }
}
