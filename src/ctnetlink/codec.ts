/**
 * ctnetlink codec: conntrack / expectation messages ⇄ Flow / Expectation (src/flow/flow.ts).
 * Pure functions over Buffers (layer L1); the socket and the request/response bookkeeping live
 * in netlink/socket.ts and ctnetlink/client.ts.
 *
 * Decoding (kernel → us): strict sizes, every length bounds-checked (netlink/attr.ts), unknown
 * attribute types skipped and counted in CtDecodeStats, exactly one error type thrown
 * (CtnetlinkDecodeError, code CTSYNC_ERR_CT_DECODE, with a `reason`). Values are copied out of
 * the receive buffer (the socket layer reuses it); addresses stay numeric (flow/address.ts).
 *
 * Encoding (us → kernel) mirrors what conntrack(8) -I / -U / -D and conntrackd's commit path
 * send through libnetfilter_conntrack (spec §5.2, §5.3).
 */
import { type Addr, AF_INET, AF_INET6, type Family } from '../flow/address';
import {
  type DccpInfo,
  type Expectation,
  type Flow,
  hasPorts,
  IPPROTO,
  IPS,
  invertTuple,
  isIcmp,
  type NatInfo,
  type SctpInfo,
  type SeqAdjDir,
  type SynproxyInfo,
  type TcpInfo,
  type Tuple,
} from '../flow/flow';
import { CtnetlinkDecodeError, NLA_F_NESTED, NlAttrIter } from '../netlink/attr';
import {
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_DELETE,
  IPCTNL_MSG_EXP_GET,
  IPCTNL_MSG_EXP_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  type NlBuilder,
  type NlMsg,
  nfnlMsgType,
  writeNfgen,
} from '../netlink/message';
import {
  CTA,
  CTA_COUNTERS,
  CTA_EXPECT,
  CTA_EXPECT_NAT,
  CTA_HELP,
  CTA_IP,
  CTA_NAT,
  CTA_PROTO,
  CTA_PROTOINFO,
  CTA_PROTOINFO_DCCP,
  CTA_PROTOINFO_SCTP,
  CTA_PROTOINFO_TCP,
  CTA_PROTONAT,
  CTA_SECCTX,
  CTA_SEQADJ,
  CTA_SYNPROXY,
  CTA_TIMESTAMP,
  CTA_TUPLE,
  IP_CT_TCP_FLAG,
} from './constants';

export { type CtDecodeReason, CtnetlinkDecodeError } from '../netlink/attr';

/** Counters a decoder bumps instead of failing (read by metrics at scrape time). */
export class CtDecodeStats {
  /** Attribute types this codec does not know (skipped). */
  unknownAttrs = 0;
  /** Messages decoded successfully. */
  decoded = 0;
}

/** Per-direction accounting (CTA_COUNTERS_*), present only when nf_conntrack_acct is on. */
export interface CtCounters {
  packets: bigint;
  bytes: bigint;
}

/**
 * A Flow as read from the kernel: the shared model plus display-only fields that are never
 * synced (spec §3.2: counters, timestamps, secctx are not on the wire).
 */
export interface CtFlow extends Flow {
  countersOrig?: CtCounters;
  countersReply?: CtCounters;
  /** CTA_TIMESTAMP start/stop, nanoseconds since the epoch (nf_conntrack_timestamp). */
  tsStart?: bigint;
  tsStop?: bigint;
  secctx?: string;
}

export type CtOp = 'create' | 'update' | 'delete' | 'get';

/**
 * One attribute iterator per nesting depth, reused by every decode (decoding is synchronous
 * and never re-entered), so a message costs no iterator allocations (ARCHITECTURE habit 7).
 */
const EMPTY = Buffer.alloc(0);
const POOL: NlAttrIter[] = [0, 1, 2, 3, 4].map(() => new NlAttrIter(EMPTY, 0, 0, true));
function iterAt(depth: number): NlAttrIter {
  return POOL[depth]!;
}

function famOf(family: number): Family {
  return family === AF_INET6 ? AF_INET6 : AF_INET;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** Decodes one CTA_TUPLE_* nest (payload at [start, end)). */
function decodeTuple(buf: Buffer, start: number, end: number, family: Family, st: CtDecodeStats | undefined, depth = 1): Tuple {
  const it = iterAt(depth).reset(buf, start, end, true);
  let fam: Family = family;
  let src: Addr | undefined;
  let dst: Addr | undefined;
  let proto = -1;
  let sport = 0;
  let dport = 0;
  let icmpType = 0;
  let icmpCode = 0;
  let icmpId = 0;
  let zone: number | undefined;
  while (it.next()) {
    switch (it.type) {
      case CTA_TUPLE.IP: {
        const ip = it.nestedInto(iterAt(depth + 1));
        while (ip.next()) {
          switch (ip.type) {
            case CTA_IP.V4_SRC:
              src = ip.i32be(); // signed: flow/address.ts
              fam = AF_INET;
              break;
            case CTA_IP.V4_DST:
              dst = ip.i32be();
              fam = AF_INET;
              break;
            case CTA_IP.V6_SRC:
              src = ip.addr6();
              fam = AF_INET6;
              break;
            case CTA_IP.V6_DST:
              dst = ip.addr6();
              fam = AF_INET6;
              break;
            default:
              if (st) st.unknownAttrs++;
          }
        }
        break;
      }
      case CTA_TUPLE.PROTO: {
        const p = it.nestedInto(iterAt(depth + 1));
        while (p.next()) {
          switch (p.type) {
            case CTA_PROTO.NUM:
              proto = p.u8();
              break;
            case CTA_PROTO.SRC_PORT:
              sport = p.u16be();
              break;
            case CTA_PROTO.DST_PORT:
              dport = p.u16be();
              break;
            case CTA_PROTO.ICMP_ID:
            case CTA_PROTO.ICMPV6_ID:
              icmpId = p.u16be();
              break;
            case CTA_PROTO.ICMP_TYPE:
            case CTA_PROTO.ICMPV6_TYPE:
              icmpType = p.u8();
              break;
            case CTA_PROTO.ICMP_CODE:
            case CTA_PROTO.ICMPV6_CODE:
              icmpCode = p.u8();
              break;
            default:
              if (st) st.unknownAttrs++;
          }
        }
        break;
      }
      case CTA_TUPLE.ZONE:
        zone = it.u16be();
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  if (src === undefined || dst === undefined) {
    throw new CtnetlinkDecodeError('missingAttr', 'tuple without CTA_TUPLE_IP source and destination', start);
  }
  if (typeof src !== typeof dst) throw new CtnetlinkDecodeError('badValue', 'tuple mixes IPv4 and IPv6 addresses', start);
  if (proto < 0) throw new CtnetlinkDecodeError('missingAttr', 'tuple without CTA_PROTO_NUM', start);
  const t: Tuple = { family: fam, src, dst, proto, sport, dport, icmpType, icmpCode, icmpId };
  // Normalise to the Flow model (flow.ts): ports only for port protocols, ICMP fields only for
  // ICMP/ICMPv6, so cache keys and re-encoding depend on the protocol, not on stray attributes.
  if (!isIcmp(proto)) {
    t.icmpType = 0;
    t.icmpCode = 0;
    t.icmpId = 0;
  }
  if (proto === IPPROTO.GRE) {
    // GRE keys travel in the port slots (nf_ct_port_tuple_to_nlattr on u.gre.key): keep them as
    // one number, source key in the high half, and leave the ports 0 (flow.ts: no ports).
    t.greKey = ((sport << 16) | dport) >>> 0;
    t.sport = 0;
    t.dport = 0;
  } else if (!hasPorts(proto)) {
    t.sport = 0;
    t.dport = 0;
  }
  if (zone !== undefined) t.zone = zone;
  return t;
}

/**
 * TCP protoinfo. Kernel events carry all five of state, window scales and flags (without
 * masks): that common case is built as one literal, which V8 stores in-object (≈30 bytes per
 * cached entry less than adding five properties to `{}`, issue 8 memory).
 */
function decodeTcp(it: NlAttrIter, st: CtDecodeStats | undefined): TcpInfo {
  let state: number | undefined;
  let wso: number | undefined;
  let wsr: number | undefined;
  let fo: number | undefined;
  let fr: number | undefined;
  let mo: number | undefined;
  let mr: number | undefined;
  const n = it.nestedInto(iterAt(2));
  while (n.next()) {
    switch (n.type) {
      case CTA_PROTOINFO_TCP.STATE:
        state = n.u8();
        break;
      case CTA_PROTOINFO_TCP.WSCALE_ORIGINAL:
        wso = n.u8();
        break;
      case CTA_PROTOINFO_TCP.WSCALE_REPLY:
        wsr = n.u8();
        break;
      case CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
      case CTA_PROTOINFO_TCP.FLAGS_REPLY: {
        // struct nf_ct_tcp_flags { __u8 flags; __u8 mask; }. Dumps carry mask 0 ("no mask").
        const v = n.u16be();
        const flags = v >> 8;
        const mask = v & 0xff;
        if (n.type === CTA_PROTOINFO_TCP.FLAGS_ORIGINAL) {
          fo = flags;
          mo = mask !== 0 ? mask : undefined;
        } else {
          fr = flags;
          mr = mask !== 0 ? mask : undefined;
        }
        break;
      }
      default:
        if (st) st.unknownAttrs++;
    }
  }
  if (state !== undefined && wso !== undefined && wsr !== undefined && fo !== undefined && fr !== undefined && mo === undefined && mr === undefined) {
    return { state, wscaleOrig: wso, wscaleReply: wsr, flagsOrig: fo, flagsReply: fr };
  }
  const tcp: TcpInfo = {};
  if (state !== undefined) tcp.state = state;
  if (wso !== undefined) tcp.wscaleOrig = wso;
  if (wsr !== undefined) tcp.wscaleReply = wsr;
  if (fo !== undefined) tcp.flagsOrig = fo;
  if (mo !== undefined) tcp.maskOrig = mo;
  if (fr !== undefined) tcp.flagsReply = fr;
  if (mr !== undefined) tcp.maskReply = mr;
  return tcp;
}

function decodeSctp(it: NlAttrIter, st: CtDecodeStats | undefined): SctpInfo {
  const s: SctpInfo = {};
  const n = it.nestedInto(iterAt(2));
  while (n.next()) {
    switch (n.type) {
      case CTA_PROTOINFO_SCTP.STATE:
        s.state = n.u8();
        break;
      case CTA_PROTOINFO_SCTP.VTAG_ORIGINAL:
        s.vtagOrig = n.u32be();
        break;
      case CTA_PROTOINFO_SCTP.VTAG_REPLY:
        s.vtagReply = n.u32be();
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  return s;
}

function decodeDccp(it: NlAttrIter, st: CtDecodeStats | undefined): DccpInfo {
  const d: DccpInfo = {};
  const n = it.nestedInto(iterAt(2));
  while (n.next()) {
    switch (n.type) {
      case CTA_PROTOINFO_DCCP.STATE:
        d.state = n.u8();
        break;
      case CTA_PROTOINFO_DCCP.ROLE:
        d.role = n.u8();
        break;
      case CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ:
        d.handshakeSeq = n.u64be();
        break;
      case CTA_PROTOINFO_DCCP.PAD:
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  return d;
}

function decodeProtoinfo(it: NlAttrIter, flow: Flow, st: CtDecodeStats | undefined): void {
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    switch (n.type) {
      case CTA_PROTOINFO.TCP:
        flow.tcp = decodeTcp(n, st);
        break;
      case CTA_PROTOINFO.SCTP:
        flow.sctp = decodeSctp(n, st);
        break;
      case CTA_PROTOINFO.DCCP:
        flow.dccp = decodeDccp(n, st);
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
}

function decodeSeqAdj(it: NlAttrIter, st: CtDecodeStats | undefined): SeqAdjDir {
  const s: SeqAdjDir = { correctionPos: 0, offsetBefore: 0, offsetAfter: 0 };
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    switch (n.type) {
      case CTA_SEQADJ.CORRECTION_POS:
        s.correctionPos = n.u32be();
        break;
      case CTA_SEQADJ.OFFSET_BEFORE:
        s.offsetBefore = n.u32be();
        break;
      case CTA_SEQADJ.OFFSET_AFTER:
        s.offsetAfter = n.u32be();
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  return s;
}

/**
 * The kernel attaches a synproxy extension to every entry created through ctnetlink, so their
 * events carry an all-zero CTA_SYNPROXY: those share one frozen object instead of one each
 * (issue 8 memory; nothing mutates a flow's synproxy in place, merges replace it).
 */
const ZERO_SYNPROXY: SynproxyInfo = Object.freeze({ isn: 0, its: 0, tsoff: 0 });

function decodeSynproxy(it: NlAttrIter, st: CtDecodeStats | undefined): SynproxyInfo {
  const s: SynproxyInfo = { isn: 0, its: 0, tsoff: 0 };
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    switch (n.type) {
      case CTA_SYNPROXY.ISN:
        s.isn = n.u32be();
        break;
      case CTA_SYNPROXY.ITS:
        s.its = n.u32be();
        break;
      case CTA_SYNPROXY.TSOFF:
        s.tsoff = n.u32be();
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  return s.isn === 0 && s.its === 0 && s.tsoff === 0 ? ZERO_SYNPROXY : s;
}

function decodeCounters(it: NlAttrIter, st: CtDecodeStats | undefined): CtCounters {
  const c: CtCounters = { packets: 0n, bytes: 0n };
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    switch (n.type) {
      case CTA_COUNTERS.PACKETS:
        c.packets = n.u64be();
        break;
      case CTA_COUNTERS.BYTES:
        c.bytes = n.u64be();
        break;
      case CTA_COUNTERS.COUNTERS32_PACKETS:
        c.packets = BigInt(n.u32be());
        break;
      case CTA_COUNTERS.COUNTERS32_BYTES:
        c.bytes = BigInt(n.u32be());
        break;
      case CTA_COUNTERS.PAD:
        break;
      default:
        if (st) st.unknownAttrs++;
    }
  }
  return c;
}

/** CTA_NAT_SRC / CTA_NAT_DST (only in requests; decoded so our own encodings round-trip). */
function decodeNat(it: NlAttrIter, nat: NatInfo, src: boolean, st: CtDecodeStats | undefined): void {
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    switch (n.type) {
      case CTA_NAT.V4_MINIP:
        if (src) nat.snatAddr = n.i32be(); // signed: flow/address.ts
        else nat.dnatAddr = n.i32be();
        break;
      case CTA_NAT.V6_MINIP:
        if (src) nat.snatAddr = n.addr6();
        else nat.dnatAddr = n.addr6();
        break;
      case CTA_NAT.V4_MAXIP:
      case CTA_NAT.V6_MAXIP:
        // ranges are not modelled: conntrackd only ever sends a single address (min = max)
        break;
      case CTA_NAT.PROTO: {
        const p = n.nestedInto(iterAt(2));
        while (p.next()) {
          if (p.type === CTA_PROTONAT.PORT_MIN) {
            if (src) nat.snatPort = p.u16be();
            else nat.dnatPort = p.u16be();
          } else if (p.type !== CTA_PROTONAT.PORT_MAX && st) st.unknownAttrs++;
        }
        break;
      }
      default:
        if (st) st.unknownAttrs++;
    }
  }
}

function decodeHelpName(it: NlAttrIter, st: CtDecodeStats | undefined): string | undefined {
  let name: string | undefined;
  const n = it.nestedInto(iterAt(1));
  while (n.next()) {
    if (n.type === CTA_HELP.NAME) name = n.str();
    else if (n.type !== CTA_HELP.INFO && st) st.unknownAttrs++;
  }
  return name;
}

/**
 * Decoded kernel flows are instances of this empty class rather than `{}` literals: V8 gives
 * constructor-made objects in-object room for the properties added after construction (slack
 * tracking), where `{}` keeps four in-object and the rest in a separate array: ≈30 bytes per
 * cached entry (issue 8). Still plain data: no methods, only own enumerable properties.
 */
class KernelFlow {}

/**
 * Decodes the attributes of one IPCTNL_MSG_CT_NEW/DELETE message. buf[off, end) is the
 * attribute area after the 4-byte nfgenmsg; family is nfgen_family (the tuples' CTA_IP_V4/V6
 * attributes take precedence). Absent attributes stay absent (undefined), which UPDATE merging
 * relies on (flow.ts).
 */
export function decodeConntrack(buf: Buffer, off: number, end: number, family: number, stats?: CtDecodeStats): CtFlow {
  const fam = famOf(family);
  const it = iterAt(0).reset(buf, off, end, false);
  let orig: Tuple | undefined;
  const flow = new KernelFlow() as CtFlow;
  while (it.next()) {
    switch (it.type) {
      case CTA.TUPLE_ORIG:
        orig = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA.TUPLE_REPLY:
        flow.reply = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA.TUPLE_MASTER:
        flow.master = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA.STATUS:
        flow.status = it.u32be();
        break;
      case CTA.TIMEOUT:
        flow.timeout = it.u32be();
        break;
      case CTA.MARK:
        flow.mark = it.u32be();
        break;
      case CTA.ZONE:
        flow.zone = it.u16be();
        break;
      case CTA.USE:
        flow.use = it.u32be();
        break;
      case CTA.ID:
        flow.id = it.i32be(); // kernel id, signed like addresses (flow/address.ts u32id)
        break;
      case CTA.SECMARK:
        flow.secmark = it.u32be();
        break;
      case CTA.LABELS:
        if (it.len === 0 || it.len % 4 !== 0 || it.len > 128) {
          throw new CtnetlinkDecodeError('badSize', `CTA_LABELS of ${it.len} bytes`, it.start - 4);
        }
        flow.labels = it.bytes();
        break;
      case CTA.PROTOINFO:
        decodeProtoinfo(it, flow, stats);
        break;
      case CTA.HELP: {
        const name = decodeHelpName(it, stats);
        if (name !== undefined) flow.helper = name;
        break;
      }
      case CTA.NAT_SRC:
      case CTA.NAT_DST: {
        const nat = flow.nat ?? {};
        decodeNat(it, nat, it.type === CTA.NAT_SRC, stats);
        // an empty nest requests nothing: keep `nat` absent so the reply tuple is used as is
        if (nat.snatAddr !== undefined || nat.dnatAddr !== undefined || nat.snatPort !== undefined || nat.dnatPort !== undefined) {
          flow.nat = nat;
        }
        break;
      }
      case CTA.SEQ_ADJ_ORIG:
        flow.seqAdjOrig = decodeSeqAdj(it, stats);
        break;
      case CTA.SEQ_ADJ_REPLY:
        flow.seqAdjReply = decodeSeqAdj(it, stats);
        break;
      case CTA.SYNPROXY:
        flow.synproxy = decodeSynproxy(it, stats);
        break;
      case CTA.COUNTERS_ORIG:
        flow.countersOrig = decodeCounters(it, stats);
        break;
      case CTA.COUNTERS_REPLY:
        flow.countersReply = decodeCounters(it, stats);
        break;
      case CTA.TIMESTAMP: {
        const n = it.nestedInto(iterAt(1));
        while (n.next()) {
          if (n.type === CTA_TIMESTAMP.START) flow.tsStart = n.u64be();
          else if (n.type === CTA_TIMESTAMP.STOP) flow.tsStop = n.u64be();
          else if (n.type !== CTA_TIMESTAMP.PAD && stats) stats.unknownAttrs++;
        }
        break;
      }
      case CTA.SECCTX: {
        const n = it.nestedInto(iterAt(1));
        while (n.next()) {
          if (n.type === CTA_SECCTX.NAME) flow.secctx = n.str();
          else if (stats) stats.unknownAttrs++;
        }
        break;
      }
      case CTA.MARK_MASK:
      case CTA.LABELS_MASK:
      case CTA.STATUS_MASK:
      case CTA.FILTER:
        // request-only attributes: meaningless in a kernel message, ignored
        break;
      default:
        if (stats) stats.unknownAttrs++;
    }
  }
  if (orig === undefined) throw new CtnetlinkDecodeError('missingAttr', 'conntrack without CTA_TUPLE_ORIG', off);
  flow.orig = orig;
  if (stats) stats.decoded++;
  return flow;
}

/** Decodes one IPCTNL_MSG_EXP_* message's attributes (after nfgenmsg). */
export function decodeExpectation(buf: Buffer, off: number, end: number, family: number, stats?: CtDecodeStats): Expectation {
  const fam = famOf(family);
  const it = iterAt(0).reset(buf, off, end, false);
  let master: Tuple | undefined;
  let tuple: Tuple | undefined;
  let mask: Tuple | undefined;
  const e = {} as Expectation;
  while (it.next()) {
    switch (it.type) {
      case CTA_EXPECT.MASTER:
        master = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA_EXPECT.TUPLE:
        tuple = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA_EXPECT.MASK:
        mask = decodeTuple(buf, it.start, it.start + it.len, fam, stats);
        break;
      case CTA_EXPECT.TIMEOUT:
        e.timeout = it.u32be();
        break;
      case CTA_EXPECT.ID:
        e.id = it.i32be(); // signed (flow/address.ts u32id)
        break;
      case CTA_EXPECT.HELP_NAME:
        e.helper = it.str();
        break;
      case CTA_EXPECT.ZONE:
        e.zone = it.u16be();
        break;
      case CTA_EXPECT.FLAGS:
        e.flags = it.u32be();
        break;
      case CTA_EXPECT.CLASS:
        e.class = it.u32be();
        break;
      case CTA_EXPECT.FN:
        e.fn = it.str();
        break;
      case CTA_EXPECT.NAT: {
        let dir = 0;
        let nt: Tuple | undefined;
        const n = it.nestedInto(iterAt(1));
        while (n.next()) {
          if (n.type === CTA_EXPECT_NAT.DIR) dir = n.u32be();
          else if (n.type === CTA_EXPECT_NAT.TUPLE) nt = decodeTuple(buf, n.start, n.start + n.len, fam, stats, 2);
          else if (stats) stats.unknownAttrs++;
        }
        if (nt) e.nat = { dir, tuple: nt };
        break;
      }
      default:
        if (stats) stats.unknownAttrs++;
    }
  }
  if (!master || !tuple || !mask) {
    throw new CtnetlinkDecodeError('missingAttr', 'expectation without CTA_EXPECT_MASTER/TUPLE/MASK', off);
  }
  e.master = master;
  e.tuple = tuple;
  e.mask = mask;
  if (stats) stats.decoded++;
  return e;
}

/**
 * Event kind of a conntrack message from the event groups: the kernel sends NEW with
 * NLM_F_CREATE|NLM_F_EXCL, UPDATE as IPCTNL_MSG_CT_NEW without them, DESTROY as CT_DELETE
 * (ctnetlink_conntrack_event). Throws 'badMessage' for anything else.
 */
export function conntrackEventType(m: NlMsg): 'new' | 'update' | 'destroy' {
  const kind = eventKind(m.type, m.flags);
  if (kind === undefined) {
    throw new CtnetlinkDecodeError('badMessage', `message type 0x${m.type.toString(16)} is not a conntrack event`, m.payloadOff);
  }
  return kind;
}

/** conntrackEventType from the raw nlmsg_type/nlmsg_flags; undefined when not an event. */
export function eventKind(type: number, flags: number): 'new' | 'update' | 'destroy' | undefined {
  const subsys = type >> 8;
  const msg = type & 0xff;
  if (subsys !== NFNL_SUBSYS_CTNETLINK && subsys !== NFNL_SUBSYS_CTNETLINK_EXP) return undefined;
  if (msg === IPCTNL_MSG_CT_NEW) return (flags & (NLM_F_CREATE | NLM_F_EXCL)) !== 0 ? 'new' : 'update';
  if (msg === IPCTNL_MSG_CT_DELETE) return 'destroy';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

function encodeTuple(b: NlBuilder, type: number, t: Tuple): void {
  const outer = b.beginNest(type);
  const ip = b.beginNest(CTA_TUPLE.IP);
  if (typeof t.src === 'number') {
    b.attrU32BE(CTA_IP.V4_SRC, t.src);
    b.attrU32BE(CTA_IP.V4_DST, t.dst as number);
  } else {
    b.attrBinary(CTA_IP.V6_SRC, t.src);
    b.attrBinary(CTA_IP.V6_DST, t.dst as string);
  }
  b.endNest(ip);
  const p = b.beginNest(CTA_TUPLE.PROTO);
  b.attrU8(CTA_PROTO.NUM, t.proto);
  if (hasPorts(t.proto)) {
    b.attrU16BE(CTA_PROTO.SRC_PORT, t.sport);
    b.attrU16BE(CTA_PROTO.DST_PORT, t.dport);
  } else if (t.proto === IPPROTO.ICMP) {
    // icmp_nlattr_to_tuple requires all three
    b.attrU16BE(CTA_PROTO.ICMP_ID, t.icmpId);
    b.attrU8(CTA_PROTO.ICMP_TYPE, t.icmpType);
    b.attrU8(CTA_PROTO.ICMP_CODE, t.icmpCode);
  } else if (t.proto === IPPROTO.ICMPV6) {
    b.attrU16BE(CTA_PROTO.ICMPV6_ID, t.icmpId);
    b.attrU8(CTA_PROTO.ICMPV6_TYPE, t.icmpType);
    b.attrU8(CTA_PROTO.ICMPV6_CODE, t.icmpCode);
  } else if (t.proto === IPPROTO.GRE) {
    // GRE keys in the port slots (nf_ct_port_nlattr_to_tuple requires both)
    const k = t.greKey ?? 0;
    b.attrU16BE(CTA_PROTO.SRC_PORT, k >>> 16);
    b.attrU16BE(CTA_PROTO.DST_PORT, k & 0xffff);
  }
  b.endNest(p);
  if (t.zone !== undefined) b.attrU16BE(CTA_TUPLE.ZONE, t.zone);
  b.endNest(outer);
}

/**
 * Status to send. libnetfilter_conntrack always ORs IPS_CONFIRMED (the kernel answers EBUSY
 * otherwise: ctnetlink_change_status treats CONFIRMED as unchangeable); conntrackd clears
 * IPS_EXPECTED (spec §5.3) and the NAT_DONE bits are the kernel's to set (NAT setup sets them);
 * DYING can never be set from userspace.
 */
export function statusForKernel(status: number): number {
  return ((status | IPS.CONFIRMED) & ~(IPS.EXPECTED | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE | IPS.DYING)) >>> 0;
}

function encodeProtoinfo(b: NlBuilder, flow: Flow, beLiberal: boolean): void {
  const proto = flow.orig.proto;
  if (proto === IPPROTO.TCP) {
    const tcp = flow.tcp ?? {};
    let fo = tcp.flagsOrig;
    let mo = tcp.maskOrig ?? tcp.flagsOrig;
    let fr = tcp.flagsReply;
    let mr = tcp.maskReply ?? tcp.flagsReply;
    if (beLiberal) {
      // spec §5.3: set "be liberal" in both directions so the recovered connection survives
      // unknown window state
      fo = (fo ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      mo = (mo ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      fr = (fr ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      mr = (mr ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
    }
    if (tcp.state === undefined && fo === undefined && fr === undefined && tcp.wscaleOrig === undefined) return;
    const pi = b.beginNest(CTA.PROTOINFO);
    const n = b.beginNest(CTA_PROTOINFO.TCP);
    if (tcp.state !== undefined) b.attrU8(CTA_PROTOINFO_TCP.STATE, tcp.state);
    if (tcp.wscaleOrig !== undefined) b.attrU8(CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, tcp.wscaleOrig);
    if (tcp.wscaleReply !== undefined) b.attrU8(CTA_PROTOINFO_TCP.WSCALE_REPLY, tcp.wscaleReply);
    if (fo !== undefined) b.attrU16BE(CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, ((fo & 0xff) << 8) | ((mo ?? 0) & 0xff));
    if (fr !== undefined) b.attrU16BE(CTA_PROTOINFO_TCP.FLAGS_REPLY, ((fr & 0xff) << 8) | ((mr ?? 0) & 0xff));
    b.endNest(n);
    b.endNest(pi);
  } else if (proto === IPPROTO.SCTP && flow.sctp) {
    const s = flow.sctp;
    const pi = b.beginNest(CTA.PROTOINFO);
    const n = b.beginNest(CTA_PROTOINFO.SCTP);
    if (s.state !== undefined) b.attrU8(CTA_PROTOINFO_SCTP.STATE, s.state);
    if (s.vtagOrig !== undefined) b.attrU32BE(CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, s.vtagOrig);
    if (s.vtagReply !== undefined) b.attrU32BE(CTA_PROTOINFO_SCTP.VTAG_REPLY, s.vtagReply);
    b.endNest(n);
    b.endNest(pi);
  } else if (proto === IPPROTO.DCCP && flow.dccp) {
    const d = flow.dccp;
    const pi = b.beginNest(CTA.PROTOINFO);
    const n = b.beginNest(CTA_PROTOINFO.DCCP);
    if (d.state !== undefined) b.attrU8(CTA_PROTOINFO_DCCP.STATE, d.state);
    if (d.role !== undefined) b.attrU8(CTA_PROTOINFO_DCCP.ROLE, d.role);
    if (d.handshakeSeq !== undefined) b.attrU64BE(CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ, d.handshakeSeq);
    b.endNest(n);
    b.endNest(pi);
  }
}

function encodeLabels(b: NlBuilder, labels: Uint8Array): void {
  b.attrBytes(CTA.LABELS, labels);
  // mask = all ones of the same length: the labels replace whatever the kernel had
  // (ctnetlink_change_labels requires equal lengths)
  b.attrBytes(CTA.LABELS_MASK, new Uint8Array(labels.length).fill(0xff));
}

function encodeNatNest(b: NlBuilder, type: number, addr: Addr | undefined, port: number | undefined): void {
  const n = b.beginNest(type);
  if (addr !== undefined) {
    if (typeof addr === 'number') {
      b.attrU32BE(CTA_NAT.V4_MINIP, addr);
      b.attrU32BE(CTA_NAT.V4_MAXIP, addr);
    } else {
      b.attrBinary(CTA_NAT.V6_MINIP, addr);
      b.attrBinary(CTA_NAT.V6_MAXIP, addr);
    }
  }
  if (port !== undefined) {
    const p = b.beginNest(CTA_NAT.PROTO);
    b.attrU16BE(CTA_PROTONAT.PORT_MIN, port);
    b.attrU16BE(CTA_PROTONAT.PORT_MAX, port);
    b.endNest(p);
  }
  b.endNest(n);
}

function encodeSeqAdj(b: NlBuilder, type: number, s: SeqAdjDir): void {
  const n = b.beginNest(type);
  b.attrU32BE(CTA_SEQADJ.CORRECTION_POS, s.correctionPos);
  b.attrU32BE(CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore);
  b.attrU32BE(CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter);
  b.endNest(n);
}

export interface EncodeOpts {
  /** Ask for an NLMSG_ERROR(0) acknowledgement (errors are reported regardless). */
  ack: boolean;
  /** TCP: set IP_CT_TCP_FLAG_BE_LIBERAL in both directions (spec §5.3, create/update only). */
  beLiberal?: boolean;
  /** create: send this timeout instead of flow.timeout (commit's spec §5.3 timeout, no copy). */
  timeout?: number;
}

// ---- bulk-create fast path ------------------------------------------------------------------

const NEST = NLA_F_NESTED;
const CT_NEW_TYPE = nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
/** Largest message encodeCreateV4 writes: hdr 16 + nfgen 4 + 2 tuples 104 + status/timeout/mark 24 + protoinfo 48 + synproxy 28. */
const V4_CREATE_MAX = 224;

function nla(buf: Buffer, p: number, len: number, type: number): number {
  buf[p] = len & 0xff;
  buf[p + 1] = len >>> 8;
  buf[p + 2] = type & 0xff;
  buf[p + 3] = (type >>> 8) & 0xff;
  return p + 4;
}

/** A u32 attribute (8 bytes); returns the next offset. */
function nlaU32(buf: Buffer, p: number, type: number, v: number): number {
  p = nla(buf, p, 8, type);
  buf[p] = (v >>> 24) & 0xff;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
  return p + 4;
}

/** A u16 attribute, padded to 8 bytes. */
function nlaU16(buf: Buffer, p: number, type: number, v: number): number {
  p = nla(buf, p, 6, type);
  buf[p] = (v >>> 8) & 0xff;
  buf[p + 1] = v & 0xff;
  buf[p + 2] = 0;
  buf[p + 3] = 0;
  return p + 4;
}

/** A u8 attribute, padded to 8 bytes. */
function nlaU8(buf: Buffer, p: number, type: number, v: number): number {
  p = nla(buf, p, 5, type);
  buf[p] = v & 0xff;
  buf[p + 1] = 0;
  buf[p + 2] = 0;
  buf[p + 3] = 0;
  return p + 4;
}

/** An IPv4 TCP/UDP tuple nest (52 bytes), exactly as encodeTuple writes it. */
function tupleV4(buf: Buffer, p: number, type: number, src: number, dst: number, proto: number, sport: number, dport: number): number {
  p = nla(buf, p, 52, type | NEST);
  p = nla(buf, p, 20, CTA_TUPLE.IP | NEST);
  p = nlaU32(buf, p, CTA_IP.V4_SRC, src);
  p = nlaU32(buf, p, CTA_IP.V4_DST, dst);
  p = nla(buf, p, 28, CTA_TUPLE.PROTO | NEST);
  p = nlaU8(buf, p, CTA_PROTO.NUM, proto);
  p = nlaU16(buf, p, CTA_PROTO.SRC_PORT, sport);
  return nlaU16(buf, p, CTA_PROTO.DST_PORT, dport);
}

/**
 * Bulk-create fast path (commit of 100k entries, issue 8): the common entry — IPv4, TCP or
 * UDP, no NAT request, master, zone, helper, seq-adj or labels — written straight into the
 * builder's buffer with precomputed nest lengths, instead of one bounds-checked builder call
 * per attribute. Byte for byte what the general path writes (test/ctnetlink-codec compares
 * the two on many shapes); returns false, having written nothing, for any other flow.
 */
function encodeCreateV4(b: NlBuilder, flow: Flow, seq: number, opts: EncodeOpts): boolean {
  const o = flow.orig;
  const proto = o.proto;
  if (typeof o.src !== 'number' || typeof o.dst !== 'number' || (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP) || o.zone !== undefined) return false;
  if (flow.nat !== undefined || flow.master !== undefined || flow.zone !== undefined || flow.helper !== undefined) return false;
  if (flow.seqAdjOrig !== undefined || flow.seqAdjReply !== undefined || (flow.labels !== undefined && flow.labels.length > 0)) return false;
  const r = flow.reply;
  if (r !== undefined && (typeof r.src !== 'number' || typeof r.dst !== 'number' || r.proto !== proto || r.zone !== undefined)) return false;

  const buf = b.reserve(V4_CREATE_MAX);
  const start = b.length;
  // nlmsghdr (length filled in at the end) + nfgenmsg
  const flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | (opts.ack ? NLM_F_ACK : 0);
  buf[start + 4] = CT_NEW_TYPE & 0xff;
  buf[start + 5] = CT_NEW_TYPE >>> 8;
  buf[start + 6] = flags & 0xff;
  buf[start + 7] = flags >>> 8;
  buf.writeUInt32LE(seq >>> 0, start + 8);
  buf.writeUInt32LE(0, start + 12);
  let p = writeNfgen(buf, start + 16, o.family);
  p = tupleV4(buf, p, CTA.TUPLE_ORIG, o.src, o.dst, proto, o.sport, o.dport);
  if (r === undefined) p = tupleV4(buf, p, CTA.TUPLE_REPLY, o.dst, o.src, proto, o.dport, o.sport);
  else p = tupleV4(buf, p, CTA.TUPLE_REPLY, r.src as number, r.dst as number, proto, r.sport, r.dport);
  p = nlaU32(buf, p, CTA.STATUS, statusForKernel(flow.status ?? 0));
  const timeout = opts.timeout ?? flow.timeout;
  if (timeout !== undefined) p = nlaU32(buf, p, CTA.TIMEOUT, timeout);
  if (flow.mark !== undefined) p = nlaU32(buf, p, CTA.MARK, flow.mark);
  if (proto === IPPROTO.TCP) {
    // the same decisions as encodeProtoinfo
    const tcp = flow.tcp;
    const state = tcp?.state;
    const wso = tcp?.wscaleOrig;
    const wsr = tcp?.wscaleReply;
    let fo = tcp?.flagsOrig;
    let mo = tcp?.maskOrig ?? fo;
    let fr = tcp?.flagsReply;
    let mr = tcp?.maskReply ?? fr;
    if (opts.beLiberal === true) {
      fo = (fo ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      mo = (mo ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      fr = (fr ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
      mr = (mr ?? 0) | IP_CT_TCP_FLAG.BE_LIBERAL;
    }
    if (state !== undefined || fo !== undefined || fr !== undefined || wso !== undefined) {
      const n = (state !== undefined ? 1 : 0) + (wso !== undefined ? 1 : 0) + (wsr !== undefined ? 1 : 0) + (fo !== undefined ? 1 : 0) + (fr !== undefined ? 1 : 0);
      p = nla(buf, p, 8 + 8 * n, CTA.PROTOINFO | NEST);
      p = nla(buf, p, 4 + 8 * n, CTA_PROTOINFO.TCP | NEST);
      if (state !== undefined) p = nlaU8(buf, p, CTA_PROTOINFO_TCP.STATE, state);
      if (wso !== undefined) p = nlaU8(buf, p, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, wso);
      if (wsr !== undefined) p = nlaU8(buf, p, CTA_PROTOINFO_TCP.WSCALE_REPLY, wsr);
      if (fo !== undefined) p = nlaU16(buf, p, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, ((fo & 0xff) << 8) | ((mo ?? 0) & 0xff));
      if (fr !== undefined) p = nlaU16(buf, p, CTA_PROTOINFO_TCP.FLAGS_REPLY, ((fr & 0xff) << 8) | ((mr ?? 0) & 0xff));
    }
  }
  const sp = flow.synproxy;
  if (sp) {
    p = nla(buf, p, 28, CTA.SYNPROXY | NEST);
    p = nlaU32(buf, p, CTA_SYNPROXY.ISN, sp.isn);
    p = nlaU32(buf, p, CTA_SYNPROXY.ITS, sp.its);
    p = nlaU32(buf, p, CTA_SYNPROXY.TSOFF, sp.tsoff);
  }
  buf.writeUInt32LE(p - start, start);
  b.setLength(p);
  return true;
}

/**
 * Appends one complete ctnetlink request for `flow` to b.
 *  - create: IPCTNL_MSG_CT_NEW, REQUEST|CREATE|EXCL. Both tuples are mandatory for the kernel;
 *    the reply tuple is flow.reply, or the inverse of the original when the flow has explicit
 *    NAT (flow.nat) or no reply: like conntrackd's commit path (nfct_setobjopt SETUP_REPLY +
 *    CTA_NAT_*), the kernel then re-applies NAT and recomputes the reply tuple (spec §3.4).
 *  - update: IPCTNL_MSG_CT_NEW, REQUEST only; tuple + the attributes the kernel lets change
 *    (status, timeout, mark, protoinfo, labels, seq-adj). NAT, master and helper are refused by
 *    ctnetlink_change_conntrack, so they are not sent (as conntrackd does). Beware: SEEN_REPLY
 *    and ASSURED can only be set, so a status lacking one the kernel already has makes the
 *    whole update fail with EBUSY (checked in test/ctnetlink-codec/kernel.test.ts); callers
 *    fall back to delete + create like conntrackd (spec §5.2), or leave `status` undefined.
 *  - delete / get: the original tuple and zone.
 */
export function encodeConntrack(b: NlBuilder, flow: Flow, op: CtOp, seq: number, opts: EncodeOpts): void {
  if (op === 'create' && encodeCreateV4(b, flow, seq, opts)) return;
  encodeConntrackGeneral(b, flow, op, seq, opts);
}

/** encodeConntrack without the create fast path (exported for the byte-equality test). */
export function encodeConntrackGeneral(b: NlBuilder, flow: Flow, op: CtOp, seq: number, opts: EncodeOpts): void {
  const o = flow.orig;
  const ack = opts.ack ? NLM_F_ACK : 0;
  let msg: number;
  let flags: number;
  switch (op) {
    case 'create':
      msg = IPCTNL_MSG_CT_NEW;
      flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | ack;
      break;
    case 'update':
      msg = IPCTNL_MSG_CT_NEW;
      flags = NLM_F_REQUEST | ack;
      break;
    case 'delete':
      msg = IPCTNL_MSG_CT_DELETE;
      flags = NLM_F_REQUEST | ack;
      break;
    case 'get':
      msg = IPCTNL_MSG_CT_GET;
      flags = NLM_F_REQUEST | ack;
      break;
  }
  b.beginMsg(nfnlMsgType(NFNL_SUBSYS_CTNETLINK, msg), flags, seq);
  b.nfgen(o.family);
  encodeTuple(b, CTA.TUPLE_ORIG, o);
  if (op === 'create') {
    const nat = flow.nat;
    const reply = nat !== undefined || flow.reply === undefined ? invertTuple(o) : flow.reply;
    encodeTuple(b, CTA.TUPLE_REPLY, reply);
    if (flow.master) encodeTuple(b, CTA.TUPLE_MASTER, flow.master);
    if (nat) {
      if (nat.snatAddr !== undefined || nat.snatPort !== undefined) encodeNatNest(b, CTA.NAT_SRC, nat.snatAddr, nat.snatPort);
      if (nat.dnatAddr !== undefined || nat.dnatPort !== undefined) encodeNatNest(b, CTA.NAT_DST, nat.dnatAddr, nat.dnatPort);
    }
    b.attrU32BE(CTA.STATUS, statusForKernel(flow.status ?? 0));
    const timeout = opts.timeout ?? flow.timeout;
    if (timeout !== undefined) b.attrU32BE(CTA.TIMEOUT, timeout);
    if (flow.mark !== undefined) b.attrU32BE(CTA.MARK, flow.mark);
    if (flow.zone !== undefined) b.attrU16BE(CTA.ZONE, flow.zone);
    encodeProtoinfo(b, flow, opts.beLiberal === true);
    if (flow.helper !== undefined) {
      const h = b.beginNest(CTA.HELP);
      b.attrString(CTA_HELP.NAME, flow.helper);
      b.endNest(h);
    }
    if (flow.seqAdjOrig) encodeSeqAdj(b, CTA.SEQ_ADJ_ORIG, flow.seqAdjOrig);
    if (flow.seqAdjReply) encodeSeqAdj(b, CTA.SEQ_ADJ_REPLY, flow.seqAdjReply);
    if (flow.labels && flow.labels.length > 0) encodeLabels(b, flow.labels);
    if (flow.synproxy) {
      const s = b.beginNest(CTA.SYNPROXY);
      b.attrU32BE(CTA_SYNPROXY.ISN, flow.synproxy.isn);
      b.attrU32BE(CTA_SYNPROXY.ITS, flow.synproxy.its);
      b.attrU32BE(CTA_SYNPROXY.TSOFF, flow.synproxy.tsoff);
      b.endNest(s);
    }
  } else if (op === 'update') {
    if (flow.zone !== undefined) b.attrU16BE(CTA.ZONE, flow.zone);
    if (flow.status !== undefined) b.attrU32BE(CTA.STATUS, statusForKernel(flow.status));
    if (flow.timeout !== undefined) b.attrU32BE(CTA.TIMEOUT, flow.timeout);
    if (flow.mark !== undefined) b.attrU32BE(CTA.MARK, flow.mark);
    encodeProtoinfo(b, flow, opts.beLiberal === true);
    if (flow.seqAdjOrig) encodeSeqAdj(b, CTA.SEQ_ADJ_ORIG, flow.seqAdjOrig);
    if (flow.seqAdjReply) encodeSeqAdj(b, CTA.SEQ_ADJ_REPLY, flow.seqAdjReply);
    if (flow.labels && flow.labels.length > 0) encodeLabels(b, flow.labels);
  } else if (flow.zone !== undefined) {
    b.attrU16BE(CTA.ZONE, flow.zone);
  }
  b.endMsg();
}

/** CT_DELETE without a tuple = flush the table (of one family, or all with AF_UNSPEC = 0). */
export function encodeConntrackFlush(b: NlBuilder, seq: number, family = 0): void {
  b.beginMsg(nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq);
  b.nfgen(family);
  b.endMsg();
}

/** GET with NLM_F_DUMP: the whole conntrack table (or expectations with subsys EXP). */
export function encodeDumpRequest(b: NlBuilder, seq: number, family = 0, subsys: number = NFNL_SUBSYS_CTNETLINK): void {
  const msg = subsys === NFNL_SUBSYS_CTNETLINK_EXP ? IPCTNL_MSG_EXP_GET : IPCTNL_MSG_CT_GET;
  b.beginMsg(nfnlMsgType(subsys, msg), NLM_F_REQUEST | NLM_F_DUMP, seq);
  b.nfgen(family);
  b.endMsg();
}

/**
 * Expectation request. create: EXP_NEW REQUEST|CREATE|EXCL with master/tuple/mask (mandatory
 * for ctnetlink_new_expect), timeout, zone, flags, class, helper, NAT, fn. update: EXP_NEW
 * REQUEST with master/tuple/mask (still mandatory) and the timeout, the only thing
 * ctnetlink_change_expect changes. delete/get: lookup by expected tuple + zone.
 */
export function encodeExpectation(b: NlBuilder, exp: Expectation, op: CtOp, seq: number, opts: EncodeOpts): void {
  const ack = opts.ack ? NLM_F_ACK : 0;
  let msg: number;
  let flags = NLM_F_REQUEST | ack;
  if (op === 'create') {
    msg = IPCTNL_MSG_EXP_NEW;
    flags |= NLM_F_CREATE | NLM_F_EXCL;
  } else if (op === 'update') msg = IPCTNL_MSG_EXP_NEW;
  else if (op === 'delete') msg = IPCTNL_MSG_EXP_DELETE;
  else msg = IPCTNL_MSG_EXP_GET;
  b.beginMsg(nfnlMsgType(NFNL_SUBSYS_CTNETLINK_EXP, msg), flags, seq);
  b.nfgen(exp.tuple.family);
  if (op === 'update') {
    // ctnetlink_new_expect demands master, tuple and mask even when it only changes the timeout
    encodeTuple(b, CTA_EXPECT.MASTER, exp.master);
    encodeTuple(b, CTA_EXPECT.TUPLE, exp.tuple);
    encodeTuple(b, CTA_EXPECT.MASK, exp.mask);
    if (exp.zone !== undefined) b.attrU16BE(CTA_EXPECT.ZONE, exp.zone);
    if (exp.timeout !== undefined) b.attrU32BE(CTA_EXPECT.TIMEOUT, exp.timeout);
  } else if (op === 'create') {
    encodeTuple(b, CTA_EXPECT.MASTER, exp.master);
    encodeTuple(b, CTA_EXPECT.TUPLE, exp.tuple);
    encodeTuple(b, CTA_EXPECT.MASK, exp.mask);
    if (exp.timeout !== undefined) b.attrU32BE(CTA_EXPECT.TIMEOUT, exp.timeout);
    if (exp.zone !== undefined) b.attrU16BE(CTA_EXPECT.ZONE, exp.zone);
    if (exp.flags !== undefined) b.attrU32BE(CTA_EXPECT.FLAGS, exp.flags);
    if (exp.class !== undefined) b.attrU32BE(CTA_EXPECT.CLASS, exp.class);
    if (exp.helper !== undefined) b.attrString(CTA_EXPECT.HELP_NAME, exp.helper);
    if (exp.nat) {
      const n = b.beginNest(CTA_EXPECT.NAT);
      b.attrU32BE(CTA_EXPECT_NAT.DIR, exp.nat.dir);
      encodeTuple(b, CTA_EXPECT_NAT.TUPLE, exp.nat.tuple);
      b.endNest(n);
    }
    if (exp.fn !== undefined) b.attrString(CTA_EXPECT.FN, exp.fn);
  } else {
    encodeTuple(b, CTA_EXPECT.TUPLE, exp.tuple);
    if (exp.zone !== undefined) b.attrU16BE(CTA_EXPECT.ZONE, exp.zone);
  }
  b.endMsg();
}
