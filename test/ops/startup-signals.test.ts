/**
 * Signals while the daemon is still starting (the kernel dump of a big table takes a while):
 * SIGHUP must not kill it (SIGHUP's default action) — the reload happens once start-up is done;
 * SIGTERM stops it cleanly once start-up is done (exit 0, lock, socket and readiness file
 * removed), not by the default action that leaves the lock behind.
 * The config warning (`Nice` is ignored) is logged right before start-up begins, after the
 * handlers are installed: the test signals when it sees it. 20k entries in the table make
 * start-up last long enough for the signal to land in it. (`DisableExternalCache on` is parsed but
 * not implemented by the engine: the daemon must say so.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { inject } from '../daemon/fixtures/util';
import { SyncLab, waitFor } from '../helpers/sync-lab';
import { killIfAlive, launch, within } from './fixtures/ops';

const N = 20_000;
const files = (dir: string) => ['lock', 'ctl', 'ctl.ready'].filter((f) => fs.existsSync(path.join(dir, f)));

t.test('SIGHUP and SIGTERM during start-up', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], generalExtra: ' Nice -20', modeExtra: '  DisableExternalCache on' });
  t.teardown(() => lab.destroy());
  const a = lab.nodes[0]!;
  t.equal((await inject<{ created: number }>(a.ns, 'burst', { n: N })).created, N, `${N} entries in A's table`);

  // SIGHUP
  const d1 = launch(a);
  a.proc = d1.p;
  t.teardown(() => killIfAlive(d1.p.pid));
  t.ok(await waitFor(() => /Nice is deprecated/.test(d1.out()), 20_000, 5), 'the config warning is logged');
  process.kill(d1.p.pid!, 'SIGHUP');
  await a.waitSocket(30_000).catch((e: Error) => t.fail(e.message));
  t.equal(d1.p.exitCode, null, 'the daemon survived a SIGHUP during start-up');
  t.equal(d1.p.signalCode, null, 'not killed by the signal');
  t.ok(await waitFor(() => /configuration reloaded/.test(d1.out()), 5000), 'the reload happened');
  t.comment(/SIGHUP during start-up/.test(d1.out()) ? 'the SIGHUP arrived during start-up' : 'the SIGHUP arrived after start-up');
  t.equal(a.client(['-s', 'cache']).code, 0, 'it answers');
  t.match(d1.out(), /DisableExternalCache\/DisableInternalCache are not implemented yet/, 'an option the engine does not implement is reported');
  t.equal(await a.stop(), 0, 'SIGTERM later: exit 0');

  // SIGTERM
  const d2 = launch(a);
  a.proc = d2.p;
  t.teardown(() => killIfAlive(d2.p.pid));
  t.ok(await waitFor(() => /Nice is deprecated/.test(d2.out()), 20_000, 5), 'the config warning is logged');
  process.kill(d2.p.pid!, 'SIGTERM');
  const code = await within(d2.exit, 30_000);
  t.equal(code, 0, `SIGTERM during start-up: exit 0 after a clean stop (signal ${d2.p.signalCode})`);
  t.same(files(a.dir), ['ctl.ready'], 'lock and socket removed; the readiness file stays');
  t.equal(fs.readFileSync(path.join(a.dir, 'ctl.ready'), 'utf8').trim(), '1', 'and says not ready');
  t.comment(/SIGTERM during start-up/.test(d2.out()) ? 'the SIGTERM arrived during start-up' : 'the SIGTERM arrived after start-up');
});
