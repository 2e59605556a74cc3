// ha-lab load scenarios (issue 6), only for ctsyncd (conntrackd's figures are in the README):
//   * 500 live connections survive a fail-over driven by ctsyncd promote;
//   * idle background flows in fwA's table are replicated to fwB and committed on take-over,
//     while 20 live connections survive. HA_LAB_IDLE sets how many: default 10000 (fits the
//     suite's time budget on a loaded 2-core machine); the README's 100k run is HA_LAB_IDLE=100000.
// Its own file so it runs in parallel with the others (tap's two jobs).
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown } from './fixtures/harness';

t.teardown(labDown);

const IDLE = Number(process.env.HA_LAB_IDLE ?? '10000');

for (const daemon of DAEMONS.filter((d) => d === 'ctsyncd')) {
  t.test(`${daemon}: 500 connections survive a scripted failover driven by ctsyncd promote`, async (t) => {
    const run = await failover(daemon, ['--conns', '500', '--interval', '100', '--after', '4']);
    assertSurvived(t, run, 500);
  });

  t.test(`${daemon}: ${IDLE} idle background flows are synced and committed; live ones survive`, async (t) => {
    const run = await failover(daemon, ['--idle', String(IDLE), '--conns', '20', '--interval', '100', '--after', '3'], {}, 60_000 + IDLE * 2);
    assertSurvived(t, run, 20);
    t.equal(run.result?.idleFlows, IDLE);
    t.ok((run.result?.fwBKernelEntries ?? 0) >= IDLE + 20, `fwB kernel holds idle + live flows (${run.result?.fwBKernelEntries})`);
    t.ok((run.result?.primarySteps?.committed ?? 0) >= IDLE + 20, `promote committed idle + live flows (${run.result?.primarySteps?.committed})`);
  });
}
