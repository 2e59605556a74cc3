/**
 * Up to four redundant channels of the same transport (conntrackd's multichannel, spec §1.1):
 *  - all transmissions go to the current link; reception happens on every link;
 *  - the current link becomes whichever link last delivered a datagram;
 *  - fail-over when the current link's interface goes down (first other link that is up), or
 *    when the current link fell silent for `silenceMs` while another link still receives.
 * conntrackd switches on the last *valid* message; at this layer we only see datagrams, and
 * the udp channel already drops strangers, so any delivered datagram counts.
 */
import { type LinkStateReader, readLinkUp } from './link-state';
import type { Channel, ChannelStats, StatsChannel } from './types';

/** spec §1.1: MULTICHANNEL_MAX. */
export const MULTICHANNEL_MAX = 4;

export interface LinkSpec {
  channel: StatsChannel;
  /** Interface whose state is watched; omit to treat the link as always up. */
  interface?: string;
  name?: string;
}

export interface MultiLinkOptions {
  links: LinkSpec[];
  /** `Default`: index of the initial current link (else 0). */
  defaultIndex?: number;
  /** Link-state poll period (ms). Default 200. */
  pollMs?: number;
  /** Silence fail-over threshold (ms); 0 disables. Default 3000 (three missed 1 s ALIVEs, spec §4.2). */
  silenceMs?: number;
  readLinkUp?: LinkStateReader;
  /**
   * When the current link has been silent for silenceMs and no other link hears anything
   * either, move to the next link that is up (default true). Without it a link that
   * black-holes traffic but keeps its carrier is never left: each side transmits only on the
   * current link, so the peer's traffic never shows up on another one. FTFW peers send at
   * least one message a second, so silence means trouble, not idleness.
   */
  rotateOnSilence?: boolean;
  now?: () => number;
}

/** Per-link view for metrics: the channel's counters plus link state. Plain fields. */
export interface LinkStats {
  name: string;
  interface: string | undefined;
  up: boolean;
  active: boolean;
  /** Monotonic ms of the last datagram received on this link, or -1. */
  lastReceiveAt: number;
  channel: ChannelStats;
}

export interface MultiLinkStats {
  /** Times the current link changed (receive-driven switches and fail-overs). */
  switches: number;
  /** Fail-overs because the current interface went down. */
  downFailovers: number;
  /** Fail-overs because the current link fell silent. */
  silenceFailovers: number;
  /** Moves to the next link because every link was silent (see rotateOnSilence). */
  silenceRotations: number;
  current: number;
}

export class MultiLinkChannel implements Channel {
  readonly maxPayload: number;
  readonly links: LinkStats[];
  readonly stats: MultiLinkStats;
  private handler: ((datagram: Buffer, from: string) => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  /** When the current link became current (silence rotation waits a full silenceMs on each). */
  private currentSince = 0;
  private readonly readUp: LinkStateReader;
  private readonly silenceMs: number;
  private closed = false;

  constructor(private readonly opts: MultiLinkOptions) {
    const n = opts.links.length;
    if (n < 1 || n > MULTICHANNEL_MAX) throw new Error(`multilink needs 1..${MULTICHANNEL_MAX} links, got ${n}`);
    const def = opts.defaultIndex ?? 0;
    if (def < 0 || def >= n) throw new Error(`default link index ${def} out of range`);
    this.now = opts.now ?? (() => performance.now());
    this.readUp = opts.readLinkUp ?? readLinkUp;
    this.silenceMs = opts.silenceMs ?? 3000;
    // every link must fit the engine's datagrams, so the smallest MTU wins
    this.maxPayload = Math.min(...opts.links.map((l) => l.channel.maxPayload));
    this.links = opts.links.map((l, i) => ({
      name: l.name ?? l.interface ?? `link${i}`,
      interface: l.interface,
      up: l.interface ? this.readUp(l.interface) : true,
      active: i === def,
      lastReceiveAt: -1,
      channel: l.channel.stats,
    }));
    this.stats = { switches: 0, downFailovers: 0, silenceFailovers: 0, silenceRotations: 0, current: def };
    this.currentSince = this.now();
    opts.links.forEach((l, i) => {
      l.channel.onDatagram((datagram, from) => this.receive(i, datagram, from));
    });
    this.timer = setInterval(() => this.poll(), opts.pollMs ?? 200);
    this.timer.unref();
  }

  get current(): number {
    return this.stats.current;
  }

  /** The smallest link buffer: the sender may fail over to any link. */
  get receiveBufferBytes(): number {
    return Math.min(...this.links.map((l) => l.channel.rcvBufBytes));
  }

  send(datagram: Buffer): void {
    if (this.closed) return;
    this.opts.links[this.stats.current]!.channel.send(datagram);
  }

  onDatagram(cb: (datagram: Buffer, from: string) => void): void {
    this.handler = cb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all(this.opts.links.map((l) => l.channel.close()));
  }

  /** Re-reads link state and applies the fail-over rules; runs on the poll timer. */
  poll(): void {
    if (this.closed) return;
    for (const l of this.links) {
      if (l.interface) l.up = this.readUp(l.interface);
    }
    const cur = this.links[this.stats.current]!;
    if (!cur.up) {
      const next = this.links.findIndex((l, i) => i !== this.stats.current && l.up);
      if (next >= 0) {
        this.stats.downFailovers++;
        this.switchTo(next);
      }
      return;
    }
    if (this.silenceMs > 0) {
      const t = this.now();
      if (t - cur.lastReceiveAt > this.silenceMs) {
        // the freshest other link that is up and heard something within the window
        let best = -1;
        for (let i = 0; i < this.links.length; i++) {
          const l = this.links[i]!;
          if (i === this.stats.current || !l.up || t - l.lastReceiveAt > this.silenceMs || l.lastReceiveAt < 0) continue;
          if (best < 0 || l.lastReceiveAt > this.links[best]!.lastReceiveAt) best = i;
        }
        if (best >= 0) {
          this.stats.silenceFailovers++;
          this.switchTo(best);
        } else if (this.opts.rotateOnSilence !== false && t - this.currentSince > this.silenceMs) {
          const n = this.links.length;
          for (let k = 1; k < n; k++) {
            const i = (this.stats.current + k) % n;
            if (!this.links[i]!.up) continue;
            this.stats.silenceRotations++;
            this.switchTo(i);
            break;
          }
        }
      }
    }
  }

  private receive(i: number, datagram: Buffer, from: string): void {
    this.links[i]!.lastReceiveAt = this.now();
    if (i !== this.stats.current) this.switchTo(i); // spec §1.1: last delivering channel wins
    this.handler?.(datagram, from);
  }

  private switchTo(i: number): void {
    if (i === this.stats.current) return;
    this.links[this.stats.current]!.active = false;
    this.links[i]!.active = true;
    this.stats.current = i;
    this.stats.switches++;
    this.currentSince = this.now();
  }
}
