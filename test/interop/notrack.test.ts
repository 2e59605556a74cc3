/**
 * Issue 5: ctsyncd and conntrackd 1.4.7 as a mixed NOTRACK pair over UDP, in both orders: flows
 * of every kind both ways, commits on both sides compared through conntrack -L, updates/deletes,
 * 2000-flow bursts and -B, a restart with -n (NOTRACK answers RESYNC too, spec §4.3), and the
 * error counters of `-s network` (NOTRACK counts FTFW control messages as malformed, so a clean
 * counter also shows that neither side sent ACK/NACK in this mode).
 */
import t from 'tap';
import { ORDERS, stopwatch } from './fixtures/interop';
import { phaseBulk, phaseCommit, phaseCounters, phaseRestart, phaseUpdateDelete, phaseVariety, startPair } from './fixtures/scenario';

for (const order of ORDERS) {
  t.test(`NOTRACK/UDP: ${order[0]} (n0) ↔ ${order[1]} (n1)`, async (t) => {
    const time = stopwatch();
    const p = await startPair(t, order, { mode: 'notrack', transport: 'udp' });
    await phaseVariety(t, p, false);
    await phaseCommit(t, p, false);
    await phaseUpdateDelete(t, p);
    await phaseBulk(t, p);
    await phaseRestart(t, p, 1);
    phaseCounters(t, p);
    t.comment(`NOTRACK ${order.join('→')}: ${time()} ms`);
  });
}
