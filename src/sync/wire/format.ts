/**
 * Human-readable one-line rendering of wire messages, in the layout of the golden decodes in
 * ../shared/vectors/*.txt (`v1 CT_NEW flags=- seq=N len=N IPV4=a>b STATUS=0xe ...`), so a decode
 * of a capture can be diffed against them. Attributes are listed in emission order (spec §3.3)
 * with the encoder's conditions, i.e. exactly the attributes encodeCt would put on the wire.
 */
import { type Addr, formatAddr } from '../../flow/address';
import { type Expectation, type Flow, IPPROTO, natFromReply, TCP_STATE_NAMES, type Tuple } from '../../flow/flow';
import { wirePorts } from './ct';
import { formatFlags, isAckForm, type NetHeader, typeName } from './header';
import type { WireOptions } from './options';

export function formatHeader(h: NetHeader): string {
  let s = `v${h.version} ${typeName(h.type)} flags=${formatFlags(h.flags)} seq=${h.seq} len=${h.len}`;
  if (isAckForm(h.type, h.flags)) s += ` from=${h.from} to=${h.to}`;
  return s;
}

const hex32 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const pair = (a: Addr, b: Addr): string => `${formatAddr(a)}>${formatAddr(b)}`;
const v4or6 = (a: Addr): string => (typeof a === 'number' ? 'IPV4' : 'IPV6');

/** Label bitmap (kernel byte order, see ct.ts) as the NTA_LABELS BE words in hex; '' if empty. */
function labelsHex(labels: Uint8Array): string {
  let max = -1;
  for (let i = labels.length - 1; i >= 0 && max < 0; i--) if (labels[i] !== 0) max = i;
  if (max < 0) return '';
  const words = (max >>> 2) + 1;
  let s = '0x';
  for (let w = 0; w < words; w++) {
    for (let b = 3; b >= 0; b--) s += (labels[4 * w + b] ?? 0).toString(16).padStart(2, '0');
  }
  return s;
}

export function formatFlowAttrs(flow: Flow, opts: WireOptions): string {
  const o = flow.orig;
  const host = opts.portsHostLE ? '[le]' : '';
  const a: string[] = [`${v4or6(o.src)}=${pair(o.src, o.dst)}`, `STATUS=0x${(flow.status ?? 0).toString(16)}`, `L4PROTO=${o.proto}`];
  switch (o.proto) {
    case IPPROTO.TCP:
      a.push(`PORT=${o.sport}>${o.dport}`);
      if (flow.tcp?.state !== undefined) {
        a.push(`TCP_STATE=${TCP_STATE_NAMES[flow.tcp.state] ?? flow.tcp.state}`);
        if (opts.tcpWindowTracking) a.push(`TCP_WSCALE_ORIG=${flow.tcp.wscaleOrig ?? 0}`, `TCP_WSCALE_REPL=${flow.tcp.wscaleReply ?? 0}`);
      }
      break;
    case IPPROTO.SCTP:
      a.push(`PORT=${o.sport}>${o.dport}`);
      if (flow.sctp?.state !== undefined) {
        a.push(`SCTP_STATE=${flow.sctp.state}`, `SCTP_VTAG_ORIG=0x${hex32(flow.sctp.vtagOrig ?? 0)}`, `SCTP_VTAG_REPL=0x${hex32(flow.sctp.vtagReply ?? 0)}`);
      }
      break;
    case IPPROTO.DCCP:
      a.push(`PORT=${o.sport}>${o.dport}`);
      if (flow.dccp?.state !== undefined) a.push(`DCCP_STATE=${flow.dccp.state}`, `DCCP_ROLE=${flow.dccp.role ?? 0}`);
      break;
    case IPPROTO.UDP:
      a.push(`PORT=${o.sport}>${o.dport}`);
      break;
    case IPPROTO.ICMP:
    case IPPROTO.ICMPV6:
      a.push(`ICMP_TYPE=${o.icmpType}`, `ICMP_CODE=${o.icmpCode}`, `ICMP_ID=${o.icmpId}${host}`);
      break;
    default:
      break;
  }
  if (opts.sendTimeout && flow.timeout !== undefined) a.push(`TIMEOUT=${flow.timeout}`);
  if (flow.mark !== undefined) a.push(`MARK=${flow.mark}`);
  const m = flow.master;
  if (m) {
    a.push(`MASTER_${v4or6(m.src)}=${pair(m.src, m.dst)}`, `MASTER_L4PROTO=${m.proto}`);
    if (wirePorts(m.proto)) a.push(`MASTER_PORT=${m.sport}>${m.dport}`);
  }
  const nat = natFromReply(flow);
  if (nat) {
    if (nat.snatAddr !== undefined) a.push(`SNAT_${v4or6(nat.snatAddr)}=${formatAddr(nat.snatAddr)}`);
    if (nat.dnatAddr !== undefined) a.push(`DNAT_${v4or6(nat.dnatAddr)}=${formatAddr(nat.dnatAddr)}`);
    if (nat.snatPort !== undefined) a.push(`SPAT_PORT=${nat.snatPort}${host}`);
    if (nat.dnatPort !== undefined) a.push(`DPAT_PORT=${nat.dnatPort}${host}`);
  }
  const so = flow.seqAdjOrig;
  const sr = flow.seqAdjReply;
  if (so && sr) {
    a.push(`NAT_SEQ_ADJ=${so.correctionPos},${so.offsetBefore},${so.offsetAfter}/${sr.correctionPos},${sr.offsetBefore},${sr.offsetAfter}`);
  }
  if (flow.helper !== undefined) a.push(`HELPER_NAME=${JSON.stringify(flow.helper)}`);
  if (flow.labels) {
    const l = labelsHex(flow.labels);
    if (l) a.push(`LABELS=${l}`);
  }
  const sp = flow.synproxy;
  if (sp) a.push(`SYNPROXY=0x${hex32(sp.its)}${hex32(sp.isn)}${hex32(sp.tsoff)}`);
  if (flow.zone !== undefined) a.push(`ZONE=${flow.zone}`);
  return a.join(' ');
}

function tupleText(t: Tuple, ports: boolean): string {
  let s = `${pair(t.src, t.dst)} proto=${t.proto}`;
  if (ports) s += ` port=${t.sport}>${t.dport}`;
  return s;
}

export function formatExpAttrs(exp: Expectation, opts: WireOptions): string {
  const ports = wirePorts(exp.master.proto);
  const a: string[] = [
    `MASTER=${tupleText(exp.master, ports)}`,
    `EXPECT=${tupleText(exp.tuple, ports)}`,
    `MASK=${tupleText(exp.mask, ports)}`,
  ];
  if (opts.sendTimeout && exp.timeout !== undefined) a.push(`TIMEOUT=${exp.timeout}`);
  a.push(`FLAGS=0x${(exp.flags ?? 0).toString(16)}`);
  if (exp.class !== undefined) a.push(`CLASS=${exp.class}`);
  if (exp.nat) a.push(`NAT=${tupleText(exp.nat.tuple, ports)} dir=${exp.nat.dir}`);
  if (exp.helper !== undefined) a.push(`HELPER_NAME=${JSON.stringify(exp.helper)}`);
  if (exp.fn !== undefined) a.push(`FN=${JSON.stringify(exp.fn)}`);
  return a.join(' ');
}

/** JSON-friendly view of a tuple: addresses as text. */
export function tupleJson(t: Tuple): Record<string, unknown> {
  const out: Record<string, unknown> = { family: t.family === 2 ? 'ipv4' : 'ipv6', src: formatAddr(t.src), dst: formatAddr(t.dst), proto: t.proto };
  if (wirePorts(t.proto)) {
    out.sport = t.sport;
    out.dport = t.dport;
  }
  if (t.proto === IPPROTO.ICMP || t.proto === IPPROTO.ICMPV6) {
    out.icmpType = t.icmpType;
    out.icmpCode = t.icmpCode;
    out.icmpId = t.icmpId;
  }
  return out;
}

/** JSON-friendly view of a decoded flow (addresses as text, labels as hex). */
export function flowJson(flow: Flow): Record<string, unknown> {
  const out: Record<string, unknown> = { orig: tupleJson(flow.orig) };
  for (const k of ['status', 'timeout', 'mark', 'zone', 'helper'] as const) if (flow[k] !== undefined) out[k] = flow[k];
  if (flow.tcp) out.tcp = flow.tcp;
  if (flow.sctp) out.sctp = flow.sctp;
  if (flow.dccp) out.dccp = { state: flow.dccp.state, role: flow.dccp.role };
  if (flow.master) out.master = tupleJson(flow.master);
  if (flow.nat) {
    const n: Record<string, unknown> = {};
    if (flow.nat.snatAddr !== undefined) n.snatAddr = formatAddr(flow.nat.snatAddr);
    if (flow.nat.dnatAddr !== undefined) n.dnatAddr = formatAddr(flow.nat.dnatAddr);
    if (flow.nat.snatPort !== undefined) n.snatPort = flow.nat.snatPort;
    if (flow.nat.dnatPort !== undefined) n.dnatPort = flow.nat.dnatPort;
    out.nat = n;
  }
  if (flow.seqAdjOrig) out.seqAdjOrig = flow.seqAdjOrig;
  if (flow.seqAdjReply) out.seqAdjReply = flow.seqAdjReply;
  if (flow.labels) out.labels = Buffer.from(flow.labels).toString('hex');
  if (flow.synproxy) out.synproxy = flow.synproxy;
  return out;
}

export function expJson(exp: Expectation): Record<string, unknown> {
  const out: Record<string, unknown> = { master: tupleJson(exp.master), tuple: tupleJson(exp.tuple), mask: tupleJson(exp.mask) };
  for (const k of ['timeout', 'flags', 'class', 'helper', 'fn'] as const) if (exp[k] !== undefined) out[k] = exp[k];
  if (exp.nat) out.nat = { dir: exp.nat.dir, tuple: tupleJson(exp.nat.tuple) };
  return out;
}
