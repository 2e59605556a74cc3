/**
 * The one model of a conntrack entry shared by every layer: the ctnetlink codec fills it from
 * the kernel, the sync wire codec from peers, caches hold it, commit writes it back.
 *
 * Conventions:
 *  - numbers are host values (ports as plain integers, status as u32);
 *  - `undefined` means "not known" (an attribute absent from the event/message), which matters:
 *    UPDATE merges only present attributes (spec §5.1) and the wire encoder emits only known ones
 *    (spec §3.3);
 *  - addresses follow flow/address.ts.
 */
import { type Addr, type Family, ipv4 } from './address';

export const IPPROTO = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
} as const;

/** IPS_* conntrack status bits (linux/netfilter/nf_conntrack_common.h). */
export const IPS = {
  EXPECTED: 0x1,
  SEEN_REPLY: 0x2,
  ASSURED: 0x4,
  CONFIRMED: 0x8,
  SRC_NAT: 0x10,
  DST_NAT: 0x20,
  SEQ_ADJUST: 0x40,
  SRC_NAT_DONE: 0x80,
  DST_NAT_DONE: 0x100,
  DYING: 0x200,
  FIXED_TIMEOUT: 0x400,
  TEMPLATE: 0x800,
  UNTRACKED: 0x1000,
  HELPER: 0x2000,
  OFFLOAD: 0x4000,
  HW_OFFLOAD: 0x8000,
} as const;

/** TCP conntrack states as numbered by the kernel and by conntrackd's NTA_TCP_STATE. */
export const TCP_STATE_NAMES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
] as const;

export interface Tuple {
  family: Family;
  src: Addr;
  dst: Addr;
  proto: number;
  /** TCP/UDP/UDP-Lite/SCTP/DCCP ports; 0 for protocols without ports. */
  sport: number;
  dport: number;
  /** ICMP / ICMPv6 only (0 otherwise). */
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  /** GRE keys (reply keys live in the reply tuple); 0 when absent. */
  greKey?: number;
  /** Per-direction zone (CTA_TUPLE_ZONE) when present. */
  zone?: number;
}

export interface TcpInfo {
  state?: number;
  wscaleOrig?: number;
  wscaleReply?: number;
  flagsOrig?: number;
  flagsReply?: number;
  /** Masks accompany flags on create/update (struct nf_ct_tcp_flags {flags, mask}). */
  maskOrig?: number;
  maskReply?: number;
}

export interface SctpInfo {
  state?: number;
  vtagOrig?: number;
  vtagReply?: number;
}

export interface DccpInfo {
  state?: number;
  role?: number;
  handshakeSeq?: bigint;
}

/** NAT as conntrackd transports it (spec §3.2, ids 12-15, 29, 30). */
export interface NatInfo {
  snatAddr?: Addr;
  dnatAddr?: Addr;
  snatPort?: number;
  dnatPort?: number;
}

export interface SeqAdjDir {
  correctionPos: number;
  offsetBefore: number;
  offsetAfter: number;
}

export interface SynproxyInfo {
  isn: number;
  its: number;
  tsoff: number;
}

export interface Flow {
  orig: Tuple;
  /** Present for flows read from the kernel; peers never send it (spec §3.2). */
  reply?: Tuple;
  status?: number;
  timeout?: number;
  mark?: number;
  zone?: number;
  /** Connlabels bitmap as the kernel carries it (CTA_LABELS, 16 bytes, little-endian words). */
  labels?: Uint8Array;
  tcp?: TcpInfo;
  sctp?: SctpInfo;
  dccp?: DccpInfo;
  master?: Tuple;
  /** Explicit NAT (from a peer, or to request on create); kernel flows derive it from `reply`. */
  nat?: NatInfo;
  seqAdjOrig?: SeqAdjDir;
  seqAdjReply?: SeqAdjDir;
  helper?: string;
  synproxy?: SynproxyInfo;
  /** Kernel-only bookkeeping, never synced. */
  id?: number;
  use?: number;
  secmark?: number;
}

export interface Expectation {
  master: Tuple;
  tuple: Tuple;
  mask: Tuple;
  timeout?: number;
  flags?: number;
  class?: number;
  zone?: number;
  helper?: string;
  fn?: string;
  nat?: { dir: number; tuple: Tuple };
  id?: number;
}

export function makeTuple(partial: Partial<Tuple> & Pick<Tuple, 'family' | 'src' | 'dst' | 'proto'>): Tuple {
  const t: Tuple = {
    sport: 0,
    dport: 0,
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    ...partial,
  };
  // IPv4 addresses are signed int32 (address.ts): accept a u32 from any caller, keep one form
  if (typeof t.src === 'number') t.src = ipv4(t.src);
  if (typeof t.dst === 'number') t.dst = ipv4(t.dst);
  return t;
}

export function hasPorts(proto: number): boolean {
  return (
    proto === IPPROTO.TCP ||
    proto === IPPROTO.UDP ||
    proto === IPPROTO.SCTP ||
    proto === IPPROTO.DCCP ||
    proto === IPPROTO.UDPLITE
  );
}

export function isIcmp(proto: number): boolean {
  return proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
}

/** The inverse of a tuple, as the kernel builds the reply tuple of a non-NATed flow. */
export function invertTuple(t: Tuple): Tuple {
  const inv: Tuple = {
    family: t.family,
    src: t.dst,
    dst: t.src,
    proto: t.proto,
    sport: t.dport,
    dport: t.sport,
    icmpType: t.icmpType,
    icmpCode: t.icmpCode,
    icmpId: t.icmpId,
  };
  if (isIcmp(t.proto)) inv.icmpType = invertIcmpType(t.proto, t.icmpType);
  return inv;
}

// nf_conntrack_proto_icmp.c invmap: echo<->reply, timestamp, info, address mask.
const ICMP_INVERSE: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
// ICMPv6: echo request 128 <-> reply 129, node info 139 <-> 140.
const ICMPV6_INVERSE: Record<number, number> = { 128: 129, 129: 128, 139: 140, 140: 139 };
export function invertIcmpType(proto: number, type: number): number {
  const table = proto === IPPROTO.ICMP ? ICMP_INVERSE : ICMPV6_INVERSE;
  return table[type] ?? type;
}

/**
 * NAT as conntrackd derives it from the kernel's two tuples (spec §3.3 rule 8). Returns
 * undefined when the flow is not NATed. Port comparisons use the raw l4 fields like conntrackd.
 */
export function natFromReply(flow: Flow): NatInfo | undefined {
  if (flow.nat) return flow.nat;
  const r = flow.reply;
  if (!r) return undefined;
  const o = flow.orig;
  const st = flow.status;
  const srcDone = st === undefined || (st & IPS.SRC_NAT_DONE) !== 0;
  const dstDone = st === undefined || (st & IPS.DST_NAT_DONE) !== 0;
  const nat: NatInfo = {};
  let any = false;
  if (srcDone && r.dst !== o.src) {
    nat.snatAddr = r.dst;
    any = true;
  }
  if (dstDone && r.src !== o.dst) {
    nat.dnatAddr = r.src;
    any = true;
  }
  const oSrcL4 = l4Raw(o, 'src');
  const oDstL4 = l4Raw(o, 'dst');
  const rSrcL4 = l4Raw(r, 'src');
  const rDstL4 = l4Raw(r, 'dst');
  if (srcDone && rDstL4 !== oSrcL4) {
    nat.snatPort = rDstL4;
    any = true;
  }
  if (dstDone && rSrcL4 !== oDstL4) {
    nat.dnatPort = rSrcL4;
    any = true;
  }
  return any ? nat : undefined;
}

/**
 * libnetfilter_conntrack keeps l4 "ports" in a union; for ICMP the source slot is the id and
 * the destination slot holds type/code bytes. conntrackd compares those raw slots (spec §3.3).
 */
function l4Raw(t: Tuple, which: 'src' | 'dst'): number {
  if (hasPorts(t.proto)) return which === 'src' ? t.sport : t.dport;
  if (isIcmp(t.proto)) return which === 'src' ? t.icmpId : ((t.icmpType << 8) | t.icmpCode);
  return 0;
}
