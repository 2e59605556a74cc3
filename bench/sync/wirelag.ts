/**
 * Sync lag from a capture on the receiver's sync interface: for every flow the injector created
 * (or deleted) at time t, the lag is (capture time of the first datagram from the sender that
 * carries a NEW/UPD (resp. DEL) message for that flow) − t. This measures the sender's path
 * kernel event → daemon → wire; the receiver's own cache insert (≪ 1 ms) is not included.
 *
 * Messages are parsed with the project's conntrackd wire codec (spec §1.5, §3): walkDatagram +
 * decodeDataMessage; flows map back to their index with flows.ts benchIndex().
 */
import { readFileSync } from 'node:fs';
import { NET_T } from '../../src/sync/wire/constants';
import { decodeDataMessage } from '../../src/sync/wire/message';
import { DEFAULT_WIRE_OPTIONS } from '../../src/sync/wire/options';
import { WireRxStats } from '../../src/sync/wire/stats';
import { walkDatagram } from '../../src/sync/wire/walk';
import { parsePcap } from '../../src/tools/pcap';
import { benchIndex } from './flows';
import { percentile } from './sh';

export interface LagReport {
  samples: number;
  /** Scheduled creates / deletes never seen on the wire (lost before the wire, or capture drops). */
  missingCreates: number;
  missingDeletes: number;
  p50: number;
  p99: number;
  max: number;
  datagrams: number;
  malformed: number;
}

export interface InjectLog {
  creates: number[][];
  deletes: number[][];
}

/** First-seen capture times (ms) per flow index: [created, deleted]. */
export function firstSeen(pcapPath: string, senderAddr: string): { created: Map<number, number>; deleted: Map<number, number>; datagrams: number; malformed: number } {
  const created = new Map<number, number>();
  const deleted = new Map<number, number>();
  const stats = new WireRxStats();
  const recs = parsePcap(readFileSync(pcapPath));
  for (const r of recs) {
    if (r.src !== senderAddr) continue;
    const t = r.tsUs / 1000;
    walkDatagram(r.payload, 0, r.payload.length, stats, (h, buf, off, end) => {
      if (h.type > NET_T.STATE_CT_DEL) return;
      const m = decodeDataMessage(h, buf, off, end, stats, DEFAULT_WIRE_OPTIONS);
      if (m?.kind !== 'ct') return;
      const o = m.flow.orig;
      if (typeof o.src !== 'number' || typeof o.dst !== 'number') return;
      const i = benchIndex(o.src, o.sport, o.dst, o.dport);
      if (i < 0) return;
      const map = m.type === NET_T.STATE_CT_DEL ? deleted : created;
      if (!map.has(i)) map.set(i, t);
    });
  }
  return { created, deleted, datagrams: stats.datagrams, malformed: stats.malformed };
}

export function lagReport(log: InjectLog, pcapPath: string, senderAddr: string): LagReport {
  const seen = firstSeen(pcapPath, senderAddr);
  const lags: number[] = [];
  const collect = (ranges: number[][], map: Map<number, number>): number => {
    let missing = 0;
    for (const [t, first, count] of ranges) {
      for (let i = first!; i < first! + count!; i++) {
        const s = map.get(i);
        if (s === undefined) missing++;
        else lags.push(Math.max(0, s - t!));
      }
    }
    return missing;
  };
  const missingCreates = collect(log.creates, seen.created);
  const missingDeletes = collect(log.deletes, seen.deleted);
  lags.sort((a, b) => a - b);
  return {
    samples: lags.length,
    missingCreates,
    missingDeletes,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: lags.length ? lags[lags.length - 1]! : Number.NaN,
    datagrams: seen.datagrams,
    malformed: seen.malformed,
  };
}
