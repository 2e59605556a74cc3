/**
 * Round trips: every real kernel entry, re-encoded as a create request and decoded again,
 * keeps its fields — also when the message is built after others in the same builder and when
 * the bytes sit at an odd offset inside a larger buffer (ARCHITECTURE "encode at a non-zero
 * offset"). Plus the shape of update/delete/get/flush requests and expectation requests.
 */
import t from 'tap';
import {
  type CtFlow,
  decodeConntrack,
  decodeExpectation,
  encodeConntrack,
  encodeConntrackFlush,
  encodeExpectation,
  statusForKernel,
} from '../../src/ctnetlink/codec';
import { CTA, IP_CT_TCP_FLAG } from '../../src/ctnetlink/constants';
import { AF_INET, parseAddr } from '../../src/flow/address';
import { type Expectation, type Flow, IPS, invertTuple, makeTuple } from '../../src/flow/flow';
import { NlAttrIter } from '../../src/netlink/attr';
import {
  forEachNlMsg,
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NlBuilder,
  type NlMsg,
  nfAttrOff,
  nfnlMsgType,
  parseNlError,
  readNfgenFamily,
} from '../../src/netlink/message';
import { loadDatagrams, messages } from './fixtures/load';

const A = parseAddr;

function kernelFlows(): CtFlow[] {
  return messages(loadDatagrams('dump.recv.hex'))
    .filter((m) => m.type !== NLMSG_DONE)
    .map((m) => decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m)));
}

function only(buf: Buffer, off = 0, end = buf.length): NlMsg[] {
  const out: NlMsg[] = [];
  forEachNlMsg(buf, off, end, (m) => out.push(m));
  return out;
}

function decodeMsg(m: NlMsg): CtFlow {
  return decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m));
}

/** The fields a create request carries, as the kernel would store them. */
function createView(f: Flow) {
  return {
    orig: f.orig,
    reply: f.nat ? invertTuple(f.orig) : f.reply,
    master: f.master,
    status: statusForKernel(f.status ?? 0),
    timeout: f.timeout,
    mark: f.mark,
    zone: f.zone,
    labels: f.labels ? Array.from(f.labels) : undefined,
    helper: f.helper,
    tcpState: f.tcp?.state,
    flagsOrig: f.tcp?.flagsOrig,
    flagsReply: f.tcp?.flagsReply,
    sctp: f.sctp,
    dccpState: f.dccp?.state,
    seqAdjOrig: f.seqAdjOrig,
    seqAdjReply: f.seqAdjReply,
    synproxy: f.synproxy,
    nat: f.nat,
  };
}

t.test('kernel flows survive encode(create) -> decode', async (t) => {
  const flows = kernelFlows();
  t.ok(flows.length >= 15);
  const b = new NlBuilder(64); // small on purpose: exercises growth
  for (const [i, f] of flows.entries()) {
    b.reset();
    encodeConntrack(b, f, 'create', i + 1, { ack: true });
    const msgs = only(b.bytes());
    t.equal(msgs.length, 1);
    const m = msgs[0]!;
    t.equal(m.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW));
    t.equal(m.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    t.equal(m.seq, i + 1);
    t.equal(readNfgenFamily(m), f.orig.family);
    const back = decodeMsg(m);
    const want = createView(f);
    // dumps carry TCP flags with mask 0; the encoder uses the flags as their own mask
    t.same(createView(back), want, `entry ${i} (${f.orig.proto}/${f.orig.sport})`);
    t.equal(back.status! & IPS.CONFIRMED, IPS.CONFIRMED, 'CONFIRMED always sent (else EBUSY)');
  }
});

t.test('non-zero offsets: after other messages, and inside a larger buffer', async (t) => {
  const flows = kernelFlows();
  const b = new NlBuilder();
  encodeConntrackFlush(b, 1);
  for (const [i, f] of flows.entries()) encodeConntrack(b, f, 'create', 100 + i, { ack: false, beLiberal: true });
  const built = b.bytes();
  const big = Buffer.alloc(built.length + 61, 0xee);
  built.copy(big, 37); // odd, unaligned offset, garbage around it
  for (const [buf, off, end] of [
    [built, 0, built.length],
    [big, 37, 37 + built.length],
  ] as const) {
    const msgs = only(buf, off, end);
    t.equal(msgs.length, flows.length + 1);
    t.equal(msgs[0]!.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE), 'flush first');
    t.equal(msgs[0]!.end - nfAttrOff(msgs[0]!), 0, 'flush has no attributes');
    for (const [i, f] of flows.entries()) {
      const m = msgs[i + 1]!;
      t.equal(m.seq, 100 + i);
      const back = decodeMsg(m);
      t.same(back.orig, f.orig);
      t.same(back.reply, f.reply);
      t.equal(back.mark, f.mark);
      t.equal(back.zone, f.zone);
      if (f.orig.proto === 6) {
        t.equal(back.tcp!.flagsOrig! & IP_CT_TCP_FLAG.BE_LIBERAL, IP_CT_TCP_FLAG.BE_LIBERAL);
        t.equal(back.tcp!.maskOrig! & IP_CT_TCP_FLAG.BE_LIBERAL, IP_CT_TCP_FLAG.BE_LIBERAL);
        t.equal(back.tcp!.flagsReply! & IP_CT_TCP_FLAG.BE_LIBERAL, IP_CT_TCP_FLAG.BE_LIBERAL);
        t.equal(back.tcp!.maskReply! & IP_CT_TCP_FLAG.BE_LIBERAL, IP_CT_TCP_FLAG.BE_LIBERAL);
      }
    }
  }
});

t.test('conntrack -I --src-nat request: decoded, and our encoding carries the same NAT', async (t) => {
  const req = only(loadDatagrams('insert-snat.send.hex')[0]!);
  t.equal(req.length, 1);
  const theirs = decodeMsg(req[0]!);
  t.same(theirs.nat, { snatAddr: A('192.168.9.9'), snatPort: 2000 });
  t.same(theirs.reply, invertTuple(theirs.orig), 'conntrack -I sends the inverted tuple and lets the kernel NAT it');
  const b = new NlBuilder();
  encodeConntrack(b, theirs, 'create', 5, { ack: true });
  const ours = decodeMsg(only(b.bytes())[0]!);
  t.same(ours.nat, theirs.nat);
  t.same(ours.reply, theirs.reply);
  t.same(ours.orig, theirs.orig);
  t.equal(ours.status, theirs.status);
  t.equal(ours.timeout, theirs.timeout);

  const dnat = decodeMsg(only(loadDatagrams('insert-dnat.send.hex')[0]!)[0]!);
  t.same(dnat.nat, { dnatAddr: A('10.0.0.9'), dnatPort: 8080 });
});

t.test('a flow with explicit NAT sends the inverted reply, not a stale NATed one', async (t) => {
  const orig = makeTuple({ family: AF_INET, src: A('10.0.0.1'), dst: A('10.0.0.2'), proto: 6, sport: 1, dport: 2 });
  const f: Flow = {
    orig,
    reply: { ...invertTuple(orig), dst: A('192.168.0.1') },
    nat: { snatAddr: A('192.168.0.1') },
    status: IPS.SEEN_REPLY | IPS.SRC_NAT | IPS.SRC_NAT_DONE | IPS.EXPECTED,
    timeout: 10,
  };
  const b = new NlBuilder();
  encodeConntrack(b, f, 'create', 1, { ack: true });
  const back = decodeMsg(only(b.bytes())[0]!);
  t.same(back.reply, invertTuple(orig));
  t.same(back.nat, { snatAddr: A('192.168.0.1') });
  t.equal(back.status, IPS.SEEN_REPLY | IPS.SRC_NAT | IPS.CONFIRMED, 'EXPECTED and NAT_DONE cleared, CONFIRMED set');
});

t.test('update, delete and get carry only what the kernel accepts', async (t) => {
  const flows = kernelFlows();
  const zoned = flows.find((f) => f.zone === 7)!;
  const helper = flows.find((f) => f.helper === 'ftp')!;
  const b = new NlBuilder();
  encodeConntrack(b, { ...helper, nat: { snatAddr: A('1.2.3.4') }, master: helper.orig }, 'update', 1, { ack: true });
  encodeConntrack(b, zoned, 'delete', 2, { ack: true });
  encodeConntrack(b, zoned, 'get', 3, { ack: false });
  const [upd, del, get] = only(b.bytes());
  t.equal(upd!.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW));
  t.equal(upd!.flags, NLM_F_REQUEST | NLM_F_ACK, 'update: no CREATE/EXCL');
  const types = (m: NlMsg) => {
    const it = new NlAttrIter(m.buf, nfAttrOff(m), m.end);
    const out: number[] = [];
    while (it.next()) out.push(it.type);
    return out;
  };
  const ut = types(upd!);
  t.notOk(ut.includes(CTA.NAT_SRC), 'no NAT on update (EOPNOTSUPP)');
  t.notOk(ut.includes(CTA.TUPLE_MASTER), 'no master on update');
  t.notOk(ut.includes(CTA.HELP), 'no helper on update');
  t.notOk(ut.includes(CTA.TUPLE_REPLY), 'lookup by the original tuple only');
  t.ok(ut.includes(CTA.TIMEOUT) && ut.includes(CTA.MARK) && ut.includes(CTA.STATUS) && ut.includes(CTA.PROTOINFO));
  t.equal(del!.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE));
  t.same(types(del!), [CTA.TUPLE_ORIG, CTA.ZONE]);
  t.equal(get!.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET));
  t.equal(get!.flags, NLM_F_REQUEST);
  t.same(types(get!), [CTA.TUPLE_ORIG, CTA.ZONE]);
  t.same(decodeMsg(del!).orig, zoned.orig);
  t.equal(decodeMsg(get!).zone, 7);
});

t.test('expectation create round trip', async (t) => {
  const e: Expectation = {
    master: makeTuple({ family: AF_INET, src: A('10.0.0.1'), dst: A('10.0.0.2'), proto: 6, sport: 1004, dport: 21 }),
    tuple: makeTuple({ family: AF_INET, src: A('10.0.0.2'), dst: A('10.0.0.1'), proto: 6, sport: 0, dport: 50000 }),
    mask: makeTuple({ family: AF_INET, src: A('255.255.255.255'), dst: A('255.255.255.255'), proto: 6, sport: 0, dport: 0xffff }),
    timeout: 300,
    zone: 4,
    flags: 1,
    class: 0,
    helper: 'ftp',
    fn: 'nat-follow-master',
    nat: { dir: 1, tuple: makeTuple({ family: AF_INET, src: A('0.0.0.0'), dst: A('192.168.1.1'), proto: 6, sport: 0, dport: 2121 }) },
  };
  const b = new NlBuilder();
  b.beginMsg(NLMSG_DONE, 0, 9).endMsg(); // something before it
  encodeExpectation(b, e, 'create', 42, { ack: true });
  const msgs = only(b.bytes());
  const m = msgs[1]!;
  t.equal(m.type, nfnlMsgType(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW));
  t.equal(m.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  t.same(decodeExpectation(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m)), e);
});

t.test('NLMSG_ERROR parsing', async (t) => {
  // an error for seq 77 (EEXIST = 17) then an ACK for seq 78: int error + original nlmsghdr
  const mk = (errno: number, seq: number) => {
    const buf = Buffer.alloc(36);
    buf.writeUInt32LE(36, 0);
    buf.writeUInt16LE(NLMSG_ERROR, 4);
    buf.writeUInt32LE(seq, 8);
    buf.writeInt32LE(-errno, 16);
    buf.writeUInt32LE(16, 20);
    buf.writeUInt32LE(seq, 28);
    return buf;
  };
  const both = Buffer.concat([mk(17, 77), mk(0, 78)]);
  const errs = only(both).map((m) => parseNlError(m));
  t.same(errs, [
    { errno: 17, origSeq: 77 },
    { errno: 0, origSeq: 78 },
  ]);
});
