/** Random and mutated datagrams into FTFW/NOTRACK/ALARM engines: never an exception, all counted. */
import t from 'tap';
import { mulberry32 } from '../../src/sync/mode/alarm';
import { tcpFlow } from './fixtures/flows';
import { node } from './fixtures/nodes';
import { FakeNet, World } from './fixtures/world';

for (const mode of ['ftfw', 'notrack', 'alarm'] as const) {
  t.test(`${mode}: 5000 hostile datagrams`, async (t) => {
    const world = new World();
    const net = new FakeNet(world, { latencyMs: 1 });
    net.record = true;
    const a = node(world, net, 'a', { mode });
    const v = node(world, net, 'victim', { mode });
    // real traffic to mutate
    for (let i = 0; i < 200; i++) a.e.onKernelEvent('new', tcpFlow(i), false, world.clock.now());
    world.run(2000);
    const samples = net.carried.filter((c) => c.from === 'a').map((c) => c.d);
    t.ok(samples.length > 5);
    const evil = net.channel('evil');
    const rng = mulberry32(99);
    const r = (n: number) => Math.floor(rng() * n);
    for (let i = 0; i < 5000; i++) {
      let d: Buffer;
      const kind = r(4);
      if (kind === 0) {
        d = Buffer.alloc(r(64));
        for (let j = 0; j < d.length; j++) d[j] = r(256);
      } else {
        d = Buffer.from(samples[r(samples.length)]!);
        const flips = 1 + r(8);
        for (let j = 0; j < flips && d.length > 0; j++) {
          const p = kind === 1 ? r(Math.min(16, d.length)) : r(d.length); // header-heavy or anywhere
          d[p] = r(256);
        }
        if (kind === 3) d = d.subarray(0, r(d.length + 1)); // truncation
      }
      evil.send(d);
      if (i % 100 === 0) world.run(5);
    }
    world.run(3000);
    t.equal(v.e.stats.engine.rxErrors, 0, 'no exception in the receive path');
    t.ok(v.e.stats.rx.malformed > 0, `rejections counted (${v.e.stats.rx.malformed})`);
    t.ok(v.e.stats.engine.datagramsRecv >= 5000);
    await a.e.close();
    await v.e.close();
  });
}
