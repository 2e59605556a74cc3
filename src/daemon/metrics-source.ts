/**
 * MetricsSource over the daemon's plain counters (read at scrape time only).
 */
import type {
  CacheSnapshot,
  CommitSnapshot,
  HistogramSnapshot,
  KernelSnapshot,
  LinkSnapshot,
  MetricsSource,
  PeerSnapshot,
  QueueSnapshot,
} from '../metrics/source';
import { linkSnapshotFromStats } from '../metrics/source';
import { LagHistogram } from '../sync/mode/stats';
import type { Daemon } from './daemon';
import { linkStats } from './link-view';

const LAG_BOUNDS_S = LagHistogram.BOUNDS.map((ms) => ms / 1000);

export class DaemonMetricsSource implements MetricsSource {
  constructor(private readonly d: Daemon) {}

  ready(): boolean {
    return this.d.engine.ready;
  }

  syncLag(): HistogramSnapshot {
    const h = this.d.engine.stats.mode.lag;
    return { bounds: LAG_BOUNDS_S, counts: h.counts, sum: h.sum / 1000 };
  }

  oldestUnackedSeconds(): number {
    const ms = this.d.engine.stats.oldestUnackedAgeMs;
    return ms === undefined ? 0 : ms / 1000;
  }

  peers(): readonly PeerSnapshot[] {
    const s = this.d.engine.stats;
    const now = this.d.clock.now();
    const env = this.d.envelope?.stats;
    return s.peers.map((p) => ({
      peer: p.id === 0 ? 'peer' : `node${p.id}`,
      lastMessageAgeSeconds: p.mode.lastRecvAt > 0 ? (now - p.mode.lastRecvAt) / 1000 : null,
      messagesSent: p.mode.msgsSent,
      messagesReceived: p.mode.msgsRecv,
      bytesSent: p.mode.bytesSent,
      bytesReceived: p.mode.bytesRecv,
      nacksSent: p.mode.nacksSent,
      nacksReceived: p.mode.nacksRecv,
      resentMessages: p.mode.resends,
      sequenceGaps: p.mode.gaps,
      rejectedByReason: {
        truncated: p.rx.truncated,
        bad_size: p.rx.badSize,
        bad_version: p.rx.badVersion,
        bad_type: p.rx.badType,
        malformed_payload: p.rx.malformedPayload,
      },
      authFailures: env ? env.dropped : 0,
    }));
  }

  links(): readonly LinkSnapshot[] {
    const now = performance.now();
    return linkStats(this.d.channels).map((l) => linkSnapshotFromStats(l, now));
  }

  queues(): QueueSnapshot {
    const s = this.d.engine.stats;
    return { txDepth: s.txQueue, resendDepth: s.rsQueue, resendOverflowDrops: s.mode.rsOverflow };
  }

  caches(): readonly CacheSnapshot[] {
    const s = this.d.engine.stats;
    return [
      { cache: 'internal', entries: s.internal.active, limitRefusals: s.internal.refusedFull },
      { cache: 'external', entries: s.external.active, limitRefusals: s.external.refusedFull },
    ];
  }

  kernel(): KernelSnapshot {
    const f = this.d.feed.stats;
    return {
      eventsByType: { ...f.events, expectation: f.expectationEvents },
      netlinkOverruns: f.overruns,
      resyncs: f.resyncs,
      netlinkBufferBytes: f.bufferBytes,
    };
  }

  commit(): CommitSnapshot {
    const c = this.d.commit.stats;
    return { duration: c.duration, entriesCommitted: c.committed, failedByReason: c.failedByReason };
  }
}
