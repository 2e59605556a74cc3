/**
 * What the daemon exposes to metrics. Every method returns plain numbers read from the Stats
 * objects the modules already keep (ARCHITECTURE: metrics read plain counters at scrape time;
 * nothing is pushed into prom-client per packet). Methods are called during a scrape only.
 */

/** A histogram kept as plain counters by its owner. */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /**
   * Per-bucket counts, NOT cumulative: counts[i] = observations with bounds[i-1] < v <= bounds[i];
   * length bounds.length + 1, the last slot being the +Inf overflow. The owner just does counts[i]++.
   */
  readonly counts: readonly number[];
  /** Sum of observed values (seconds). */
  readonly sum: number;
}

/** Per sync peer (FTFW/NOTRACK/ALARM protocol counters, spec §4). */
export interface PeerSnapshot {
  /** Label value: the peer's address (or configured name). */
  readonly peer: string;
  /** Seconds since the last valid message from this peer; null if never heard. */
  readonly lastMessageAgeSeconds: number | null;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly nacksSent: number;
  readonly nacksReceived: number;
  /** Messages retransmitted (answering NACKs or resend timer). */
  readonly resentMessages: number;
  readonly sequenceGaps: number;
  /** Messages rejected on receive, by reason (spec §1.5: bad version, bad length, ...). */
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly authFailures: number;
}

/** Per network link (channel); `linkSnapshotFromStats` converts channel/multilink LinkStats. */
export interface LinkSnapshot {
  readonly link: string;
  readonly up: boolean;
  readonly active: boolean;
  readonly datagramsSent: number;
  readonly datagramsReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sendErrors: number;
  /** Datagrams dropped before the protocol saw them, by reason (e.g. unknown_source). */
  readonly droppedByReason: Readonly<Record<string, number>>;
  /** Seconds since the last datagram on this link; null if never. */
  readonly lastReceiveAgeSeconds: number | null;
}

export interface QueueSnapshot {
  readonly txDepth: number;
  readonly resendDepth: number;
  readonly resendOverflowDrops: number;
}

export interface CacheSnapshot {
  /** 'internal' | 'external' (spec §5.1, §5.2). */
  readonly cache: string;
  readonly entries: number;
  /** Entries refused because the cache was at its limit. */
  readonly limitRefusals: number;
}

export interface KernelSnapshot {
  /** Conntrack events received from the kernel, by type (new, update, destroy, ...). */
  readonly eventsByType: Readonly<Record<string, number>>;
  /** ENOBUFS on the event socket (events lost). */
  readonly netlinkOverruns: number;
  /** Full resyncs with the kernel table (after overruns, spec §5.6). */
  readonly resyncs: number;
  /** Current event socket receive buffer (bytes). */
  readonly netlinkBufferBytes: number;
}

export interface CommitSnapshot {
  readonly duration: HistogramSnapshot;
  readonly entriesCommitted: number;
  readonly failedByReason: Readonly<Record<string, number>>;
}

export interface MetricsSource {
  /** True once the daemon is ready (initial sync done); drives /healthz and ctsyncd_ready. */
  ready(): boolean;
  /** Time from a kernel event to the peer's ACK (FTFW) or to send (NOTRACK). */
  syncLag(): HistogramSnapshot;
  /** Age of the oldest message still waiting for an ACK; 0 when none. */
  oldestUnackedSeconds(): number;
  peers(): readonly PeerSnapshot[];
  links(): readonly LinkSnapshot[];
  queues(): QueueSnapshot;
  caches(): readonly CacheSnapshot[];
  kernel(): KernelSnapshot;
  commit(): CommitSnapshot;
}

/** Non-cumulative counts for observation `v` go to the first bucket with v <= bound. */
export function bucketIndex(bounds: readonly number[], v: number): number {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  return i;
}

/** A mutable histogram for owners that have none yet (plain fields, O(buckets) observe). */
export class PlainHistogram implements HistogramSnapshot {
  readonly counts: number[];
  sum = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(seconds: number): void {
    this.counts[bucketIndex(this.bounds, seconds)]!++;
    this.sum += seconds;
  }
}

/** Default buckets: sync lag spans sub-millisecond (NOTRACK) to resends after seconds. */
export const SYNC_LAG_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const COMMIT_DURATION_BUCKETS: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Structural subset of channel/multilink LinkStats (kept structural so metrics stays decoupled). */
export interface LinkStatsLike {
  name: string;
  up: boolean;
  active: boolean;
  lastReceiveAt: number;
  channel: {
    sentDatagrams: number;
    sentBytes: number;
    receivedDatagrams: number;
    receivedBytes: number;
    sendErrors: number;
    strangerDrops: number;
  };
}

/** Converts a multilink LinkStats into a LinkSnapshot; `nowMs` on the same clock as lastReceiveAt. */
export function linkSnapshotFromStats(l: LinkStatsLike, nowMs: number): LinkSnapshot {
  return {
    link: l.name,
    up: l.up,
    active: l.active,
    datagramsSent: l.channel.sentDatagrams,
    datagramsReceived: l.channel.receivedDatagrams,
    bytesSent: l.channel.sentBytes,
    bytesReceived: l.channel.receivedBytes,
    sendErrors: l.channel.sendErrors,
    droppedByReason: { unknown_source: l.channel.strangerDrops },
    lastReceiveAgeSeconds: l.lastReceiveAt < 0 ? null : (nowMs - l.lastReceiveAt) / 1000,
  };
}
