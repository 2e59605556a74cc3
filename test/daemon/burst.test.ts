/**
 * A burst of N idle flows created on A in netlink batches (1024 per sendmsg, as fast as the
 * kernel takes them) must reach B completely, with the default configuration (the lab's: no
 * RcvSocketBuffer, FTFW, UDP unicast on a veth), and without losing anything on the way:
 *  - B's external cache holds exactly A's internal cache (key-set equality, exact count);
 *  - no datagram was dropped on B's sync socket (kernel UDP RcvbufErrors in B's namespace):
 *    before FTFW flow control and the larger default receive buffer, a 40k burst overflowed
 *    B's 208 KiB buffer (thousands of drops) and was repaired by NACK/resend of whole ranges;
 *  - A re-sent nothing (mode.resends = 0) and its event socket did not overrun;
 *  - it arrives within a bounded time.
 */
import t from 'tap';
import { type LabNode, SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows, inject, keyDiff, stats } from './fixtures/util';

const N = 40_000;

/** UDP counters of the node's namespace (/proc/net/snmp "Udp:" rows). */
function udpSnmp(n: LabNode): Record<string, number> {
  const rows = n.exec('cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
  const names = rows[0]?.split(/\s+/).slice(1) ?? [];
  const vals = rows[1]?.split(/\s+/).slice(1).map(Number) ?? [];
  return Object.fromEntries(names.map((k, i) => [k, vals[i] ?? Number.NaN]));
}

t.test(`a ${N}-flow burst on A arrives completely at B, no datagram dropped`, async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [LabNode, LabNode];
  await a.start();
  await b.start();
  // the start-up RESYNC exchange is over once both are ready
  t.ok(await waitFor(async () => (await stats(a)).queues.tx === 0 && (await stats(b)).queues.tx === 0, 10_000, 200), 'both idle before the burst');
  const udpB0 = udpSnmp(b);

  const t0 = Date.now();
  const r = await inject(a.ns, 'burst', { n: N, chunk: 1024 });
  t.equal(r.created, N, `A: ${N} flows created in ${r.ms} ms`);

  let ext = 0;
  const arrived = await waitFor(async () => {
    ext = (await stats(b)).caches.external!.active!;
    return ext >= N;
  }, 30_000, 50);
  const syncMs = Date.now() - t0;
  t.ok(arrived, `B's external cache reached ${ext}/${N} (${syncMs} ms after the injection started)`);

  const [ia, eb] = await Promise.all([cacheRows(a, 'internal'), cacheRows(b, 'external')]);
  const d = keyDiff(ia, eb);
  t.equal(ia.length, N, 'A internal cache: exactly N');
  t.equal(eb.length, N, 'B external cache: exactly N');
  t.same({ missing: d.missing.length, extra: d.extra.length }, { missing: 0, extra: 0 }, 'same key sets');

  const udpB1 = udpSnmp(b);
  const drops = (udpB1.RcvbufErrors ?? 0) - (udpB0.RcvbufErrors ?? 0);
  t.equal(drops, 0, `B: no sync datagram dropped by its socket (RcvbufErrors +${drops})`);
  const sa = await stats(a);
  const sb = await stats(b);
  t.equal(sa.mode.resends, 0, 'A: nothing re-sent (no NACKed range)');
  t.equal(sb.mode.lost, 0, 'B: no sequence gap');
  t.equal(sa.kernel.feed.overruns, 0, 'A: no netlink event overrun');
  t.comment(
    `burst ${N}: B complete ${syncMs} ms after the first injection (injection ${r.ms} ms); A sent ${sa.engine.datagramsSent} datagrams, window full ${String(sa.mode.windowFull)}×`,
  );
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
