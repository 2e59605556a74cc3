/**
 * Two ctsyncd daemons in two namespaces: flows created in A's kernel reach B's external cache,
 * deletions propagate, and a commit on B recreates the entries in B's kernel.
 */
import t from 'tap';
import { normalizeLine, SyncLab, waitFor } from '../helpers/sync-lab';

t.test('ctsyncd pair: new, delete, commit', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  a.conntrack('-I -s 10.99.0.1 -d 172.31.1.1 -p tcp --sport 10000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m 42');
  a.conntrack('-I -s 10.99.0.2 -d 172.31.1.1 -p udp --sport 10001 --dport 53 -t 60');
  a.conntrack('-I -s 10.99.0.3 -d 172.31.1.1 -p tcp --sport 10002 --dport 80 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED --src-nat 192.0.2.1');
  t.ok(await waitFor(() => b.cache('external').length === 3, 5000), 'three flows reach B');
  const ext = b.cache('external').map(normalizeLine).join('\n');
  t.match(ext, /tcp 6 ESTABLISHED src=10\.99\.0\.1 dst=172\.31\.1\.1 sport=10000 dport=443 \[ASSURED\] mark=42/);
  a.conntrack('-D -s 10.99.0.2');
  t.ok(await waitFor(() => b.cache('external').length === 2, 5000), 'the deletion reaches B');
  const c = b.client(['-c']);
  t.equal(c.code, 0, `commit exits 0 (${c.stderr})`);
  const kernelB = b.conntrack('-L').join('\n');
  t.match(kernelB, /src=10\.99\.0\.1 dst=172\.31\.1\.1 sport=10000 dport=443 .*mark=42/, 'plain flow committed');
  t.match(kernelB, /src=10\.99\.0\.3 .*src=172\.31\.1\.1 dst=192\.0\.2\.1 sport=80/, 'SNAT flow committed with its NAT');
  t.notMatch(kernelB, /10\.99\.0\.2/, 'deleted flow not committed');
  t.equal(await a.stop(), 0, 'A exits 0 on SIGTERM');
});
