/**
 * Our requests against the real kernel, in a scratch network namespace (ctc-<pid>-k, deleted
 * in teardown): create (plain, SNAT, DNAT, zone, IPv6, ICMP, helper, seq-adj, be-liberal), a
 * duplicate create (EEXIST), update, get, delete, delete again (ENOENT), dump, flush. The
 * socket here is a tiny python helper (fixtures/tools/nlsend.py); the real socket layer is
 * netlink/socket.ts. Checks the encoder's bytes are what ctnetlink accepts, and decodes the
 * kernel's answers (NLMSG_ERROR, GET reply, dump) with our decoder.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import {
  type CtFlow,
  decodeConntrack,
  decodeExpectation,
  encodeConntrack,
  encodeConntrackFlush,
  encodeDumpRequest,
  encodeExpectation,
} from '../../src/ctnetlink/codec';
import { formatConntrackLine } from '../../src/ctnetlink/format';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Expectation, type Flow, IPS, makeTuple, natFromReply } from '../../src/flow/flow';
import {
  forEachNlMsg,
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NLMSG_DONE,
  NLMSG_ERROR,
  NlBuilder,
  type NlMsg,
  nfAttrOff,
  nfnlMsgType,
  parseNlError,
  readNfgenFamily,
} from '../../src/netlink/message';

const NS = `ctc-${process.pid}-k`;
const NLSEND = join(__dirname, 'fixtures', 'tools', 'nlsend.py');
const A = parseAddr;
const ESTAB = IPS.SEEN_REPLY | IPS.ASSURED;

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
}

/** Sends each datagram (one Buffer each) and returns every reply message, in order. */
function send(datagrams: Buffer[]): NlMsg[] {
  const out = sh('ip', ['netns', 'exec', NS, 'python3', NLSEND], `${datagrams.map((d) => d.toString('hex')).join('\n')}\n`);
  const msgs: NlMsg[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const hex = line.split(' ')[3]!;
    const buf = Buffer.from(hex, 'hex');
    forEachNlMsg(buf, 0, buf.length, (m) => msgs.push(m));
  }
  return msgs;
}

function one(build: (b: NlBuilder) => void): Buffer {
  const b = new NlBuilder();
  build(b);
  return Buffer.from(b.bytes());
}

function errnoBySeq(msgs: NlMsg[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of msgs) {
    if (x.type === NLMSG_ERROR) {
      const e = parseNlError(x);
      m.set(e.origSeq, e.errno);
    }
  }
  return m;
}

const tcp = (sport: number, src = '10.9.0.1', dst = '10.9.0.2', dport = 80) =>
  makeTuple({ family: src.includes(':') ? AF_INET6 : AF_INET, src: A(src), dst: A(dst), proto: 6, sport, dport });

const flows: Flow[] = [
  { orig: tcp(1), status: ESTAB, timeout: 300, mark: 5, tcp: { state: 3 } },
  { orig: tcp(2), status: ESTAB, timeout: 300, tcp: { state: 3 }, nat: { snatAddr: A('192.0.2.7'), snatPort: 4000 } },
  { orig: tcp(3), status: ESTAB, timeout: 300, tcp: { state: 3 }, nat: { dnatAddr: A('10.9.0.9'), dnatPort: 8080 } },
  { orig: tcp(4), status: 0, timeout: 120, zone: 9, tcp: { state: 1 } },
  { orig: tcp(5, '2001:db8:9::1', '2001:db8:9::2'), status: ESTAB, timeout: 300, tcp: { state: 3 } },
  {
    orig: makeTuple({ family: AF_INET, src: A('10.9.0.1'), dst: A('10.9.0.3'), proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 }),
    status: 0,
    timeout: 30,
  },
  { orig: tcp(6, '10.9.0.1', '10.9.0.2', 21), status: ESTAB, timeout: 300, tcp: { state: 3 }, helper: 'ftp' },
  {
    orig: tcp(7),
    status: ESTAB | IPS.SEQ_ADJUST,
    timeout: 300,
    tcp: { state: 3 },
    seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
    seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
  },
  // a flow from a peer: EXPECTED and NAT_DONE bits that must be cleared, no reply tuple
  { orig: tcp(8), status: ESTAB | IPS.EXPECTED | IPS.SRC_NAT_DONE, timeout: 300, tcp: { state: 3 } },
];

function dump(): CtFlow[] {
  const out: CtFlow[] = [];
  for (const m of send([one((b) => encodeDumpRequest(b, 900))])) {
    if (m.type === nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW)) out.push(decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m)));
  }
  return out;
}

t.test('ctnetlink accepts our requests (real kernel, scratch netns)', async (t) => {
  sh('ip', ['netns', 'add', NS]);
  t.teardown(() => {
    try {
      sh('ip', ['netns', 'del', NS]);
    } catch {
      // already gone
    }
  });

  // all creates in ONE datagram, ACK on each: per-entry results come back by seq
  const batch = one((b) => {
    for (const [i, f] of flows.entries()) encodeConntrack(b, f, 'create', 10 + i, { ack: true, beLiberal: true });
  });
  const res = errnoBySeq(send([batch]));
  t.same(
    flows.map((_f, i) => res.get(10 + i)),
    flows.map(() => 0),
    'every create acknowledged with 0',
  );

  const dup = errnoBySeq(send([one((b) => encodeConntrack(b, flows[0]!, 'create', 50, { ack: true }))]));
  t.equal(dup.get(50), 17, 'duplicate create: EEXIST');

  const table = dump();
  t.equal(table.length, flows.length, 'dump returns every entry');
  const bySport = (p: number) => table.find((f) => f.orig.sport === p);
  t.equal(bySport(1)?.mark, 5);
  t.same(natFromReply(bySport(2)!), { snatAddr: A('192.0.2.7'), snatPort: 4000 }, 'kernel applied our SNAT');
  t.same(natFromReply(bySport(3)!), { dnatAddr: A('10.9.0.9'), dnatPort: 8080 }, 'kernel applied our DNAT');
  t.equal(bySport(4)?.zone, 9);
  t.equal(bySport(5)?.orig.family, AF_INET6);
  t.equal(bySport(6)?.helper, 'ftp');
  t.same(bySport(7)?.seqAdjOrig, { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 });
  t.equal(bySport(8)!.status! & IPS.EXPECTED, 0, 'EXPECTED not set on the created entry');
  t.ok(bySport(1)!.tcp!.flagsOrig! & 0x08 && bySport(1)!.tcp!.flagsReply! & 0x08, 'be-liberal in both directions');
  const icmp = table.find((f) => f.orig.proto === 1)!;
  t.equal(icmp.orig.icmpId, 77);
  t.equal(icmp.reply?.icmpType, 0);
  t.match(formatConntrackLine(icmp), /^icmp {5}1 \d+ src=10\.9\.0\.1 dst=10\.9\.0\.3 type=8 code=0 id=77 \[UNREPLIED\] /);

  // update: new mark + timeout; then GET returns it
  const upd = { ...flows[0]!, mark: 77, timeout: 1000 };
  const u = errnoBySeq(send([one((b) => encodeConntrack(b, upd, 'update', 60, { ack: true }))]));
  t.equal(u.get(60), 0, 'update acknowledged');
  const got = send([one((b) => encodeConntrack(b, flows[0]!, 'get', 61, { ack: true }))]);
  const reply = got.find((m) => m.type === nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW))!;
  t.ok(reply, 'GET answered with the entry');
  const g = decodeConntrack(reply.buf, nfAttrOff(reply), reply.end, readNfgenFamily(reply));
  t.equal(g.mark, 77);
  t.ok(g.timeout! > 990 && g.timeout! <= 1000, `timeout updated (${g.timeout})`);

  // ASSURED / SEEN_REPLY can only be set: an update whose status lacks a bit the kernel has
  // fails as a whole with EBUSY (nothing applied) -- the client must fall back to delete+create
  // as conntrackd does (spec §5.2)
  const regress = errnoBySeq(
    send([one((b) => encodeConntrack(b, { orig: flows[0]!.orig, status: IPS.SEEN_REPLY, mark: 1234 }, 'update', 62, { ack: true }))]),
  );
  t.equal(regress.get(62), 16, 'update clearing ASSURED: EBUSY');
  const still = send([one((b) => encodeConntrack(b, flows[0]!, 'get', 63, { ack: true }))]).find(
    (m) => m.type === nfnlMsgType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW),
  )!;
  t.equal(decodeConntrack(still.buf, nfAttrOff(still), still.end, AF_INET).mark, 77, 'refused update changed nothing');

  // delete (zoned entry needs its zone), delete again
  const d = errnoBySeq(
    send([
      one((b) => {
        encodeConntrack(b, flows[3]!, 'delete', 70, { ack: true });
        encodeConntrack(b, flows[3]!, 'delete', 71, { ack: true });
        encodeConntrack(b, { ...flows[0]!, orig: tcp(999) }, 'get', 72, { ack: true });
      }),
    ]),
  );
  t.equal(d.get(70), 0, 'delete acknowledged');
  t.equal(d.get(71), 2, 'second delete: ENOENT');
  t.equal(d.get(72), 2, 'get of a missing entry: ENOENT');
  t.equal(dump().length, flows.length - 1);

  // expectations hang off the ftp-helped master (flows[6]): create, duplicate, update, get,
  // dump, delete, delete again
  const exp: Expectation = {
    master: flows[6]!.orig,
    tuple: makeTuple({ family: AF_INET, src: A('10.9.0.2'), dst: A('10.9.0.1'), proto: 6, sport: 0, dport: 50001 }),
    mask: makeTuple({ family: AF_INET, src: A('255.255.255.255'), dst: A('255.255.255.255'), proto: 6, sport: 0, dport: 0xffff }),
    timeout: 200,
    helper: 'ftp',
  };
  const ex = errnoBySeq(
    send([
      one((b) => {
        encodeExpectation(b, exp, 'create', 200, { ack: true });
        encodeExpectation(b, exp, 'create', 201, { ack: true });
        encodeExpectation(b, { ...exp, timeout: 700 }, 'update', 202, { ack: true });
      }),
    ]),
  );
  t.same([ex.get(200), ex.get(201), ex.get(202)], [0, 17, 0], 'expectation create, EEXIST, update');
  const expGet = send([one((b) => encodeExpectation(b, exp, 'get', 203, { ack: true }))]).find(
    (m) => m.type === nfnlMsgType(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW),
  );
  t.ok(expGet, 'expectation GET answered');
  const eg = decodeExpectation(expGet!.buf, nfAttrOff(expGet!), expGet!.end, readNfgenFamily(expGet!));
  t.same([eg.tuple, eg.master, eg.helper], [exp.tuple, exp.master, 'ftp']);
  t.ok(eg.timeout! > 690 && eg.timeout! <= 700, `expectation timeout updated (${eg.timeout})`);
  const expDump = send([one((b) => encodeDumpRequest(b, 204, AF_INET, NFNL_SUBSYS_CTNETLINK_EXP))]).filter(
    (m) => m.type === nfnlMsgType(NFNL_SUBSYS_CTNETLINK_EXP, IPCTNL_MSG_EXP_NEW),
  );
  t.equal(expDump.length, 1, 'expectation dump');
  const exd = errnoBySeq(
    send([
      one((b) => {
        encodeExpectation(b, exp, 'delete', 205, { ack: true });
        encodeExpectation(b, exp, 'delete', 206, { ack: true });
      }),
    ]),
  );
  t.same([exd.get(205), exd.get(206)], [0, 2], 'expectation delete, then ENOENT');

  const f = errnoBySeq(send([one((b) => encodeConntrackFlush(b, 80))]));
  t.equal(f.get(80), 0, 'flush acknowledged');
  t.equal(dump().length, 0, 'table empty after flush');
  const doneSeen = send([one((b) => encodeDumpRequest(b, 81))]).some((m) => m.type === NLMSG_DONE);
  t.ok(doneSeen, 'dump of an empty table ends with NLMSG_DONE');
});

// IPv4 addresses >= 128.0.0.0 and kernel ids >= 2^31 are kept as signed int32 internally
// (src/flow/address.ts): what the real kernel returns must equal what parseAddr gives for the
// same text, and our -L text (ids included) must equal conntrack(8)'s for the same table.
t.test('high addresses and ids: kernel round trip matches parseAddr and conntrack -L -o id', async (t) => {
  sh('ip', ['netns', 'add', NS]);
  t.teardown(() => {
    try {
      sh('ip', ['netns', 'del', NS]);
    } catch {
      // already gone
    }
  });
  const high: Flow[] = [];
  for (let i = 0; i < 16; i++) {
    high.push({ orig: tcp(2000 + i, `192.168.${i}.10`, '198.51.100.1', 443), status: ESTAB, timeout: 300, tcp: { state: 3 } });
  }
  high.push({ orig: tcp(3000, '172.16.0.1', '255.255.255.254'), status: ESTAB, timeout: 300, tcp: { state: 3 }, nat: { snatAddr: A('203.0.113.250'), snatPort: 4000 } });
  high.push({ orig: tcp(3001, '192.168.200.1', '10.9.0.2'), status: ESTAB, timeout: 300, tcp: { state: 3 }, nat: { dnatAddr: A('172.31.255.254'), dnatPort: 8080 } });
  const res = errnoBySeq(
    send([
      one((b) => {
        for (const [i, f] of high.entries()) encodeConntrack(b, f, 'create', 300 + i, { ack: true });
      }),
    ]),
  );
  t.same(
    high.map((_f, i) => res.get(300 + i)),
    high.map(() => 0),
    'every create acknowledged with 0',
  );
  const table = dump();
  t.equal(table.length, high.length);
  for (const f of high) {
    const k = table.find((x) => x.orig.sport === f.orig.sport);
    t.ok(k, `entry sport ${f.orig.sport} dumped`);
    if (!k) continue;
    t.equal(k.orig.src, f.orig.src, 'kernel source === parseAddr source');
    t.equal(k.orig.dst, f.orig.dst, 'kernel destination === parseAddr destination');
    t.ok((k.orig.src as number) === ((k.orig.src as number) | 0) && k.id === (k.id! | 0), 'address and id decoded as int32');
    if (f.nat) t.same(natFromReply(k), f.nat, 'NAT address from the kernel === parseAddr');
  }
  t.ok(
    table.some((f) => f.id! < 0),
    'some kernel id is >= 2^31 (random ids: 18 entries all below has odds 2^-18)',
  );
  // same text as conntrack(8) for the whole table (order: conntrack's own dump order = ours),
  // minus the remaining-timeout field, which may tick between the two dumps
  const noTimeout = (l: string) => l.trimEnd().replace(/^(tcp +6 )\d+ /, '$1');
  const theirs = sh('ip', ['netns', 'exec', NS, 'conntrack', '-L', '-o', 'id'])
    .split('\n')
    .filter((l) => l.startsWith('tcp'))
    .map(noTimeout);
  t.same(
    table.map((f) => noTimeout(formatConntrackLine(f, { showId: true }))),
    theirs,
    'formatConntrackLine -o id equals conntrack -L -o id',
  );
});
