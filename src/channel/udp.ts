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
  maxPayloadFor,
  normalizeAddress,
  readInterfaceMtu,
  recordBufferSizes,
  socketOptions,
} from './common';
import { SocketPairChannel } from './socket-pair';
import type { ChannelLog } from './types';

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

export class UdpChannel extends SocketPairChannel {
  private readonly peers: Array<{ address: string; port: number }>;
  private readonly allowed: Set<string>;
  private readonly acceptAny: boolean;

  private constructor(maxPayload: number, rx: dgram.Socket, tx: dgram.Socket, opts: UdpOptions) {
    super(opts.name ?? `udp:${opts.localAddress}:${opts.port}`, maxPayload, rx, tx, opts.log);
    this.peers = opts.peers.map((p) =>
      typeof p === 'string' ? { address: p, port: opts.port } : { address: p.address, port: p.port ?? opts.port },
    );
    this.allowed = new Set(this.peers.map((p) => normalizeAddress(p.address)));
    this.acceptAny = opts.acceptAnySource === true;
  }

  protected override accept(from: string): boolean {
    if (this.acceptAny || this.allowed.has(from)) return true;
    this.stats.strangerDrops++;
    this.limiter.warn('stranger', { channel: this.name, from }, 'dropped datagram from unknown source');
    return false;
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

  send(datagram: Buffer): void {
    if (this.closed) return;
    for (const p of this.peers) this.sendTo(datagram, p.port, p.address);
  }
}

export function openUdpChannel(opts: UdpOptions): Promise<UdpChannel> {
  return UdpChannel.open(opts);
}
