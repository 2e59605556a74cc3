// ha-lab variant (issue 6): idle background flows in fwA's table are replicated to fwB and
// committed on take-over (by ctsyncd promote), while 20 live connections must survive. Its own
// file so it runs in parallel with the others and has its own time budget.
// HA_LAB_IDLE sets the number of idle flows: default 10000 (fits the suite's time budget on a
// loaded 2-core machine); the README's 100k figures come from HA_LAB_IDLE=100000.
// Only for ctsyncd (conntrackd's 100k figures are in the README).
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown } from './fixtures/harness';

t.teardown(labDown);

const IDLE = Number(process.env.HA_LAB_IDLE ?? '10000');

for (const daemon of DAEMONS.filter((d) => d === 'ctsyncd')) {
  t.test(`${daemon}: ${IDLE} idle background flows are synced and committed; live ones survive`, async (t) => {
    const run = await failover(daemon, ['--idle', String(IDLE), '--conns', '20', '--interval', '100', '--after', '3'], {}, 60_000 + IDLE * 2);
    assertSurvived(t, run, 20);
    t.equal(run.result?.idleFlows, IDLE);
    t.ok((run.result?.fwBKernelEntries ?? 0) >= IDLE + 20, `fwB kernel holds idle + live flows (${run.result?.fwBKernelEntries})`);
    t.ok((run.result?.primarySteps?.committed ?? 0) >= IDLE + 20, `promote committed idle + live flows (${run.result?.primarySteps?.committed})`);
  });
}
