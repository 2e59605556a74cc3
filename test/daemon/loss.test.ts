/**
 * Issue 4 §7.2: 10% random loss on the sync link, both directions (an nft numgen drop in each
 * receiver's namespace), while 20k entries are created, updated and partly deleted. FTFW's
 * NACK/resend machinery must repair every gap: after the loss rules are removed, B's external
 * cache equals A's internal cache (keys and fields). Prints the convergence time.
 */
import t from 'tap';
import { SyncLab, waitFor } from '../helpers/sync-lab';
import { addLoss, cacheRows, fieldDiffs, inject, keyDiff, lossDrops, removeLoss, stats } from './fixtures/util';

const N = 20_000;
const DEL = 5_000;

t.test(`10% loss both ways while ${N} entries change: the peer converges`, async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  addLoss(a, 10);
  addLoss(b, 10);

  const t0 = Date.now();
  const r = await inject(a.ns, 'burst', { n: N, chunk: 2000, paceMs: 20, update: 77, del: DEL });
  t.match(r, { created: N, updated: N, deleted: DEL, count: N - DEL }, 'A: kernel changes done');
  const injectMs = Date.now() - t0;
  // let the lossy link carry the burst for a while before healing it
  await waitFor(async () => (await stats(a)).queues.tx === 0, 15_000, 200);
  const dropsB = lossDrops(b);
  const dropsA = lossDrops(a);
  t.ok(dropsB > 0, `the loss rule dropped datagrams towards B (${dropsB}) and towards A (${dropsA})`);
  removeLoss(a);
  removeLoss(b);
  const healed = Date.now();

  // A's internal cache follows its kernel events asynchronously: wait for the last destroys
  let nInternal = 0;
  const settled = await waitFor(
    async () => {
      nInternal = (await cacheRows(a, 'internal')).length;
      return nInternal === N - DEL;
    },
    20_000,
    250,
  );
  if (!settled) {
    const nl = a.exec('cat', ['/proc/net/netlink']).split('\n').filter((l) => / 12 /.test(l));
    t.comment(`A netlink sockets:\n${nl.join('\n')}\nclient ${JSON.stringify((await stats(a)).kernel.client)}`);
  }
  t.ok(settled, `A: internal cache holds the live entries (${nInternal}; kernel ${a.conntrack('-C')[0]}; feed ${JSON.stringify((await stats(a)).kernel.feed)})`);
  let internalA = await cacheRows(a, 'internal');
  let last = { missing: [] as string[], extra: [] as string[] };
  const converged = await waitFor(
    async () => {
      const ext = await cacheRows(b, 'external');
      internalA = await cacheRows(a, 'internal');
      last = keyDiff(internalA, ext);
      return last.missing.length === 0 && last.extra.length === 0 && fieldDiffs(internalA, ext).length === 0;
    },
    40_000,
    250,
  );
  const doneAt = Date.now();
  t.equal(internalA.length, N - DEL, 'A: still the live entries');
  t.ok(converged, `B converged (missing ${last.missing.length}, extra ${last.extra.length}, e.g. ${last.missing[0] ?? last.extra[0] ?? '-'})`);
  const ext = await cacheRows(b, 'external');
  t.same(fieldDiffs(internalA, ext).slice(0, 3), [], 'fields equal (the mark update reached every entry)');
  t.ok(ext.every((x) => x.mark === 77), 'every external entry carries the updated mark');
  const sa = await stats(a);
  const sb = await stats(b);
  const mode = sa.mode as Record<string, number>;
  t.comment(
    `loss: inject ${injectMs} ms; converged ${doneAt - t0} ms after the burst started, ${doneAt - healed} ms after healing; ` +
      `drops →B ${dropsB}, →A ${dropsA}; A resends ${mode.resends}, NACKs received ${mode.nacksRecv}; B gaps ${JSON.stringify(sb.peers.map((p) => p.mode.gaps))}`,
  );
  t.ok(mode.nacksRecv! > 0 && mode.resends! > 0, `A answered NACKs with resends (${mode.nacksRecv} NACKs, ${mode.resends} resends)`);
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
