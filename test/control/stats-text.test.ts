/**
 * The text layouts against conntrackd 1.4.7's real output (fixtures/, see capture-conntrackd.sh):
 * inputs carry the numbers the real daemon printed; the formatted text must match byte for byte.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  type CacheCounters,
  type CacheDetail,
  formatCacheStats,
  formatDumpLine,
  formatExpectLine,
  formatFlowXml,
  formatLinkStats,
  formatNetworkStats,
  formatProcessStats,
  formatQueueStats,
  formatRsQueue,
  formatRuntimeStats,
  formatSyncStats,
  formatUptime,
  type LinkInfo,
} from '../../src/control/stats-text';
import { AF_INET, AF_INET6, parseAddr, u32id } from '../../src/flow/address';
import { type Expectation, type Flow, IPS, invertTuple, makeTuple } from '../../src/flow/flow';

const golden = (name: string) => readFileSync(join(__dirname, 'fixtures', `${name}.txt`), 'utf8');

const zero: CacheCounters = { active: 0, created: 0, createFailed: 0, updated: 0, updateFailed: 0, destroyed: 0, destroyFailed: 0 };
const four: CacheCounters = { ...zero, active: 4, created: 4 };
const linkA: LinkInfo = {
  kind: 'udp',
  device: 'ctcfga',
  status: 'RUNNING',
  role: 'ACTIVE',
  bytesSent: 424,
  bytesRecv: 72,
  packetsSent: 8,
  packetsRecv: 5,
  errorSend: 0,
  errorRecv: 0,
};

t.test('-s / -s ct (FTFW node A)', async (t) => {
  const text = formatSyncStats({
    internal: { kind: 'cache', counters: four },
    external: { kind: 'cache', counters: zero },
    traffic: { bytes: 0, packets: 0n },
    link: linkA,
    messages: { malformed: 0, lost: 0 },
  });
  t.equal(text, golden('ftfw-a-s-all'));
  t.equal(text, golden('ftfw-a-s-ct'));
});

t.test('-s on the receiving node (ALARM node B)', async (t) => {
  const text = formatSyncStats({
    internal: { kind: 'cache', counters: zero },
    external: { kind: 'cache', counters: four },
    traffic: { bytes: 0, packets: 0 },
    link: { ...linkA, device: 'ctcfgb', bytesSent: 0, bytesRecv: 360, packetsSent: 0, packetsRecv: 4 },
    messages: { malformed: 0, lost: 0 },
  });
  t.equal(text, golden('alarm-b-s-all'));
});

t.test('-s expect (same layout, expectation caches)', async (t) => {
  const text = formatSyncStats({
    internal: { kind: 'cache', counters: zero },
    external: { kind: 'cache', counters: zero },
    traffic: { bytes: 0, packets: 0 },
    link: linkA,
    messages: { malformed: 0, lost: 0 },
  });
  t.equal(text, golden('ftfw-a-s-expect'));
});

t.test('bypass / inject variants', async (t) => {
  const text = formatSyncStats({
    internal: { kind: 'bypass', new: 1, updated: 2, destroyed: 3 },
    external: { kind: 'inject', counters: { ...zero, created: 5, createFailed: 1 } },
    traffic: { bytes: 10, packets: 1 },
    link: linkA,
    messages: { malformed: 0, lost: 0 },
  });
  t.match(text, /^internal bypass:\nconnections new:\t\t {11}1\nconnections updated:\t\t {11}2\nconnections destroyed:\t\t {11}3\n\nexternal inject:\nconnections created:\t\t {11}5\tfailed:\t {11}1\n/);
});

t.test('-s network', async (t) => {
  const z = { malformed: 0, wrongVersion: 0, malformedHeader: 0, malformedPayload: 0, badType: 0, truncated: 0, badSize: 0, sendMalformed: 0, lost: 0, before: 0 };
  t.equal(formatNetworkStats({ ...z, link: linkA }), golden('ftfw-a-s-network'));
});

t.test('-s cache', async (t) => {
  const c = (name: string, n: number): CacheDetail => ({
    name,
    active: n,
    total: n,
    createOk: n,
    createFailed: 0,
    noMemory: 0,
    noSpace: 0,
    updateOk: 0,
    updateFailed: 0,
    updateNotFound: 0,
    deleteOk: 0,
    deleteFailed: 0,
    deleteNotFound: 0,
  });
  t.equal(formatCacheStats([c('internal', 4), c('external', 0)]), golden('ftfw-a-s-cache'));
  t.equal(formatCacheStats([c('internal', 0), c('external', 4)]), golden('alarm-b-s-cache'));
});

t.test('-s runtime and the uptime format', async (t) => {
  const text = formatRuntimeStats({
    uptimeSeconds: 5,
    eventsReceived: 4,
    eventsFiltered: 0,
    eventsUnknownType: 0,
    catchEventFailed: 0,
    dumpUnknownType: 0,
    netlinkOverrun: 0,
    flushKernelTable: 0,
    resyncKernelTable: 0,
    bufferSize: 2097152,
    childFailed: 0,
    childSegfault: 0,
    childTermsig: 0,
    selectFailed: 0,
    waitFailed: 0,
    localReadFailed: 0,
    localUnknownRequest: 0,
  });
  t.equal(text, golden('ftfw-a-s-runtime'));
  t.equal(formatUptime(59), '0 min');
  t.equal(formatUptime(3 * 3600 + 7 * 60), '3 h 7 min');
  t.equal(formatUptime(86400 + 60), '1 day 1 min');
  t.equal(formatUptime(2 * 86400 + 3600), '2 days 1 h 0 min');
});

t.test('-s link, rsqueue, queue, process', async (t) => {
  t.equal(formatLinkStats([linkA]), golden('ftfw-a-s-link'));
  t.equal(formatRsQueue([{ kind: 'control', seq: 1796045977, flags: 8 }]), golden('ftfw-a-s-rsqueue'));
  t.equal(formatRsQueue([{ kind: 'object', seq: 5 }]), 'resent queue (len=1)\nobject -> seq:5\n');
  t.equal(
    formatQueueStats(1, [
      { name: 'txqueue', current: 0, max: 2147483647, full: 0 },
      { name: 'errorq', current: 0, max: 128, full: 0 },
      { name: 'rsqueue', current: 1, max: 131072, full: 0 },
    ]),
    golden('ftfw-a-s-queue'),
  );
  t.equal(
    formatQueueStats(0, [
      { name: 'txqueue', current: 0, max: 2147483647, full: 0 },
      { name: 'errorq', current: 0, max: 128, full: 0 },
    ]),
    golden('alarm-a-s-queue'),
  );
  t.equal(formatProcessStats([]), golden('ftfw-a-s-process'));
  t.equal(formatProcessStats([{ pid: 42, type: 'commit' }]), 'PID=42 type=commit\n');
});

// The four entries the capture created in node A's kernel table (capture-conntrackd.sh).
const v4 = (s: string) => parseAddr(s);
const CONFIRMED = IPS.CONFIRMED;
const udp: Flow = {
  orig: makeTuple({ family: AF_INET, src: v4('192.168.1.11'), dst: v4('8.8.4.4'), proto: 17, sport: 5353, dport: 53 }),
  status: IPS.SEEN_REPLY | CONFIRMED,
  mark: 0,
  id: 2097099363,
};
const icmp: Flow = {
  orig: makeTuple({ family: AF_INET, src: v4('192.168.1.12'), dst: v4('8.8.8.8'), proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 }),
  status: CONFIRMED,
  mark: 0,
  id: u32id(2484483432), // kernel ids are kept signed (src/flow/address.ts); <id> prints the u32
};
const tcp: Flow = {
  orig: makeTuple({ family: AF_INET, src: v4('192.168.1.10'), dst: v4('8.8.8.8'), proto: 6, sport: 40000, dport: 443 }),
  status: IPS.SEEN_REPLY | IPS.ASSURED | CONFIRMED,
  mark: 4660,
  tcp: { state: 3 },
  id: 705298572,
};
const tcp6: Flow = {
  orig: makeTuple({ family: AF_INET6, src: parseAddr('2001:db8::1'), dst: parseAddr('2001:db8::2'), proto: 6, sport: 1000, dport: 22 }),
  status: IPS.SEEN_REPLY | IPS.ASSURED | CONFIRMED,
  mark: 0,
  tcp: { state: 3 },
  id: 1688710337,
};
const internal = [udp, icmp, tcp, tcp6].map((f) => ({ ...f, reply: invertTuple(f.orig) }));
/** What a peer knows: no reply tuple, no kernel id (spec §3.2). */
const external = [udp, icmp, tcp, tcp6].map((f) => {
  const { id: _id, ...rest } = f;
  return rest as Flow;
});

const lines = (s: string[]) => `${s.join('\n')}\n`;

t.test('-i dump lines (internal cache, with reply tuple)', async (t) => {
  t.equal(lines(internal.map((f) => formatDumpLine(f, { activeSinceSec: 3 }))), golden('ftfw-a-i'));
});

t.test('-e dump lines (external cache: no reply tuple)', async (t) => {
  t.equal(lines(external.map((f) => formatDumpLine(f, { activeSinceSec: 3 }))), golden('ftfw-b-e'));
});

t.test('-e dump lines in ALARM mode carry [expires in Ns]', async (t) => {
  const timing = [
    { activeSinceSec: 3, expiresInSec: 176 },
    { activeSinceSec: 3, expiresInSec: 176 },
    { activeSinceSec: 4, expiresInSec: 175 },
    { activeSinceSec: 3, expiresInSec: 176 },
  ];
  t.equal(lines(external.map((f, i) => formatDumpLine(f, timing[i]!))), golden('alarm-b-e'));
});

t.test('-x XML lines', async (t) => {
  t.equal(lines(internal.map(formatFlowXml)), golden('ftfw-a-i-x'));
  t.equal(lines(external.map(formatFlowXml)), golden('ftfw-b-e-x'));
});

t.test('expectation line (spec §5.5 layout)', async (t) => {
  const master = makeTuple({ family: AF_INET, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 6, sport: 40000, dport: 21 });
  const e: Expectation = {
    master,
    tuple: makeTuple({ family: AF_INET, src: v4('10.0.0.1'), dst: v4('10.0.0.2'), proto: 6, sport: 0, dport: 50000 }),
    mask: makeTuple({ family: AF_INET, src: v4('255.255.255.255'), dst: v4('255.255.255.255'), proto: 6, sport: 0, dport: 65535 }),
    class: 0,
    helper: 'ftp',
  };
  t.equal(
    formatExpectLine(e, { activeSinceSec: 2 }),
    'proto=6 src=10.0.0.1 dst=10.0.0.2 sport=0 dport=50000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.0.0.1 master-dst=10.0.0.2 sport=40000 dport=21 class=0 helper=ftp [active since 2s]',
  );
});
