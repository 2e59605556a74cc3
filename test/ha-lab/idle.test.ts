// ha-lab variant (issue 6): 100k idle background flows in fwA's table are replicated to fwB and
// committed on take-over, while 20 live connections must survive. Its own file so it runs in
// parallel with the others and has its own time budget. Daemons: HA_LAB_DAEMONS.
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown } from './fixtures/harness';

t.teardown(labDown);

for (const daemon of DAEMONS) {
  t.test(`${daemon}: 100k idle background flows are synced and committed; live ones survive`, async (t) => {
    const run = await failover(daemon, ['--idle', '100000', '--conns', '20', '--interval', '100', '--after', '4'], {}, 240_000);
    assertSurvived(t, run, 20);
    t.equal(run.result?.idleFlows, 100000);
    t.ok((run.result?.fwBKernelEntries ?? 0) >= 100020, `fwB kernel holds idle + live flows (${run.result?.fwBKernelEntries})`);
  });
}
