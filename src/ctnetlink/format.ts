/**
 * Human output for conntrack entries:
 *  - formatConntrackLine: exactly conntrack(8) -L's default line (libnetfilter_conntrack
 *    1.0.9 __snprintf_conntrack_default), so `ctsyncd ... | diff - <(conntrack -L)` works;
 *  - flowToJson: a plain JSON-safe object for --json output.
 * Display only: addresses are formatted here, never on the hot path (flow/address.ts).
 */
import { type Addr, AF_INET6, formatAddr } from '../flow/address';
import { type Expectation, type Flow, IPPROTO, IPS, TCP_STATE_NAMES, type Tuple } from '../flow/flow';
import type { CtFlow } from './codec';
import { SCTP_STATE_NAMES } from './constants';

/** libnetfilter_conntrack proto2str. */
const PROTO_NAMES: Record<number, string> = {
  [IPPROTO.TCP]: 'tcp',
  [IPPROTO.UDP]: 'udp',
  [IPPROTO.UDPLITE]: 'udplite',
  [IPPROTO.ICMP]: 'icmp',
  [IPPROTO.ICMPV6]: 'icmpv6',
  [IPPROTO.SCTP]: 'sctp',
  [IPPROTO.GRE]: 'gre',
  [IPPROTO.DCCP]: 'dccp',
};

// libnetfilter_conntrack's TCP state table names state 9 LISTEN (the kernel calls it SYN_SENT2)
const NFCT_TCP_STATES = [...TCP_STATE_NAMES.slice(0, 9), 'LISTEN'] as const;

export interface FormatOpts {
  /** Event prefix as `conntrack -E` prints it ("[NEW]" right-aligned to 9 columns). */
  event?: 'new' | 'update' | 'destroy';
  /** -o extended: "ipv4     2 " before the protocol. */
  showLayer3?: boolean;
  /** -o id: "id=N" after use=. */
  showId?: boolean;
  /** connlabel.conf names by bit; labels are printed only with a map, like conntrack(8). */
  labelNames?: ReadonlyMap<number, string>;
  /** Current time in seconds since the epoch, for delta-time (nf_conntrack_timestamp on). */
  nowSec?: number;
  /**
   * Events only: nlmsg_pid of the event. conntrack -E appends " [USERSPACE] portid=N" when it
   * is non-zero (the change was made through ctnetlink by that socket).
   */
  portid?: number;
  /**
   * Events only: the process owning that port id. conntrack -E looks it up in /proc at print
   * time (when the process still exists) and appends " progname=NAME"; the bytes don't carry it.
   */
  progname?: string;
}

function pad8(s: string): string {
  return s.length >= 8 ? s : s + ' '.repeat(8 - s.length);
}

function addrs(t: Tuple): string {
  return `src=${formatAddr(t.src)} dst=${formatAddr(t.dst)} `;
}

function l4(t: Tuple): string {
  switch (t.proto) {
    case IPPROTO.TCP:
    case IPPROTO.UDP:
    case IPPROTO.UDPLITE:
    case IPPROTO.SCTP:
    case IPPROTO.DCCP:
      return `sport=${t.sport} dport=${t.dport} `;
    case IPPROTO.GRE: {
      const k = t.greKey ?? 0;
      return `srckey=0x${(k >>> 16).toString(16)} dstkey=0x${(k & 0xffff).toString(16)} `;
    }
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      return `type=${t.icmpType} code=${t.icmpCode} id=${t.icmpId} `;
    default:
      return '';
  }
}

/** Bits set in the kernel's connlabel bitmap (unsigned long words, little-endian here). */
export function labelBits(labels: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    for (let b = 0; b < 8; b++) if (v & (1 << b)) out.push(i * 8 + b);
  }
  return out;
}

/** One line in conntrack(8) -L format (no trailing space, no newline). */
export function formatConntrackLine(flow: Flow, opts: FormatOpts = {}): string {
  const f = flow as CtFlow;
  let s = '';
  if (opts.event) {
    const tag = opts.event === 'new' ? '[NEW]' : opts.event === 'update' ? '[UPDATE]' : '[DESTROY]';
    s += `${tag.padStart(9)} `;
  }
  const o = f.orig;
  if (opts.showLayer3) s += `${pad8(o.family === AF_INET6 ? 'ipv6' : 'ipv4')} ${o.family} `;
  s += `${pad8(PROTO_NAMES[o.proto] ?? 'unknown')} ${o.proto} `;
  if (f.timeout !== undefined) s += `${f.timeout} `;
  if (f.tcp?.state !== undefined) s += `${NFCT_TCP_STATES[f.tcp.state] ?? 'NONE'} `;
  if (f.sctp?.state !== undefined) s += `${SCTP_STATE_NAMES[f.sctp.state] ?? 'NONE'} `;
  // libnetfilter_conntrack 1.0.9 prints DCCP states from its SCTP table (sic); mirror it so
  // the lines diff clean against conntrack(8)
  if (f.dccp?.state !== undefined) s += `${SCTP_STATE_NAMES[f.dccp.state] ?? 'NONE'} `;
  s += addrs(o) + l4(o);
  if (o.zone !== undefined) s += `zone-orig=${o.zone} `;
  if (f.countersOrig) s += `packets=${f.countersOrig.packets} bytes=${f.countersOrig.bytes} `;
  if (f.status !== undefined && (f.status & IPS.SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  const r = f.reply;
  if (r) {
    s += addrs(r) + l4(r);
    if (r.zone !== undefined) s += `zone-reply=${r.zone} `;
  }
  if (f.countersReply) s += `packets=${f.countersReply.packets} bytes=${f.countersReply.bytes} `;
  if (f.status !== undefined) {
    if (f.status & IPS.HW_OFFLOAD) s += '[HW_OFFLOAD] ';
    else if (f.status & IPS.OFFLOAD) s += '[OFFLOAD] ';
    else if (f.status & IPS.ASSURED) s += '[ASSURED] ';
  }
  if (f.mark !== undefined) s += `mark=${f.mark} `;
  if (f.secmark !== undefined) s += `secmark=${f.secmark} `;
  if (f.secctx !== undefined) s += `secctx=${f.secctx} `;
  if (f.zone !== undefined) s += `zone=${f.zone} `;
  if (f.tsStart !== undefined) {
    const startSec = f.tsStart / 1_000_000_000n;
    const stopSec = f.tsStop !== undefined && f.tsStop !== 0n ? f.tsStop / 1_000_000_000n : opts.nowSec !== undefined ? BigInt(Math.floor(opts.nowSec)) : undefined;
    if (stopSec !== undefined) s += `delta-time=${stopSec - startSec} `;
  }
  if (f.helper !== undefined) s += `helper=${f.helper} `;
  if (f.use !== undefined) s += `use=${f.use} `;
  if (opts.showId && f.id !== undefined) s += `id=${f.id >>> 0} `; // kept signed (flow/address.ts)
  if (opts.labelNames && f.labels) {
    const names: string[] = [];
    for (const bit of labelBits(f.labels)) {
      const n = opts.labelNames.get(bit);
      if (n) names.push(n);
    }
    s += `labels=${names.join(',')} `;
  }
  s = s.slice(0, -1);
  if (opts.portid) {
    s += ` [USERSPACE] portid=${opts.portid}`;
    if (opts.progname) s += ` progname=${opts.progname}`;
  }
  return s;
}

function l4Exp(t: Tuple, ref: Tuple): string {
  // the expectation printer picks the port format from the expected tuple's protocol
  return l4({ ...t, proto: ref.proto });
}

/**
 * One line in `conntrack -L expect` format (libnetfilter_conntrack expect snprintf_default):
 * "<timeout> proto=<n> <tuple> mask-src=.. mask-dst=.. <mask ports> master-src=.. master-dst=..
 * <master ports> [zone=..] [flags] class=.. helper=..".
 */
export function formatExpectationLine(exp: Expectation): string {
  let s = '';
  if (exp.timeout !== undefined) s += `${exp.timeout} `;
  s += `proto=${exp.tuple.proto} `;
  s += addrs(exp.tuple) + l4(exp.tuple);
  s += `mask-src=${formatAddr(exp.mask.src)} mask-dst=${formatAddr(exp.mask.dst)} ${l4Exp(exp.mask, exp.tuple)}`;
  s += `master-src=${formatAddr(exp.master.src)} master-dst=${formatAddr(exp.master.dst)} ${l4(exp.master)}`;
  // unverified against conntrack(8): the 6.18 kernel never reports CTA_EXPECT_ZONE in dumps
  if (exp.zone !== undefined) s += `zone=${exp.zone} `;
  if (exp.flags !== undefined && exp.flags !== 0) {
    const names: string[] = [];
    if (exp.flags & 0x1) names.push('PERMANENT');
    if (exp.flags & 0x2) names.push('INACTIVE');
    if (exp.flags & 0x4) names.push('USERSPACE');
    if (names.length > 0) s += `${names.join(',')} `;
  }
  if (exp.class !== undefined) s += `class=${exp.class} `;
  if (exp.helper !== undefined) s += `helper=${exp.helper} `;
  if (exp.fn !== undefined) s += `fn=${exp.fn} `;
  return s.slice(0, -1);
}

function addrJson(a: Addr): string {
  return formatAddr(a);
}

export interface TupleJson {
  family: 'ipv4' | 'ipv6';
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  greKey?: number;
  zone?: number;
}

export function tupleToJson(t: Tuple): TupleJson {
  const j: TupleJson = { family: t.family === AF_INET6 ? 'ipv6' : 'ipv4', src: addrJson(t.src), dst: addrJson(t.dst), proto: t.proto };
  if (t.proto === IPPROTO.ICMP || t.proto === IPPROTO.ICMPV6) {
    j.icmpType = t.icmpType;
    j.icmpCode = t.icmpCode;
    j.icmpId = t.icmpId;
  } else if (t.proto !== IPPROTO.GRE && t.proto !== 0) {
    j.sport = t.sport;
    j.dport = t.dport;
  }
  if (t.greKey !== undefined) j.greKey = t.greKey;
  if (t.zone !== undefined) j.zone = t.zone;
  return j;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** JSON-safe view: addresses as text, bigints as decimal strings, labels as bit numbers. */
function jsonValue(key: string, v: unknown): Json | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return key === 'labels' ? labelBits(v) : Array.from(v);
  if (typeof v === 'object' && v !== null) {
    if ('src' in v && 'dst' in v && 'proto' in v) return tupleToJson(v as Tuple) as unknown as Json;
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'snatAddr' || k === 'dnatAddr') && (typeof x === 'number' || typeof x === 'string')) {
        out[k] = formatAddr(x);
        continue;
      }
      // kernel ids are kept signed internally (flow/address.ts u32id); print the kernel's u32
      if (k === 'id' && typeof x === 'number') {
        out[k] = x >>> 0;
        continue;
      }
      const j = jsonValue(k, x);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return v as Json;
}

/** Flow (or CtFlow) as a plain JSON object; `state` adds the TCP/SCTP state name. */
export function flowToJson(flow: Flow): Record<string, Json> {
  const out = jsonValue('', flow) as Record<string, Json>;
  if (flow.tcp?.state !== undefined) out.state = TCP_STATE_NAMES[flow.tcp.state] ?? String(flow.tcp.state);
  else if (flow.sctp?.state !== undefined) out.state = SCTP_STATE_NAMES[flow.sctp.state] ?? String(flow.sctp.state);
  return out;
}

export function expectationToJson(exp: Expectation): Record<string, Json> {
  return jsonValue('', exp) as Record<string, Json>;
}
