/**
 * Issue 5: ctsyncd and conntrackd 1.4.7 as a mixed FTFW pair over UDP unicast, in both orders.
 * One pair per order runs every phase of fixtures/scenario.ts: flows of every kind and an FTP
 * expectation both ways, commits on both sides compared through conntrack -L, updates/deletes,
 * 2000-flow bursts and -B, a restart of node 0 (ctsyncd in one order, conntrackd in the other)
 * with -n, then 2 s of total loss repaired by NACK/resend, and the error counters of
 * `-s network`.
 */
import t from 'tap';
import { ORDERS, stopwatch } from './fixtures/interop';
import { phaseBulk, phaseCommit, phaseCounters, phaseLoss, phaseRestart, phaseUpdateDelete, phaseVariety, startPair } from './fixtures/scenario';

for (const order of ORDERS) {
  t.test(`FTFW/UDP: ${order[0]} (n0) ↔ ${order[1]} (n1)`, async (t) => {
    const time = stopwatch();
    const p = await startPair(t, order, { mode: 'ftfw', transport: 'udp', expectations: true });
    await phaseVariety(t, p, true);
    await phaseCommit(t, p, true);
    await phaseUpdateDelete(t, p);
    await phaseBulk(t, p);
    await phaseRestart(t, p, 0);
    // after the restart: the loss repair needs the HELLO handshake to be over (a side still
    // saying HELLO makes its peer flush the resend queue on every message, spec §4.2)
    await phaseLoss(t, p);
    phaseCounters(t, p);
    t.comment(`FTFW/UDP ${order.join('→')}: ${time()} ms`);
  });
}
