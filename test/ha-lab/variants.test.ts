// ha-lab variants (issue 6): keepalived driving the fail-over (with the readiness track_file for
// ctsyncd) while the connections and VIPs are IPv6, iptables-nft firewall, active/active.
// Daemons: HA_LAB_DAEMONS (see fixtures/harness.ts); mixed pairs are in failover.test.ts.
// To fit the suite's time budget the keepalived run and the IPv6 run are one scenario.
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown } from './fixtures/harness';

t.teardown(labDown);

for (const daemon of DAEMONS) {
  t.test(`${daemon}: keepalived (VRRPv3) drives the failover through its notify hook; IPv6 connections`, async (t) => {
    const run = await failover(daemon, ['--ipv6', '--driver', 'keepalived', '--conns', '10', '--interval', '100', '--after', '4']);
    assertSurvived(t, run, 10);
    t.equal(run.result?.driver, 'keepalived');
    t.equal(run.result?.ipv6, true);
    t.ok(run.result?.commitMs !== null, 'notify_master ran the commit');
  });

  t.test(`${daemon}: iptables-nft firewall variant`, async (t) => {
    const run = await failover(daemon, ['--conns', '5', '--interval', '50', '--after', '3'], { HL_FW: 'iptables' });
    assertSurvived(t, run, 5);
    t.equal(run.result?.firewall, 'iptables');
  });

  t.test(`${daemon}: active/active: fwB's own and fwA's moved connections all survive`, async (t) => {
    const run = await failover(daemon, ['--active-active', '--conns', '10', '--interval', '100', '--after', '3']);
    assertSurvived(t, run, 20, 10);
    t.equal(run.result?.activeActive, true);
  });
}
