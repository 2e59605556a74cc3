/** SyncEngine behaviours beyond convergence: filter, expectations, -B/-n/-f, stats, errors. */
import t from 'tap';
import { systemClock } from '../../src/core/clock';
import { FlowFilter } from '../../src/filter/flow-filter';
import { parseAddr, parseCidr } from '../../src/flow/address';
import { realScheduler, SyncEngine } from '../../src/sync/engine';
import { NET_F, NET_T } from '../../src/sync/wire/constants';
import type { NetHeader } from '../../src/sync/wire/header';
import { WireRxStats } from '../../src/sync/wire/stats';
import { DEFAULT_WIRE_OPTIONS } from '../../src/sync/wire/options';
import { walkDatagram } from '../../src/sync/wire/walk';
import { ftpExp, tcpFlow, udpFlow } from './fixtures/flows';
import { diffFlows, fakeEnvelope, node } from './fixtures/nodes';
import { FakeNet, World } from './fixtures/world';

function headers(net: FakeNet, from?: string): NetHeader[] {
  const hs: NetHeader[] = [];
  for (const c of net.carried) {
    if (from && c.from !== from) continue;
    walkDatagram(c.d, 0, c.d.length, new WireRxStats(), (h) => hs.push(h));
  }
  return hs;
}

function pair(opts: Parameters<typeof node>[3] = {}, netOpts: ConstructorParameters<typeof FakeNet>[1] = {}) {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1, ...netOpts });
  const a = node(world, net, 'a', opts);
  const b = node(world, net, 'b', opts);
  world.run(4000);
  return { world, net, a, b };
}

t.test('filter applies to kernel events and loads, not to received data', async (t) => {
  const filter = new FlowFilter({ protocol: { mode: 'accept', protos: [6] } }, [parseCidr('10.99.0.1')]);
  const { world, a, b } = pair();
  const world2 = world;
  const net2 = new FakeNet(world2, { latencyMs: 1 });
  const f = node(world2, net2, 'f', { filter });
  f.e.onKernelEvent('new', udpFlow('1.1.1.1', '2.2.2.2'), false, 0);
  const link = tcpFlow(2);
  link.orig = { ...link.orig, src: parseAddr('10.99.0.1') };
  f.e.onKernelEvent('new', link, false, 0); // the sync link's own address: ignored automatically
  f.e.onKernelEvent('new', tcpFlow(1), false, 0);
  f.e.loadInternal(udpFlow('3.3.3.3', '4.4.4.4'));
  t.equal([...f.e.internalFlows()].length, 1, 'only the TCP flow entered');
  t.equal(f.e.stats.engine.filtered, 3);
  t.equal(f.e.stats.filter?.protocol, 2);
  t.equal(f.e.stats.filter?.selfAddress, 1);
  // received data is never filtered: a sends UDP to b (b has no filter here, check f-like engine below)
  a.e.onKernelEvent('new', udpFlow('5.5.5.5', '6.6.6.6'), false, 0);
  world.run(10);
  t.equal([...b.e.externalFlows()].length, 1);
  await f.e.close();
  await a.e.close();
  await b.e.close();
});

t.test('expectations: replicated when the master is known, filtered by helper', async (t) => {
  const { world, a, b } = pair({ expectationSync: ['ftp'] });
  const m = tcpFlow(7);
  a.e.onKernelExpectation('new', ftpExp(m), false);
  t.equal([...a.e.internalExpectations()].length, 0, 'master not in the internal cache: dropped');
  a.e.onKernelEvent('new', m, false, 0);
  a.e.onKernelExpectation('new', ftpExp(m), false);
  a.e.onKernelExpectation('new', ftpExp(m, 'sip', 5060), false);
  world.run(10);
  const got = [...b.e.externalExpectations()];
  t.equal(got.length, 1, 'ftp expectation replicated, sip filtered');
  t.equal(got[0]?.helper, 'ftp');
  t.equal(got[0]?.tuple.dport, 50000);
  a.e.onKernelExpectation('destroy', ftpExp(m), false);
  world.run(10);
  t.equal([...b.e.externalExpectations()].length, 0, 'EXP_DEL applied');
  const off = pair();
  off.a.e.onKernelEvent('new', m, false, 0);
  off.a.e.onKernelExpectation('new', ftpExp(m), false);
  t.equal([...off.a.e.internalExpectations()].length, 0, 'ExpectationSync off: ignored');
  for (const e of [a, b, off.a, off.b]) await e.e.close();
});

t.test('self-caused changes are cached but not sent; -f internal withdraws queued objects', async (t) => {
  const { world, net, a, b } = pair();
  net.record = true;
  a.e.onKernelEvent('new', tcpFlow(1), true, 0);
  world.run(10);
  t.equal([...a.e.internalFlows()].length, 1);
  t.equal([...b.e.externalFlows()].length, 0, 'not replicated');
  a.e.onKernelEvent('new', tcpFlow(2), false, 0);
  a.e.flushInternal(); // before the transmit pass
  world.run(10);
  t.equal([...a.e.internalFlows()].length, 0);
  t.notOk(
    headers(net, 'a').some((h) => h.type <= NET_T.STATE_EXP_DEL),
    'nothing sent: no NEW, and no DEL for the flushed objects',
  );
  await a.e.close();
  await b.e.close();
});

t.test('a NEW replacing an object whose lost message awaits resend: the old one is withdrawn, the peer keeps the flow', async (t) => {
  const { world, net, a, b } = pair({ ftfw: { probeMs: 0 } });
  net.down = true;
  a.e.onKernelEvent('new', tcpFlow(1), false, 0); // lost
  world.run(5);
  net.down = false;
  // a NEW for a key we hold (e.g. the destroy event was lost in a netlink overrun): replaces it
  a.e.onKernelEvent('new', tcpFlow(1, { mark: 2 }), false, 0);
  world.run(3000); // gap found, NACK, resend
  const got = [...b.e.externalFlows()];
  t.equal(got.length, 1, 'flow present at the peer');
  t.equal(got[0]?.mark, 2, 'with the new state');
  t.equal(a.e.internal.stats.replaced, 1);
  await a.e.close();
  await b.e.close();
});

t.test('-B bulk sends loaded entries; -n pulls the peer table', async (t) => {
  const { world, a, b } = pair();
  for (let i = 0; i < 1000; i++) a.e.loadInternal(tcpFlow(i));
  world.run(50);
  t.equal([...b.e.externalFlows()].length, 0, 'start-up dump is not sent');
  const bulks0 = a.e.stats.engine.bulks;
  a.e.bulkSend();
  world.run(50);
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()), [], '-B');
  b.e.flushExternal();
  t.equal([...b.e.externalFlows()].length, 0, '-f external');
  b.e.requestResync();
  world.run(50);
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()), [], '-n: peer answered with a bulk');
  t.equal(a.e.stats.engine.bulks - bulks0, 2, '-B and the answer to -n');
  t.ok(a.e.stats.engine.bulkObjects >= 2000);
  await a.e.close();
  await b.e.close();
});

t.test('idle link keeps conntrackd cadence: about one ACK/ALIVE per second per side', async (t) => {
  const { world, net, a, b } = pair();
  for (let i = 0; i < 100; i++) a.e.onKernelEvent('new', tcpFlow(i), false, 0);
  world.run(2000);
  net.record = true;
  world.run(10_000);
  const fromA = headers(net, 'a');
  const fromB = headers(net, 'b');
  t.ok(fromA.length >= 9 && fromA.length <= 12, `a sent ${fromA.length} messages in 10 s idle`);
  t.ok(fromB.length >= 9 && fromB.length <= 12, `b sent ${fromB.length} messages in 10 s idle`);
  t.ok(
    fromA.every((h) => h.type === NET_T.CTL && (h.flags & (NET_F.ACK | NET_F.ALIVE)) !== 0),
    'only ACK/ALIVE',
  );
  t.equal(a.e.stats.rsQueue <= 2, true, 'resend queue holds only the last control messages');
  await a.e.close();
  await b.e.close();
});

t.test('stats: oldest unacknowledged age grows while the peer is unreachable; per-peer view', async (t) => {
  const { world, net, a, b } = pair();
  net.down = true;
  a.e.onKernelEvent('new', tcpFlow(1), false, world.clock.now());
  world.run(500);
  const age = a.e.stats.oldestUnackedAgeMs;
  t.ok(age !== undefined && age >= 499, `oldest unacked ${age} ms`);
  net.down = false;
  world.run(2500);
  t.equal([...b.e.externalFlows()].length, 1, 'delivered after the link came back');
  t.ok(a.e.stats.mode.lag.count >= 1, 'lag recorded on ACK');
  t.ok(a.e.stats.mode.lag.sum >= 500, 'lag includes the outage');
  const peers = b.e.stats.peers;
  t.same(peers.map((p) => p.id), [0], 'single conntrackd-compatible tracker without envelope');
  t.ok(peers[0]!.mode.msgsRecv > 0 && peers[0]!.rx.messages > 0);
  t.ok(peers[0]!.mode.lastRecvAt > 0);
  const ap = a.e.stats.peers[0]!.mode;
  t.ok(ap.msgsSent > 0 && ap.msgsSent <= a.e.stats.mode.msgsSent, `per-peer messages sent (${ap.msgsSent})`);
  t.ok(ap.bytesSent > 0 && ap.bytesSent <= a.e.stats.engine.bytesSent, 'per-peer bytes sent');
  await a.e.close();
  await b.e.close();
});

t.test('envelope: rejected datagrams counted; wire rejections counted per peer', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1 });
  const a = node(world, net, 'a', { envelope: fakeEnvelope(1), nodeId: 1 });
  const raw = net.channel('raw');
  raw.send(Buffer.from([0, 0, 0, 1, 0x10])); // "from node 1" = a itself → envelope refuses
  raw.send(Buffer.from([0, 0, 0, 7, 0x10, 0, 0, 0])); // node 7, truncated message
  world.run(5);
  t.equal(a.e.stats.engine.envelopeRejected, 1);
  const p7 = a.e.stats.peers.find((p) => p.id === 7);
  t.equal(p7?.rx.truncated, 1, 'truncated counted for node 7');
  t.equal(a.e.stats.rx.malformed, 1, 'and in the total');
  await a.e.close();
});

t.test('an object that can never fit a datagram: counted, its seq filled by an ALIVE', async (t) => {
  const { world, net, a, b } = pair({}, { maxPayload: 80 });
  net.record = true;
  a.e.onKernelEvent('new', tcpFlow(1, { helper: 'a-long-helper' }), false, 0);
  a.e.onKernelEvent('new', udpFlow('1.1.1.1', '2.2.2.2', { timeout: undefined }), false, 0);
  world.run(50);
  t.equal(a.e.stats.engine.encodeErrors, 1);
  t.equal(b.e.stats.mode.lost, 0, 'no gap at the peer');
  t.equal([...b.e.externalFlows()].length, 1, 'the small flow went through');
  t.ok(headers(net, 'a').every((h) => h.len < 80));
  await a.e.close();
  await b.e.close();
});

t.test('real scheduler and clock: two engines over an in-process channel pair', async (t) => {
  type Cb = (d: Buffer, from: string) => void;
  const cbs: (Cb | null)[] = [null, null];
  const chan = (i: number) => ({
    maxPayload: 1471,
    send: (d: Buffer) => {
      const peer = cbs[1 - i];
      setImmediate(() => peer?.(d, `n${i}`));
    },
    onDatagram: (cb: Cb) => {
      cbs[i] = cb;
    },
    close: async () => {
      cbs[i] = null;
    },
  });
  const mk = (i: number, onReady?: () => void) =>
    new SyncEngine({
      mode: 'ftfw',
      clock: systemClock,
      channel: chan(i),
      wire: DEFAULT_WIRE_OPTIONS,
      cacheLimit: 0,
      scheduler: realScheduler(systemClock),
      ftfw: { readyTimeoutMs: 300 },
      onPeerResyncDone: onReady,
    });
  let readyCalls = 0;
  const a = mk(0, () => readyCalls++);
  const b = mk(1);
  for (let i = 0; i < 2000; i++) a.onKernelEvent('new', tcpFlow(i), false, systemClock.now());
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && (diffFlows(a.internalFlows(), b.externalFlows()).length > 0 || !a.ready)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.same(diffFlows(a.internalFlows(), b.externalFlows()), [], 'converged in real time');
  t.ok(a.ready && b.ready, 'both ready');
  t.equal(readyCalls, 1, 'onPeerResyncDone called once');
  await a.close();
  await b.close();
});
