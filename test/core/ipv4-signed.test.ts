/**
 * IPv4 addresses and kernel conntrack ids are kept as SIGNED int32 (src/flow/address.ts), so
 * addresses >= 128.0.0.0 and ids >= 2^31 stay V8 small integers instead of heap numbers. The
 * risk is consistency: every producer (kernel decoder, wire decoder, parseAddr, makeTuple) must
 * give the same value for the same address, and every consumer that prints or encodes must put
 * out the unsigned u32. These tests use such "high" values on every path.
 */
import t from 'tap';
import { internalCtCache } from '../../src/cache/cache';
import { type CtFlow, decodeConntrack, encodeConntrack } from '../../src/ctnetlink/codec';
import { CTA, CTA_IP, CTA_NAT, CTA_PROTO, CTA_TUPLE } from '../../src/ctnetlink/constants';
import { flowToJson, formatConntrackLine } from '../../src/ctnetlink/format';
import { FlowFilter } from '../../src/filter/flow-filter';
import { AF_INET, cidrContains, formatAddr, ipv4, parseAddr, parseCidr, readAddr, u32id, writeAddr } from '../../src/flow/address';
import { type Expectation, type Flow, IPPROTO, IPS, invertTuple, makeTuple } from '../../src/flow/flow';
import { flowKey } from '../../src/flow/key';
import {
  forEachNlMsg,
  IPCTNL_MSG_CT_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NlBuilder,
  type NlMsg,
  nfAttrOff,
  nfnlMsgType,
  readNfgenFamily,
} from '../../src/netlink/message';
import { ctMessageLength, DEFAULT_WIRE_OPTIONS, decodeCtBody, decodeExpBody, encodeCt, encodeExp, expMessageLength } from '../../src/sync/wire';

const SRC = '192.168.1.10';
const DST = '198.51.100.1';
const SNAT = '203.0.113.250';
const ID = 0xd1fad56a; // 3522876778: a kernel id >= 2^31 (fixtures/dump-extended-id.txt)

/** A small integer: what V8 can keep unboxed. Fails for any u32 >= 2^31. */
function isInt32(v: unknown): boolean {
  return typeof v === 'number' && (v | 0) === v;
}

function oneMsg(buf: Buffer): NlMsg {
  const out: NlMsg[] = [];
  forEachNlMsg(buf, 0, buf.length, (m) => out.push(m));
  if (out.length !== 1) throw new Error(`expected one message, got ${out.length}`);
  return out[0]!;
}

function decodeOne(buf: Buffer): CtFlow {
  const m = oneMsg(buf);
  return decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m));
}

function tupleNest(b: NlBuilder, type: number, src: number, dst: number, sport: number, dport: number): void {
  const outer = b.beginNest(type);
  const ip = b.beginNest(CTA_TUPLE.IP);
  b.attrU32BE(CTA_IP.V4_SRC, src);
  b.attrU32BE(CTA_IP.V4_DST, dst);
  b.endNest(ip);
  const p = b.beginNest(CTA_TUPLE.PROTO);
  b.attrU8(CTA_PROTO.NUM, IPPROTO.TCP);
  b.attrU16BE(CTA_PROTO.SRC_PORT, sport);
  b.attrU16BE(CTA_PROTO.DST_PORT, dport);
  b.endNest(p);
  b.endNest(outer);
}

/** A kernel-style NEW event as the kernel sends it: unsigned u32 values written as bytes. */
function kernelEvent(): Buffer {
  const s = 0xc0a8010a; // 192.168.1.10
  const d = 0xc6336401; // 198.51.100.1
  const b = new NlBuilder();
  b.beginMsg(nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW), NLM_F_CREATE | NLM_F_EXCL, 0).nfgen(AF_INET);
  tupleNest(b, CTA.TUPLE_ORIG, s, d, 40000, 443);
  tupleNest(b, CTA.TUPLE_REPLY, d, s, 443, 40000);
  b.attrU32BE(CTA.STATUS, IPS.CONFIRMED | IPS.SEEN_REPLY);
  b.attrU32BE(CTA.TIMEOUT, 120);
  b.attrU32BE(CTA.ID, ID);
  b.endMsg();
  return Buffer.from(b.bytes());
}

function parsedFlow(): Flow {
  const orig = makeTuple({ family: AF_INET, src: parseAddr(SRC), dst: parseAddr(DST), proto: IPPROTO.TCP, sport: 40000, dport: 443 });
  return { orig, reply: invertTuple(orig), status: IPS.CONFIRMED | IPS.SEEN_REPLY, timeout: 120 };
}

t.test('parseAddr, readAddr, makeTuple and ipv4() agree on one signed value', async (t) => {
  const a = parseAddr(SRC);
  t.ok(isInt32(a), 'parseAddr gives an int32');
  t.equal(a, ipv4(0xc0a8010a), 'parseAddr === ipv4(u32)');
  t.equal(a, 0xc0a8010a | 0);
  t.equal(readAddr(Buffer.from('c0a8010a', 'hex'), 0, AF_INET), a, 'readAddr');
  t.equal(makeTuple({ family: AF_INET, src: 0xc0a8010a, dst: 0xffffffff, proto: 6 }).src, a, 'makeTuple normalises a u32');
  t.equal(makeTuple({ family: AF_INET, src: 0xc0a8010a, dst: 0xffffffff, proto: 6 }).dst, -1);
  const buf = Buffer.alloc(4);
  writeAddr(buf, 0, a);
  t.equal(buf.toString('hex'), 'c0a8010a', 'writeAddr writes the u32 bytes');
  for (const s of ['0.0.0.0', '127.255.255.255', '128.0.0.0', SRC, '255.255.255.255', '224.0.0.1']) {
    t.equal(formatAddr(parseAddr(s)), s, `format(parse(${s}))`);
    t.ok(isInt32(parseAddr(s)), `${s} is an int32`);
  }
  t.equal(formatAddr(parseAddr('::ffff:192.168.1.10')), '::ffff:c0a8:10a', 'v4 inside v6 text');
  t.equal(u32id(ID), ID | 0);
});

t.test('CIDR matching is consistent for high addresses', async (t) => {
  const net = parseCidr('192.168.0.0/16');
  t.ok(cidrContains(net, parseAddr(SRC)));
  t.ok(cidrContains(net, parseAddr('192.168.255.255')));
  t.notOk(cidrContains(net, parseAddr('192.169.0.0')));
  t.notOk(cidrContains(net, parseAddr('10.0.0.1')));
  t.ok(cidrContains(parseCidr('128.0.0.0/1'), parseAddr('255.0.0.1')));
  t.notOk(cidrContains(parseCidr('128.0.0.0/1'), parseAddr('127.0.0.1')));
  t.ok(cidrContains(parseCidr('0.0.0.0/0'), parseAddr('255.255.255.255')));
  t.ok(cidrContains(parseCidr('255.255.255.255/32'), parseAddr('255.255.255.255')));
});

t.test('kernel event: decoded addresses and id are int32, format and JSON print the u32', async (t) => {
  const f = decodeOne(kernelEvent());
  t.ok(isInt32(f.orig.src) && isInt32(f.orig.dst), 'tuple addresses are int32');
  t.ok(isInt32(f.reply!.src) && isInt32(f.reply!.dst), 'reply addresses are int32');
  t.equal(f.orig.src, parseAddr(SRC), 'kernel address === parseAddr');
  t.equal(f.orig.dst, parseAddr(DST));
  t.ok(isInt32(f.id), 'id is int32');
  t.equal(f.id, ID | 0);
  t.equal(flowKey(f), flowKey(parsedFlow()), 'same cache key as the parsed flow');
  const line = formatConntrackLine(f, { showId: true });
  t.match(line, `src=${SRC} dst=${DST} sport=40000 dport=443 src=${DST} dst=${SRC}`);
  t.match(line, / id=3522876778$/, 'id printed unsigned');
  const j = flowToJson(f) as { id: number; orig: { src: string; dst: string } };
  t.equal(j.id, 3522876778, 'JSON id unsigned');
  t.equal(j.orig.src, SRC);
  t.equal(j.orig.dst, DST);
  t.equal(JSON.parse(JSON.stringify(j)).id, 3522876778);
});

t.test('ctnetlink: decode -> encode of a high-address flow reproduces the bytes', async (t) => {
  const f = decodeOne(kernelEvent());
  const fromKernel = new NlBuilder();
  encodeConntrack(fromKernel, f, 'create', 7, { ack: true });
  const fromParsed = new NlBuilder();
  encodeConntrack(fromParsed, parsedFlow(), 'create', 7, { ack: true });
  const a = Buffer.from(fromKernel.bytes());
  t.ok(a.equals(Buffer.from(fromParsed.bytes())), 'decoded-kernel flow encodes like the parsed one');
  // CTA_IP_V4_SRC, CTA_IP_V4_DST attributes with the u32 bytes
  t.ok(a.includes(Buffer.from('08000100c0a8010a08000200c6336401', 'hex')), 'u32 address bytes on the wire');
  // the request decodes back to the same values, and re-encodes to the same bytes
  const back = decodeOne(a);
  t.equal(back.orig.src, parseAddr(SRC));
  const again = new NlBuilder();
  encodeConntrack(again, back, 'create', 7, { ack: true });
  t.ok(Buffer.from(again.bytes()).equals(a), 'decode -> encode is byte-identical');

  // NAT request (general encoder path): V4_MINIP/MAXIP of a high address
  const nf: Flow = { ...parsedFlow(), reply: undefined, nat: { snatAddr: parseAddr(SNAT), snatPort: 1024 } };
  const nb = new NlBuilder();
  encodeConntrack(nb, nf, 'create', 8, { ack: true });
  const nbytes = Buffer.from(nb.bytes());
  const nback = decodeOne(nbytes);
  t.ok(isInt32(nback.nat?.snatAddr), 'decoded snatAddr is int32');
  t.equal(nback.nat?.snatAddr, parseAddr(SNAT));
  const nb2 = new NlBuilder();
  encodeConntrack(nb2, nback, 'create', 8, { ack: true });
  t.ok(Buffer.from(nb2.bytes()).equals(nbytes), 'NAT request re-encodes byte-identically');
  // the NAT nest holds the u32 bytes (CTA_NAT_V4_MINIP)
  const want = Buffer.alloc(8);
  want.writeUInt16LE(8, 0);
  want.writeUInt16LE(CTA_NAT.V4_MINIP, 2);
  want.writeUInt32BE(0xcb0071fa, 4); // 203.0.113.250
  t.ok(nbytes.includes(want), 'CTA_NAT_V4_MINIP carries the u32');
});

t.test('wire: encode -> decode -> encode with high addresses (conntrack and expectation)', async (t) => {
  const o = DEFAULT_WIRE_OPTIONS;
  const f: Flow = {
    ...parsedFlow(),
    reply: undefined,
    master: makeTuple({ family: AF_INET, src: parseAddr('172.16.0.1'), dst: parseAddr('172.31.255.254'), proto: IPPROTO.TCP, sport: 1, dport: 21 }),
    nat: { snatAddr: parseAddr(SNAT), dnatAddr: parseAddr('255.255.255.254') },
  };
  const len = ctMessageLength(f, o);
  const buf = Buffer.alloc(len);
  encodeCt(buf, 0, 0, 0, 1, f, o);
  t.ok(buf.includes(Buffer.from('c0a8010ac6336401', 'hex')), 'u32 bytes on the wire');
  const back = decodeCtBody(buf, 8, len, o);
  for (const v of [back.orig.src, back.orig.dst, back.master!.src, back.master!.dst, back.nat!.snatAddr, back.nat!.dnatAddr]) t.ok(isInt32(v), `${v} is int32`);
  t.equal(back.orig.src, parseAddr(SRC));
  t.equal(back.nat!.dnatAddr, parseAddr('255.255.255.254'));
  t.equal(flowKey(back), flowKey(f));
  const buf2 = Buffer.alloc(len);
  encodeCt(buf2, 0, 0, 0, 1, back, o);
  t.ok(buf2.equals(buf), 're-encoding reproduces the bytes');

  const m = makeTuple({ family: AF_INET, src: parseAddr('192.168.7.1'), dst: parseAddr('203.0.113.9'), proto: IPPROTO.TCP, sport: 40000, dport: 21 });
  const e: Expectation = {
    master: m,
    tuple: makeTuple({ family: AF_INET, src: m.src, dst: m.dst, proto: IPPROTO.TCP, sport: 0, dport: 50000 }),
    mask: makeTuple({ family: AF_INET, src: 0xffffffff, dst: 0xffffffff, proto: IPPROTO.TCP, sport: 0, dport: 0xffff }),
    timeout: 300,
    flags: 0,
  };
  const el = expMessageLength(e, o);
  const eb = Buffer.alloc(el);
  encodeExp(eb, 0, 5, 0, 1, e, o);
  const eback = decodeExpBody(eb, 8, el, o);
  t.equal(eback.mask.src, -1, 'mask 255.255.255.255 decodes to the signed form');
  t.equal(eback.master.src, parseAddr('192.168.7.1'));
  t.equal(eback.tuple.dst, parseAddr('203.0.113.9'));
  const eb2 = Buffer.alloc(el);
  encodeExp(eb2, 0, 5, 0, 1, eback, o);
  t.ok(eb2.equals(eb), 'expectation re-encodes byte-identically');
});

t.test('filter: a 192.168.0.0/16 rule matches a flow decoded from the kernel', async (t) => {
  const f = decodeOne(kernelEvent());
  const accept = new FlowFilter({ address: { mode: 'accept', cidrs: [parseCidr('192.168.0.0/16')] } });
  t.ok(accept.test(f), 'accept 192.168.0.0/16 passes 192.168.1.10');
  const ignore = new FlowFilter({ address: { mode: 'ignore', cidrs: [parseCidr('192.168.0.0/16')] } });
  t.notOk(ignore.test(f), 'ignore 192.168.0.0/16 drops it');
  const exact = new FlowFilter({ address: { mode: 'ignore', cidrs: [parseCidr(`${DST}/32`)] } });
  t.notOk(exact.test(f), 'exact /32 rule (Set lookup) matches the decoded reply source');
  const self = new FlowFilter({}, [parseCidr(SRC)]);
  t.equal(self.verdict(f), 'selfAddress', 'sync-link address (parseCidr) matches the decoded source');
});

t.test('cache: key from a decoded kernel flow, probe from parseAddr', async (t) => {
  const c = internalCtCache(0);
  c.apply('new', decodeOne(kernelEvent()), false, 1000);
  const probe = parsedFlow();
  const hit = c.find(probe);
  t.ok(hit, 'parsed-address probe finds the kernel flow');
  t.equal(hit?.data.id, ID | 0);
  // and the other way round
  const c2 = internalCtCache(0);
  c2.apply('new', parsedFlow(), false, 1000);
  t.ok(c2.find(decodeOne(kernelEvent())), 'kernel-decoded probe finds the parsed flow');
});
