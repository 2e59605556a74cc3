/**
 * FTFW flow control (maxInFlight window, stall valve) and the repair of resend-queue entries an
 * ACK skipped (repairStranded): src/sync/mode/ftfw.ts. Pure mode tests on a ManualClock.
 */
import t from 'tap';
import { newCacheObject } from '../../src/cache/object';
import { ManualClock } from '../../src/core/clock';
import { FtfwMode, type FtfwOptions, windowForReceiveBuffer } from '../../src/sync/mode/ftfw';
import type { SyncObject } from '../../src/sync/mode/types';
import { NET_F, NET_T } from '../../src/sync/wire/constants';
import type { NetHeader } from '../../src/sync/wire/header';
import { FakeHost } from './fixtures/fake-host';

const W0 = 1_700_000_000;

function setup(opts: Partial<FtfwOptions> = {}) {
  const clock = new ManualClock(0, W0);
  const host = new FakeHost();
  const m = new FtfwMode(clock, host, { startupResync: false, ackDelayMs: 0, probeMs: 0, ...opts });
  return { clock, host, m };
}

function ctl(seq: number, flags: number, from = 0, to = 0): NetHeader {
  return { version: 1, type: NET_T.CTL, flags, len: flags & (NET_F.ACK | NET_F.NACK | NET_F.RESYNC) ? 16 : 8, seq, from, to };
}
function objs(n: number): SyncObject[] {
  return Array.from({ length: n }, () => newCacheObject<unknown>('ct', {}, 0));
}

t.test('window: at most maxInFlight messages beyond the highest ACK; an ACK reopens it', async (t) => {
  const { m, host } = setup({ maxInFlight: 600 });
  for (const o of objs(2000)) m.enqueue(o, 0);
  t.equal(m.transmit(4096), 600, 'first pass stops at the window');
  const first = host.take();
  t.equal(first.length, 600);
  t.equal(m.txLength, 1400, 'the rest waits in the tx queue');
  t.equal(m.inFlight, 600);
  t.notOk(m.hasPending(), 'no busy transmit loop while the window is full');
  t.equal(m.stats.windowFull, 1, 'counted once per blocked episode');
  const s0 = first[0]!.seq;
  host.pending = 0;
  m.onMessage(ctl(9000, NET_F.ACK, s0, s0 + 299), 0, 0);
  t.ok(host.pending > 0, 'the ACK schedules a transmit pass');
  t.ok(m.hasPending());
  t.equal(m.transmit(4096), 300, 'exactly the acknowledged 300 more');
  t.equal(m.inFlight, 600);
  t.equal(m.rsLength, 600, 'acknowledged entries left the resend queue');
});

t.test('window: control messages overtake held-back data', async (t) => {
  const { m, host } = setup({ maxInFlight: 600 });
  for (const o of objs(1000)) m.enqueue(o, 0);
  m.transmit(4096);
  host.take();
  m.requestResync(); // a RESYNC queued behind 400 held-back objects
  t.ok(m.hasPending(), 'a control message is pending although the window is full');
  t.equal(m.transmit(4096), 1, 'only the control message goes');
  const out = host.take();
  t.equal(out[0]!.kind, 'ctl');
  t.ok(out[0]!.flags & NET_F.RESYNC, 'it is the RESYNC');
  t.equal(m.txLength, 400, 'data still held');
  t.notOk(m.hasPending());
});

t.test('window: a peer that never ACKs gets the next window after windowStallMs', async (t) => {
  const { m, host, clock } = setup({ maxInFlight: 600, windowStallMs: 1500 });
  for (const o of objs(1000)) m.enqueue(o, 0);
  m.transmit(4096);
  host.take();
  t.notOk(m.hasPending());
  t.ok(m.nextTimerAt() <= 1500, 'a timer is armed for the stall valve');
  clock.advance(1500);
  host.pending = 0;
  m.onTimer(clock.now());
  t.ok(host.pending > 0, 'the stall valve schedules a pass');
  t.equal(m.transmit(4096), 400 + 1, 'the rest (and the ALIVE of the 1 s tick) go');
  t.equal(m.stats.windowStalls, 1);
});

t.test('window: off (0) sends everything in one pass (conntrackd)', async (t) => {
  const { m } = setup({ maxInFlight: 0 });
  for (const o of objs(2000)) m.enqueue(o, 0);
  t.equal(m.transmit(4096), 2000);
});

t.test('stranded entries: an ACK past entries still queued re-sends them (lost NACK)', async (t) => {
  for (const repair of [true, false]) {
    const { m, host } = setup({ repairStranded: repair, maxInFlight: 0 });
    const os = objs(10);
    for (const o of os) m.enqueue(o, 0);
    m.transmit(100);
    const s0 = host.take()[0]!.seq;
    // the receiver lost s0..s0+4, its NACK was lost too; it acknowledges what followed
    host.pending = 0;
    m.onMessage(ctl(9000, NET_F.ACK, s0 + 5, s0 + 9), 0, 0);
    if (repair) {
      t.equal(m.txLength, 5, 'repair: the five skipped entries are queued again');
      t.equal(m.rsLength, 0);
      t.equal(m.stats.strandedResends, 5);
      t.ok(host.pending > 0, 'and a pass is scheduled');
      m.transmit(100);
      const again = host.take();
      t.same(
        again.map((e) => e.obj),
        os.slice(0, 5),
        'the same objects, oldest first',
      );
      t.ok(again[0]!.seq > s0 + 9, 'with fresh seqs');
    } else {
      t.equal(m.rsLength, 5, 'conntrackd behaviour: they stay in the resend queue');
      t.equal(m.txLength, 0);
    }
  }
});

t.test('stranded RESYNC is dropped, not re-sent (no second bulk)', async (t) => {
  const { m, host } = setup({ repairStranded: true, maxInFlight: 0 });
  m.requestResync();
  for (const o of objs(3)) m.enqueue(o, 0);
  m.transmit(100);
  const out = host.take();
  const s0 = out[0]!.seq;
  m.onMessage(ctl(9000, NET_F.ACK, s0 + 1, s0 + 3), 0, 0);
  t.equal(m.rsLength, 0, 'resend queue empty');
  t.equal(m.txLength, 0, 'the RESYNC is not queued again');
});

t.test('windowForReceiveBuffer', async (t) => {
  t.equal(windowForReceiveBuffer(212992, 1472), 286, '208 KiB default buffer');
  t.equal(windowForReceiveBuffer(8 << 20, 1472), 11264, '8 MiB (16 MiB requested, rmem_max 4 MiB)');
  t.equal(windowForReceiveBuffer(1 << 30, 1472), 16384, 'capped');
  t.equal(windowForReceiveBuffer(4096, 1472), 256, 'floor');
  const { m } = setup({ maxInFlight: 286 });
  for (const o of objs(1000)) m.enqueue(o, 0);
  t.equal(m.transmit(4096), 600, 'raised to 2 × ackWindow');
});
