// ha-lab fail-over suite (issue 6): connections through an active/backup firewall pair survive a
// fail-over when the sync daemon replicates and the backup commits; they must NOT survive without
// the daemon, or without the commit (negative controls: they prove the lab really depends on the
// replicated state, see ha-lab/README.md on nf_conntrack_tcp_loose=0).
// ctsyncd's fwB becomes primary with `ctsyncd promote` (issue 6 §3); the report's step timings are
// asserted in assertPrimaryBranch. Daemons: HA_LAB_DAEMONS (default ctsyncd) plus one reference
// run with conntrackd and the mixed pairs (see fixtures/harness.ts). keepalived and the variants
// are in variants.test.ts, 500 connections and idle flows in load.test.ts, readiness (track_file)
// in readiness.test.ts. The split into files balances the suite's two parallel jobs.
import t from 'tap';
import { assertBroken, assertSurvived, DAEMONS, failover, labDown, PAIRS, REFERENCE } from './fixtures/harness';

t.teardown(labDown);

// Daemon-independent negative control: no sync daemon at all.
t.test('negative control: without a sync daemon the connections do not survive', async (t) => {
  const run = await failover('ctsyncd', ['--mode', 'nosync', '--conns', '5', '--interval', '50', '--after', '3']);
  assertBroken(t, run, 5);
});

for (const daemon of DAEMONS) {
  t.test(`${daemon}: 1 connection survives a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '1', '--interval', '50', '--after', '3']);
    assertSurvived(t, run, 1);
    t.equal(run.result?.daemon, daemon);
  });

  t.test(`${daemon}: negative control: synced but not committed, the connections do not survive`, async (t) => {
    const run = await failover(daemon, ['--mode', 'nocommit', '--conns', '5', '--interval', '50', '--after', '3']);
    assertBroken(t, run, 5);
    t.ok((run.result?.externalEntries ?? 0) >= 5, 'the flows were replicated to fwB (only the commit is missing)');
    t.equal(run.result?.primaryWay, null, 'no primary branch ran on fwB');
  });
}

// The reference: the same core fail-over with Debian's conntrackd (-c, -f internal, -R, -B).
for (const daemon of REFERENCE) {
  t.test(`reference ${daemon}: 1 connection survives a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '1', '--interval', '50', '--after', '3']);
    assertSurvived(t, run, 1);
    t.equal(run.result?.daemon, daemon);
  });
}

// Mixed pairs: whichever daemon is on fwB commits (ctsyncd: promote; conntrackd: -c ... -B).
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
