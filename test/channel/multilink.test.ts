/** Multilink decision rules with in-memory channels (no sockets): silence fail-over, limits. */
import t from 'tap';
import { LogLimiter, normalizeAddress } from '../../src/channel/common';
import { MultiLinkChannel } from '../../src/channel/multilink';
import { type ChannelStats, newChannelStats, type StatsChannel } from '../../src/channel/types';

class FakeChannel implements StatsChannel {
  readonly stats: ChannelStats = newChannelStats();
  readonly sent: Buffer[] = [];
  private cb: ((d: Buffer, from: string) => void) | undefined;
  constructor(readonly maxPayload = 1472) {}
  send(d: Buffer): void {
    this.sent.push(d);
  }
  onDatagram(cb: (d: Buffer, from: string) => void): void {
    this.cb = cb;
  }
  deliver(text: string): void {
    this.cb?.(Buffer.from(text), '10.0.0.9');
  }
  async close(): Promise<void> {}
}

t.test('silence fail-over only when another link receives', async (t) => {
  let now = 0;
  const up = new Map([
    ['x0', true],
    ['x1', true],
  ]);
  const c0 = new FakeChannel(1472);
  const c1 = new FakeChannel(8972);
  const ml = new MultiLinkChannel({
    links: [
      { channel: c0, interface: 'x0' },
      { channel: c1, interface: 'x1' },
    ],
    silenceMs: 1000,
    pollMs: 60_000,
    readLinkUp: (i) => up.get(i) ?? false,
    now: () => now,
    rotateOnSilence: false, // conntrackd's rules only; rotation has its own test below
  });
  t.teardown(() => ml.close());
  t.equal(ml.maxPayload, 1472, 'smallest link wins');
  const got: string[] = [];
  ml.onDatagram((d) => got.push(d.toString()));
  c0.deliver('a');
  now = 5000;
  ml.poll();
  t.equal(ml.current, 0, 'silent everywhere: stay');
  ml.send(Buffer.from('p'));
  t.equal(c0.sent.length, 1);
  // link 1 hears something but B keeps sending on 0? receive switches at once (spec §1.1)
  c1.deliver('b');
  t.equal(ml.current, 1, 'last delivering link becomes current');
  t.equal(ml.stats.switches, 1);
  c0.deliver('c');
  t.equal(ml.current, 0);
  t.same(got, ['a', 'b', 'c'], 'every link delivers to the handler');
  now = 7000;
  c1.deliver('d');
  t.equal(ml.current, 1);
  // link 1 goes down: back to 0, which has been silent since 5000
  up.set('x1', false);
  ml.poll();
  t.equal(ml.current, 0, 'down fail-over to the first other up link');
  t.equal(ml.stats.downFailovers, 1);
  up.set('x1', true);
  now = 7500;
  ml.poll(); // link 0 silent since 5000 (> 1 s), link 1 heard at 7000 (within 1 s)
  t.equal(ml.stats.silenceFailovers, 1, 'silence fail-over counted');
  t.equal(ml.current, 1);
  now = 9000;
  ml.poll(); // now both silent: nothing to fail over to
  t.equal(ml.stats.silenceFailovers, 1, 'no fail-over when the other link is silent too');
  t.same(
    ml.links.map((l) => [l.up, l.active]),
    [
      [true, false],
      [true, true],
    ],
  );
});

t.test('no fail-over target: stay on a down link', async (t) => {
  const c0 = new FakeChannel();
  const ml = new MultiLinkChannel({ links: [{ channel: c0, interface: 'x' }], readLinkUp: () => false, pollMs: 60_000 });
  t.teardown(() => ml.close());
  ml.poll();
  t.equal(ml.current, 0);
  t.equal(ml.links[0]!.up, false);
});

t.test('link count limits and default index', async (t) => {
  t.throws(() => new MultiLinkChannel({ links: [] }));
  const five = Array.from({ length: 5 }, () => ({ channel: new FakeChannel() }));
  t.throws(() => new MultiLinkChannel({ links: five }), /1\.\.4/);
  const ml = new MultiLinkChannel({ links: five.slice(0, 2), defaultIndex: 1 });
  t.equal(ml.current, 1);
  t.equal(ml.links[1]!.active, true);
  await ml.close();
});

t.test('LogLimiter: one line per key and interval, suppressed count reported', async (t) => {
  let now = 0;
  const lines: Array<Record<string, unknown>> = [];
  const lim = new LogLimiter({ warn: (o) => lines.push(o) }, 1000, () => now);
  for (let i = 0; i < 100; i++) lim.warn('k', { i }, 'm');
  lim.warn('other', { i: -1 }, 'm');
  t.equal(lines.length, 2);
  now = 1500;
  lim.warn('k', { i: 100 }, 'm');
  t.same(lines[2], { i: 100, suppressed: 99 });
});

t.test('normalizeAddress', async (t) => {
  t.equal(normalizeAddress('FE80:0:0::1%eth0'), 'fe80::1');
  t.equal(normalizeAddress('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(normalizeAddress('10.1.2.3'), '10.1.2.3');
});

t.test('every link silent: rotate to the next up link (black hole with carrier)', async (t) => {
  let now = 0;
  const up = new Map([
    ['x0', true],
    ['x1', false],
    ['x2', true],
  ]);
  const cs = [new FakeChannel(), new FakeChannel(), new FakeChannel()];
  const ml = new MultiLinkChannel({
    links: cs.map((channel, i) => ({ channel, interface: `x${i}` })),
    silenceMs: 1000,
    pollMs: 60_000,
    readLinkUp: (i) => up.get(i) ?? false,
    now: () => now,
  });
  t.teardown(() => ml.close());
  cs[0]!.deliver('a');
  now = 900;
  ml.poll();
  t.equal(ml.current, 0, 'not silent long enough');
  now = 2100;
  ml.poll();
  t.equal(ml.current, 2, 'skips the down link 1');
  t.equal(ml.stats.silenceRotations, 1);
  now = 2500;
  ml.poll();
  t.equal(ml.current, 2, 'a full silence period on the new link before moving again');
  now = 3200;
  ml.poll();
  t.equal(ml.current, 0, 'wraps around');
  t.equal(ml.stats.silenceRotations, 2);
  cs[2]!.deliver('b');
  t.equal(ml.current, 2, 'the link that delivers wins at once');
  ml.send(Buffer.from('x'));
  t.equal(cs[2]!.sent.length, 1, 'and carries the traffic');
});
