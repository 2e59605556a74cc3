/** Unit tests of the wire codec: header, conntrack and expectation attributes, rejections. */
import t, { type Test } from 'tap';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Expectation, type Flow, IPPROTO, IPS, makeTuple } from '../../src/flow/flow';
import {
  DEFAULT_WIRE_OPTIONS,
  decodeCtBody,
  decodeDataMessage,
  decodeExpBody,
  encodeCt,
  encodeCtl,
  encodeExp,
  expMessageLength,
  ctMessageLength,
  isAckForm,
  NET_F,
  NTA,
  readHeader,
  WireDecodeError,
  WireRxStats,
  walkDatagram,
  walkStream,
  type WireOptions,
} from '../../src/sync/wire';

const opts = DEFAULT_WIRE_OPTIONS;

function v4(src: string, dst: string, proto: number, sport = 0, dport = 0) {
  return makeTuple({ family: AF_INET, src: parseAddr(src), dst: parseAddr(dst), proto, sport, dport });
}

function enc(flow: Flow, o: WireOptions = opts, type: 0 | 1 | 2 = 0): Buffer {
  const len = ctMessageLength(flow, o);
  const buf = Buffer.alloc(len + 8, 0xaa);
  const end = encodeCt(buf, 0, type, 0, 1234, flow, o);
  t.equal(end, len, 'ctMessageLength matches the encoded length');
  t.equal(buf.readUInt16BE(2), len, 'header len');
  t.equal(len % 4, 0, 'message length is a multiple of 4');
  return buf.subarray(0, len);
}

function roundTrip(t: Test, flow: Flow, o: WireOptions = opts): Flow {
  const b = enc(flow, o);
  const back = decodeCtBody(b, 8, b.length, o);
  const b2 = enc(back, o);
  t.ok(b2.equals(b), 're-encoding the decoded flow reproduces the bytes');
  return back;
}

t.test('control headers (spec §1.3 captured examples)', async (t) => {
  const b = Buffer.alloc(16);
  t.equal(encodeCtl(b, 0, NET_F.ACK | NET_F.HELLO | NET_F.HELLO_BACK, 1796039513, 1796039513, 1796039513), 16);
  t.equal(b.toString('hex'), '1a6800106b0d63596b0d63596b0d6359');
  const a = Buffer.alloc(8);
  t.equal(encodeCtl(a, 0, NET_F.ALIVE | NET_F.HELLO, 1796039512), 8);
  t.equal(a.toString('hex'), '1a3000086b0d6358');
  const r = Buffer.alloc(16);
  encodeCtl(r, 0, NET_F.RESYNC, 7);
  t.equal(r.toString('hex'), `1a02001000000007${'0'.repeat(16)}`, 'RESYNC is 16 bytes with from=to=0');
  t.ok(isAckForm(10, NET_F.NACK));
  t.notOk(isAckForm(0, NET_F.ACK), 'data messages never take the ack form');
  t.notOk(isAckForm(10, NET_F.ALIVE));
  t.same(readHeader(b, 0), { version: 1, type: 10, flags: 0x68, len: 16, seq: 1796039513, from: 1796039513, to: 1796039513 });
});

t.test('worked example §3.7 (84-byte CT_NEW)', async (t) => {
  const flow: Flow = {
    orig: v4('192.168.1.10', '8.8.8.8', IPPROTO.TCP, 40000, 443),
    status: 0x0e,
    timeout: 300,
    mark: 0x1234,
    tcp: { state: 3 },
    synproxy: { its: 0, isn: 0, tsoff: 0 },
  };
  const b = Buffer.alloc(84);
  encodeCt(b, 0, 0, 0, 1796039519, flow, opts);
  const want =
    '100000546b0d635f' +
    '000c0000c0a8010a08080808' +
    '000800050000000e' +
    '0005000206000000' +
    '000800039c4001bb' +
    '0005000403000000' +
    '000800060000012c' +
    '0008000700001234' +
    '0010001f' +
    '00'.repeat(12);
  t.equal(b.toString('hex'), want);
});

t.test('sizes: 84 plain, 108 SNAT+DNAT+SPAT from a kernel reply tuple', async (t) => {
  const orig = v4('10.99.1.44', '172.31.1.1', IPPROTO.TCP, 10000, 443);
  const base: Flow = { orig, status: 0xe, timeout: 600, mark: 0, tcp: { state: 3 }, synproxy: { its: 0, isn: 0, tsoff: 0 } };
  t.equal(ctMessageLength(base, opts), 84);
  const nat: Flow = {
    ...base,
    status: 0x1be,
    reply: v4('172.31.201.1', '172.31.200.1', IPPROTO.TCP, 443, 1324),
  };
  t.equal(ctMessageLength(nat, opts), 108);
  const back = roundTrip(t, nat);
  t.same(back.nat, { snatAddr: parseAddr('172.31.200.1'), dnatAddr: parseAddr('172.31.201.1'), snatPort: 1324 });
  t.equal(back.reply, undefined, 'no reply tuple on decode');
  // SNAT not yet done: no SNAT attributes even if the reply tuple differs (spec §3.3 rule 8)
  const notDone: Flow = { ...nat, status: IPS.DST_NAT_DONE | 0xe };
  t.equal(ctMessageLength(notDone, opts), 92, 'only DNAT_IPV4');
});

t.test('options: portsHostLE, sendTimeout, tcpWindowTracking', async (t) => {
  const flow: Flow = {
    orig: v4('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1, 2),
    status: 0x19e,
    timeout: 10,
    tcp: { state: 3, wscaleOrig: 7, wscaleReply: 9 },
    nat: { snatPort: 0x1234 },
  };
  const le = enc(flow);
  t.not(le.indexOf(Buffer.from('0006000e3412', 'hex')), -1, 'SPAT little-endian by default');
  const be = enc(flow, { ...opts, portsHostLE: false });
  t.not(be.indexOf(Buffer.from('0006000e1234', 'hex')), -1, 'SPAT big-endian for BE peers');
  t.equal(decodeCtBody(be, 8, be.length, { ...opts, portsHostLE: false }).nat?.snatPort, 0x1234);
  t.equal(decodeCtBody(be, 8, be.length, opts).nat?.snatPort, 0x3412, 'mismatched byte order swaps, as between x86 and BE conntrackd');
  const noTo = enc(flow, { ...opts, sendTimeout: false });
  t.equal(noTo.length, le.length - 8);
  t.equal(decodeCtBody(noTo, 8, noTo.length, opts).timeout, undefined, 'no TIMEOUT with CommitTimeout');
  const ws = { ...opts, tcpWindowTracking: true };
  const back = roundTrip(t, flow, ws);
  t.same(back.tcp, { state: 3, wscaleOrig: 7, wscaleReply: 9 });
  t.same(decodeCtBody(le, 8, le.length, opts).tcp, { state: 3 }, 'no wscale without TCPWindowTracking');
});

t.test('every attribute round-trips', async (t) => {
  const v6 = (s: string) => parseAddr(s) as string;
  const labels = new Uint8Array(16);
  labels[0] = 0x01; // label 0
  labels[5] = 0x80; // label 47
  const flow: Flow = {
    orig: makeTuple({ family: AF_INET6, src: v6('2001:db8::1'), dst: v6('2001:db8::2'), proto: IPPROTO.SCTP, sport: 5000, dport: 6000 }),
    status: 0x2000 | 0xe,
    timeout: 77,
    mark: 0xdeadbeef,
    zone: 513,
    sctp: { state: 3, vtagOrig: 0x01020304, vtagReply: 0xa0b0c0d0 },
    master: makeTuple({ family: AF_INET6, src: v6('2001:db8::1'), dst: v6('2001:db8::2'), proto: IPPROTO.TCP, sport: 1, dport: 21 }),
    nat: { snatAddr: v6('2001:db8::99'), dnatAddr: v6('2001:db8::98'), snatPort: 1000, dnatPort: 2000 },
    seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
    seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 0xffffffff },
    helper: 'ftp',
    labels,
    synproxy: { its: 1, isn: 2, tsoff: 3 },
  };
  const b = enc(flow);
  const back = roundTrip(t, flow);
  t.same(back.orig, flow.orig);
  t.same(back.master, flow.master);
  t.same(back.nat, flow.nat);
  t.same([back.status, back.timeout, back.mark, back.zone, back.helper], [flow.status, flow.timeout, flow.mark, flow.zone, 'ftp']);
  t.same(back.sctp, flow.sctp);
  t.same(back.seqAdjOrig, flow.seqAdjOrig);
  t.same(back.seqAdjReply, flow.seqAdjReply);
  t.same(back.synproxy, flow.synproxy);
  t.same([...(back.labels ?? [])], [...labels], 'labels back in kernel byte order');
  // NTA_LABELS: maxbit 47 -> 2 BE words: word0 = 0x00000001, word1 bit 15 = 0x00008000
  t.not(b.indexOf(Buffer.from('000c001c0000000100008000', 'hex')), -1, 'labels as BE words, floor(maxbit/32)+1 of them');
  // synproxy order its, isn, tsoff
  t.not(b.indexOf(Buffer.from('0010001f000000010000000200000003', 'hex')), -1);
  // ICMP with host-order id, DCCP, UDP, GRE
  const icmp = roundTrip(t, { orig: makeTuple({ family: AF_INET, src: 1, dst: 2, proto: IPPROTO.ICMP, icmpType: 8, icmpCode: 0, icmpId: 0x1234 }) });
  t.equal(icmp.orig.icmpId, 0x1234);
  t.equal(icmp.orig.icmpType, 8);
  const dccp = roundTrip(t, { orig: v4('1.1.1.1', '2.2.2.2', IPPROTO.DCCP, 3, 4), dccp: { state: 2, role: 1 } });
  t.same(dccp.dccp, { state: 2, role: 1 });
  const udp = enc({ orig: v4('1.1.1.1', '2.2.2.2', IPPROTO.UDP, 53, 53), status: 0, timeout: 30 });
  t.equal(udp.length, 52, 'IPv4 UDP minimal = 52 bytes (spec §3.3)');
  const gre = enc({ orig: v4('1.1.1.1', '2.2.2.2', IPPROTO.GRE) });
  t.equal(gre.length, 8 + 12 + 8 + 8, 'GRE: no port attribute');
  // empty label bitmap is not sent
  t.equal(ctMessageLength({ orig: v4('1.1.1.1', '2.2.2.2', IPPROTO.GRE), labels: new Uint8Array(16) }, opts), 36);
});

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof WireDecodeError ? e.reason : `other: ${String(e)}`;
  }
  return 'accepted';
}

function body(...attrs: Buffer[]): Buffer {
  return Buffer.concat(attrs);
}
function attr(id: number, payload: Buffer, len = 4 + payload.length): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(len, 0);
  h.writeUInt16BE(id, 2);
  const pad = Buffer.alloc((4 - (payload.length % 4)) % 4);
  return Buffer.concat([h, payload, pad]);
}
const IPV4 = attr(NTA.IPV4, Buffer.from('0a0000010a000002', 'hex'));

t.test('decode rejections (spec §3.4)', async (t) => {
  const cases: [string, Buffer, string][] = [
    ['unknown id 33', body(IPV4, attr(33, Buffer.alloc(4))), 'unknownAttr'],
    ['fixed size mismatch', body(IPV4, attr(NTA.STATUS, Buffer.alloc(2))), 'badAttrSize'],
    ['nta_len past end', body(IPV4, attr(NTA.MARK, Buffer.alloc(4), 40)), 'attrPastEnd'],
    ['nta_len < 4', body(IPV4, attr(NTA.MARK, Buffer.alloc(4), 3)), 'attrTooShort'],
    ['helper name of 12 chars', body(IPV4, attr(NTA.HELPER_NAME, Buffer.from('abcdefghijkl\0'))), 'attrTooLong'],
    ['labels above 1028', body(IPV4, attr(NTA.LABELS, Buffer.alloc(1028))), 'attrTooLong'],
    ['no address', body(attr(NTA.MARK, Buffer.alloc(4))), 'missingTuple'],
  ];
  for (const [name, b, reason] of cases) {
    try {
      decodeCtBody(b, 0, b.length, opts);
      t.fail(`${name}: accepted`);
    } catch (e) {
      t.ok(e instanceof WireDecodeError, `${name}: WireDecodeError`);
      t.equal((e as WireDecodeError).reason, reason, `${name}: reason ${reason}`);
      t.equal((e as WireDecodeError).code, 'CTSYNC_ERR_WIRE');
    }
  }
  // accepted oddities
  const h11 = decodeCtBody(body(IPV4, attr(NTA.HELPER_NAME, Buffer.from('abcdefghijk\0'))), 0, 32, opts);
  t.equal(h11.helper, 'abcdefghijk', '11-char helper accepted');
  const lb = body(IPV4, attr(NTA.LABELS, Buffer.alloc(3, 0xff)));
  t.equal(decodeCtBody(lb, 0, lb.length, opts).labels, undefined, 'labels not a multiple of 4: ignored');
  const big = body(IPV4, attr(NTA.LABELS, Buffer.alloc(1024, 0xff)));
  t.equal(decodeCtBody(big, 0, big.length, opts).labels?.length, 1024, '1024-byte labels accepted');
  const trail = Buffer.concat([IPV4, Buffer.from([0, 8, 0, 5])]);
  t.same(decodeCtBody(trail, 0, trail.length, opts).status, undefined, '4 trailing bytes are not an attribute');
});

t.test('walkDatagram validation order (spec §1.5)', async (t) => {
  const msgs: number[] = [];
  const run = (b: Buffer) => {
    const s = new WireRxStats();
    msgs.length = 0;
    walkDatagram(b, 0, b.length, s, (h) => msgs.push(h.seq));
    return s;
  };
  const alive = (seq: number) => {
    const b = Buffer.alloc(8);
    encodeCtl(b, 0, NET_F.ALIVE, seq);
    return b;
  };
  const ack = (seq: number) => {
    const b = Buffer.alloc(16);
    encodeCtl(b, 0, NET_F.ACK, seq, 1, 2);
    return b;
  };
  let s = run(Buffer.concat([alive(1), ack(2), alive(3)]));
  t.same(msgs, [1, 2, 3]);
  t.equal(s.malformed, 0);
  s = run(Buffer.concat([alive(1), Buffer.alloc(5)]));
  t.same([msgs, s.truncated, s.malformed], [[1], 1, 1], 'fewer than 8 bytes left: truncated');
  const zero = alive(9);
  zero.writeUInt16BE(0, 2);
  s = run(Buffer.concat([zero, alive(1)]));
  t.same([msgs, s.badSize, s.malformed], [[], 1, 1], 'len 0 stops the datagram');
  const long = alive(9);
  long.writeUInt16BE(12, 2);
  s = run(long);
  t.same([s.badSize], [1], 'len past the end');
  const shortAck = ack(5).subarray(0, 12);
  shortAck.writeUInt16BE(12, 2);
  s = run(shortAck);
  t.same([s.truncated, s.badSize], [1, 0], 'ack form with < 16 bytes left: truncated');
  const smallAck = Buffer.concat([ack(5), alive(6)]);
  smallAck.writeUInt16BE(8, 2);
  s = run(smallAck);
  t.same([s.badSize, msgs], [1, []], 'ack form with len < 16: bad size');
  const small = Buffer.concat([alive(1)]);
  small.writeUInt16BE(4, 2);
  s = run(small);
  t.same([s.badSize], [1], 'len < 8: bad size');
  const v2 = alive(7);
  v2[0] = 0x2a;
  s = run(Buffer.concat([v2, alive(8)]));
  t.same([msgs, s.badVersion, s.malformed, s.messages], [[8], 1, 1, 2], 'wrong version skips only that message');
  // bad type and payload counted by decodeDataMessage
  const st = new WireRxStats();
  const d = Buffer.alloc(8);
  d[0] = 0x17;
  d.writeUInt16BE(8, 2);
  walkDatagram(d, 0, 8, st, (h, b, o, e) => t.equal(decodeDataMessage(h, b, o, e, st, opts), null));
  t.same([st.badType, st.malformed], [1, 1], 'type 7: bad type');
  const bad = Buffer.concat([Buffer.from('10000014000000ff', 'hex'), attr(40, Buffer.alloc(8))]);
  walkDatagram(bad, 0, bad.length, st, (h, b, o, e) => t.equal(decodeDataMessage(h, b, o, e, st, opts), null));
  t.same([st.malformedPayload, st.unknownAttr, st.malformed], [1, 1, 2], 'unknown attribute: malformed payload');
});

t.test('expectations (spec §3.5)', async (t) => {
  const exp: Expectation = {
    master: v4('192.168.1.10', '10.0.0.1', IPPROTO.TCP, 40000, 21),
    tuple: v4('10.0.0.1', '192.168.1.10', IPPROTO.TCP, 0, 50000),
    mask: v4('255.255.255.255', '255.255.255.255', IPPROTO.TCP, 0, 0xffff),
    timeout: 300,
    flags: 0,
    class: 0,
    helper: 'ftp',
  };
  const len = expMessageLength(exp, opts);
  t.equal(len, 124, 'FTP PORT expectation: 124 bytes as captured');
  const b = Buffer.alloc(len);
  t.equal(encodeExp(b, 0, 3, 0, 5, exp, opts), len);
  const ids: number[] = [];
  for (let p = 8; p < len; p += (b.readUInt16BE(p) + 3) & ~3) ids.push(b.readUInt16BE(p + 2));
  t.same(ids, [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 19], 'attribute order');
  const back = decodeExpBody(b, 8, len, opts);
  t.same(back, exp);
  const withNat: Expectation = { ...exp, nat: { dir: 1, tuple: v4('1.2.3.4', '5.6.7.8', IPPROTO.TCP, 1, 2) }, fn: 'nat-follow-master' };
  const b2 = Buffer.alloc(expMessageLength(withNat, opts));
  t.equal(encodeExp(b2, 0, 4, 0, 6, withNat, opts), b2.length);
  t.same(decodeExpBody(b2, 8, b2.length, opts), withNat);
  const fnTooLong = body(attr(0, Buffer.alloc(8)), attr(4, Buffer.alloc(8)), attr(20, Buffer.alloc(29, 0x41)));
  t.equal(reasonOf(() => decodeExpBody(fnTooLong, 0, fnTooLong.length, opts)), 'attrTooLong', 'fn too long');
  const unknown = body(attr(0, Buffer.alloc(8)), attr(21, Buffer.alloc(4)));
  t.equal(reasonOf(() => decodeExpBody(unknown, 0, unknown.length, opts)), 'unknownAttr', 'unknown exp attr');
  const st = new WireRxStats();
  const msg = Buffer.concat([b]);
  walkDatagram(msg, 0, msg.length, st, (h, bb, o, e) => {
    const m = decodeDataMessage(h, bb, o, e, st, opts);
    t.equal(m?.kind, 'exp');
  });
});

t.test('walkStream keeps a trailing partial message (TCP channel)', async (t) => {
  const a = Buffer.alloc(8);
  encodeCtl(a, 0, NET_F.ALIVE, 1);
  const k = Buffer.alloc(16);
  encodeCtl(k, 0, NET_F.ACK, 2, 5, 6);
  const stream = Buffer.concat([a, k, a]);
  const seqs: number[] = [];
  const s = new WireRxStats();
  for (const cut of [8 + 4, 8 + 12, 8 + 16 + 5]) {
    seqs.length = 0;
    const next = walkStream(stream, 0, cut, s, (h) => seqs.push(h.seq));
    const rest = walkStream(Buffer.concat([stream.subarray(next, cut), stream.subarray(cut)]), 0, stream.length - next, s, (h) => seqs.push(h.seq));
    t.equal(rest, stream.length - next, `cut at ${cut}: the rest is consumed`);
    t.same(seqs, [1, 2, 1], `cut at ${cut}: every message once, in order`);
  }
  t.equal(s.malformed, 0, 'partial tails are not errors on a stream');
  const zero = Buffer.from(a);
  zero.writeUInt16BE(0, 2);
  t.equal(walkStream(Buffer.concat([zero, a]), 0, 16, s, () => {}), 16, 'len 0 desynchronises: rest discarded');
  t.equal(s.badSize, 1);
});
