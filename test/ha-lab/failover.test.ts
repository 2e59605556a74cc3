// ha-lab fail-over suite (issue 6): connections through an active/backup firewall pair survive a
// fail-over when the sync daemon replicates and the backup commits; they must NOT survive without
// the daemon, or without the commit (negative controls: they prove the lab really depends on the
// replicated state, see ha-lab/README.md on nf_conntrack_tcp_loose=0).
// Daemons: HA_LAB_DAEMONS (see fixtures/harness.ts). Variants are in variants.test.ts.
import t from 'tap';
import { assertBroken, assertSurvived, DAEMONS, failover, labDown } from './fixtures/harness';

t.teardown(labDown);

// Daemon-independent negative control: no sync daemon at all.
t.test('negative control: without a sync daemon the connections do not survive', async (t) => {
  const run = await failover('conntrackd', ['--mode', 'nosync', '--conns', '5', '--interval', '50', '--after', '3']);
  assertBroken(t, run, 5);
});

for (const daemon of DAEMONS) {
  t.test(`${daemon}: 1 connection survives a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '1', '--interval', '50', '--after', '4']);
    assertSurvived(t, run, 1);
    t.equal(run.result?.daemon, daemon);
  });

  t.test(`${daemon}: 500 connections survive a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '500', '--interval', '100', '--after', '5']);
    assertSurvived(t, run, 500);
  });

  t.test(`${daemon}: negative control: synced but not committed, the connections do not survive`, async (t) => {
    const run = await failover(daemon, ['--mode', 'nocommit', '--conns', '5', '--interval', '50', '--after', '3']);
    assertBroken(t, run, 5);
    t.ok((run.result?.externalEntries ?? 0) >= 5, 'the flows were replicated to fwB (only the commit is missing)');
  });

  t.test(`${daemon}: keepalived (VRRPv3) drives the failover through its notify hook`, async (t) => {
    const run = await failover(daemon, ['--driver', 'keepalived', '--conns', '20', '--interval', '100', '--after', '6']);
    assertSurvived(t, run, 20);
    t.equal(run.result?.driver, 'keepalived');
    t.ok(run.result?.commitMs !== null, 'notify_master ran the commit');
  });
}
