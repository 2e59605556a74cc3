/**
 * One view of the sync links for metrics and `-s link`, whether there is a single channel or a
 * MultiLinkChannel (which keeps its own per-link state).
 */
import type { LinkStats } from '../channel';
import type { OpenedChannels } from './channels';

export function linkStats(ch: OpenedChannels): LinkStats[] {
  if (ch.multi) return ch.multi.links;
  const only = ch.links[0]!;
  return [
    {
      name: only.cfg.interface ?? 'link0',
      interface: only.cfg.interface,
      up: true,
      active: true,
      lastReceiveAt: -1,
      channel: only.channel.stats,
    } as LinkStats,
  ];
}
