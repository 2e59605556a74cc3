/**
 * Two dedicated links between A and B (conntrackd's multichannel: `UDP Default { }` plus a second
 * `UDP { }`): the sync starts on the default link; when its cable is cut (B's end set down, so
 * A's end loses carrier), both daemons fail over to the second link and the sync goes on; the
 * link view (-s link) shows which link is active.
 */
import t from 'tap';
import { SyncLab, sh, waitFor } from '../helpers/sync-lab';
import { cacheRows, stats } from './fixtures/util';

t.test('two links: fail-over when the default link goes down', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  // the second link: sz0 in both namespaces, 10.253.<lab>.0/24
  sh('ip', ['link', 'add', `${lab.prefix}c`, 'netns', a.ns, 'type', 'veth', 'peer', 'name', `${lab.prefix}d`, 'netns', b.ns]);
  const addr2 = (i: number) => `10.253.${lab.id}.${i + 1}`;
  for (const [i, n, dev] of [[0, a, `${lab.prefix}c`], [1, b, `${lab.prefix}d`]] as const) {
    n.exec('ip', ['link', 'set', dev, 'name', 'sz0']);
    n.exec('ip', ['addr', 'add', `${addr2(i)}/24`, 'dev', 'sz0']);
    n.exec('ip', ['link', 'set', 'sz0', 'up']);
  }
  for (const n of [a, b]) {
    const other = n === a ? 1 : 0;
    n.conf = n.conf
      .replace('UDP {', 'UDP Default {')
      .replace(/(UDP Default \{[^}]*\})/, `$1\nUDP {\n IPv4_address ${addr2(n.index)}\n IPv4_Destination_Address ${addr2(other)}\n Port 3780\n Interface sz0\n Checksum on\n}`);
  }
  await a.start();
  await b.start();
  const linkLines = (n: typeof a) => n.client(['-s', 'link']).stdout;
  t.match(linkLines(a), /sy0[\s\S]*ACTIVE[\s\S]*sz0[\s\S]*BACKUP|sz0[\s\S]*BACKUP[\s\S]*sy0[\s\S]*ACTIVE/, 'A: -s link lists both, the default active');

  a.conntrack('-I -s 10.99.0.1 -d 172.31.1.1 -p tcp --sport 1000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 5000), 'B: synced over the default link');

  // cut the default link
  b.exec('ip', ['link', 'set', b.dev, 'down']);
  a.conntrack('-I -s 10.99.0.2 -d 172.31.1.1 -p udp --sport 1 --dport 2 -t 60');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 2, 8000), 'B: a new flow arrives over the second link');
  b.conntrack('-I -s 10.98.0.1 -d 172.31.1.1 -p udp --sport 3 --dport 4 -t 60');
  t.ok(await waitFor(async () => (await cacheRows(a, 'external')).length === 1, 8000), 'A: B → A works over the second link too');
  const la = (await stats(a)) as unknown as { links: { name: string; up: boolean; active: boolean }[] };
  t.match(
    la.links.map((l) => ({ name: l.name, up: l.up, active: l.active })),
    [{ name: a.dev, up: false, active: false }, { name: 'sz0', up: true, active: true }],
    'A: the default link is down, the second one active',
  );
  t.match(linkLines(a), /sz0[\s\S]*ACTIVE/, 'A: -s link shows the second link active');

  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
