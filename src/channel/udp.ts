/**
 * UDP unicast channel, as conntrackd's `UDP { }` block (spec §1.1), extended to several peers:
 *  - receive socket bound to localAddress:port (SO_REUSEADDR);
 *  - separate send socket (ephemeral source port) that sends every datagram to every peer;
 *  - conntrackd accepts datagrams from any source; we drop and count datagrams from sources
 *    that are not configured peers unless `acceptAnySource` is set.
 */
import * as dgram from 'node:dgram';
import {
  type BufferOptions,
  bindAsync,
  closeAsync,
  LogLimiter,
  makeSendCallback,
  maxPayloadFor,
  normalizeAddress,
  readInterfaceMtu,
  recordBufferSizes,
  socketOptions,
} from './common';
import { type ChannelLog, type ChannelStats, newChannelStats, type StatsChannel } from './types';

export interface UdpPeer {
  address: string;
  /** Defaults to the channel port (conntrackd uses the same port both ways, spec §1.1). */
  port?: number;
}

export interface UdpOptions extends BufferOptions {
  family: 4 | 6;
  /** IPv4_address / IPv6_address: where we receive (and the source address we send from). */
  localAddress: string;
  /** `Port`. */
  port: number;
  /** IPv4_Destination_Address / IPv6_Destination_Address, one or more. */
  peers: Array<string | UdpPeer>;
  /** Interface for the MTU (`Interface`); `mtu` overrides it. One of the two is required. */
  interface?: string;
  mtu?: number;
  /** conntrackd behaviour: accept any source. Default false (drop + count strangers). */
  acceptAnySource?: boolean;
  log?: ChannelLog;
  name?: string;
}

export class UdpChannel implements StatsChannel {
  readonly stats: ChannelStats = newChannelStats();
  readonly name: string;
  private handler: ((datagram: Buffer, from: string) => void) | undefined;
  private readonly sendCb: (err: Error | null, bytes: number) => void;
  private readonly peers: Array<{ address: string; port: number }>;
  private readonly allowed: Set<string>;
  private closed = false;

  private constructor(
    readonly maxPayload: number,
    private readonly rx: dgram.Socket,
    private readonly tx: dgram.Socket,
    opts: UdpOptions,
  ) {
    this.name = opts.name ?? `udp:${opts.localAddress}:${opts.port}`;
    const limiter = new LogLimiter(opts.log);
    this.sendCb = makeSendCallback(this.stats, limiter, this.name);
    this.peers = opts.peers.map((p) =>
      typeof p === 'string' ? { address: p, port: opts.port } : { address: p.address, port: p.port ?? opts.port },
    );
    this.allowed = new Set(this.peers.map((p) => normalizeAddress(p.address)));
    const acceptAny = opts.acceptAnySource === true;
    rx.on('message', (msg, rinfo) => {
      const from = normalizeAddress(rinfo.address);
      if (!acceptAny && !this.allowed.has(from)) {
        this.stats.strangerDrops++;
        limiter.warn('stranger', { channel: this.name, from }, 'dropped datagram from unknown source');
        return;
      }
      this.stats.receivedDatagrams++;
      this.stats.receivedBytes += msg.length;
      const h = this.handler;
      if (!h) return;
      try {
        h(msg, from);
      } catch (err) {
        limiter.warn('handler', { channel: this.name, err: String(err) }, 'datagram handler threw');
      }
    });
    const onSockError = (err: Error) => {
      this.stats.receiveErrors++;
      limiter.warn(`sock:${(err as NodeJS.ErrnoException).code}`, { channel: this.name, err: err.message }, 'sync socket error');
    };
    rx.on('error', onSockError);
    tx.on('error', onSockError);
  }

  static async open(opts: UdpOptions): Promise<UdpChannel> {
    if (opts.peers.length === 0) throw new Error('udp channel needs at least one peer');
    let mtu = opts.mtu;
    if (mtu === undefined) {
      if (!opts.interface) throw new Error('udp channel needs `interface` or `mtu`');
      mtu = readInterfaceMtu(opts.interface);
    }
    const type = opts.family === 6 ? 'udp6' : 'udp4';
    const rx = dgram.createSocket(socketOptions(type, { rcvBuf: opts.rcvBuf }, true));
    const tx = dgram.createSocket(socketOptions(type, { sndBuf: opts.sndBuf }, false));
    try {
      await bindAsync(rx, { port: opts.port, address: opts.localAddress, exclusive: false });
      // conntrackd leaves the send socket unbound; binding it to the local address (ephemeral
      // port) pins the source address peers see, which their source filter relies on.
      await bindAsync(tx, { port: 0, address: opts.localAddress });
    } catch (err) {
      await Promise.all([closeAsync(rx), closeAsync(tx)]);
      throw err;
    }
    const ch = new UdpChannel(maxPayloadFor(mtu), rx, tx, opts);
    recordBufferSizes(ch.stats, rx, tx);
    return ch;
  }

  get receiveBufferBytes(): number {
    return this.stats.rcvBufBytes;
  }

  send(datagram: Buffer): void {
    if (this.closed) return;
    for (const p of this.peers) {
      try {
        this.tx.send(datagram, p.port, p.address, this.sendCb);
      } catch (err) {
        this.sendCb(err as Error, 0);
      }
    }
  }

  onDatagram(cb: (datagram: Buffer, from: string) => void): void {
    this.handler = cb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeAsync(this.rx), closeAsync(this.tx)]);
  }
}

export function openUdpChannel(opts: UdpOptions): Promise<UdpChannel> {
  return UdpChannel.open(opts);
}
