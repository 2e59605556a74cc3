/**
 * Issue 4 §7.3: B is killed (by PID) in the middle of a 20k burst on A and restarted while the
 * burst goes on. Without any `-n`, B must converge by itself: at start-up the engine asks its
 * peers for their state (RESYNC) and repeats until answered. A also restarts cleanly afterwards
 * and gets B's (empty) state without disturbing B.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, SyncLab, sleep, waitFor } from '../helpers/sync-lab';
import { cacheRows, fieldDiffs, inject, keyDiff, stats } from './fixtures/util';

const N = 20_000;

t.test('peer restart in the middle of a burst: B converges without -n', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();

  const t0 = Date.now();
  const burst = inject(a.ns, 'burst', { n: N, chunk: 500, paceMs: 60 });
  t.ok(await waitFor(async () => (await cacheRows(b, 'external').catch(() => [])).length > 1000, 15_000, 100), 'B receives the start of the burst');
  const killed = await b.stop('SIGKILL');
  t.equal(killed, null, 'B killed by PID (SIGKILL: no clean shutdown)');
  const receivedBefore = Date.now() - t0;
  await sleep(300);
  await b.start();
  const restartedAt = Date.now();
  const r = await burst;
  t.match(r, { created: N, count: N }, 'A: the burst completed');

  let last = { missing: [] as string[], extra: [] as string[] };
  const converged = await waitFor(
    async () => {
      const [ia, eb] = await Promise.all([cacheRows(a, 'internal'), cacheRows(b, 'external')]);
      last = keyDiff(ia, eb);
      return ia.length === N && last.missing.length === 0 && last.extra.length === 0;
    },
    40_000,
    250,
  );
  const doneAt = Date.now();
  t.ok(converged, `B converged by itself (missing ${last.missing.length}, extra ${last.extra.length})`);
  const [ia, eb] = await Promise.all([cacheRows(a, 'internal'), cacheRows(b, 'external')]);
  t.same(fieldDiffs(ia, eb).slice(0, 3), [], 'fields equal');
  const sb = await stats(b);
  const modeB = sb.mode as Record<string, number>;
  t.ok(modeB.resyncRequests! >= 1, `B asked for a resync at start-up (${modeB.resyncRequests} requests)`);
  const st = (await b.client(['-s'])).code;
  t.equal(st, 0, 'B answers -s');
  t.comment(`restart: B killed ${receivedBefore} ms into the burst; converged ${doneAt - restartedAt} ms after the restart (${doneAt - t0} ms after the burst started)`);

  // B commits the 20k entries into its kernel
  const c0 = Date.now();
  const c = b.client(['-c']);
  const commitMs = Date.now() - c0;
  t.equal(c.code, 0, `B: -c of ${N} entries exits 0 in ${commitMs} ms ${c.stderr}`);
  const count = Number(b.conntrack('-C')[0]);
  t.ok(count >= N && count <= N + 4, `B kernel: every entry committed (${count} entries: ${N} + the sync link's own)`);
  t.comment(`restart: commit of ${N} entries took ${commitMs} ms (client round trip)`);

  // A restarts too: it reloads its kernel table and B's external cache stays intact.
  t.equal(await a.stop(), 0, 'A exits 0');
  await a.start();
  await sleep(1000);
  t.equal((await cacheRows(a, 'internal')).length, N, 'A: internal cache reloaded from the kernel');
  t.equal((await cacheRows(b, 'external')).length, N, 'B: external cache unchanged by A restarting');
  t.equal(await a.stop(), 0, 'A exits 0');

  // SIGTERM while B commits its 20k entries again (the kernel already has them: replace path)
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const commit = spawn('ip', ['netns', 'exec', b.ns, process.execPath, CTSYNCD, '-C', b.confFile, '-c'], { env, stdio: 'ignore' });
  const commitExit = new Promise<number | null>((r) => commit.on('exit', (code) => r(code)));
  await sleep(300);
  t.equal(await b.stop(), 0, 'B exits 0 on SIGTERM in the middle of a commit');
  t.notOk(fs.existsSync(path.join(b.dir, 'lock')) || fs.existsSync(path.join(b.dir, 'ctl')), 'B: lock and socket removed');
  t.notMatch(b.log, /uncaught exception|internal error/, 'B: no internal error while stopping');
  const cc = await Promise.race([commitExit, sleep(15_000).then(() => 'timeout')]);
  if (cc === 'timeout' && commit.pid) process.kill(commit.pid, 'SIGKILL');
  t.not(cc, 'timeout', `the commit client returns once the daemon is gone (exit ${cc})`);
});
