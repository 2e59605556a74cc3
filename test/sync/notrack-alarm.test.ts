import t from 'tap';
import { newCacheObject, ObjStatus } from '../../src/cache/object';
import { ManualClock } from '../../src/core/clock';
import { AlarmMode } from '../../src/sync/mode/alarm';
import { NotrackMode } from '../../src/sync/mode/notrack';
import type { SyncObject } from '../../src/sync/mode/types';
import { NET_F, NET_T } from '../../src/sync/wire/constants';
import type { NetHeader } from '../../src/sync/wire/header';
import { tcpFlow } from './fixtures/flows';
import { FakeHost } from './fixtures/fake-host';
import { diffFlows, node } from './fixtures/nodes';
import { FakeNet, World } from './fixtures/world';

const hdr = (seq: number, type: number, flags: number): NetHeader => ({ version: 1, type, flags, len: 16, seq, from: 0, to: 0 });
const obj = (): SyncObject => newCacheObject<unknown>('ct', {}, 0);

t.test('NOTRACK: no HELLO, no resend queue, ALIVE after 1 s idle, stats-only seq tracking', async (t) => {
  const clock = new ManualClock();
  const host = new FakeHost();
  const m = new NotrackMode(clock, host, { startupResync: false });
  const a = obj();
  a.status = ObjStatus.DEAD;
  m.enqueue(a, 0);
  m.transmit(10);
  const out = host.take();
  t.equal(out.length, 1);
  t.equal(out[0]!.flags, 0, 'data carries no flags');
  t.same(host.released, [a], 'released after one send');
  t.equal(m.nextTimerAt(), 1000);
  clock.advance(1000);
  m.onTimer(clock.now());
  m.transmit(10);
  t.same(host.take().map((e) => [e.flags, e.seq - out[0]!.seq]), [[NET_F.ALIVE, 1]]);
  // receive: data applied, gaps only counted, never dropped
  t.equal(m.onMessage(hdr(10, NET_T.STATE_CT_NEW, 0), 0, 0), 'data');
  t.equal(m.onMessage(hdr(15, NET_T.STATE_CT_NEW, 0), 0, 0), 'data', 'gap: still applied');
  t.equal(m.onMessage(hdr(12, NET_T.STATE_CT_NEW, 0), 0, 0), 'data', 'before: still applied');
  t.equal(m.stats.lost, 4);
  t.equal(m.stats.before, 1);
  t.equal(m.onMessage(hdr(13, NET_T.CTL, NET_F.ACK), 0, 0), 'drop', "FTFW's ACK is a bad header in NOTRACK");
  t.equal(m.stats.badCtl, 1);
  t.equal(m.onMessage(hdr(14, NET_T.CTL, NET_F.RESYNC), 0, 0), 'ctl');
  t.equal(host.bulks, 1, 'RESYNC → bulk');
});

t.test('NOTRACK: RESYNC repeated (bounded) until data arrives', async (t) => {
  const clock = new ManualClock();
  const host = new FakeHost();
  const m = new NotrackMode(clock, host, { resyncMaxAttempts: 3 });
  for (let i = 0; i < 20; i++) {
    clock.advance(500);
    m.onTimer(clock.now());
  }
  m.transmit(100);
  const rs = host.take().filter((e) => e.flags === NET_F.RESYNC);
  t.equal(rs.length, 3, 'bounded attempts');
  t.equal(m.ready, true, 'lone node ready after the timeout');
  const m2 = new NotrackMode(clock, host, {});
  m2.onMessage(hdr(1, NET_T.STATE_CT_NEW, 0), 0, 0);
  t.equal(m2.stats.resyncAnswered, 1);
  clock.advance(5000);
  m2.onTimer(clock.now());
  t.equal(m2.stats.resyncRequests, 1, 'no retry once data arrived');
});

t.test('ALARM: refresh timers spread per spec, DEL sent once, flags ignored on receive', async (t) => {
  const clock = new ManualClock();
  const host = new FakeHost();
  const m = new AlarmMode(clock, host, { refreshTime: 5 });
  const delays = Array.from({ length: 2000 }, () => m.refreshDelayMs());
  t.ok(
    delays.every((d) => d >= 1200 - 0.001 && d <= 6000 - 0.001),
    'within [1 s + 200 ms, RefreshTime + 1 s] − 1 µs',
  );
  t.ok(
    delays.every((d) => Math.round((d + 0.001) % 200) % 200 === 0),
    'k·200 ms − 1 µs granularity',
  );
  const a = obj();
  m.enqueue(a, 0);
  m.transmit(10);
  t.equal(host.take()[0]!.flags, 0, 'no flags');
  t.equal(m.armed, 1);
  t.equal(a.refreshAt, m.nextTimerAt());
  // refresh: re-sent, still typed from status (NEW if never updated, spec §2.1)
  clock.advance(a.refreshAt);
  m.onTimer(clock.now());
  m.transmit(10);
  const r = host.take();
  t.equal(r.length, 1);
  t.equal(r[0]!.status, ObjStatus.NEW);
  t.equal(m.stats.refreshes, 1);
  // DEL once, timer disarmed
  a.status = ObjStatus.DEAD;
  m.enqueue(a, 0);
  t.equal(m.armed, 0);
  m.transmit(10);
  t.equal(host.take()[0]!.status, ObjStatus.DEAD);
  t.ok(host.released.includes(a));
  t.equal(m.onMessage(hdr(1, NET_T.CTL, NET_F.ALIVE), 0, 0), 'ctl');
  t.equal(m.onMessage(hdr(2, NET_T.STATE_CT_NEW, NET_F.HELLO), 0, 0), 'ctl', 'HELLO-marked data ignored (spec §4.5)');
  t.equal(m.onMessage(hdr(3, NET_T.STATE_CT_NEW, 0), 0, 0), 'data');
  m.requestResync();
  m.transmit(10);
  t.equal(host.take().length, 0, 'no control messages at all');
});

t.test('NOTRACK link: converges without loss, RESYNC answered with a bulk', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1 });
  const a = node(world, net, 'a', { mode: 'notrack' });
  for (let i = 0; i < 500; i++) a.e.onKernelEvent('new', tcpFlow(i), false, world.clock.now());
  world.run(100);
  // b starts late: its RESYNC pulls the table
  const b = node(world, net, 'b', { mode: 'notrack' });
  world.run(500);
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()), []);
  t.equal(a.e.stats.engine.bulks, 1);
  t.ok(b.e.ready, 'ready: data arrived after the request and went idle');
  await a.e.close();
  await b.e.close();
});

t.test('ALARM link: converges passively within RefreshTime under loss; external entries expire', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1, loss: 0.1, seed: 3 });
  const alarm = { refreshTime: 2, cacheTimeout: 10 };
  const a = node(world, net, 'a', { mode: 'alarm', alarm });
  const b = node(world, net, 'b', { mode: 'alarm', alarm });
  for (let i = 0; i < 300; i++) a.e.onKernelEvent('new', tcpFlow(i), false, world.clock.now());
  // a node joining later learns everything from refreshes, loaded entries included
  for (let i = 0; i < 50; i++) a.e.loadInternal(tcpFlow(1000 + i));
  world.run(50);
  t.ok([...b.e.externalFlows()].length < 350, 'loss: not everything yet');
  world.run(15_000);
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()).slice(0, 5), [], 'converged through refreshes');
  t.ok(a.e.stats.mode.refreshes > 0);
  t.equal(a.e.stats.mode.ctlSent, 0, 'ALARM sends no control messages');
  // a stops (no more refreshes): b expires its entries after CacheTimeout
  await a.e.close();
  world.run(10_500);
  t.equal([...b.e.externalFlows()].length, 0, 'expired after CacheTimeout');
  t.ok(b.e.stats.external.expired >= 350);
  await b.e.close();
});
