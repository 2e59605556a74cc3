/**
 * The allocation-free variants of the receive and transmit hot paths (issue 8) behave exactly
 * like the general ones: walkDatagram with a scratch header, decodeDataBody vs
 * decodeDataMessage, and encodeCt's no-NAT shortcut vs natFromReply.
 */
import t from 'tap';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, IPS, invertTuple, makeTuple, natFromReply } from '../../src/flow/flow';
import {
  ctMessageLength,
  DEFAULT_WIRE_OPTIONS,
  decodeDataBody,
  decodeDataMessage,
  encodeCt,
  encodeCtl,
  type NetHeader,
  NET_F,
  newHeaderScratch,
  WireRxStats,
  walkDatagram,
} from '../../src/sync/wire';
import { writeU32 } from '../../src/sync/wire/options';

const opts = DEFAULT_WIRE_OPTIONS;

function tuple(src: string, dst: string, proto: number, sport = 0, dport = 0, icmp?: { type: number; code: number; id: number }) {
  const v6 = src.includes(':');
  const base = { family: v6 ? AF_INET6 : AF_INET, src: parseAddr(src), dst: parseAddr(dst), proto, sport, dport } as const;
  return makeTuple(icmp ? { ...base, icmpType: icmp.type, icmpCode: icmp.code, icmpId: icmp.id } : base);
}

function encode(f: Flow): Buffer {
  const len = ctMessageLength(f, opts);
  const b = Buffer.alloc(len);
  t.equal(encodeCt(b, 0, 1, 0, 7, f, opts), len, 'ctMessageLength matches');
  return b;
}

t.test('encodeCt: the no-NAT shortcut gives natFromReply bytes for every kind of reply', async (t) => {
  const o = tuple('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1234, 80);
  const o6 = tuple('2001:db8::1', '2001:db8::2', IPPROTO.UDP, 5353, 53);
  const icmp = tuple('10.0.0.1', '10.0.0.2', IPPROTO.ICMP, 0, 0, { type: 8, code: 0, id: 77 });
  const icmpReply = tuple('10.0.0.2', '10.0.0.1', IPPROTO.ICMP, 0, 0, { type: 0, code: 0, id: 77 });
  const gre = tuple('10.0.0.1', '10.0.0.2', IPPROTO.GRE);
  const cases: Array<[string, Flow]> = [
    ['tcp, plain inverse reply', { orig: o, reply: invertTuple(o), status: IPS.SEEN_REPLY, tcp: { state: 3 } }],
    ['udp over ipv6, plain inverse reply', { orig: o6, reply: invertTuple(o6), status: 0 }],
    ['tcp, SNAT in the reply', { orig: o, reply: tuple('10.0.0.2', '192.0.2.9', IPPROTO.TCP, 80, 40000), status: IPS.SRC_NAT_DONE }],
    ['tcp, DNAT in the reply', { orig: o, reply: tuple('10.9.9.9', '10.0.0.1', IPPROTO.TCP, 8080, 1234), status: IPS.DST_NAT_DONE }],
    ['tcp, NAT in the reply but not done', { orig: o, reply: tuple('10.9.9.9', '10.0.0.1', IPPROTO.TCP, 8080, 1234), status: 0 }],
    ['tcp, port-only SNAT', { orig: o, reply: tuple('10.0.0.2', '10.0.0.1', IPPROTO.TCP, 80, 999), status: IPS.SRC_NAT_DONE }],
    ['icmp echo', { orig: icmp, reply: icmpReply, status: 0 }],
    ['gre, inverse reply', { orig: gre, reply: invertTuple(gre), status: 0 }],
    ['explicit nat wins', { orig: o, reply: invertTuple(o), nat: { snatAddr: parseAddr('192.0.2.1') as number }, status: 0 }],
  ];
  for (const [name, f] of cases) {
    // reference: the NAT natFromReply derives, made explicit, and no reply tuple
    const ref: Flow = { ...f, reply: undefined, nat: natFromReply(f) };
    t.same(encode(f), encode(ref), name);
  }
});

function datagram(): Buffer {
  const f: Flow = { orig: tuple('10.0.0.1', '10.0.0.2', IPPROTO.TCP, 1, 2), status: 8, tcp: { state: 3 } };
  const parts: Buffer[] = [];
  for (let i = 0; i < 3; i++) parts.push(encode(f));
  const ack = Buffer.alloc(16);
  encodeCtl(ack, 0, NET_F.ACK, 99, 5, 9);
  parts.push(ack);
  const bad = encode(f);
  bad[0] = (bad[0]! & 0xf0) | 7; // type 7: bad type (counted by decode, not by the walk)
  parts.push(bad);
  const junk = encode(f);
  junk.writeUInt16BE(3, 8); // first attribute nta_len 3 < 4: malformed payload
  parts.push(junk);
  return Buffer.concat(parts);
}

t.test('walkDatagram with a scratch header: same headers, same counters, one object', async (t) => {
  const d = datagram();
  const fresh: NetHeader[] = [];
  const s1 = new WireRxStats();
  walkDatagram(d, 0, d.length, s1, (h) => fresh.push(h));
  const scratch = newHeaderScratch();
  const seen: NetHeader[] = [];
  const objs = new Set<NetHeader>();
  const s2 = new WireRxStats();
  walkDatagram(d, 0, d.length, s2, (h) => {
    objs.add(h);
    seen.push({ ...h });
  }, scratch);
  t.equal(fresh.length, 6);
  t.same(seen, fresh, 'same header values in the same order');
  t.same([...objs], [scratch], 'every message got the scratch object');
  t.same(s2, s1, 'same counters');
  t.equal(new Set(fresh).size, 6, 'without scratch each message has its own header');
});

t.test('decodeDataBody counts and returns what decodeDataMessage does', async (t) => {
  const d = datagram();
  const s1 = new WireRxStats();
  const s2 = new WireRxStats();
  const a: unknown[] = [];
  const b: unknown[] = [];
  walkDatagram(d, 0, d.length, new WireRxStats(), (h, buf, off, end) => {
    if (h.type === 10) return;
    const m = decodeDataMessage(h, buf, off, end, s1, opts);
    a.push(m === null ? null : m.kind === 'ct' ? m.flow : m.exp);
    b.push(decodeDataBody(h.type, buf, off, end, s2, opts));
  });
  t.equal(a.length, 5);
  t.same(b, a, 'same payloads (null for the bad type and the malformed one)');
  t.same(s2, s1, 'same rejection counters');
  t.equal(s2.badType, 1);
  t.equal(s2.malformedPayload, 1);
  t.equal(s2.attrTooShort, 1);
});

t.test('writeU32 stores what Buffer#writeUInt32BE(v >>> 0) stores', async (t) => {
  const vals = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fffffff, 0x80000000, 0xffffffff, -1, -(2 ** 31), 2 ** 32 + 5, 1.9, -1.5, 2 ** 53];
  for (const v of vals) {
    const a = Buffer.alloc(6, 0xaa);
    const b = Buffer.alloc(6, 0xaa);
    a.writeUInt32BE(v >>> 0, 1);
    writeU32(b, 1, v);
    t.same(b, a, String(v));
  }
});
