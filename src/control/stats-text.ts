/**
 * conntrackd's control-socket texts (spec §5.5, §5.7), reproduced byte for byte so scripts that
 * parse `conntrackd -s` / `-i` keep working. Layouts were checked against conntrackd 1.4.7's
 * real output (test/control/fixtures/*, captured in a scratch netns).
 *
 * Pure functions over small input interfaces: the daemon fills them from its Stats objects.
 * `%Nu` in the spec = right-aligned decimal of width N.
 */
import { formatAddr } from '../flow/address';
import { type Expectation, type Flow, IPS, isIcmp, type Tuple } from '../flow/flow';

type Num = number | bigint;

function u(n: Num, width: number): string {
  return String(n).padStart(width, ' ');
}

// ---- -s / -s ct / -s expect --------------------------------------------------------------------

export interface CacheCounters {
  active: Num;
  created: Num;
  createFailed: Num;
  updated: Num;
  updateFailed: Num;
  destroyed: Num;
  destroyFailed: Num;
}

/** Counters of one link (channel) as printed in the transport blocks. */
export interface LinkCounters {
  bytesSent: Num;
  bytesRecv: Num;
  packetsSent: Num;
  packetsRecv: Num;
  errorSend: Num;
  errorRecv: Num;
}

export interface LinkInfo extends LinkCounters {
  kind: 'multicast' | 'udp';
  device: string;
  status: 'RUNNING' | 'NO-CARRIER' | 'DOWN';
  role: 'ACTIVE' | 'BACKUP';
}

export interface SyncStatsInput {
  /** Internal cache counters, or the bypass counters (NOTRACK DisableInternalCache). */
  internal: { kind: 'cache'; counters: CacheCounters } | { kind: 'bypass'; new: Num; updated: Num; destroyed: Num };
  /** External cache counters, or direct-inject counters (DisableExternalCache). */
  external: { kind: 'cache' | 'inject'; counters: CacheCounters };
  traffic: { bytes: Num; packets: Num };
  /** The active link. */
  link: LinkInfo;
  messages: { malformed: Num; lost: Num };
}

function cacheBlock(title: string, c: CacheCounters): string {
  return (
    `${title}:\n` +
    `current active connections:\t${u(c.active, 12)}\n` +
    `connections created:\t\t${u(c.created, 12)}\tfailed:\t${u(c.createFailed, 12)}\n` +
    `connections updated:\t\t${u(c.updated, 12)}\tfailed:\t${u(c.updateFailed, 12)}\n` +
    `connections destroyed:\t\t${u(c.destroyed, 12)}\tfailed:\t${u(c.destroyFailed, 12)}\n\n`
  );
}

function injectBlock(c: CacheCounters): string {
  return (
    'external inject:\n' +
    `connections created:\t\t${u(c.created, 12)}\tfailed:\t${u(c.createFailed, 12)}\n` +
    `connections updated:\t\t${u(c.updated, 12)}\tfailed:\t${u(c.updateFailed, 12)}\n` +
    `connections destroyed:\t\t${u(c.destroyed, 12)}\tfailed:\t${u(c.destroyFailed, 12)}\n\n`
  );
}

function linkCounterLines(l: LinkCounters): string {
  return (
    `${u(l.bytesSent, 20)} Bytes sent ${u(l.bytesRecv, 20)} Bytes recv\n` +
    `${u(l.packetsSent, 20)} Pckts sent ${u(l.packetsRecv, 20)} Pckts recv\n` +
    `${u(l.errorSend, 20)} Error send ${u(l.errorRecv, 20)} Error recv\n\n`
  );
}

function transportName(kind: LinkInfo['kind']): string {
  return kind === 'multicast' ? 'multicast' : 'UDP';
}

/** The transport block of the current channel (`UDP traffic (active device=IF):` ...). */
export function formatTransportBlock(l: LinkInfo): string {
  return `${transportName(l.kind)} traffic (active device=${l.device}):\n${linkCounterLines(l)}`;
}

/** `-s`, `-s ct`, and (with the expectation counters) `-s expect`. */
export function formatSyncStats(s: SyncStatsInput): string {
  let out = '';
  if (s.internal.kind === 'cache') out += cacheBlock('cache internal', s.internal.counters);
  else {
    out +=
      'internal bypass:\n' +
      `connections new:\t\t${u(s.internal.new, 12)}\n` +
      `connections updated:\t\t${u(s.internal.updated, 12)}\n` +
      `connections destroyed:\t\t${u(s.internal.destroyed, 12)}\n\n`;
  }
  out += s.external.kind === 'cache' ? cacheBlock('cache external', s.external.counters) : injectBlock(s.external.counters);
  out += `traffic processed:\n${u(s.traffic.bytes, 20)} Bytes      ${u(s.traffic.packets, 20)} Pckts\n\n`;
  out += formatTransportBlock(s.link);
  out += `message tracking:\n${u(s.messages.malformed, 20)} Malformed msgs ${u(s.messages.lost, 20)} Lost msgs\n\n`;
  return out;
}

// ---- -s network --------------------------------------------------------------------------------

export interface NetworkStatsInput {
  malformed: Num;
  wrongVersion: Num;
  malformedHeader: Num;
  malformedPayload: Num;
  badType: Num;
  truncated: Num;
  badSize: Num;
  /** Send-side malformed messages (always 0 in conntrackd). */
  sendMalformed: Num;
  lost: Num;
  before: Num;
  link: LinkInfo;
}

export function formatNetworkStats(n: NetworkStatsInput): string {
  return (
    'network statistics:\n' +
    '\trecv:\n' +
    `\t\tMalformed messages:\t${u(n.malformed, 20)}\n` +
    `\t\tWrong protocol version:\t${u(n.wrongVersion, 20)}\n` +
    `\t\tMalformed header:\t${u(n.malformedHeader, 20)}\n` +
    `\t\tMalformed payload:\t${u(n.malformedPayload, 20)}\n` +
    `\t\tBad message type:\t${u(n.badType, 20)}\n` +
    `\t\tTruncated message:\t${u(n.truncated, 20)}\n` +
    `\t\tBad message size:\t${u(n.badSize, 20)}\n` +
    '\tsend:\n' +
    `\t\tMalformed messages:\t${u(n.sendMalformed, 20)}\n\n` +
    'sequence tracking statistics:\n' +
    '\trecv:\n' +
    `\t\tPackets lost:\t\t${u(n.lost, 20)}\n` +
    `\t\tPackets before:\t\t${u(n.before, 20)}\n\n` +
    formatTransportBlock(n.link)
  );
}

// ---- -s cache ----------------------------------------------------------------------------------

export interface CacheDetail {
  name: string;
  active: Num;
  /** Objects including DEAD ones still referenced by a queue. */
  total: Num;
  createOk: Num;
  createFailed: Num;
  noMemory: Num;
  noSpace: Num;
  updateOk: Num;
  updateFailed: Num;
  updateNotFound: Num;
  deleteOk: Num;
  deleteFailed: Num;
  deleteNotFound: Num;
}

export function formatCacheStats(caches: CacheDetail[]): string {
  let out = '';
  for (const c of caches) {
    out +=
      `cache:${c.name}\tactive objects:\t\t${u(c.active, 12)}\n` +
      `\tactive/total entries:\t\t${u(c.active, 12)}/${u(c.total, 12)}\n` +
      `\tcreation OK/failed:\t\t${u(c.createOk, 12)}/${u(c.createFailed, 12)}\n` +
      `\t\tno memory available:\t${u(c.noMemory, 12)}\n` +
      `\t\tno space left in cache:\t${u(c.noSpace, 12)}\n` +
      `\tupdate OK/failed:\t\t${u(c.updateOk, 12)}/${u(c.updateFailed, 12)}\n` +
      `\t\tentry not found:\t${u(c.updateNotFound, 12)}\n` +
      `\tdeletion created/failed:\t${u(c.deleteOk, 12)}/${u(c.deleteFailed, 12)}\n` +
      `\t\tentry not found:\t${u(c.deleteNotFound, 12)}\n\n`;
  }
  return out;
}

// ---- -s runtime --------------------------------------------------------------------------------

export interface RuntimeStatsInput {
  uptimeSeconds: number;
  eventsReceived: Num;
  eventsFiltered: Num;
  eventsUnknownType: Num;
  catchEventFailed: Num;
  dumpUnknownType: Num;
  netlinkOverrun: Num;
  flushKernelTable: Num;
  resyncKernelTable: Num;
  bufferSize: Num;
  childFailed: Num;
  childSegfault: Num;
  childTermsig: Num;
  selectFailed: Num;
  waitFailed: Num;
  localReadFailed: Num;
  localUnknownRequest: Num;
}

export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  let out = '';
  if (d > 0) out += `${d} day${d > 1 ? 's' : ''} `;
  if (h > 0) out += `${h} h `;
  return `${out}${m} min`;
}

export function formatRuntimeStats(r: RuntimeStatsInput): string {
  return (
    `daemon uptime: ${formatUptime(r.uptimeSeconds)}\n\n` +
    'netlink stats:\n' +
    `\tevents received:\t${u(r.eventsReceived, 20)}\n` +
    `\tevents filtered:\t${u(r.eventsFiltered, 20)}\n` +
    `\tevents unknown type:\t\t${u(r.eventsUnknownType, 12)}\n` +
    `\tcatch event failed:\t\t${u(r.catchEventFailed, 12)}\n` +
    `\tdump unknown type:\t\t${u(r.dumpUnknownType, 12)}\n` +
    `\tnetlink overrun:\t\t${u(r.netlinkOverrun, 12)}\n` +
    `\tflush kernel table:\t\t${u(r.flushKernelTable, 12)}\n` +
    `\tresync with kernel table:\t${u(r.resyncKernelTable, 12)}\n` +
    `\tcurrent buffer size (in bytes):\t${u(r.bufferSize, 12)}\n\n` +
    'runtime stats:\n' +
    `\tchild process failed:\t\t${u(r.childFailed, 12)}\n` +
    `\t\tchild process segfault:\t${u(r.childSegfault, 12)}\n` +
    `\t\tchild process termsig:\t${u(r.childTermsig, 12)}\n` +
    `\tselect failed:\t\t\t${u(r.selectFailed, 12)}\n` +
    `\twait failed:\t\t\t${u(r.waitFailed, 12)}\n` +
    `\tlocal read failed:\t\t${u(r.localReadFailed, 12)}\n` +
    `\tlocal unknown request:\t\t${u(r.localUnknownRequest, 12)}\n\n`
  );
}

// ---- -s link / rsqueue / queue / process --------------------------------------------------------

export function formatLinkStats(links: LinkInfo[]): string {
  let out = '';
  for (const l of links) {
    out += `${transportName(l.kind)} traffic device=${l.device} status=${l.status} role=${l.role}:\n${linkCounterLines(l)}`;
  }
  return out;
}

export type RsQueueEntry = { kind: 'control'; seq: number; flags: number } | { kind: 'object'; seq: number };

export function formatRsQueue(entries: RsQueueEntry[]): string {
  let out = `resent queue (len=${entries.length})\n`;
  for (const e of entries) {
    out += e.kind === 'control' ? `control -> seq:${e.seq >>> 0} flags:${e.flags}\n` : `object -> seq:${e.seq >>> 0}\n`;
  }
  return out;
}

export interface QueueInfo {
  name: string;
  current: Num;
  max: Num;
  full: Num;
}

export function formatQueueStats(allocatedNodes: Num, queues: QueueInfo[]): string {
  let out = `allocated queue nodes:\t\t${u(allocatedNodes, 12)}\n\n`;
  for (const q of queues) {
    out +=
      `queue ${q.name}:\n` +
      `current elements:\t\t${u(q.current, 12)}\n` +
      `maximum elements:\t\t${u(q.max, 12)}\n` +
      `not enough space errors:\t${u(q.full, 12)}\n\n`;
  }
  return out;
}

export function formatProcessStats(children: { pid: number; type: 'any' | 'flush' | 'commit' }[]): string {
  return children.map((c) => `PID=${c.pid} type=${c.type}\n`).join('');
}

// ---- -i / -e dump lines (spec §5.5) ------------------------------------------------------------

/** libnetfilter_conntrack's protocol names (anything else prints as "unknown"). */
const PROTO_NAME: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  47: 'gre',
  58: 'icmpv6',
  132: 'sctp',
  136: 'udplite',
};

const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'LISTEN'];
const SCTP_STATES = ['NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED'];
const DCCP_STATES = ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'];

function tupleText(t: Tuple): string {
  let s = `src=${formatAddr(t.src)} dst=${formatAddr(t.dst)} `;
  if (isIcmp(t.proto)) s += `type=${t.icmpType} code=${t.icmpCode} id=${t.icmpId} `;
  else if (t.proto === 47) s += `srckey=0x${(t.greKey ?? 0).toString(16)} dstkey=0x0 `;
  else if (PROTO_NAME[t.proto] !== undefined) s += `sport=${t.sport} dport=${t.dport} `;
  return s;
}

function protoStateText(f: Flow): string {
  const p = f.orig.proto;
  if (p === 6 && f.tcp?.state !== undefined) return `${TCP_STATES[f.tcp.state] ?? 'UNKNOWN'} `;
  if (p === 132 && f.sctp?.state !== undefined) return `${SCTP_STATES[f.sctp.state] ?? 'UNKNOWN'} `;
  if (p === 33 && f.dccp?.state !== undefined) return `${DCCP_STATES[f.dccp.state] ?? 'UNKNOWN'} `;
  return '';
}

export interface DumpTiming {
  /** now − creation time in the cache, whole seconds. */
  activeSinceSec: number;
  /** ALARM external entries: seconds until the CacheTimeout expiry. */
  expiresInSec?: number;
}

/**
 * One `-i`/`-e` line (without the newline): libnetfilter_conntrack's default rendering with the
 * timeout removed, then `[expires in Ns] ` for ALARM external entries, then `[active since Ns]`.
 */
export function formatDumpLine(f: Flow, t: DumpTiming): string {
  const o = f.orig;
  let s = `${(PROTO_NAME[o.proto] ?? 'unknown').padEnd(8, ' ')} ${o.proto} `;
  s += protoStateText(f);
  s += tupleText(o);
  if (f.status !== undefined && (f.status & IPS.SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  if (f.reply) s += tupleText(f.reply);
  if (f.status !== undefined && (f.status & IPS.ASSURED) !== 0) s += '[ASSURED] ';
  if (f.status !== undefined && (f.status & IPS.OFFLOAD) !== 0) s += '[OFFLOAD] ';
  if (f.mark !== undefined) s += `mark=${f.mark >>> 0} `;
  if (f.secmark) s += `secmark=${f.secmark} `;
  if (f.zone) s += `zone=${f.zone} `;
  // libnetfilter_conntrack prints the helper after the zone (conntrackd shows it in -i/-e)
  if (f.helper) s += `helper=${f.helper} `;
  if (t.expiresInSec !== undefined) s += `[expires in ${t.expiresInSec}s] `;
  return `${s}[active since ${t.activeSinceSec}s]`;
}

/** Expectation line (spec §5.5). */
export function formatExpectLine(e: Expectation, t: DumpTiming): string {
  const port = (x: Tuple, which: 'src' | 'dst') => (which === 'src' ? x.sport : x.dport);
  let s = `proto=${e.tuple.proto} `;
  s += `src=${formatAddr(e.tuple.src)} dst=${formatAddr(e.tuple.dst)} sport=${port(e.tuple, 'src')} dport=${port(e.tuple, 'dst')} `;
  s += `mask-src=${formatAddr(e.mask.src)} mask-dst=${formatAddr(e.mask.dst)} sport=${port(e.mask, 'src')} dport=${port(e.mask, 'dst')} `;
  s += `master-src=${formatAddr(e.master.src)} master-dst=${formatAddr(e.master.dst)} sport=${port(e.master, 'src')} dport=${port(e.master, 'dst')} `;
  if (e.zone) s += `zone=${e.zone} `;
  if (e.class !== undefined) s += `class=${e.class} `;
  if (e.helper) s += `helper=${e.helper} `;
  if (t.expiresInSec !== undefined) s += `[expires in ${t.expiresInSec}s] `;
  return `${s}[active since ${t.activeSinceSec}s]`;
}

// ---- -x (XML) ----------------------------------------------------------------------------------

function xmlTuple(dir: 'original' | 'reply', t: Tuple | undefined): string {
  if (!t) {
    return `<meta direction="${dir}"><layer3 protonum="0" protoname="unknown"><src></src><dst></dst></layer3><layer4 protonum="0" protoname="unknown"></layer4></meta>`;
  }
  const l3 = t.family === 2 ? 'ipv4' : 'ipv6';
  let l4 = '';
  if (!isIcmp(t.proto) && PROTO_NAME[t.proto] !== undefined && t.proto !== 47) l4 = `<sport>${t.sport}</sport><dport>${t.dport}</dport>`;
  return (
    `<meta direction="${dir}"><layer3 protonum="${t.family}" protoname="${l3}"><src>${formatAddr(t.src)}</src><dst>${formatAddr(t.dst)}</dst></layer3>` +
    `<layer4 protonum="${t.proto}" protoname="${PROTO_NAME[t.proto] ?? 'unknown'}">${l4}</layer4></meta>`
  );
}

/** One `-x` line: the library's XML `<flow>` element, no timing suffix. */
export function formatFlowXml(f: Flow): string {
  let ind = '';
  const st = protoStateText(f).trim();
  if (st) ind += `<state>${st}</state>`;
  if (f.mark !== undefined) ind += `<mark>${f.mark >>> 0}</mark>`;
  if (f.secmark) ind += `<secmark>${f.secmark}</secmark>`;
  if (f.zone) ind += `<zone>${f.zone}</zone>`;
  if (f.id !== undefined) ind += `<id>${f.id >>> 0}</id>`;
  if (f.status !== undefined && (f.status & IPS.ASSURED) !== 0) ind += '<assured/>';
  if (f.status !== undefined && (f.status & IPS.SEEN_REPLY) === 0) ind += '<unreplied/>';
  return `<flow>${xmlTuple('original', f.orig)}${xmlTuple('reply', f.reply)}<meta direction="independent">${ind}</meta></flow>`;
}
