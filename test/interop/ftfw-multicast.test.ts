/**
 * Issue 5: ctsyncd and conntrackd 1.4.7 as a mixed FTFW pair over IPv4 multicast, in both orders:
 * flows of every kind both ways, updates/deletes, 2 s of total loss repaired by NACK/resend
 * (multicast has its own socket set-up and loopback rules, so the repair path is worth a second
 * transport), and the error counters of `-s network`.
 */
import t from 'tap';
import { ORDERS, stopwatch } from './fixtures/interop';
import { phaseCounters, phaseLoss, phaseUpdateDelete, phaseVariety, startPair } from './fixtures/scenario';

for (const order of ORDERS) {
  t.test(`FTFW/multicast: ${order[0]} (n0) ↔ ${order[1]} (n1)`, async (t) => {
    const time = stopwatch();
    const p = await startPair(t, order, { mode: 'ftfw', transport: 'multicast' });
    await phaseVariety(t, p, false);
    await phaseUpdateDelete(t, p);
    await phaseLoss(t, p);
    phaseCounters(t, p);
    t.comment(`FTFW/multicast ${order.join('→')}: ${time()} ms`);
  });
}
