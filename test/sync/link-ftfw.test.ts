/**
 * Two (and three) FTFW engines over an in-memory lossy link: convergence, restart, per-sender
 * tracking, and spec-visible wire behaviour decoded from what the fake channel carried.
 */
import t from 'tap';
import { tcpFlow } from './fixtures/flows';
import { diffFlows, fakeEnvelope, node, type Node } from './fixtures/nodes';
import { FakeNet, World } from './fixtures/world';
import { mulberry32 } from '../../src/sync/mode/alarm';
import { NET_F, NET_T } from '../../src/sync/wire/constants';
import type { NetHeader } from '../../src/sync/wire/header';
import { WireRxStats } from '../../src/sync/wire/stats';
import { walkDatagram } from '../../src/sync/wire/walk';

function decode(d: Buffer): NetHeader[] {
  const hs: NetHeader[] = [];
  walkDatagram(d, 0, d.length, new WireRxStats(), (h) => hs.push(h));
  return hs;
}

/** Drives a workload of NEW/UPDATE/DESTROY events on node n; returns when done (simulated). */
function workload(world: World, n: Node, opts: { news: number; perTick: number; tickMs: number; seed: number; base?: number }) {
  const rng = mulberry32(opts.seed);
  const base = opts.base ?? 0;
  const live: number[] = [];
  let next = 0;
  let events = 0;
  while (next < opts.news) {
    for (let i = 0; i < opts.perTick && next < opts.news; i++) {
      const id = base + next++;
      n.e.onKernelEvent('new', tcpFlow(id), false, world.clock.now());
      live.push(id);
      events++;
      const r = rng();
      if (r < 0.25 && live.length > 0) {
        const j = live[Math.floor(rng() * live.length)]!;
        n.e.onKernelEvent('update', tcpFlow(j, { mark: Math.floor(rng() * 1000), tcp: { state: 1 + Math.floor(rng() * 7) } }), false, world.clock.now());
        events++;
      } else if (r < 0.35 && live.length > 0) {
        const k = Math.floor(rng() * live.length);
        const j = live[k]!;
        live[k] = live[live.length - 1]!;
        live.pop();
        n.e.onKernelEvent('destroy', tcpFlow(j), false, world.clock.now());
        events++;
      }
    }
    world.run(opts.tickMs);
  }
  return events;
}

function runUntilConverged(world: World, a: Node, b: Node, maxMs: number, stepMs = 10): number {
  const t0 = world.clock.now();
  while (world.clock.now() - t0 < maxMs) {
    if (diffFlows(a.e.internalFlows(), b.e.externalFlows()).length === 0) return world.clock.now() - t0;
    world.run(stepMs);
  }
  return -1;
}

t.test('20k entries under 10% loss (+dup, reorder): peer external == sender internal', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { loss: 0.1, dup: 0.01, latencyMs: 1, reorder: 0.02, jitterMs: 3, seed: 42 });
  const a = node(world, net, 'a');
  const b = node(world, net, 'b');
  world.run(5000);
  t.ok(a.e.ready && b.e.ready, 'both ready (lone-node timeout or answered RESYNC)');
  const started = Date.now();
  const events = workload(world, a, { news: 20000, perTick: 200, tickMs: 5, seed: 7 });
  const conv = runUntilConverged(world, a, b, 10000);
  const wallMs = Date.now() - started;
  t.not(conv, -1, 'converged');
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()).slice(0, 5), [], 'no differences');
  const sa = a.e.stats;
  const sb = b.e.stats;
  t.ok(sa.mode.resends > 0, `resends happened (${sa.mode.resends})`);
  t.ok(sb.mode.nacksSent > 0, `receiver NACKed gaps (${sb.mode.nacksSent})`);
  t.equal(sa.mode.rsOverflow, 0, 'no resend-queue overflow');
  world.run(3000);
  t.equal(a.e.internal.size, [...a.e.internalFlows()].length, 'DEAD objects released once acknowledged');
  t.ok(a.e.stats.rsQueue < 10, `sender resend queue drained of data (${a.e.stats.rsQueue} control entries left)`);
  const lag = sa.mode.lag;
  t.ok(lag.count > 15000, `lag histogram filled (${lag.count})`);
  t.comment(
    `events=${events} converged ${conv} ms (simulated) after the last event; wall ${wallMs} ms; ` +
      `resends=${sa.mode.resends} nacks=${sb.mode.nacksSent} probes=${sa.mode.probesSent} promptAcks=${sb.mode.promptAcks} ` +
      `datagrams a→b=${sa.engine.datagramsSent} lag mean=${(lag.sum / lag.count).toFixed(1)} ms buckets=${lag.counts.join(',')}`,
  );
  t.ok(conv <= 2000, `lost tail recovered quickly (${conv} ms)`);
  await a.e.close();
  await b.e.close();
});

t.test('tail loss is found in ≤200 ms (probe + prompt ACK)', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1 });
  const a = node(world, net, 'a');
  const b = node(world, net, 'b');
  world.run(4000);
  // burst of 50, the last datagram of it lost
  net.down = false;
  for (let i = 0; i < 50; i++) a.e.onKernelEvent('new', tcpFlow(i), false, world.clock.now());
  // cut only a's last datagram: drop everything during the pass
  net.down = true;
  world.run(0);
  net.down = false;
  t.equal([...b.e.externalFlows()].length, 0, 'burst lost entirely');
  const conv = runUntilConverged(world, a, b, 2000, 5);
  t.ok(conv >= 0 && conv <= 200, `recovered in ${conv} ms (≤ 200)`);
  t.ok(a.e.stats.mode.probesSent >= 1, 'an early ALIVE probe revealed the gap');
  await a.e.close();
  await b.e.close();
});

t.test('only the last datagram of a burst lost: found in ≤200 ms, conntrackd-like ~1 s', async (t) => {
  const results: Record<string, number> = {};
  for (const [label, ftfw] of [
    ['ours', {}],
    ['conntrackd-like', { probeMs: 0, ackDelayMs: 0 }],
  ] as const) {
    const world = new World();
    const net = new FakeNet(world, { latencyMs: 1 });
    const a = node(world, net, 'a', { ftfw });
    const b = node(world, net, 'b', { ftfw });
    world.run(4000);
    let dropped = 0;
    // the burst's last datagram is the only partly filled data datagram
    net.dropIf = (from, d) => {
      const drop = dropped === 0 && from === 'a' && (d[0]! & 0x0f) <= 2 && d.length < 1400;
      if (drop) dropped++;
      return drop;
    };
    for (let i = 0; i < 300; i++) a.e.onKernelEvent('new', tcpFlow(i), false, world.clock.now());
    world.run(2);
    t.equal(dropped, 1, `${label}: tail datagram dropped`);
    const have = [...b.e.externalFlows()].length;
    t.ok(have > 250 && have < 300, `${label}: ${have}/300 arrived`);
    results[label] = 2 + runUntilConverged(world, a, b, 3000, 5);
    await a.e.close();
    await b.e.close();
  }
  t.comment(`tail recovery: ours ${results.ours} ms, conntrackd-like ${results['conntrackd-like']} ms`);
  t.ok(results.ours! >= 0 && results.ours! <= 200, `ours ≤ 200 ms (${results.ours})`);
  t.ok(results['conntrackd-like']! >= 900, `conntrackd-like waits for the 1 s ALIVE (${results['conntrackd-like']})`);
});

t.test('restart of one side mid-burst converges without manual action', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { loss: 0.05, latencyMs: 1, reorder: 0.02, jitterMs: 2, seed: 9 });
  const a = node(world, net, 'a');
  let b = node(world, net, 'b');
  // b owns some flows of its own (kernel dump at start)
  for (let i = 0; i < 100; i++) b.e.onKernelEvent('new', tcpFlow(900000 + i), false, world.clock.now());
  world.run(4000);
  workload(world, a, { news: 2500, perTick: 250, tickMs: 5, seed: 1 });
  // b crashes mid-burst and comes back 300 ms later with empty caches; its kernel still has its flows
  await b.e.close();
  workload(world, a, { news: 1000, perTick: 250, tickMs: 5, seed: 2, base: 2500 });
  world.run(300);
  b = node(world, net, 'b2');
  for (let i = 0; i < 100; i++) b.e.loadInternal(tcpFlow(900000 + i));
  workload(world, a, { news: 1500, perTick: 250, tickMs: 5, seed: 3, base: 3500 });
  const conv = runUntilConverged(world, a, b, 15000, 20);
  t.not(conv, -1, `restarted node converged (${conv} ms after the burst)`);
  t.same(diffFlows(a.e.internalFlows(), b.e.externalFlows()).slice(0, 5), []);
  t.same(diffFlows(b.e.internalFlows(), a.e.externalFlows()).slice(0, 5), [], 'survivor still holds the restarted node flows');
  // after a loss the receiver wants aliveMs + windowStallMs (2.5 s) without data before it calls
  // the bulk complete (ftfw readyCheckAt; test/daemon/fixtures/ready-under-loss.repro.ts)
  world.run(3000);
  t.ok(b.e.ready, 'restarted node ready (its RESYNC was answered and the bulk went idle)');
  t.equal(b.e.stats.mode.resyncAnswered, 1);
  t.ok(a.e.stats.engine.bulks >= 1, 'survivor answered the RESYNC with a bulk');
  await a.e.close();
  await b.e.close();
});

t.test('three FTFW nodes with per-sender tracking converge under loss', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { loss: 0.1, latencyMs: 1, reorder: 0.02, jitterMs: 2, seed: 5 });
  const ns = [1, 2, 3].map((id) => node(world, net, `n${id}`, { envelope: fakeEnvelope(id), nodeId: id }));
  world.run(5000);
  for (let round = 0; round < 10; round++) {
    ns.forEach((n, k) => {
      workload(world, n, { news: 300, perTick: 100, tickMs: 2, seed: 100 * round + k, base: k * 100000 + round * 300 });
    });
  }
  world.run(5000);
  for (const [i, n] of ns.entries()) {
    const want = ns.filter((_, j) => j !== i).flatMap((o) => [...o.e.internalFlows()]);
    t.same(diffFlows(want, n.e.externalFlows()).slice(0, 5), [], `${n.name} external == union of the others' internal`);
  }
  const p = ns[0]!.e.stats.peers;
  t.same(
    p.map((x) => x.id).sort(),
    [2, 3],
    'one tracker per sender',
  );
  t.ok(
    p.every((x) => x.mode.gaps > 0 && x.mode.nacksSent > 0),
    'gaps detected and NACKed per sender',
  );
  for (const n of ns) await n.e.close();
});

t.test('three nodes: one restarts mid-burst and converges with both others', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { loss: 0.05, latencyMs: 1, reorder: 0.02, jitterMs: 2, seed: 11 });
  const ns = [1, 2, 3].map((id) => node(world, net, `n${id}`, { envelope: fakeEnvelope(id), nodeId: id }));
  world.run(5000);
  workload(world, ns[0]!, { news: 1000, perTick: 200, tickMs: 5, seed: 1 });
  workload(world, ns[1]!, { news: 500, perTick: 100, tickMs: 5, seed: 2, base: 200000 });
  await ns[2]!.e.close();
  workload(world, ns[0]!, { news: 1000, perTick: 200, tickMs: 5, seed: 3, base: 1000 });
  world.run(200);
  ns[2] = node(world, net, 'n3b', { envelope: fakeEnvelope(3), nodeId: 3 });
  workload(world, ns[1]!, { news: 500, perTick: 100, tickMs: 5, seed: 4, base: 200500 });
  world.run(8000);
  for (const [i, n] of ns.entries()) {
    const want = ns.filter((_, j) => j !== i).flatMap((o) => [...o.e.internalFlows()]);
    t.same(diffFlows(want, n.e.externalFlows()).slice(0, 5), [], `${n.name} converged`);
  }
  t.ok(ns[2]!.e.ready, 'restarted node ready');
  t.ok(ns[0]!.e.stats.peers.find((p) => p.id === 3)!.mode.hellos >= 2, 'n1 saw n3 restart (a second HELLO period)');
  for (const n of ns) await n.e.close();
});

t.test('without the envelope three nodes get false gaps (conntrackd single tracker, spec §4.6)', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1 });
  const ns = [1, 2, 3].map((id) => node(world, net, `n${id}`));
  world.run(4000);
  for (const [k, n] of ns.entries()) workload(world, n, { news: 200, perTick: 50, tickMs: 2, seed: k, base: k * 100000 });
  world.run(100);
  const m0 = ns[0]!.e.stats.mode;
  t.ok(m0.lost + m0.before > 0, `no loss on the net, yet ${m0.lost} "lost" and ${m0.before} dropped as "before"`);
  const w2 = new World();
  const net2 = new FakeNet(w2, { latencyMs: 1 });
  const ms = [1, 2, 3].map((id) => node(w2, net2, `m${id}`, { envelope: fakeEnvelope(id), nodeId: id }));
  w2.run(4000);
  for (const [k, n] of ms.entries()) workload(w2, n, { news: 200, perTick: 50, tickMs: 2, seed: k, base: k * 100000 });
  w2.run(100);
  t.equal(ms[0]!.e.stats.mode.lost, 0, 'per-sender: no false gaps');
  for (const n of [...ns, ...ms]) await n.e.close();
});

t.test('wire-visible behaviour (decoded from the channel)', async (t) => {
  const world = new World();
  const net = new FakeNet(world, { latencyMs: 1 });
  net.record = true;
  const a = node(world, net, 'a');
  world.run(0);
  const first = decode(net.carried[0]?.d ?? Buffer.alloc(0));
  t.same(
    first.map((h) => [h.type, h.flags, h.len, h.from, h.to]),
    [[NET_T.CTL, NET_F.RESYNC | NET_F.HELLO, 16, 0, 0]],
    'startup: RESYNC|HELLO (0x22), 16 bytes, 0/0',
  );
  t.equal(first[0]!.seq, 1_700_000_000, 'seq seeded from wall seconds');
  net.carried.length = 0;
  // created and updated before the queue drains → one message, typed UPD (spec §2.1)
  a.e.onKernelEvent('new', tcpFlow(1), false, 0);
  a.e.onKernelEvent('update', tcpFlow(1, { mark: 3 }), false, 0);
  a.e.onKernelEvent('new', tcpFlow(2), false, 0);
  a.e.onKernelEvent('destroy', tcpFlow(2), false, 0);
  a.e.onKernelEvent('new', tcpFlow(3), true, 0); // self-caused: not sent
  world.run(0);
  t.equal(net.carried.length, 1, 'one transmit pass → one datagram');
  const hs = decode(net.carried[0]!.d);
  t.same(
    hs.map((h) => h.type),
    [NET_T.STATE_CT_UPD, NET_T.STATE_CT_DEL],
    'NEW+UPD coalesced as UPD; NEW+DESTROY goes out as DEL',
  );
  t.same(
    hs.map((h) => h.seq),
    [first[0]!.seq + 1, first[0]!.seq + 2],
    'consecutive seqs',
  );
  t.ok(hs.every((h) => h.flags === NET_F.HELLO), 'HELLO until a HELLO_BACK arrives');
  // 1 s later: ALIVE
  net.carried.length = 0;
  world.run(1000);
  const alive = net.carried.flatMap((c) => decode(c.d));
  t.ok(
    alive.some((h) => h.type === NET_T.CTL && h.flags & NET_F.ALIVE && h.len === 8),
    'ALIVE (8 bytes) on the 1 s tick',
  );
  // a peer appears: it answers HELLO with HELLO_BACK and we stop saying HELLO
  const b = node(world, net, 'b');
  world.run(3000);
  net.carried.length = 0;
  a.e.onKernelEvent('new', tcpFlow(9), false, world.clock.now());
  world.run(0);
  const later = decode(net.carried[0]!.d);
  t.equal(later[0]!.flags & NET_F.HELLO, 0, 'handshake done');
  t.ok(b.e.stats.engine.appliedNew + b.e.stats.engine.appliedUpd >= 1, 'peer applied the bulk/new');
  // datagrams never exceed maxPayload
  const sizes = net.carried.map((c) => c.d.length);
  t.ok(sizes.every((s) => s < 1471), 'datagram payload < maxPayload');
  await a.e.close();
  await b.e.close();
});
