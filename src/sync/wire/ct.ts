/**
 * Conntrack messages (types 0..2): encoder in ct2msg order (spec §3.3) and msg2ct parser
 * (spec §3.4). Pure functions over Buffers; the decoder throws one typed WireDecodeError.
 */
import { AF_INET, AF_INET6, type Addr, type Family } from '../../flow/address';
import {
  type Flow,
  hasPorts,
  IPPROTO,
  makeTuple,
  type NatInfo,
  natFromReply,
  type SeqAdjDir,
  type Tuple,
} from '../../flow/flow';
import { NETHDR_SIZE, NTA, NTA_MAX } from './constants';
import { WireDecodeError } from './errors';
import { writeHeader } from './header';
import {
  putAttr,
  putPorts,
  putString,
  putU8,
  putU16BE,
  putU16Host,
  putU32,
  readCString,
  readI32,
  readU16,
  readU16Host,
  readU32,
  stringSpace,
  type WireOptions,
  writeU32,
} from './options';

export { DEFAULT_WIRE_OPTIONS, type WireOptions } from './options';

/** Protocols for which conntrackd sends NTA_PORT / NTA_MASTER_PORT (spec §3.3 rule 4). */
export function wirePorts(proto: number): boolean {
  return proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.SCTP || proto === IPPROTO.DCCP;
}

function addrPairSpace(a: Addr): number {
  return typeof a === 'number' ? 12 : 36;
}

function putAddrPair(buf: Buffer, off: number, id4: number, id6: number, src: Addr, dst: Addr): number {
  if (typeof src === 'number') {
    const p = putAttr(buf, off, id4, 8);
    writeU32(buf, p, src);
    writeU32(buf, p + 4, dst as number);
    return off + 12;
  }
  const p = putAttr(buf, off, id6, 32);
  buf.write(src, p, 16, 'latin1');
  buf.write(dst as string, p + 16, 16, 'latin1');
  return off + 36;
}

function putAddr(buf: Buffer, off: number, id4: number, id6: number, a: Addr): number {
  if (typeof a === 'number') return putU32(buf, off, id4, a);
  const p = putAttr(buf, off, id6, 16);
  buf.write(a, p, 16, 'latin1');
  return off + 20;
}

// ---------------------------------------------------------------------------------------------
// Labels. The kernel's CTA_LABELS is a bitmap of `unsigned long` words in host order; on the
// little-endian hosts we run on (x86_64, arm64) label b is bit (b & 7) of byte (b >> 3), whatever
// the word size. NTA_LABELS is k big-endian u32 words, bit b of word i = label 32i + b, with
// k = floor(maxbit / 32) + 1 and omitted when no bit is set (spec §3.3 rule 11).

/** Highest set label bit, -1 if none. */
function labelsMaxBit(labels: Uint8Array): number {
  for (let i = labels.length - 1; i >= 0; i--) {
    const v = labels[i]!;
    if (v !== 0) return i * 8 + (31 - Math.clz32(v));
  }
  return -1;
}

function labelsSpace(labels: Uint8Array | undefined): number {
  if (!labels) return 0;
  const max = labelsMaxBit(labels);
  return max < 0 ? 0 : 4 + 4 * ((max >>> 5) + 1);
}

function putLabels(buf: Buffer, off: number, labels: Uint8Array, maxBit: number): number {
  const words = (maxBit >>> 5) + 1;
  const p = putAttr(buf, off, NTA.LABELS, words * 4);
  for (let w = 0; w < words; w++) {
    // kernel bytes 4w..4w+3 are the little-endian halves of word w
    const b0 = labels[4 * w] ?? 0;
    const b1 = labels[4 * w + 1] ?? 0;
    const b2 = labels[4 * w + 2] ?? 0;
    const b3 = labels[4 * w + 3] ?? 0;
    const q = p + 4 * w;
    buf[q] = b3;
    buf[q + 1] = b2;
    buf[q + 2] = b1;
    buf[q + 3] = b0;
  }
  return off + 4 + words * 4;
}

/** NTA_LABELS payload (BE words) → kernel bitmap bytes (at least the kernel's 16). */
function readLabels(buf: Buffer, p: number, n: number): Uint8Array {
  const out = new Uint8Array(Math.max(16, n));
  for (let w = 0; w < n; w += 4) {
    out[w] = buf[p + w + 3]!;
    out[w + 1] = buf[p + w + 2]!;
    out[w + 2] = buf[p + w + 1]!;
    out[w + 3] = buf[p + w]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * natFromReply(flow) without its allocation in the common case of a plain (non-NATed) flow
 * with ports: its reply is the exact inverse of the original tuple, so natFromReply would build
 * an empty NatInfo and return undefined. ctMessageLength and encodeCt both ask, for every
 * message sent (issue 8: allocations per synced entry). Anything else goes to natFromReply.
 */
function natOf(flow: Flow): NatInfo | undefined {
  if (flow.nat) return flow.nat;
  const r = flow.reply;
  if (!r) return undefined;
  const o = flow.orig;
  if (
    r.src === o.dst &&
    r.dst === o.src &&
    hasPorts(o.proto) &&
    hasPorts(r.proto) &&
    r.sport === o.dport &&
    r.dport === o.sport
  ) {
    return undefined;
  }
  return natFromReply(flow);
}

/** Bytes encodeCt will write for this flow (header included), for DatagramPacker.reserve. */
export function ctMessageLength(flow: Flow, opts: WireOptions): number {
  const o = flow.orig;
  let n = NETHDR_SIZE + addrPairSpace(o.src) + 8 /* STATUS */ + 8; /* L4PROTO */
  n += l4Space(flow, opts);
  if (opts.sendTimeout && flow.timeout !== undefined) n += 8;
  if (flow.mark !== undefined) n += 8;
  const m = flow.master;
  if (m) n += addrPairSpace(m.src) + 8 + (wirePorts(m.proto) ? 8 : 0);
  const nat = natOf(flow);
  if (nat) {
    if (nat.snatAddr !== undefined) n += typeof nat.snatAddr === 'number' ? 8 : 20;
    if (nat.dnatAddr !== undefined) n += typeof nat.dnatAddr === 'number' ? 8 : 20;
    if (nat.snatPort !== undefined) n += 8;
    if (nat.dnatPort !== undefined) n += 8;
  }
  if (flow.seqAdjOrig && flow.seqAdjReply) n += 28;
  if (flow.helper !== undefined) n += stringSpace(flow.helper);
  n += labelsSpace(flow.labels);
  if (flow.synproxy) n += 16;
  if (flow.zone !== undefined) n += 8;
  return n;
}

function l4Space(flow: Flow, opts: WireOptions): number {
  const proto = flow.orig.proto;
  switch (proto) {
    case IPPROTO.TCP:
      return 8 + (flow.tcp?.state !== undefined ? 8 + (opts.tcpWindowTracking ? 16 : 0) : 0);
    case IPPROTO.SCTP:
      return 8 + (flow.sctp?.state !== undefined ? 24 : 0);
    case IPPROTO.DCCP:
      return 8 + (flow.dccp?.state !== undefined ? 16 : 0);
    case IPPROTO.UDP:
      return 8;
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      return 24;
    default:
      return 0;
  }
}

/**
 * Encodes one conntrack message (type 0 NEW, 1 UPD, 2 DEL) at off; returns the next offset
 * (off + ctMessageLength(flow, opts)). The caller guarantees the space. Attribute order and
 * conditions are exactly ct2msg's (spec §3.3); NAT comes from natFromReply (explicit flow.nat,
 * else derived from the reply tuple).
 */
export function encodeCt(buf: Buffer, off: number, type: 0 | 1 | 2, flags: number, seq: number, flow: Flow, opts: WireOptions): number {
  const o = flow.orig;
  let p = off + NETHDR_SIZE;
  // 1. addresses
  p = putAddrPair(buf, p, NTA.IPV4, NTA.IPV6, o.src, o.dst);
  // 2-3. status (0 if unknown), l4proto
  p = putU32(buf, p, NTA.STATUS, flow.status ?? 0);
  p = putU8(buf, p, NTA.L4PROTO, o.proto);
  // 4. per protocol
  switch (o.proto) {
    case IPPROTO.TCP: {
      p = putPorts(buf, p, NTA.PORT, o.sport, o.dport);
      const tcp = flow.tcp;
      if (tcp?.state !== undefined) {
        p = putU8(buf, p, NTA.TCP_STATE, tcp.state);
        if (opts.tcpWindowTracking) {
          p = putU8(buf, p, NTA.TCP_WSCALE_ORIG, tcp.wscaleOrig ?? 0);
          p = putU8(buf, p, NTA.TCP_WSCALE_REPL, tcp.wscaleReply ?? 0);
        }
      }
      break;
    }
    case IPPROTO.SCTP: {
      p = putPorts(buf, p, NTA.PORT, o.sport, o.dport);
      const s = flow.sctp;
      if (s?.state !== undefined) {
        p = putU8(buf, p, NTA.SCTP_STATE, s.state);
        p = putU32(buf, p, NTA.SCTP_VTAG_ORIG, s.vtagOrig ?? 0);
        p = putU32(buf, p, NTA.SCTP_VTAG_REPL, s.vtagReply ?? 0);
      }
      break;
    }
    case IPPROTO.DCCP: {
      p = putPorts(buf, p, NTA.PORT, o.sport, o.dport);
      const d = flow.dccp;
      if (d?.state !== undefined) {
        p = putU8(buf, p, NTA.DCCP_STATE, d.state);
        p = putU8(buf, p, NTA.DCCP_ROLE, d.role ?? 0);
      }
      break;
    }
    case IPPROTO.UDP:
      p = putPorts(buf, p, NTA.PORT, o.sport, o.dport);
      break;
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      p = putU8(buf, p, NTA.ICMP_TYPE, o.icmpType);
      p = putU8(buf, p, NTA.ICMP_CODE, o.icmpCode);
      p = putU16Host(buf, p, NTA.ICMP_ID, o.icmpId, opts.portsHostLE);
      break;
    default:
      break;
  }
  // 5-6. timeout, mark
  if (opts.sendTimeout && flow.timeout !== undefined) p = putU32(buf, p, NTA.TIMEOUT, flow.timeout);
  if (flow.mark !== undefined) p = putU32(buf, p, NTA.MARK, flow.mark);
  // 7. master
  const m = flow.master;
  if (m) {
    p = putAddrPair(buf, p, NTA.MASTER_IPV4, NTA.MASTER_IPV6, m.src, m.dst);
    p = putU8(buf, p, NTA.MASTER_L4PROTO, m.proto);
    if (wirePorts(m.proto)) p = putPorts(buf, p, NTA.MASTER_PORT, m.sport, m.dport);
  }
  // 8. NAT: addresses first (SNAT, DNAT), then ports (SPAT, DPAT) in host order (§3.6)
  const nat = natOf(flow);
  if (nat) {
    if (nat.snatAddr !== undefined) p = putAddr(buf, p, NTA.SNAT_IPV4, NTA.SNAT_IPV6, nat.snatAddr);
    if (nat.dnatAddr !== undefined) p = putAddr(buf, p, NTA.DNAT_IPV4, NTA.DNAT_IPV6, nat.dnatAddr);
    if (nat.snatPort !== undefined) p = putU16Host(buf, p, NTA.SPAT_PORT, nat.snatPort, opts.portsHostLE);
    if (nat.dnatPort !== undefined) p = putU16Host(buf, p, NTA.DPAT_PORT, nat.dnatPort, opts.portsHostLE);
  }
  // 9. NAT sequence adjustment
  const so = flow.seqAdjOrig;
  const sr = flow.seqAdjReply;
  if (so && sr) {
    const q = putAttr(buf, p, NTA.NAT_SEQ_ADJ, 24);
    writeU32(buf, q, so.correctionPos);
    writeU32(buf, q + 4, so.offsetBefore);
    writeU32(buf, q + 8, so.offsetAfter);
    writeU32(buf, q + 12, sr.correctionPos);
    writeU32(buf, q + 16, sr.offsetBefore);
    writeU32(buf, q + 20, sr.offsetAfter);
    p += 28;
  }
  // 10. helper
  if (flow.helper !== undefined) p = putString(buf, p, NTA.HELPER_NAME, flow.helper);
  // 11. labels, only if a bit is set
  if (flow.labels) {
    const max = labelsMaxBit(flow.labels);
    if (max >= 0) p = putLabels(buf, p, flow.labels, max);
  }
  // 12. synproxy: its, isn, tsoff
  const sp = flow.synproxy;
  if (sp) {
    const q = putAttr(buf, p, NTA.SYNPROXY, 12);
    writeU32(buf, q, sp.its);
    writeU32(buf, q + 4, sp.isn);
    writeU32(buf, q + 8, sp.tsoff);
    p += 16;
  }
  // 13. zone
  if (flow.zone !== undefined) p = putU16BE(buf, p, NTA.ZONE, flow.zone);
  writeHeader(buf, off, type, flags, p - off, seq);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Decoder

/** Exact payload sizes by id; -1 = variable (checked against MAX_LEN), spec §3.2. */
const CT_SIZE = new Int8Array([
  8, 32, 1, 4, 1, 4, 4, 4, 8, 32, 1, 4, 4, 4, 2, 2, 24, 1, 4, 4, 1, 1, 1, 1, 2, 1, 1, -1, -1, 16, 16, 12, 2,
]);
/** Maximum nta_len (header included) of the variable attributes (spec §3.4). */
const CT_MAX_LEN: Record<number, number> = { [NTA.HELPER_NAME]: 16, [NTA.LABELS]: 1028 };

/**
 * Validates the TLV at p (inside [p, end)) against a size table; returns nta_len. Shared by the
 * conntrack and expectation parsers (same rules, spec §3.4).
 */
export function checkAttr(buf: Buffer, p: number, end: number, sizes: Int8Array, maxLen: Record<number, number>, idMax: number): number {
  const len = (buf[p]! << 8) | buf[p + 1]!;
  const id = (buf[p + 2]! << 8) | buf[p + 3]!;
  if (len > end - p) throw new WireDecodeError('attrPastEnd', `attribute ${id}: nta_len ${len} past end of message (${end - p} left)`);
  if (len < 4) throw new WireDecodeError('attrTooShort', `attribute ${id}: nta_len ${len} < 4`);
  if (id >= idMax) throw new WireDecodeError('unknownAttr', `unknown attribute id ${id}`);
  const size = sizes[id]!;
  if (size >= 0) {
    if (len !== 4 + size) throw new WireDecodeError('badAttrSize', `attribute ${id}: nta_len ${len}, expected ${4 + size}`);
  } else if (len > maxLen[id]!) {
    throw new WireDecodeError('attrTooLong', `attribute ${id}: nta_len ${len} > ${maxLen[id]}`);
  }
  return len;
}

function readAddrAt(buf: Buffer, p: number, family: Family): Addr {
  return family === AF_INET ? readI32(buf, p) : buf.toString('latin1', p, p + 16);
}

/**
 * Parses the attributes of one conntrack message body buf[off, end) (after the 8-byte header).
 * Returns a Flow with the original tuple and everything conntrackd transports, never a reply
 * tuple. Throws WireDecodeError (reason = WireRxStats field) when msg2ct would reject it; also
 * when no address attribute is present (conntrackd would pass it on and fail in the kernel).
 */
const ZERO_SYNPROXY: NonNullable<Flow['synproxy']> = Object.freeze({ its: 0, isn: 0, tsoff: 0 });

/** Plain-data flows decoded from peers (see decodeCtBody). */
class PeerFlow {}

export function decodeCtBody(buf: Buffer, off: number, end: number, opts: WireOptions): Flow {
  let family: Family | 0 = 0;
  let src: Addr = 0;
  let dst: Addr = 0;
  let proto = 0;
  let sport = 0;
  let dport = 0;
  let icmpType = 0;
  let icmpCode = 0;
  let icmpId = 0;
  let status: number | undefined;
  let timeout: number | undefined;
  let mark: number | undefined;
  let zone: number | undefined;
  let tcpState: number | undefined;
  let wsO: number | undefined;
  let wsR: number | undefined;
  let sctpState: number | undefined;
  let vtagO: number | undefined;
  let vtagR: number | undefined;
  let dccpState: number | undefined;
  let dccpRole: number | undefined;
  let mFamily: Family | 0 = 0;
  let mSrc: Addr = 0;
  let mDst: Addr = 0;
  let mProto = 0;
  let mSport = 0;
  let mDport = 0;
  let nat: NatInfo | undefined;
  let seqO: SeqAdjDir | undefined;
  let seqR: SeqAdjDir | undefined;
  let helper: string | undefined;
  let labels: Uint8Array | undefined;
  let synproxy: Flow['synproxy'];
  const le = opts.portsHostLE;

  let p = off;
  // msg2ct walks while more than one attribute header remains (spec §3.4)
  while (end - p > 4) {
    const len = checkAttr(buf, p, end, CT_SIZE, CT_MAX_LEN, NTA_MAX);
    const id = buf[p + 3]!; // < 33 after checkAttr, high byte is 0
    const v = p + 4;
    switch (id) {
      case NTA.IPV4:
        family = AF_INET;
        src = readI32(buf, v); // addresses are signed (flow/address.ts)
        dst = readI32(buf, v + 4);
        break;
      case NTA.IPV6:
        family = AF_INET6;
        src = buf.toString('latin1', v, v + 16);
        dst = buf.toString('latin1', v + 16, v + 32);
        break;
      case NTA.L4PROTO:
        proto = buf[v]!;
        break;
      case NTA.PORT:
        sport = readU16(buf, v);
        dport = readU16(buf, v + 2);
        break;
      case NTA.TCP_STATE:
        tcpState = buf[v]!;
        break;
      case NTA.STATUS:
        status = readU32(buf, v);
        break;
      case NTA.TIMEOUT:
        timeout = readU32(buf, v);
        break;
      case NTA.MARK:
        mark = readU32(buf, v);
        break;
      case NTA.MASTER_IPV4:
        mFamily = AF_INET;
        mSrc = readI32(buf, v);
        mDst = readI32(buf, v + 4);
        break;
      case NTA.MASTER_IPV6:
        mFamily = AF_INET6;
        mSrc = buf.toString('latin1', v, v + 16);
        mDst = buf.toString('latin1', v + 16, v + 32);
        break;
      case NTA.MASTER_L4PROTO:
        mProto = buf[v]!;
        break;
      case NTA.MASTER_PORT:
        mSport = readU16(buf, v);
        mDport = readU16(buf, v + 2);
        break;
      case NTA.SNAT_IPV4:
        nat ??= {};
        nat.snatAddr = readI32(buf, v);
        break;
      case NTA.DNAT_IPV4:
        nat ??= {};
        nat.dnatAddr = readI32(buf, v);
        break;
      case NTA.SNAT_IPV6:
        nat ??= {};
        nat.snatAddr = readAddrAt(buf, v, AF_INET6);
        break;
      case NTA.DNAT_IPV6:
        nat ??= {};
        nat.dnatAddr = readAddrAt(buf, v, AF_INET6);
        break;
      case NTA.SPAT_PORT:
        nat ??= {};
        nat.snatPort = readU16Host(buf, v, le);
        break;
      case NTA.DPAT_PORT:
        nat ??= {};
        nat.dnatPort = readU16Host(buf, v, le);
        break;
      case NTA.NAT_SEQ_ADJ:
        seqO = { correctionPos: readU32(buf, v), offsetBefore: readU32(buf, v + 4), offsetAfter: readU32(buf, v + 8) };
        seqR = { correctionPos: readU32(buf, v + 12), offsetBefore: readU32(buf, v + 16), offsetAfter: readU32(buf, v + 20) };
        break;
      case NTA.SCTP_STATE:
        sctpState = buf[v]!;
        break;
      case NTA.SCTP_VTAG_ORIG:
        vtagO = readU32(buf, v);
        break;
      case NTA.SCTP_VTAG_REPL:
        vtagR = readU32(buf, v);
        break;
      case NTA.DCCP_STATE:
        dccpState = buf[v]!;
        break;
      case NTA.DCCP_ROLE:
        dccpRole = buf[v]!;
        break;
      case NTA.ICMP_TYPE:
        icmpType = buf[v]!;
        break;
      case NTA.ICMP_CODE:
        icmpCode = buf[v]!;
        break;
      case NTA.ICMP_ID:
        icmpId = readU16Host(buf, v, le);
        break;
      case NTA.TCP_WSCALE_ORIG:
        wsO = buf[v]!;
        break;
      case NTA.TCP_WSCALE_REPL:
        wsR = buf[v]!;
        break;
      case NTA.HELPER_NAME:
        helper = readCString(buf, v, p + len);
        break;
      case NTA.LABELS: {
        const n = len - 4;
        // zero-length or non-multiple-of-4 bitmaps are ignored, not errors (spec §3.4)
        if (n > 0 && (n & 3) === 0) labels = readLabels(buf, v, n);
        break;
      }
      case NTA.SYNPROXY: {
        const its = readU32(buf, v);
        const isn = readU32(buf, v + 4);
        const tsoff = readU32(buf, v + 8);
        // all-zero (every ctnetlink-created entry) → one shared frozen object (cache memory)
        synproxy = its === 0 && isn === 0 && tsoff === 0 ? ZERO_SYNPROXY : { its, isn, tsoff };
        break;
      }
      case NTA.ZONE:
        zone = readU16(buf, v);
        break;
      default:
        break;
    }
    p += (len + 3) & ~3;
  }
  if (family === 0) throw new WireDecodeError('missingTuple', 'conntrack message without NTA_IPV4/NTA_IPV6');

  const orig: Tuple = { family, src, dst, proto, sport, dport, icmpType, icmpCode, icmpId };
  // an instance of an empty class, not a literal: properties added below stay in-object (V8
  // slack tracking), ≈25 bytes less per external-cache entry (issue 8 memory)
  const flow = new PeerFlow() as Flow;
  flow.orig = orig;
  if (status !== undefined) flow.status = status;
  if (timeout !== undefined) flow.timeout = timeout;
  if (mark !== undefined) flow.mark = mark;
  if (zone !== undefined) flow.zone = zone;
  if (wsO === undefined && wsR === undefined) {
    // the usual case (no TCPWindowTracking): a literal of exactly one field; `{}` reserves four
    // in-object slots, 24 bytes more per external-cache entry (issue 8 memory, GC)
    if (tcpState !== undefined) flow.tcp = { state: tcpState };
  } else {
    flow.tcp = {};
    if (tcpState !== undefined) flow.tcp.state = tcpState;
    if (wsO !== undefined) flow.tcp.wscaleOrig = wsO;
    if (wsR !== undefined) flow.tcp.wscaleReply = wsR;
  }
  if (sctpState !== undefined || vtagO !== undefined || vtagR !== undefined) {
    flow.sctp = {};
    if (sctpState !== undefined) flow.sctp.state = sctpState;
    if (vtagO !== undefined) flow.sctp.vtagOrig = vtagO;
    if (vtagR !== undefined) flow.sctp.vtagReply = vtagR;
  }
  if (dccpState !== undefined || dccpRole !== undefined) {
    flow.dccp = {};
    if (dccpState !== undefined) flow.dccp.state = dccpState;
    if (dccpRole !== undefined) flow.dccp.role = dccpRole;
  }
  if (mFamily !== 0) {
    flow.master = makeTuple({ family: mFamily, src: mSrc, dst: mDst, proto: mProto, sport: mSport, dport: mDport });
  }
  if (nat) flow.nat = nat;
  if (seqO && seqR) {
    flow.seqAdjOrig = seqO;
    flow.seqAdjReply = seqR;
  }
  if (helper !== undefined) flow.helper = helper;
  if (labels) flow.labels = labels;
  if (synproxy) flow.synproxy = synproxy;
  return flow;
}
