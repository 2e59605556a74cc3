/**
 * The metric set, in one table. Every metric reads the MetricsSource at scrape time through
 * prom-client's collect() (or get() for histograms built from plain bucket counters); nothing
 * is updated per packet. Names follow Prometheus conventions: `ctsyncd_` prefix, base units
 * (seconds, bytes), `_total` on counters.
 */
import * as fs from 'node:fs';
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import type { HistogramSnapshot, MetricsSource } from './source';

type Labels = Record<string, string>;
interface Sample {
  labels?: Labels;
  value: number;
}

interface ScalarDef {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labelNames: readonly string[];
  read(src: MetricsSource, env: ScrapeEnv): Sample[];
}

interface HistogramDef {
  name: string;
  help: string;
  type: 'histogram';
  read(src: MetricsSource): HistogramSnapshot;
}

export type MetricDef = ScalarDef | HistogramDef;

/** Things read from the system (not from the daemon) at scrape time. */
export interface ScrapeEnv {
  /** Default /proc/sys/net/netfilter; tests point it at a temp dir. */
  netfilterSysctlDir: string;
}

const b = (x: boolean) => (x ? 1 : 0);
const one = (value: number): Sample[] => [{ value }];

function byReason<T>(items: readonly T[], key: (t: T) => Labels, map: (t: T) => Readonly<Record<string, number>>): Sample[] {
  const out: Sample[] = [];
  for (const it of items) {
    for (const [reason, value] of Object.entries(map(it))) out.push({ labels: { ...key(it), reason }, value });
  }
  return out;
}

function readProcNumber(path: string): Sample[] {
  try {
    const v = Number(fs.readFileSync(path, 'utf8').trim());
    return Number.isFinite(v) ? [{ value: v }] : [];
  } catch {
    return []; // nf_conntrack not loaded in this namespace: no sample rather than a fake 0
  }
}

const peer = (p: { peer: string }) => ({ peer: p.peer });
const link = (l: { link: string }) => ({ link: l.link });

/** The whole metric set. Dashboard and alert tests check their references against this table. */
export const METRIC_DEFS: readonly MetricDef[] = [
  // --- readiness and end-to-end health
  { name: 'ctsyncd_ready', help: '1 when the daemon is ready (initial sync done), else 0.', type: 'gauge', labelNames: [], read: (s) => one(b(s.ready())) },
  { name: 'ctsyncd_sync_lag_seconds', help: 'Time from a kernel conntrack event until the peer acknowledged it (FTFW) or it was sent (NOTRACK/ALARM).', type: 'histogram', read: (s) => s.syncLag() },
  { name: 'ctsyncd_oldest_unacked_seconds', help: 'Age of the oldest sync message still waiting for an acknowledgement; 0 when none.', type: 'gauge', labelNames: [], read: (s) => one(s.oldestUnackedSeconds()) },
  // --- per peer (spec §4)
  {
    name: 'ctsyncd_peer_last_message_age_seconds',
    help: 'Seconds since the last valid message was received from the peer.',
    type: 'gauge',
    labelNames: ['peer'],
    read: (s) => s.peers().flatMap((p) => (p.lastMessageAgeSeconds === null ? [] : [{ labels: peer(p), value: p.lastMessageAgeSeconds }])),
  },
  { name: 'ctsyncd_peer_sent_messages_total', help: 'Sync messages sent to the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.messagesSent })) },
  { name: 'ctsyncd_peer_received_messages_total', help: 'Valid sync messages received from the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.messagesReceived })) },
  { name: 'ctsyncd_peer_sent_bytes_total', help: 'Sync message bytes sent to the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.bytesSent })) },
  { name: 'ctsyncd_peer_received_bytes_total', help: 'Sync message bytes received from the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.bytesReceived })) },
  { name: 'ctsyncd_peer_nacks_sent_total', help: 'NACKs sent to the peer (we saw a sequence gap).', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.nacksSent })) },
  { name: 'ctsyncd_peer_nacks_received_total', help: 'NACKs received from the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.nacksReceived })) },
  { name: 'ctsyncd_peer_resent_messages_total', help: 'Messages retransmitted to the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.resentMessages })) },
  { name: 'ctsyncd_peer_sequence_gaps_total', help: 'Sequence gaps detected in messages from the peer.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.sequenceGaps })) },
  { name: 'ctsyncd_peer_rejected_messages_total', help: 'Messages from the peer rejected on receive, by reason.', type: 'counter', labelNames: ['peer', 'reason'], read: (s) => byReason(s.peers(), peer, (p) => p.rejectedByReason) },
  { name: 'ctsyncd_peer_auth_failures_total', help: 'Messages from the peer that failed authentication.', type: 'counter', labelNames: ['peer'], read: (s) => s.peers().map((p) => ({ labels: peer(p), value: p.authFailures })) },
  // --- per link (channel/)
  { name: 'ctsyncd_link_up', help: '1 when the link interface is up with carrier.', type: 'gauge', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: b(l.up) })) },
  { name: 'ctsyncd_link_active', help: '1 for the link currently used for transmission.', type: 'gauge', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: b(l.active) })) },
  {
    name: 'ctsyncd_link_last_receive_age_seconds',
    help: 'Seconds since the last datagram was received on the link.',
    type: 'gauge',
    labelNames: ['link'],
    read: (s) => s.links().flatMap((l) => (l.lastReceiveAgeSeconds === null ? [] : [{ labels: link(l), value: l.lastReceiveAgeSeconds }])),
  },
  { name: 'ctsyncd_link_sent_datagrams_total', help: 'Datagrams sent on the link.', type: 'counter', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: l.datagramsSent })) },
  { name: 'ctsyncd_link_received_datagrams_total', help: 'Datagrams received on the link.', type: 'counter', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: l.datagramsReceived })) },
  { name: 'ctsyncd_link_sent_bytes_total', help: 'Datagram payload bytes sent on the link.', type: 'counter', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: l.bytesSent })) },
  { name: 'ctsyncd_link_received_bytes_total', help: 'Datagram payload bytes received on the link.', type: 'counter', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: l.bytesReceived })) },
  { name: 'ctsyncd_link_send_errors_total', help: 'Failed datagram sends on the link (ENOBUFS, EHOSTUNREACH, ENETDOWN, ...).', type: 'counter', labelNames: ['link'], read: (s) => s.links().map((l) => ({ labels: link(l), value: l.sendErrors })) },
  { name: 'ctsyncd_link_dropped_datagrams_total', help: 'Datagrams dropped on the link before protocol processing, by reason.', type: 'counter', labelNames: ['link', 'reason'], read: (s) => byReason(s.links(), link, (l) => l.droppedByReason) },
  // --- queues (spec §4.2)
  { name: 'ctsyncd_tx_queue_messages', help: 'Messages waiting in the transmit queue.', type: 'gauge', labelNames: [], read: (s) => one(s.queues().txDepth) },
  { name: 'ctsyncd_resend_queue_messages', help: 'Messages held in the resend queue awaiting acknowledgement.', type: 'gauge', labelNames: [], read: (s) => one(s.queues().resendDepth) },
  { name: 'ctsyncd_resend_queue_overflow_drops_total', help: 'Messages dropped because the resend queue was full.', type: 'counter', labelNames: [], read: (s) => one(s.queues().resendOverflowDrops) },
  // --- caches (spec §5.1, §5.2)
  { name: 'ctsyncd_cache_entries', help: 'Entries in the cache.', type: 'gauge', labelNames: ['cache'], read: (s) => s.caches().map((c) => ({ labels: { cache: c.cache }, value: c.entries })) },
  { name: 'ctsyncd_cache_limit_refusals_total', help: 'Entries refused because the cache was at its limit.', type: 'counter', labelNames: ['cache'], read: (s) => s.caches().map((c) => ({ labels: { cache: c.cache }, value: c.limitRefusals })) },
  // --- kernel
  { name: 'ctsyncd_kernel_conntrack_entries', help: 'Entries in the kernel conntrack table (nf_conntrack_count).', type: 'gauge', labelNames: [], read: (_s, env) => readProcNumber(`${env.netfilterSysctlDir}/nf_conntrack_count`) },
  { name: 'ctsyncd_kernel_conntrack_limit', help: 'Kernel conntrack table limit (nf_conntrack_max).', type: 'gauge', labelNames: [], read: (_s, env) => readProcNumber(`${env.netfilterSysctlDir}/nf_conntrack_max`) },
  { name: 'ctsyncd_kernel_events_total', help: 'Conntrack events received from the kernel, by type.', type: 'counter', labelNames: ['type'], read: (s) => Object.entries(s.kernel().eventsByType).map(([type, value]) => ({ labels: { type }, value })) },
  { name: 'ctsyncd_kernel_netlink_overruns_total', help: 'Event socket overruns (ENOBUFS: events lost).', type: 'counter', labelNames: [], read: (s) => one(s.kernel().netlinkOverruns) },
  { name: 'ctsyncd_kernel_resyncs_total', help: 'Full resynchronisations with the kernel table.', type: 'counter', labelNames: [], read: (s) => one(s.kernel().resyncs) },
  { name: 'ctsyncd_kernel_netlink_buffer_bytes', help: 'Current receive buffer size of the conntrack event socket.', type: 'gauge', labelNames: [], read: (s) => one(s.kernel().netlinkBufferBytes) },
  // --- commit (spec §5.3)
  { name: 'ctsyncd_commit_duration_seconds', help: 'Duration of commits of the external cache into the kernel.', type: 'histogram', read: (s) => s.commit().duration },
  { name: 'ctsyncd_commit_entries_total', help: 'Entries committed into the kernel.', type: 'counter', labelNames: [], read: (s) => one(s.commit().entriesCommitted) },
  { name: 'ctsyncd_commit_failures_total', help: 'Entries that failed to commit, by reason.', type: 'counter', labelNames: ['reason'], read: (s) => Object.entries(s.commit().failedByReason).map(([reason, value]) => ({ labels: { reason }, value })) },
];

/** Every series name a scrape can produce (histograms expand to _bucket/_sum/_count). */
export function exposedSeriesNames(): Set<string> {
  const out = new Set<string>();
  for (const d of METRIC_DEFS) {
    if (d.type === 'histogram') for (const suf of ['_bucket', '_sum', '_count']) out.add(d.name + suf);
    else out.add(d.name);
  }
  return out;
}

/**
 * A histogram exposed from plain bucket counters. prom-client's Histogram can only observe(),
 * so this implements the small `get()` contract its Registry reads.
 */
class SnapshotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => HistogramSnapshot,
  ) {}

  async get() {
    const h = this.read();
    const values: Array<{ metricName: string; labels: Labels; value: number }> = [];
    let cum = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cum += h.counts[i] ?? 0;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: String(h.bounds[i]) }, value: cum });
    }
    cum += h.counts[h.bounds.length] ?? 0;
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: cum });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: h.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: cum });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export interface MetricsRegistryOptions {
  netfilterSysctlDir?: string;
}

/** Builds a private Registry (never the global one) over `src`. */
export function createMetricsRegistry(src: MetricsSource, opts: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  const env: ScrapeEnv = { netfilterSysctlDir: opts.netfilterSysctlDir ?? '/proc/sys/net/netfilter' };
  for (const d of METRIC_DEFS) {
    if (d.type === 'histogram') {
      registry.registerMetric(new SnapshotHistogram(d.name, d.help, () => d.read(src)) as unknown as Metric);
      continue;
    }
    const read = () => d.read(src, env);
    const common = { name: d.name, help: d.help, labelNames: d.labelNames as string[], registers: [registry] };
    if (d.type === 'gauge') {
      new Gauge({
        ...common,
        collect() {
          this.reset();
          const samples = read();
          // reset() re-creates a 0 sample for unlabelled gauges; "unknown" must be no sample
          if (samples.length === 0 && d.labelNames.length === 0) this.remove({});
          for (const s of samples) this.set(s.labels ?? {}, s.value);
        },
      });
    } else {
      new Counter({
        ...common,
        collect() {
          // counters are monotonic in the source; re-expose the absolute value each scrape
          this.reset();
          for (const s of read()) this.inc(s.labels ?? {}, s.value);
        },
      });
    }
  }
  return registry;
}
