/**
 * UDP multicast channel, as conntrackd's `Multicast { }` block (spec §1.1):
 *  - receive socket: SO_REUSEADDR, bound to Group port and (like conntrackd HEAD) to the group
 *    address itself so only our group's traffic is heard, joined on the configured interface;
 *  - send socket: separate, IP_MULTICAST_LOOP off (a node never hears itself),
 *    IP_MULTICAST_IF = the interface, TTL 1 (peers share the L2 segment);
 *  - maxPayload = MTU(Interface) − 28, read once at start.
 */
import * as dgram from 'node:dgram';
import * as os from 'node:os';
import { type BufferOptions, bindAsync, closeAsync, maxPayloadFor, readInterfaceMtu, recordBufferSizes, socketOptions } from './common';
import { SocketPairChannel } from './socket-pair';
import type { ChannelLog } from './types';

export interface MulticastOptions extends BufferOptions {
  family: 4 | 6;
  /** Multicast group (IPv4_address / IPv6_address), e.g. 225.0.0.50 or ff02::1:50. */
  group: string;
  /** `Group` in conntrackd.conf: the UDP port used for sending and receiving. */
  port: number;
  /** Interface name (MTU, IPv6 scope, link-state watch). */
  interface: string;
  /** IPv4_interface: local IPv4 address on `interface`; looked up from the interface if absent. */
  localAddress?: string;
  /** Overrides the sysfs MTU lookup (tests, or interfaces without sysfs). */
  mtu?: number;
  log?: ChannelLog;
  name?: string;
}

/** First IPv4 address of an interface, from os.networkInterfaces(). */
export function interfaceIPv4(ifname: string): string {
  const list = os.networkInterfaces()[ifname] ?? [];
  const v4 = list.find((a) => a.family === 'IPv4');
  if (!v4) throw new Error(`interface ${ifname} has no IPv4 address`);
  return v4.address;
}

export class MulticastChannel extends SocketPairChannel {
  private readonly dest: string;

  private constructor(
    maxPayload: number,
    rx: dgram.Socket,
    tx: dgram.Socket,
    private readonly opts: MulticastOptions,
  ) {
    super(opts.name ?? `multicast:${opts.interface}`, maxPayload, rx, tx, opts.log);
    // IPv6 link-local groups need the zone to pick the egress interface.
    this.dest = opts.family === 6 && !opts.group.includes('%') ? `${opts.group}%${opts.interface}` : opts.group;
  }

  static async open(opts: MulticastOptions): Promise<MulticastChannel> {
    const mtu = opts.mtu ?? readInterfaceMtu(opts.interface);
    const type = opts.family === 6 ? 'udp6' : 'udp4';
    const rx = dgram.createSocket(socketOptions(type, { rcvBuf: opts.rcvBuf }, true));
    const tx = dgram.createSocket(socketOptions(type, { sndBuf: opts.sndBuf }, false));
    try {
      if (opts.family === 4) {
        const local = opts.localAddress ?? interfaceIPv4(opts.interface);
        // HEAD behaviour (spec §1.1): bind the group, so other groups on the same port stay out.
        await bindAsync(rx, { port: opts.port, address: opts.group, exclusive: false });
        rx.addMembership(opts.group, local);
        await bindAsync(tx, { port: 0, address: '0.0.0.0' });
        tx.setMulticastInterface(local);
      } else {
        const zone = `%${opts.interface}`;
        const group = opts.group.includes('%') ? opts.group : `${opts.group}${zone}`;
        await bindAsync(rx, { port: opts.port, address: group, exclusive: false });
        // libuv reads the interface index from the zone of "::%ifname" (spec §1.1: IPv6 uses
        // the interface index of `Interface`).
        rx.addMembership(opts.group.split('%')[0]!, `::${zone}`);
        await bindAsync(tx, { port: 0, address: '::' });
        tx.setMulticastInterface(`::${zone}`);
      }
      tx.setMulticastLoopback(false);
      tx.setMulticastTTL(1);
      // IP_MULTICAST_LOOP is a property of the sending socket: with it off the kernel loops
      // none of our datagrams back to any local socket, including our own receive socket.
    } catch (err) {
      await Promise.all([closeAsync(rx), closeAsync(tx)]);
      throw err;
    }
    const ch = new MulticastChannel(maxPayloadFor(mtu), rx, tx, opts);
    recordBufferSizes(ch.stats, rx, tx);
    return ch;
  }

  send(datagram: Buffer): void {
    if (this.closed) return;
    this.sendTo(datagram, this.opts.port, this.dest);
  }
}

export function openMulticastChannel(opts: MulticastOptions): Promise<MulticastChannel> {
  return MulticastChannel.open(opts);
}
