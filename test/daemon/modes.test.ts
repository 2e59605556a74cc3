/**
 * NOTRACK and ALARM modes end to end (the other files use FTFW): a small round trip, a restart
 * of the receiver with StartupResync / RefreshTime doing the catching up, and ALARM's external
 * expiry (CacheTimeout) when the sender stops refreshing.
 */
import t from 'tap';
import { SyncLab, sleep, waitFor } from '../helpers/sync-lab';
import { cacheRows } from './fixtures/util';

const flows = (n: { conntrack(a: string): string[] }) => {
  n.conntrack('-I -s 10.99.0.1 -d 172.31.1.1 -p tcp --sport 10000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m 3');
  n.conntrack('-I -s 10.99.0.2 -d 172.31.1.1 -p udp --sport 10001 --dport 53 -t 60');
};

t.test('NOTRACK: round trip; a restarted receiver catches up with StartupResync', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], mode: 'notrack', modeExtra: ' StartupResync on' });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  flows(a);
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 2, 5000), 'B: two flows');
  a.conntrack('-U -p tcp -s 10.99.0.1 -m 9');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).some((r) => r.mark === 9), 5000), 'B: update');
  a.conntrack('-D -p udp -s 10.99.0.2');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 5000), 'B: destroy');
  t.equal(await b.stop(), 0, 'B stops');
  a.conntrack('-I -s 10.99.0.3 -d 172.31.1.1 -p udp --sport 1 --dport 2 -t 60');
  await b.start();
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 2, 8000), 'B: StartupResync brought the state back');
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});

t.test('ALARM: round trip, refresh after a receiver restart, expiry when refreshes stop', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], mode: 'alarm', syncExtra: ' RefreshTime 1\n CacheTimeout 3' });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  flows(a);
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 2, 5000), 'B: two flows');
  t.match(b.client(['-e']).stdout, /\[expires in \d+s\]/, 'B: -e shows the ALARM expiry');
  a.conntrack('-D -p udp -s 10.99.0.2');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 5000), 'B: destroy');
  // B restarts: the periodic refresh (RefreshTime 1 s) re-sends what A has
  t.equal(await b.stop(), 0, 'B stops');
  await b.start();
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 6000), 'B: the refresh brought the flow back');
  // A stops: its entries expire on B after CacheTimeout (3 s)
  t.equal(await a.stop(), 0, 'A exits 0');
  await sleep(1000);
  t.equal((await cacheRows(b, 'external')).length, 1, 'B: still there 1 s after A stopped');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 0, 8000), 'B: expired after CacheTimeout');
  t.equal(await b.stop(), 0, 'B exits 0');
});
