// ha-lab variants (issue 6): iptables-nft firewall, IPv6 connections (scripted and keepalived),
// active/active,
// mixed daemon pairs (HA_LAB_PAIRS). Daemons: HA_LAB_DAEMONS (see fixtures/harness.ts).
import t from 'tap';
import { assertSurvived, DAEMONS, failover, labDown, PAIRS } from './fixtures/harness';

t.teardown(labDown);

for (const daemon of DAEMONS) {
  t.test(`${daemon}: iptables-nft firewall variant`, async (t) => {
    const run = await failover(daemon, ['--conns', '5', '--interval', '50', '--after', '3'], { HL_FW: 'iptables' });
    assertSurvived(t, run, 5);
    t.equal(run.result?.firewall, 'iptables');
  });

  t.test(`${daemon}: IPv6 variant`, async (t) => {
    const run = await failover(daemon, ['--ipv6', '--conns', '5', '--interval', '50', '--after', '4']);
    assertSurvived(t, run, 5);
    t.equal(run.result?.ipv6, true);
  });

  t.test(`${daemon}: IPv6 with keepalived moving the IPv6 VIPs`, async (t) => {
    const run = await failover(daemon, ['--ipv6', '--driver', 'keepalived', '--conns', '5', '--interval', '100', '--after', '5']);
    assertSurvived(t, run, 5);
    t.equal(run.result?.driver, 'keepalived');
  });
}

for (const daemon of DAEMONS) {
  t.test(`${daemon}: active/active: fwB's own and fwA's moved connections all survive`, async (t) => {
    const run = await failover(daemon, ['--active-active', '--conns', '10', '--interval', '100', '--after', '4']);
    assertSurvived(t, run, 20, 10);
    t.equal(run.result?.activeActive, true);
  });
}

for (const [a, b] of PAIRS) {
  t.test(`mixed pair: ${a} on fwA, ${b} on fwB`, async (t) => {
    const run = await failover(a, ['--conns', '20', '--interval', '100', '--after', '4'], {
      SYNC_DAEMON_A: a,
      SYNC_DAEMON_B: b,
    });
    assertSurvived(t, run, 20);
    t.equal(run.result?.daemon, b);
  });
}
