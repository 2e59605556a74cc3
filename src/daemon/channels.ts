/**
 * Builds the sync channels from the config: one channel per dedicated link, joined in a
 * MultiLinkChannel (transmit on one, receive on all, failover) when there are several.
 */
import { MultiLinkChannel, openMulticastChannel, openUdpChannel, type StatsChannel } from '../channel';
import type { ChannelConfig } from '../config/types';
import type { ChannelLog } from '../channel/types';
import type { Cidr } from '../flow/address';
import { parseCidr } from '../flow/address';

export interface OpenedChannels {
  channel: StatsChannel | MultiLinkChannel;
  links: { cfg: ChannelConfig; channel: StatsChannel }[];
  multi: MultiLinkChannel | undefined;
}

/**
 * RcvSocketBuffer when the config has none (ours; conntrackd keeps the kernel default,
 * 208 KiB, ≈90 full datagrams in skb truesize terms). A burst of 100k changes is ≈6000
 * datagrams; FTFW's window (src/sync/mode/ftfw.ts maxInFlight) keeps a ctsyncd sender within
 * ≈120 of them, but a conntrackd peer is unpaced, and our own event loop may pause (GC, a
 * kernel dump) while datagrams keep arriving. The kernel silently caps the request at
 * net.core.rmem_max (raise it on the host; it is read-only inside a network namespace).
 */
export const DEFAULT_SYNC_RCVBUF = 16 << 20;

export async function openChannels(cfgs: ChannelConfig[], log: ChannelLog): Promise<OpenedChannels> {
  const links: OpenedChannels['links'] = [];
  try {
    for (const [i, c] of cfgs.entries()) {
      const family = c.family === 'ipv6' ? 6 : 4;
      const name = c.interface ?? `link${i}`;
      const bufs = { sndBuf: c.sndBuf, rcvBuf: c.rcvBuf ?? DEFAULT_SYNC_RCVBUF };
      let ch: StatsChannel;
      if (c.kind === 'multicast') {
        ch = await openMulticastChannel({
          family,
          group: c.group!,
          port: c.port,
          interface: c.interface!,
          localAddress: c.localAddress,
          log,
          name,
          ...bufs,
        });
      } else {
        ch = await openUdpChannel({
          family,
          localAddress: c.localAddress!,
          port: c.port,
          peers: c.peers,
          interface: c.interface,
          log,
          name,
          ...bufs,
        });
      }
      links.push({ cfg: c, channel: ch });
    }
  } catch (err) {
    for (const l of links) await l.channel.close();
    throw err;
  }
  if (links.length === 1) return { channel: links[0]!.channel, links, multi: undefined };
  const defaultIndex = Math.max(
    0,
    cfgs.findIndex((c) => c.default),
  );
  const multi = new MultiLinkChannel({
    links: links.map((l) => ({ channel: l.channel, interface: l.cfg.interface, name: l.cfg.interface })),
    defaultIndex,
  });
  return { channel: multi, links, multi };
}

/**
 * The sync link's own addresses: flows between them are the sync traffic itself and must never
 * be replicated (the spec's Appendix B notes conntrackd needs a manual Address Ignore for this).
 */
export function syncLinkAddresses(cfgs: ChannelConfig[]): Cidr[] {
  const out: Cidr[] = [];
  for (const c of cfgs) {
    for (const a of [c.localAddress, ...c.peers]) {
      if (!a) continue;
      try {
        out.push(parseCidr(a.split('%')[0]!));
      } catch {
        // not an address (validated elsewhere)
      }
    }
  }
  return out;
}
