/**
 * Issue 4 §7.5: the other transports, each a small round trip (NEW, UPDATE, DESTROY, commit):
 * IPv4 multicast, UDP over IPv6, and IPv6 multicast.
 */
import t, { type Test } from 'tap';
import { type LabOptions, SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows } from './fixtures/util';

async function roundTrip(t: Test, opts: Omit<LabOptions, 'daemons'>): Promise<void> {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], ...opts });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  a.conntrack('-I -s 10.99.0.1 -d 172.31.1.1 -p tcp --sport 10000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  a.conntrack('-I -s fd99::1 -d fd99::2 -p udp --sport 10001 --dport 53 -t 60');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 2, 8000), 'A → B: two flows');
  a.conntrack('-U -p tcp -s 10.99.0.1 -m 5');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).some((r) => r.mark === 5), 5000), 'A → B: update');
  a.conntrack('-D -f ipv6 -p udp -s fd99::1');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 5000), 'A → B: destroy');
  b.conntrack('-I -s 10.97.0.1 -d 172.31.2.2 -p udp --sport 7 --dport 7 -t 60');
  t.ok(await waitFor(async () => (await cacheRows(a, 'external')).length === 1, 5000), 'B → A: one flow');
  const c = b.client(['-c']);
  t.equal(c.code, 0, `B commits ${c.stderr}`);
  t.match(b.conntrack('-L').join('\n'), /src=10\.99\.0\.1 dst=172\.31\.1\.1 sport=10000 dport=443 .*mark=5/, 'B kernel: committed');
  const link = a.client(['-s', 'link']).stdout;
  t.match(link, new RegExp(opts.transport === 'multicast' ? 'multicast' : 'udp', 'i'), `A: -s link names the transport`);
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
}

t.test('IPv4 multicast', (t) => roundTrip(t, { transport: 'multicast' }));
t.test('UDP over IPv6', (t) => roundTrip(t, { ipv6: true }));
t.test('IPv6 multicast', (t) => roundTrip(t, { transport: 'multicast', ipv6: true }));
