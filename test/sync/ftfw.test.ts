import t from 'tap';
import { newCacheObject, ObjStatus } from '../../src/cache/object';
import { ManualClock } from '../../src/core/clock';
import { FtfwMode, type FtfwOptions } from '../../src/sync/mode/ftfw';
import type { SyncObject } from '../../src/sync/mode/types';
import { NET_F, NET_T } from '../../src/sync/wire/constants';
import type { NetHeader } from '../../src/sync/wire/header';
import { FakeHost } from './fixtures/fake-host';

const W0 = 1_700_000_000;

function setup(opts: Partial<FtfwOptions> = {}) {
  const clock = new ManualClock(0, W0);
  const host = new FakeHost();
  // conntrackd behaviour unless a test turns our extras on
  const m = new FtfwMode(clock, host, { startupResync: false, ackDelayMs: 0, probeMs: 0, ...opts });
  return { clock, host, m };
}

function data(seq: number, flags = 0): NetHeader {
  return { version: 1, type: NET_T.STATE_CT_NEW, flags, len: 40, seq, from: 0, to: 0 };
}
function ctl(seq: number, flags: number, from = 0, to = 0): NetHeader {
  return { version: 1, type: NET_T.CTL, flags, len: flags & (NET_F.ACK | NET_F.NACK | NET_F.RESYNC) ? 16 : 8, seq, from, to };
}
function obj(): SyncObject {
  return newCacheObject<unknown>('ct', {}, 0);
}
/** Receive a first message (UNSET → set) so tracking starts at s. */
function prime(m: FtfwMode, s: number) {
  m.onMessage(data(s), 0, 0);
}

t.test('seq seeded from wall seconds, +1 per message of any kind, HELLO until HELLO_BACK', async (t) => {
  const { m, host, clock } = setup();
  m.enqueue(obj(), 0);
  m.enqueue(obj(), 0);
  clock.advance(1000);
  m.onTimer(clock.now()); // ALIVE
  m.transmit(100);
  const out = host.take();
  t.same(
    out.map((e) => e.seq),
    [W0 + 1, W0 + 2, W0 + 3],
    'seeded when the first message is built (wall clock then = W0+1)',
  );
  t.ok(out.every((e) => e.flags & NET_F.HELLO), 'HELLO on every message while saying hello');
  t.equal(out[2]!.flags, NET_F.ALIVE | NET_F.HELLO);
  t.equal(m.helloState, 'say');
  m.onMessage(ctl(500, NET_F.ALIVE | NET_F.HELLO_BACK), 0, 0);
  t.equal(m.helloState, 'done');
  m.enqueue(obj(), 0);
  m.transmit(10);
  t.equal(host.take()[0]!.flags & NET_F.HELLO, 0, 'no HELLO after HELLO_BACK');
});

t.test('window ACK every ACKWindowSize in-sequence messages (default 300)', async (t) => {
  const { m, host } = setup();
  const s = 1000;
  let verdicts = 0;
  for (let i = 0; i < 299; i++) if (m.onMessage(data(s + i), 0, 0) === 'data') verdicts++;
  t.equal(verdicts, 299, 'all data');
  t.equal(m.txLength, 0, 'no ACK before 300');
  m.onMessage(data(s + 299), 0, 0);
  m.transmit(10);
  const out = host.take();
  t.equal(out.length, 1);
  t.equal(out[0]!.flags & NET_F.ACK, NET_F.ACK);
  t.same([out[0]!.from, out[0]!.to], [s, s + 299], 'ACK(first, 300th)');
});

t.test('ACK on the 1 s timer, ALIVE when nothing to ack', async (t) => {
  const { m, host, clock } = setup();
  for (let i = 0; i < 5; i++) m.onMessage(data(2000 + i), 0, 0);
  clock.advance(999);
  t.equal(m.nextTimerAt(), 1000);
  clock.advance(1);
  m.onTimer(clock.now());
  m.transmit(10);
  let out = host.take();
  t.same(out.map((e) => [e.flags & ~NET_F.HELLO, e.from, e.to]), [[NET_F.ACK, 2000, 2004]]);
  clock.advance(1000);
  m.onTimer(clock.now());
  m.transmit(10);
  out = host.take();
  t.same(out.map((e) => e.flags & ~NET_F.HELLO), [NET_F.ALIVE], 'idle: ALIVE');
});

t.test('NACK on a gap with the right ranges; the out-of-order message is applied', async (t) => {
  const { m, host } = setup();
  m.onMessage(data(100), 0, 0);
  m.onMessage(data(101), 0, 0);
  t.equal(m.onMessage(data(105), 0, 0), 'data', 'applied');
  m.transmit(10);
  const out = host.take().map((e) => [e.flags & ~NET_F.HELLO, e.from, e.to]);
  t.same(out, [
    [NET_F.ACK, 100, 101],
    [NET_F.NACK, 102, 104],
  ]);
  const ps = m.tracker(0).stats;
  t.equal(ps.lost, 3, 'real count of missing messages');
  t.equal(ps.lostConntrackd, 5, "conntrackd's off-by-two figure kept separately");
  t.equal(ps.gaps, 1);
  // the window restarts at the out-of-order seq
  m.onMessage(data(106), 0, 0);
  m.onTimer(1000);
  m.transmit(10);
  t.same(host.take().map((e) => [e.from, e.to]), [[105, 106]]);
});

t.test('before-window messages are dropped', async (t) => {
  const { m } = setup();
  prime(m, 50);
  for (let s = 51; s <= 60; s++) m.onMessage(data(s), 0, 0);
  t.equal(m.onMessage(data(55), 0, 0), 'drop');
  t.equal(m.tracker(0).stats.before, 1);
  t.equal(m.onMessage(data(61), 0, 0), 'data', 'tracking unaffected');
});

t.test('wrap-around sequence numbers', async (t) => {
  const { m, host } = setup();
  prime(m, 0xfffffffe);
  t.equal(m.onMessage(data(0xffffffff), 0, 0), 'data');
  t.equal(m.onMessage(data(0), 0, 0), 'data', '0 follows 0xffffffff');
  t.equal(m.tracker(0).stats.gaps, 0);
  t.equal(m.onMessage(data(3), 0, 0), 'data');
  m.transmit(10);
  const out = host.take().map((e) => [e.flags & ~NET_F.HELLO, e.from, e.to]);
  t.same(out, [
    [NET_F.ACK, 0xfffffffe, 0],
    [NET_F.NACK, 1, 2],
  ]);
  t.equal(m.onMessage(data(0xfffffff0), 0, 0), 'drop', 'before across the wrap');
});

t.test('ACK releases [from,to] from the resend queue, keeps older entries; DEAD objects released', async (t) => {
  const { m, host } = setup();
  const objs = [obj(), obj(), obj(), obj()];
  for (const o of objs) m.enqueue(o, 0);
  m.transmit(10);
  const seqs = host.take().map((e) => e.seq);
  t.equal(m.rsLength, 4);
  objs[2]!.status = ObjStatus.DEAD;
  m.onMessage(ctl(900, NET_F.ACK, seqs[1]!, seqs[2]!), 0, 0);
  t.equal(m.rsLength, 2, 'two acknowledged');
  t.same([...m.rsEntries()], [objs[0], objs[3]], 'entry before `from` kept (spec quirk)');
  t.same(host.released, [objs[1], objs[2]], 'released to the cache');
  t.equal(m.onMessage(ctl(901, NET_F.ACK, 10, 5), 0, 0), 'drop', 'to before from: BAD');
  t.equal(m.stats.badCtl, 1);
});

t.test('NACK: resend with fresh seqs from the current state (type from status)', async (t) => {
  const { m, host } = setup();
  const a = obj();
  const b = obj();
  m.enqueue(a, 0);
  m.enqueue(b, 0);
  m.onMessage(data(70), 0, 0);
  m.onTimer(1000); // ACK(70,70) queued → goes to rs too
  m.transmit(10);
  const first = host.take();
  t.equal(first.length, 3);
  b.status = ObjStatus.DEAD; // destroyed meanwhile
  m.onMessage(ctl(71, NET_F.NACK, first[1]!.seq, first[2]!.seq), 0, 0);
  t.equal(m.stats.resends, 2);
  m.transmit(10);
  const again = host.take();
  t.equal(again.length, 2);
  t.equal(again[0]!.obj, b);
  t.equal(again[0]!.status, ObjStatus.DEAD, 're-sent as DEL: current state');
  t.ok(again[0]!.seq > first[2]!.seq, 'fresh seq');
  t.equal(again[1]!.kind, 'ctl');
  t.same([again[1]!.from, again[1]!.to], [70, 70], 'control re-sent with the same range');
  t.equal(again[1]!.seq, again[0]!.seq + 1);
});

t.test('local change of an object in the resend queue moves it to tx (coalescing)', async (t) => {
  const { m, host } = setup();
  const a = obj();
  m.enqueue(a, 0);
  m.transmit(10);
  host.take();
  t.equal(m.rsLength, 1);
  m.enqueue(a, 0);
  m.enqueue(a, 0);
  t.equal(m.rsLength, 0);
  t.equal(m.txLength, 1, 'in at most one queue');
  m.transmit(10);
  t.equal(host.take().length, 1);
});

t.test('resend queue bounded; overflow counted', async (t) => {
  const { m, host } = setup({ resendQueueSize: 3 });
  const objs = [obj(), obj(), obj(), obj(), obj()];
  for (const o of objs) {
    o.status = ObjStatus.DEAD;
    m.enqueue(o, 0);
  }
  m.transmit(10);
  t.equal(m.rsLength, 3);
  t.equal(m.stats.rsOverflow, 2);
  t.same(host.released, [objs[0], objs[1]], 'dropped entries released');
});

t.test('HELLO: say HELLO_BACK once, flush the resend queue once per HELLO period', async (t) => {
  const { m, host } = setup();
  m.enqueue(obj(), 0);
  m.enqueue(obj(), 0);
  m.transmit(10);
  host.take();
  t.equal(m.rsLength, 2);
  t.equal(m.onMessage(ctl(7, NET_F.RESYNC | NET_F.HELLO), 0, 0), 'ctl');
  t.equal(m.rsLength, 0, 'rs_queue flushed');
  t.equal(m.stats.rsFlushed, 2);
  t.equal(host.bulks, 1, 'RESYNC → bulk requested');
  m.enqueue(obj(), 0);
  m.enqueue(obj(), 0);
  m.transmit(10);
  const out = host.take();
  t.equal(out[0]!.flags & NET_F.HELLO_BACK, NET_F.HELLO_BACK, 'first message carries HELLO_BACK');
  t.equal(out[1]!.flags & NET_F.HELLO_BACK, 0, 'only once');
  // the peer still says HELLO (it has not seen our HELLO_BACK yet): no second flush
  m.onMessage(ctl(8, NET_F.ALIVE | NET_F.HELLO), 0, 0);
  t.equal(m.rsLength, 2, 'answer kept for the restarted peer');
  m.transmit(10);
  // a HELLO restarts tracking regardless of seq: a "before" seq is accepted
  t.equal(m.onMessage(data(3, NET_F.HELLO), 0, 0), 'data');
  t.equal(m.onMessage(data(4), 0, 0), 'data', 'in sync after the HELLO');
  t.equal(m.onMessage(data(1, NET_F.HELLO), 0, 0), 'data', 'a new HELLO period (restart again) accepted');
  t.equal(m.tracker(0).stats.hellos, 2);
});

t.test('bad control and unknown types', async (t) => {
  const { m } = setup();
  prime(m, 10);
  t.equal(m.onMessage(ctl(11, 0), 0, 0), 'drop', 'CTL without a known flag is BAD');
  t.equal(m.onMessage({ ...data(11), type: 7 }, 0, 0), 'drop', 'type 7 is BAD in FTFW digest');
  t.equal(m.tracker(0).last, 10, 'seq not updated on BAD');
  t.equal(m.stats.badCtl, 2);
});

t.test('prompt ACK after receive idleness for data windows only', async (t) => {
  const { m, host, clock } = setup({ ackDelayMs: 30 });
  for (let i = 0; i < 10; i++) m.onMessage(data(300 + i), 0, 0);
  t.equal(m.nextTimerAt(), 30);
  clock.advance(30);
  m.onTimer(clock.now());
  m.transmit(10);
  t.same(host.take().map((e) => [e.flags & ~NET_F.HELLO, e.from, e.to]), [[NET_F.ACK, 300, 309]]);
  t.equal(m.stats.promptAcks, 1);
  // ACK/ALIVE-only windows wait for the 1 s tick (no fast ping-pong)
  m.onMessage(ctl(310, NET_F.ALIVE), 0, 0);
  t.equal(m.nextTimerAt(), clock.now() + 1000, 'no prompt ack armed for control-only window: next is the ALIVE tick');
});

t.test('tail-loss probe: early ALIVE after a data pass until acknowledged', async (t) => {
  const { m, host, clock } = setup({ probeMs: 80 });
  m.enqueue(obj(), 0);
  m.transmit(10);
  const s = host.take()[0]!.seq;
  t.equal(m.nextTimerAt(), 80);
  clock.advance(80);
  m.onTimer(clock.now());
  m.transmit(10);
  const p = host.take();
  t.same(p.map((e) => e.flags & ~NET_F.HELLO), [NET_F.ALIVE], 'probe is an ALIVE (consumes a seq)');
  t.equal(p[0]!.seq, s + 1);
  t.equal(m.stats.probesSent, 1);
  t.equal(m.nextTimerAt(), 80 + 160, 'backoff');
  m.onMessage(ctl(40, NET_F.ACK, s, s + 1), 0, 0);
  clock.advance(160);
  m.onTimer(clock.now());
  t.equal(m.txLength, 0, 'no probe once the data is acknowledged');
});

t.test('startup RESYNC retried until acknowledged; ready after the bulk goes idle', async (t) => {
  const { m, host, clock } = setup({ startupResync: true, readyIdleMs: 200 });
  t.equal(m.ready, false);
  m.transmit(10);
  let out = host.take();
  t.equal(out[0]!.flags, NET_F.RESYNC | NET_F.HELLO, 'RESYNC|HELLO first (0x22)');
  clock.advance(1000);
  m.onTimer(clock.now());
  m.transmit(10);
  out = host.take();
  t.ok(
    out.some((e) => e.flags & NET_F.RESYNC),
    'asked again after 1 s',
  );
  const second = out.find((e) => e.flags & NET_F.RESYNC)!;
  t.equal(m.stats.resyncRequests, 2);
  // peer answers: HELLO_BACK on its first message, then the bulk, then ACKs our RESYNC
  m.onMessage(data(5000, NET_F.HELLO_BACK), 0, 0);
  m.onMessage(data(5001), 0, 0);
  m.onMessage(ctl(5002, NET_F.ACK, second.seq - 5, second.seq), 0, 0);
  t.equal(m.stats.resyncAnswered, 1);
  clock.advance(100);
  m.onTimer(clock.now());
  t.equal(m.ready, false, 'bulk may still be arriving');
  clock.advance(200);
  m.onTimer(clock.now());
  t.equal(m.ready, true);
  t.equal(host.readyCalls, 1);
  clock.advance(5000);
  m.onTimer(clock.now());
  m.transmit(10);
  t.notOk(
    host.take().some((e) => e.flags & NET_F.RESYNC),
    'no more RESYNC once answered',
  );
});

t.test('uncertain start (answer head possibly lost) → one more RESYNC', async (t) => {
  const { m, host } = setup({ startupResync: true });
  m.transmit(10);
  const r = host.take()[0]!;
  m.onMessage(data(7000), 0, 0); // first message from the peer lacks HELLO_BACK
  m.onMessage(ctl(7001, NET_F.ACK | NET_F.HELLO_BACK, r.seq, r.seq), 0, 0);
  t.equal(m.stats.resyncAnswered, 0);
  t.equal(m.stats.resyncRequests, 2, 'asked again');
});

t.test('lone node becomes ready after readyTimeoutMs', async (t) => {
  const { m, clock } = setup({ startupResync: true, readyTimeoutMs: 3000 });
  clock.advance(2999);
  m.onTimer(clock.now());
  t.equal(m.ready, false);
  clock.advance(1);
  m.onTimer(clock.now());
  t.equal(m.ready, true);
});

t.test('a heard peer that has not answered holds readiness back longer (readyPeerWaitMs)', async (t) => {
  const { m, clock } = setup({ startupResync: true, readyTimeoutMs: 3000, readyPeerWaitMs: 15000 });
  m.transmit(10);
  clock.advance(500);
  m.onMessage(ctl(900, NET_F.ALIVE), 0, 0); // the peer talks, but does not ACK our RESYNC
  clock.advance(2600);
  m.onTimer(clock.now());
  t.equal(m.ready, false, 'not ready at readyTimeoutMs: the peer is there, its state is not yet');
  t.equal(m.readyReason, undefined);
  clock.advance(15000 - 3100 - 1);
  m.onTimer(clock.now());
  t.equal(m.ready, false);
  clock.advance(1);
  m.onTimer(clock.now());
  t.equal(m.ready, true, 'ready at readyPeerWaitMs');
  t.equal(m.readyReason, 'peerDidNotAnswer');
});

t.test('ready reasons: alone, answered, not asked', async (t) => {
  const lone = setup({ startupResync: true, readyTimeoutMs: 3000 });
  lone.clock.advance(3000);
  lone.m.onTimer(lone.clock.now());
  t.equal(lone.m.readyReason, 'alone');
  t.equal(setup({ startupResync: false }).m.readyReason, 'notAsked');
  const { m, host, clock } = setup({ startupResync: true, readyIdleMs: 200 });
  m.transmit(10);
  const r = host.take()[0]!;
  clock.advance(10); // (the mode treats time 0 as "never")
  m.onMessage(data(7000, NET_F.HELLO_BACK), 0, 0);
  m.onMessage(ctl(7001, NET_F.ACK, r.seq, r.seq), 0, 0);
  t.equal(m.stats.resyncAnswered, 1);
  clock.advance(200);
  m.onTimer(clock.now());
  t.equal(m.ready, true);
  t.equal(m.readyReason, 'answered');
});

t.test('per-sender tracking: one tracker per node, ACK/NACK targeted', async (t) => {
  const { m, host } = setup({ perSender: true, nodeId: 1 });
  m.onMessage(data(100), 2, 0);
  m.onMessage(data(5000), 3, 0);
  m.onMessage(data(101), 2, 0);
  m.onMessage(data(5001), 3, 0);
  t.equal(m.tracker(2).stats.gaps + m.tracker(3).stats.gaps, 0, 'interleaved senders: no false gaps');
  m.onMessage(data(104), 2, 0);
  m.transmit(10);
  const out = host.take();
  t.same(
    out.map((e) => [e.flags & ~NET_F.HELLO, e.from, e.to, e.target]),
    [
      [NET_F.ACK, 100, 101, 2],
      [NET_F.NACK, 102, 103, 2],
    ],
  );
  // our data; node 3 acks it, node 2 not yet → kept; ACK for another node ignored
  const a = obj();
  m.enqueue(a, 0);
  m.transmit(10);
  const s = host.take()[0]!.seq;
  m.onMessage(ctl(5002, NET_F.ACK, s, s), 3, 1);
  t.equal(m.rsLength >= 1, true, 'not released until every live peer acked');
  m.onMessage(ctl(105, NET_F.ACK, s, s), 2, 9);
  t.equal(m.tracker(2).stats.notForUs, 1, 'ACK addressed to node 9 not applied');
  m.onMessage(ctl(106, NET_F.ACK, s, s), 2, 1);
  t.notOk([...m.rsEntries()].includes(a), 'released once both peers acked');
});

t.test('simultaneous start: a RESYNC flushed by the peer HELLO is sent again at once', async (t) => {
  const { m, host } = setup({ startupResync: true });
  m.transmit(10);
  host.take();
  t.equal(m.rsLength, 1, 'RESYNC awaiting its ACK');
  m.onMessage(ctl(40, NET_F.RESYNC | NET_F.HELLO), 0, 0);
  t.equal(m.stats.rsFlushed, 1);
  m.transmit(10);
  const out = host.take();
  t.ok(
    out.some((e) => e.flags & NET_F.RESYNC),
    'asked again without waiting for the retry tick',
  );
  t.equal(m.stats.resyncRequests, 2);
});

t.test('RESYNC retries: endless while alone, bounded when a peer never acknowledges', async (t) => {
  const { m, clock } = setup({ startupResync: true });
  for (let i = 0; i < 20; i++) {
    clock.advance(4000);
    m.onTimer(clock.now());
  }
  t.equal(m.stats.resyncRequests, 21, 'alone: keeps asking (every 4 s at most)');
  // a NOTRACK-like peer: talks, never ACKs
  m.onMessage(ctl(1, NET_F.ALIVE), 0, 0);
  for (let i = 0; i < 20; i++) {
    clock.advance(4000);
    m.onMessage(ctl(2 + i, NET_F.ALIVE), 0, 0);
    m.onTimer(clock.now());
  }
  t.equal(m.stats.resyncRequests, 21 + 5, 'five more while the peer is there');
  t.equal(m.stats.resyncGaveUp, 1);
  t.equal(m.ready, true, 'ready anyway (timeout)');
});
