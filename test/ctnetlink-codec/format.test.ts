/**
 * flowToJson (--json output) on real kernel flows, and the conntrack(8) line for protocol
 * details the golden captures cannot produce on this kernel (DCCP state: conntrack's DCCP
 * tracker is gone from 6.18, so the kernel tracks DCCP generically).
 */
import t from 'tap';
import { type CtFlow, decodeConntrack, encodeConntrack } from '../../src/ctnetlink/codec';
import { flowToJson, formatConntrackLine, formatExpectationLine } from '../../src/ctnetlink/format';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Flow, IPS, makeTuple } from '../../src/flow/flow';
import { forEachNlMsg, NLMSG_DONE, NlBuilder, nfAttrOff, readNfgenFamily } from '../../src/netlink/message';
import { loadDatagrams, messages } from './fixtures/load';

const A = parseAddr;

function kernelFlows(name = 'dump.recv.hex'): CtFlow[] {
  return messages(loadDatagrams(name))
    .filter((m) => m.type !== NLMSG_DONE)
    .map((m) => decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m)));
}

t.test('flowToJson: JSON-safe, addresses as text, labels as bit numbers', async (t) => {
  const flows = kernelFlows();
  const snat = flows.find((f) => f.orig.sport === 1000 && f.orig.family === AF_INET)!;
  const j = flowToJson(snat);
  t.same(j.orig, { family: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: 6, sport: 1000, dport: 80 });
  t.same(j.reply, { family: 'ipv4', src: '10.0.0.2', dst: '192.168.9.9', proto: 6, sport: 80, dport: 2000 });
  t.equal(j.state, 'ESTABLISHED');
  t.equal(j.status, snat.status);
  const v6 = flowToJson(flows.find((f) => f.orig.family === AF_INET6 && f.orig.sport === 1234)!);
  t.equal((v6.orig as { src: string }).src, '2001:db8::1');
  const icmp = flowToJson(flows.find((f) => f.orig.proto === 1)!);
  t.same(icmp.orig, { family: 'ipv4', src: '10.0.0.1', dst: '10.0.0.4', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 4660 });
  const labelled = kernelFlows('dump-label.recv.hex').find((f) => f.orig.sport === 1003)!;
  t.same(flowToJson(labelled).labels, [0, 5]);
  const acct = flowToJson(kernelFlows('dump-acct.recv.hex')[0]!);
  t.same(acct.countersOrig, { packets: '0', bytes: '0' }, 'bigints as decimal strings');
  t.type(acct.tsStart, 'string');
  for (const f of flows) t.doesNotThrow(() => JSON.parse(JSON.stringify(flowToJson(f))));
  const peer: Flow = { orig: makeTuple({ family: AF_INET, src: A('1.1.1.1'), dst: A('2.2.2.2'), proto: 17, sport: 1, dport: 2 }), nat: { snatAddr: A('3.3.3.3'), dnatPort: 99 } };
  t.same(flowToJson(peer).nat, { snatAddr: '3.3.3.3', dnatPort: 99 });
});

t.test('DCCP / SCTP protoinfo: encode -> decode -> conntrack line', async (t) => {
  const dccp: Flow = {
    orig: makeTuple({ family: AF_INET, src: A('10.0.0.1'), dst: A('10.0.0.6'), proto: 33, sport: 4000, dport: 5000 }),
    status: IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 200,
    mark: 0,
    dccp: { state: 4, role: 1, handshakeSeq: 0x1122334455n },
  };
  const sctp: Flow = {
    orig: makeTuple({ family: AF_INET, src: A('10.0.0.1'), dst: A('10.0.0.5'), proto: 132, sport: 3868, dport: 3868 }),
    status: IPS.SEEN_REPLY,
    timeout: 10,
    sctp: { state: 7, vtagOrig: 0xdeadbeef, vtagReply: 1 },
  };
  const b = new NlBuilder();
  encodeConntrack(b, dccp, 'create', 1, { ack: true });
  encodeConntrack(b, sctp, 'create', 2, { ack: true });
  const back: CtFlow[] = [];
  forEachNlMsg(b.bytes(), 0, b.length, (m) => back.push(decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m))));
  t.same(back[0]!.dccp, dccp.dccp);
  t.same(back[1]!.sctp, sctp.sctp);
  // libnetfilter_conntrack 1.0.9 names DCCP states from its SCTP table (state 4 -> ESTABLISHED)
  t.equal(
    formatConntrackLine(back[0]!),
    'dccp     33 200 ESTABLISHED src=10.0.0.1 dst=10.0.0.6 sport=4000 dport=5000 src=10.0.0.6 dst=10.0.0.1 sport=5000 dport=4000 [ASSURED] mark=0',
  );
  t.equal(
    formatConntrackLine(back[1]!),
    'sctp     132 10 SHUTDOWN_ACK_SENT src=10.0.0.1 dst=10.0.0.5 sport=3868 dport=3868 src=10.0.0.5 dst=10.0.0.1 sport=3868 dport=3868',
  );
});

t.test('expectation line with zone and flags', async (t) => {
  const line = formatExpectationLine({
    master: makeTuple({ family: AF_INET, src: A('10.0.0.1'), dst: A('10.0.0.2'), proto: 6, sport: 1, dport: 21 }),
    tuple: makeTuple({ family: AF_INET, src: A('10.0.0.2'), dst: A('10.0.0.1'), proto: 6, sport: 0, dport: 7 }),
    mask: makeTuple({ family: AF_INET, src: A('255.255.255.255'), dst: A('255.255.255.255'), proto: 6, sport: 0, dport: 0xffff }),
    timeout: 5,
    zone: 2,
    flags: 0x3,
    class: 1,
    helper: 'ftp',
  });
  t.equal(
    line,
    '5 proto=6 src=10.0.0.2 dst=10.0.0.1 sport=0 dport=7 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.0.0.1 master-dst=10.0.0.2 sport=1 dport=21 zone=2 PERMANENT,INACTIVE class=1 helper=ftp',
  );
});
