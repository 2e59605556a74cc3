/**
 * Error corpus: malformed framing and attributes must raise CtnetlinkDecodeError with the
 * right reason (code CTSYNC_ERR_CT_DECODE), never a RangeError or a silent misread.
 */
import t, { type Test } from 'tap';
import { CtsyncError } from '../../src/core/errors';
import {
  type CtDecodeReason,
  CtDecodeStats,
  CtnetlinkDecodeError,
  conntrackEventType,
  decodeConntrack,
  decodeExpectation,
} from '../../src/ctnetlink/codec';
import { CTA, CTA_IP, CTA_PROTO, CTA_TUPLE } from '../../src/ctnetlink/constants';
import { AF_INET } from '../../src/flow/address';
import { NlAttrIter } from '../../src/netlink/attr';
import {
  forEachNlMsg,
  NLMSG_DONE,
  NLMSG_ERROR,
  NlBuilder,
  type NlMsg,
  nfAttrOff,
  parseNlError,
  readNfgenFamily,
} from '../../src/netlink/message';
import { loadDatagrams, messages } from './fixtures/load';

/** Full receive path as the socket layer will run it over one datagram. */
function decodeDatagram(buf: Buffer): number {
  let n = 0;
  forEachNlMsg(buf, 0, buf.length, (m) => {
    if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) return;
    decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m));
    n++;
  });
  return n;
}

function expectReason(t: Test, fn: () => unknown, reason: CtDecodeReason, what: string): void {
  try {
    fn();
    t.fail(`${what}: no error`);
  } catch (e) {
    t.ok(e instanceof CtnetlinkDecodeError, `${what}: typed error (${(e as Error).message})`);
    t.ok(e instanceof CtsyncError);
    t.equal((e as CtnetlinkDecodeError).code, 'CTSYNC_ERR_CT_DECODE');
    t.equal((e as CtnetlinkDecodeError).reason, reason, `${what}: reason`);
  }
}

/** A message around hand-made attribute bytes (the nfgenmsg included). */
function msgWith(attrs: Buffer, nlLen?: number): Buffer {
  const len = 16 + 4 + attrs.length;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(nlLen ?? len, 0);
  b.writeUInt16LE(0x100, 4);
  b[16] = AF_INET;
  attrs.copy(b, 20);
  return b;
}

function nla(type: number, payload: Buffer, lenOverride?: number): Buffer {
  const padded = (4 + payload.length + 3) & ~3;
  const b = Buffer.alloc(padded);
  b.writeUInt16LE(lenOverride ?? 4 + payload.length, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};

function goodTuple(): Buffer {
  const ip = nla(CTA_TUPLE.IP | 0x8000, Buffer.concat([nla(CTA_IP.V4_SRC, u32(0x0a000001)), nla(CTA_IP.V4_DST, u32(0x0a000002))]));
  const proto = nla(CTA_TUPLE.PROTO | 0x8000, nla(CTA_PROTO.NUM, Buffer.from([17])));
  return nla(CTA.TUPLE_ORIG | 0x8000, Buffer.concat([ip, proto]));
}

t.test('the hand-made good message decodes (baseline for the corpus)', async (t) => {
  t.equal(decodeDatagram(msgWith(goodTuple())), 1);
});

t.test('framing errors', async (t) => {
  expectReason(t, () => decodeDatagram(Buffer.alloc(10)), 'truncated', 'datagram shorter than nlmsghdr');
  expectReason(t, () => decodeDatagram(msgWith(goodTuple(), 0)), 'zeroLength', 'nlmsg_len 0');
  expectReason(t, () => decodeDatagram(msgWith(goodTuple(), 8)), 'zeroLength', 'nlmsg_len 8');
  expectReason(t, () => decodeDatagram(msgWith(goodTuple(), 4096)), 'lengthPastEnd', 'nlmsg_len past the datagram');
  const two = Buffer.concat([msgWith(goodTuple()), Buffer.alloc(7)]);
  expectReason(t, () => decodeDatagram(two), 'truncated', 'trailing partial header');
  const noNfgen = Buffer.alloc(18);
  noNfgen.writeUInt32LE(18, 0);
  expectReason(t, () => decodeDatagram(noNfgen), 'truncated', 'payload too short for nfgenmsg');
  expectReason(t, () => forEachNlMsg(Buffer.alloc(4), 0, 100, () => {}), 'lengthPastEnd', 'range past buffer');
  const err = Buffer.alloc(20);
  err.writeUInt32LE(20, 0);
  err.writeUInt16LE(NLMSG_ERROR, 4);
  forEachNlMsg(err, 0, err.length, (m) => {
    expectReason(t, () => parseNlError(m), 'truncated', 'NLMSG_ERROR without the original header');
    expectReason(t, () => conntrackEventType(m), 'badMessage', 'NLMSG_ERROR is not an event');
  });
});

t.test('attribute errors', async (t) => {
  const tuple = goodTuple();
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.MARK, Buffer.alloc(4), 0)]))), 'zeroLength', 'nla_len 0');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.MARK, Buffer.alloc(4), 3)]))), 'zeroLength', 'nla_len 3');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.MARK, Buffer.alloc(4), 200)]))), 'lengthPastEnd', 'nla_len past the message');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, Buffer.from([8, 0])]))), 'truncated', '2 trailing bytes');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.STATUS, Buffer.alloc(2))]))), 'badSize', 'CTA_STATUS of 2 bytes');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.ZONE, Buffer.alloc(4))]))), 'badSize', 'CTA_ZONE of 4 bytes');
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([tuple, nla(CTA.LABELS, Buffer.alloc(3))]))), 'badSize', 'CTA_LABELS of 3 bytes');
  expectReason(t, () => decodeDatagram(msgWith(nla(CTA.MARK, u32(1)))), 'missingAttr', 'no CTA_TUPLE_ORIG');

  // nested attribute overrunning its parent: CTA_TUPLE_IP claims more than CTA_TUPLE_ORIG holds
  const inner = nla(CTA_IP.V4_SRC, u32(1), 40);
  const overrun = nla(CTA.TUPLE_ORIG | 0x8000, nla(CTA_TUPLE.IP | 0x8000, inner));
  // the tail after the tuple is a real attribute so the inner length stays inside the message
  expectReason(t, () => decodeDatagram(msgWith(Buffer.concat([overrun, nla(CTA.MARK, Buffer.alloc(60))]))), 'nestOverrun', 'inner attribute past its parent');
  const badIp = nla(CTA.TUPLE_ORIG | 0x8000, nla(CTA_TUPLE.IP | 0x8000, nla(CTA_IP.V4_SRC, Buffer.alloc(3))));
  expectReason(t, () => decodeDatagram(msgWith(badIp)), 'badSize', 'IPv4 address of 3 bytes');
  const v6short = nla(CTA.TUPLE_ORIG | 0x8000, nla(CTA_TUPLE.IP | 0x8000, nla(CTA_IP.V6_SRC, Buffer.alloc(4))));
  expectReason(t, () => decodeDatagram(msgWith(v6short)), 'badSize', 'IPv6 address of 4 bytes');
  const noProto = nla(
    CTA.TUPLE_ORIG | 0x8000,
    nla(CTA_TUPLE.IP | 0x8000, Buffer.concat([nla(CTA_IP.V4_SRC, u32(1)), nla(CTA_IP.V4_DST, u32(2))])),
  );
  expectReason(t, () => decodeDatagram(msgWith(noProto)), 'missingAttr', 'tuple without CTA_PROTO_NUM');
  const mixed = nla(
    CTA.TUPLE_ORIG | 0x8000,
    Buffer.concat([
      nla(CTA_TUPLE.IP | 0x8000, Buffer.concat([nla(CTA_IP.V4_SRC, u32(1)), nla(CTA_IP.V6_DST, Buffer.alloc(16))])),
      nla(CTA_TUPLE.PROTO | 0x8000, nla(CTA_PROTO.NUM, Buffer.from([6]))),
    ]),
  );
  expectReason(t, () => decodeDatagram(msgWith(mixed)), 'badValue', 'IPv4 source with IPv6 destination');
  expectReason(t, () => decodeExpectation(Buffer.alloc(0), 0, 0, AF_INET), 'missingAttr', 'empty expectation');
  expectReason(t, () => decodeConntrack(Buffer.alloc(8), 6, 4, AF_INET), 'lengthPastEnd', 'off > end');
  expectReason(t, () => new NlAttrIter(Buffer.alloc(8), 0, 9), 'lengthPastEnd', 'end past the buffer');
});

t.test('unknown attributes are skipped and counted, not fatal', async (t) => {
  const stats = new CtDecodeStats();
  const attrs = Buffer.concat([goodTuple(), nla(77, u32(5)), nla(CTA.MARK, u32(9)), nla(0x8000 | 99, nla(1, u32(1)))]);
  const m = msgWith(attrs);
  let flowMark = -1;
  forEachNlMsg(m, 0, m.length, (msg: NlMsg) => {
    flowMark = decodeConntrack(msg.buf, nfAttrOff(msg), msg.end, AF_INET, stats).mark ?? -1;
  });
  t.equal(flowMark, 9, 'known attributes after unknown ones still decoded');
  t.equal(stats.unknownAttrs, 2);
  t.equal(stats.decoded, 1);
});

t.test('every truncation of every real message: typed error or a clean decode', async (t) => {
  let typed = 0;
  let clean = 0;
  for (const name of ['dump.recv.hex', 'events.recv.hex']) {
    for (const m of messages(loadDatagrams(name))) {
      if (m.type === NLMSG_DONE) continue;
      const start = nfAttrOff(m);
      for (let end = start; end < m.end; end++) {
        try {
          decodeConntrack(m.buf, start, end, AF_INET);
          clean++;
        } catch (e) {
          if (!(e instanceof CtnetlinkDecodeError)) throw e;
          typed++;
        }
      }
      // and the same via the framing layer: a datagram cut short
      const whole = m.buf.subarray(m.payloadOff - 16, m.end);
      for (let cut = 1; cut < whole.length; cut += 7) {
        try {
          decodeDatagram(whole.subarray(0, cut));
        } catch (e) {
          if (!(e instanceof CtnetlinkDecodeError)) throw e;
        }
      }
    }
  }
  t.ok(typed > 1000, `${typed} truncations rejected with CtnetlinkDecodeError`);
  t.ok(clean > 0, `${clean} truncations at attribute boundaries decode cleanly`);
});

t.test('builder refuses lengths netlink cannot express', async (t) => {
  const b = new NlBuilder();
  b.beginMsg(0x100, 1, 1);
  t.throws(() => b.attrBytes(1, new Uint8Array(70000)), RangeError);
});
