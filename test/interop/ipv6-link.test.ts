/**
 * Issue 5: the sync link itself over IPv6 (`IPv6_address` / `IPv6_Destination_Address` for UDP,
 * an ff15:: group for multicast), ctsyncd and conntrackd 1.4.7 in both orders: flows of every
 * kind both ways, updates/deletes, and no malformed messages. (The other interop files run the
 * link over IPv4; the flows themselves include IPv6 there and here.)
 */
import t from 'tap';
import { ORDERS, stopwatch } from './fixtures/interop';
import { phaseCounters, phaseUpdateDelete, phaseVariety, startPair, waitLinkUp } from './fixtures/scenario';

for (const transport of ['udp', 'multicast'] as const) {
  for (const order of ORDERS) {
    t.test(`FTFW/${transport} over IPv6: ${order[0]} (n0) ↔ ${order[1]} (n1)`, async (t) => {
      const time = stopwatch();
      const p = await startPair(t, order, { mode: 'ftfw', transport, ipv6: true });
      await waitLinkUp(t, p);
      await phaseVariety(t, p, false);
      await phaseUpdateDelete(t, p);
      phaseCounters(t, p);
      t.comment(`FTFW/${transport}/IPv6 ${order.join('→')}: ${time()} ms`);
    });
  }
}
