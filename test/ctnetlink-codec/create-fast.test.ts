/**
 * The bulk-create fast path of encodeConntrack (IPv4 TCP/UDP without NAT/master/zone/helper/
 * seq-adj/labels) must write exactly the bytes of the general encoder, for every optional
 * field combination, and leave every other flow to the general path.
 */
import t from 'tap';
import { encodeConntrack, encodeConntrackGeneral, type EncodeOpts } from '../../src/ctnetlink/codec';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, invertTuple, makeTuple } from '../../src/flow/flow';
import { NlBuilder } from '../../src/netlink/message';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomFlow(r: () => number): Flow {
  const u32 = () => Math.floor(r() * 2 ** 32) >>> 0;
  const u16 = () => Math.floor(r() * 65536);
  const u8 = () => Math.floor(r() * 256);
  const opt = <T>(v: () => T): T | undefined => (r() < 0.5 ? v() : undefined);
  const v6 = r() < 0.1;
  const proto = [IPPROTO.TCP, IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDP, IPPROTO.ICMP, IPPROTO.SCTP][Math.floor(r() * 6)]!;
  const orig = makeTuple({
    family: v6 ? AF_INET6 : AF_INET,
    src: v6 ? parseAddr('2001:db8::1') : u32(),
    dst: v6 ? parseAddr('2001:db8::2') : u32(),
    proto,
    sport: proto === IPPROTO.ICMP ? 0 : u16(),
    dport: proto === IPPROTO.ICMP ? 0 : u16(),
    icmpType: proto === IPPROTO.ICMP ? 8 : 0,
  });
  const f: Flow = { orig };
  const rr = r();
  if (rr < 0.4) f.reply = invertTuple(orig);
  else if (rr < 0.7 && !v6) f.reply = { ...invertTuple(orig), src: u32(), dport: proto === IPPROTO.ICMP ? 0 : u16() };
  const status = opt(u32);
  if (status !== undefined) f.status = status;
  const timeout = opt(u32);
  if (timeout !== undefined) f.timeout = timeout;
  const mark = opt(u32);
  if (mark !== undefined) f.mark = mark;
  if (r() < 0.6) {
    f.tcp = {};
    if (r() < 0.7) f.tcp.state = u8() % 10;
    if (r() < 0.5) f.tcp.wscaleOrig = u8() % 15;
    if (r() < 0.5) f.tcp.wscaleReply = u8() % 15;
    if (r() < 0.5) f.tcp.flagsOrig = u8();
    if (r() < 0.5) f.tcp.flagsReply = u8();
    if (r() < 0.2) f.tcp.maskOrig = u8();
    if (r() < 0.2) f.tcp.maskReply = u8();
  }
  if (r() < 0.5) f.synproxy = r() < 0.5 ? { isn: 0, its: 0, tsoff: 0 } : { isn: u32(), its: u32(), tsoff: u32() };
  // shapes the fast path must leave to the general encoder
  const slow = r();
  if (slow < 0.04) f.nat = { snatAddr: u32() };
  else if (slow < 0.08) f.zone = u16();
  else if (slow < 0.1) f.helper = 'ftp';
  else if (slow < 0.12) f.labels = new Uint8Array(16).fill(1);
  else if (slow < 0.14) f.master = makeTuple({ family: AF_INET, src: 1, dst: 2, proto: IPPROTO.TCP, sport: 3, dport: 21 });
  else if (slow < 0.16) f.seqAdjOrig = { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 };
  else if (slow < 0.18) f.orig.zone = 7;
  return f;
}

t.test('fast path output equals the general encoder, message by message and appended', async (t) => {
  const r = rng(12345);
  const fast = new NlBuilder(64); // small: exercises growth in reserve()
  const gen = new NlBuilder(64);
  let mismatches = 0;
  let first = '';
  for (let i = 0; i < 5000; i++) {
    const f = randomFlow(r);
    const opts: EncodeOpts = { ack: r() < 0.5, beLiberal: r() < 0.5 };
    if (r() < 0.3) opts.timeout = Math.floor(r() * 100000);
    if (i % 100 === 0) {
      fast.reset();
      gen.reset();
    }
    const before = fast.length;
    encodeConntrack(fast, f, 'create', i + 1, opts);
    encodeConntrackGeneral(gen, f, 'create', i + 1, opts);
    if (fast.length !== gen.length || !fast.bytes().subarray(before).equals(gen.bytes().subarray(before))) {
      mismatches++;
      if (!first) first = JSON.stringify({ f, opts });
    }
  }
  t.equal(mismatches, 0, first || 'byte-identical for 5000 random flows');
  t.ok(fast.bytes().equals(gen.bytes()), 'the appended batches are identical too');
});

t.test('reserve/setLength refuse misuse', async (t) => {
  const b = new NlBuilder(16);
  b.beginMsg(1, 0, 1);
  t.throws(() => b.reserve(8), /message is open/);
  b.endMsg();
  const buf = b.reserve(100);
  t.ok(buf.length >= b.length + 100);
  t.throws(() => b.setLength(b.length - 1), RangeError);
});
