/** DatagramPacker: conntrackd's strict fill rule (spec §1.4), buffer reuse, oversize messages. */
import t from 'tap';
import { AF_INET } from '../../src/flow/address';
import { type Flow, IPPROTO, makeTuple } from '../../src/flow/flow';
import { channelMaxPayload, ctMessageLength, DatagramPacker, DEFAULT_WIRE_OPTIONS, encodeCt, WireEncodeError, WireRxStats, walkDatagram } from '../../src/sync/wire';

const flow = (i: number): Flow => ({
  orig: makeTuple({ family: AF_INET, src: 0x0a630000 + i, dst: 0xac1f0101, proto: IPPROTO.TCP, sport: 10000, dport: 443 }),
  status: 0xe,
  timeout: 600,
  mark: 0,
  tcp: { state: 3 },
  synproxy: { its: 0, isn: 0, tsoff: 0 },
});

t.test('300 flows on a 1500-MTU link pack 17 per datagram (1428 bytes), as captured', async (t) => {
  const out: Buffer[] = [];
  const p = new DatagramPacker(1500 - 28, (d) => out.push(d));
  for (let i = 0; i < 300; i++) {
    const len = ctMessageLength(flow(i), DEFAULT_WIRE_OPTIONS);
    const off = p.reserve(len);
    p.commit(encodeCt(p.buffer, off, 0, 0, i, flow(i), DEFAULT_WIRE_OPTIONS) - off);
  }
  p.flush();
  t.equal(p.pending, 0);
  t.same(
    out.map((d) => d.length),
    [...new Array(17).fill(1428), 300 - 17 * 17].map((n, i) => (i < 17 ? n : n * 84)),
    '17 full datagrams then the rest',
  );
  t.ok(
    out.every((d) => d.length <= 1500 - 29),
    'payload <= MTU - 29',
  );
  // sink copies stay valid after the buffer is reused; sequence numbers come out in order
  const seqs: number[] = [];
  const st = new WireRxStats();
  for (const d of out) walkDatagram(d, 0, d.length, st, (h) => seqs.push(h.seq));
  t.same(
    seqs,
    Array.from({ length: 300 }, (_, i) => i),
  );
  t.equal(st.malformed, 0);
});

t.test('strict rule: buffered + len == maxPayload flushes first', async (t) => {
  const out: Buffer[] = [];
  const p = new DatagramPacker(100, (d) => out.push(Buffer.from(d)));
  p.reserve(50);
  p.commit(50);
  p.reserve(49);
  p.commit(49);
  t.equal(out.length, 0, '99 < 100 fits');
  p.reserve(1);
  t.equal(out.length, 1, '99 + 1 == 100 does not: flushed');
  t.equal(out[0]!.length, 99);
  t.equal(p.pending, 0);
  t.throws(() => p.reserve(100), WireEncodeError, 'a message that can never fit is an error, not a loop');
  t.throws(() => p.reserve(0), WireEncodeError);
  p.reserve(8);
  t.throws(() => p.commit(9), WireEncodeError, 'cannot commit more than reserved');
  p.flush();
  p.flush();
  t.equal(out.length, 1, 'empty flush sends nothing');
  t.equal(p.datagrams, 1);
});

t.test('channelMaxPayload', async (t) => {
  t.equal(channelMaxPayload(1500, 'multicast'), 1472);
  t.equal(channelMaxPayload(1500, 'udp', 36), 1436);
  t.equal(channelMaxPayload(9000, 'tcp'), 8960);
});
