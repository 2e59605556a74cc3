/**
 * The conntrackd client flags against a running pair (spec §5.4): -f external / -n (B asks A
 * for its state), -f internal / -R (A re-reads its kernel, sends nothing), -B (bulk send), -F
 * (flush A's kernel table through the filter; our own deletions are not replicated), -t (purge
 * after PurgeTimeout), -i/-e/-s output, and the same for expectations being off.
 */
import t from 'tap';
import { SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows, stats } from './fixtures/util';

t.test('client flags on a running pair', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], modeExtra: ' PurgeTimeout 1' });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  for (let i = 1; i <= 3; i++) a.conntrack(`-I -s 10.99.0.${i} -d 172.31.1.1 -p tcp --sport 1000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED`);
  const ext = async () => (await cacheRows(b, 'external')).length;
  const int = async () => (await cacheRows(a, 'internal')).length;
  t.ok(await waitFor(async () => (await ext()) === 3, 5000), 'B: three flows');

  // -f external, then -n: B asks A for everything
  t.equal(b.client(['-f', 'external']).code, 0, 'B -f external');
  t.equal(await ext(), 0, 'B: external cache empty');
  t.equal(b.client(['-n']).code, 0, 'B -n');
  t.ok(await waitFor(async () => (await ext()) === 3, 5000), 'B: -n brought the three flows back');

  // -f internal, then -R: A reloads from its kernel without sending anything
  const appliedBefore = (await stats(b)).engine;
  t.equal(a.client(['-f', 'internal']).code, 0, 'A -f internal');
  t.equal(await int(), 0, 'A: internal cache empty');
  t.equal(await ext(), 3, 'B: untouched by A flushing its internal cache');
  t.equal(a.client(['-R']).code, 0, 'A -R');
  t.equal(await int(), 3, 'A: -R reloaded the internal cache from the kernel');
  await new Promise((r) => setTimeout(r, 500));
  const appliedAfter = (await stats(b)).engine;
  t.same(
    [appliedAfter.appliedNew, appliedAfter.appliedUpd, appliedAfter.appliedDel],
    [appliedBefore.appliedNew, appliedBefore.appliedUpd, appliedBefore.appliedDel],
    '-R sent nothing to B',
  );

  // -B: bulk send
  t.equal(b.client(['-f', 'external']).code, 0, 'B -f external');
  t.equal(a.client(['-B']).code, 0, 'A -B');
  t.ok(await waitFor(async () => (await ext()) === 3, 5000), 'B: -B re-sent the three flows');

  // -F: A's kernel table flushed through the filter; not replicated
  const syncFlows = () => a.conntrack('-L').filter((l) => l.includes(`10.254.${lab.id}.`)).length;
  const before = syncFlows();
  t.equal(a.client(['-F']).code, 0, 'A -F');
  t.ok(await waitFor(() => a.conntrack('-L').filter((l) => l.includes('10.99.0.')).length === 0, 5000), 'A: kernel flows flushed');
  t.equal(syncFlows(), before, 'A: filtered-out entries (the sync link itself) kept');
  t.ok(await waitFor(async () => (await int()) === 0, 5000), 'A: internal cache follows its kernel');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(await ext(), 3, 'B: our own flush is not replicated');

  // -t: B's kernel gets the committed entries, then -t purges them after PurgeTimeout (1 s)
  t.equal(b.client(['-c']).code, 0, 'B -c');
  t.equal(b.conntrack('-L').filter((l) => l.includes('10.99.0.')).length, 3, 'B: committed');
  t.equal(b.client(['-t']).code, 0, 'B -t');
  t.ok(await waitFor(() => b.conntrack('-L').filter((l) => l.includes('10.99.0.')).length === 0, 5000), 'B: -t purged the kernel table after PurgeTimeout');
  t.ok(await waitFor(async () => (await ext()) === 3, 100), 'B: external cache kept');
  t.equal(await int(), 0, 'A: nothing came back from B (the purge is not replicated)');

  // text views
  t.match(b.client(['-s']).stdout, /cache internal|cache stats|internal/i, '-s prints statistics');
  t.equal(b.client(['-e']).stdout.split('\n').filter((l) => /src=10\.99/.test(l)).length, 3, '-e lists the flows');
  t.equal(b.client(['-i', 'expect']).code, 0, '-i expect with ExpectationSync off answers');

  // SIGHUP: a new filter (ignore UDP) applies to later events; the caches stay
  const fs = await import('node:fs');
  fs.writeFileSync(a.confFile, a.conf.replace('Filter From Userspace {', 'Filter From Userspace {\n  Protocol Ignore { UDP }'));
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(await waitFor(() => /configuration reloaded/.test(a.log), 5000), 'A: reloaded on SIGHUP');
  a.conntrack('-I -s 10.99.1.1 -d 172.31.1.1 -p udp --sport 5 --dport 6 -t 60');
  a.conntrack('-I -s 10.99.1.2 -d 172.31.1.1 -p tcp --sport 5 --dport 6 --state ESTABLISHED -t 60 -u SEEN_REPLY,ASSURED');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).some((r) => (r.orig as { src: string }).src === '10.99.1.2'), 5000), 'after reload: TCP still synced');
  t.notOk((await cacheRows(b, 'external')).some((r) => (r.orig as { src: string }).src === '10.99.1.1'), 'after reload: UDP filtered out');
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
