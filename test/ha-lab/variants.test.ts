// ha-lab variants (issue 6): keepalived driving the fail-over (with the readiness track_file for
// ctsyncd) while the connections and VIPs are IPv6, iptables-nft firewall, active/active, and the
// mixed daemon pairs (HA_LAB_PAIRS). Daemons: HA_LAB_DAEMONS (see fixtures/harness.ts).
// To fit the suite's time budget the keepalived run and the IPv6 run are one scenario.
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown, PAIRS } from './fixtures/harness';

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

for (const [a, b] of PAIRS) {
  t.test(`mixed pair: ${a} on fwA, ${b} on fwB`, async (t) => {
    const run = await failover(a, ['--conns', '20', '--interval', '100', '--after', '3'], {
      SYNC_DAEMON_A: a,
      SYNC_DAEMON_B: b,
    });
    assertSurvived(t, run, 20);
    t.equal(run.result?.daemon, b);
    t.equal(run.result?.daemonA, a);
  });
}
