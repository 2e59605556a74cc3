/**
 * Issue 4 §7.4: a forced netlink overrun. A's event socket is capped at 64 KiB
 * (NetlinkBufferSize 65536, NetlinkBufferSizeMaxGrowth 65536) and 50k entries are created in
 * one go, then 10k of them deleted: events are lost (ENOBUFS), and after the first report the
 * kernel drops further events silently until the queue is read empty, so the deletes can vanish
 * without a second ENOBUFS. The daemon must keep running, count the overrun
 * (`ctsyncd stats --json` kernel.feed.overruns), resync from kernel dumps until no event was
 * dropped, and B must converge to the table as it ends up.
 */
import t from 'tap';
import { SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows, cli, inject, keyDiff, stats } from './fixtures/util';

const N = 50_000;
/** Deleted right after the creates, while the event socket is still congested. */
const DEL = 10_000;
const LIVE = N - DEL;

t.test(`netlink overrun on a ${N} burst: counted, resynced, peer converges`, async (t) => {
  const lab = await SyncLab.create({
    daemons: ['ctsyncd', 'ctsyncd'],
    configOf: (i, text) =>
      i === 0 ? text.replace(/NetlinkBufferSize \d+/, 'NetlinkBufferSize 65536').replace(/NetlinkBufferSizeMaxGrowth \d+/, 'NetlinkBufferSizeMaxGrowth 65536') : text,
  });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  const before = await stats(a);
  t.ok(before.kernel.feed.bufferBytes <= 2 * 65536, `A: event buffer is small (${before.kernel.feed.bufferBytes} bytes)`);

  const t0 = Date.now();
  const r = await inject(a.ns, 'burst', { n: N, del: DEL });
  t.match(r, { created: N, deleted: DEL, count: LIVE }, `A: ${N} entries created and ${DEL} deleted in ${r.ms} ms`);
  t.ok(await waitFor(async () => (await stats(a)).kernel.feed.overruns > 0, 10_000, 200), 'A: the overrun is counted');

  let last = { missing: [] as string[], extra: [] as string[] };
  let internalA = 0;
  const converged = await waitFor(
    async () => {
      const [ia, eb] = await Promise.all([cacheRows(a, 'internal'), cacheRows(b, 'external')]);
      internalA = ia.length;
      last = keyDiff(ia, eb);
      return ia.length === LIVE && last.missing.length === 0 && last.extra.length === 0;
    },
    45_000,
    500,
  );
  const doneAt = Date.now();
  t.ok(converged, `A internal ${internalA}/${LIVE}; B converged (missing ${last.missing.length}, extra ${last.extra.length})`);
  t.equal(a.proc?.exitCode, null, 'A still running');

  // the operator view: `ctsyncd stats --json` shows the overrun and the resync
  const s = cli(a, ['stats', '--json', '-C', a.confFile]);
  t.equal(s.code, 0, `ctsyncd stats --json exits 0 ${s.stderr}`);
  const feed = (
    JSON.parse(s.stdout) as { kernel: { feed: { overruns: number; resyncs: number; bufferBytes: number; bufferCapHits: number; eventDrops: number; silentDropResyncs: number } } }
  ).kernel.feed;
  t.ok(feed.overruns >= 1, `kernel.feed.overruns = ${feed.overruns}`);
  t.ok(feed.resyncs >= 1, `kernel.feed.resyncs = ${feed.resyncs}`);
  t.ok(feed.bufferBytes <= 2 * 65536, `the buffer stayed at the cap (${feed.bufferBytes} bytes, ${feed.bufferCapHits} cap hits)`);
  const rt = a.client(['-s', 'runtime']);
  t.match(rt.stdout, /netlink overrun:\s*[1-9]/i, `-s runtime shows the overrun`);
  t.comment(
    `overrun: ${feed.overruns} overruns, ${feed.eventDrops} events dropped, ${feed.resyncs} resyncs (${feed.silentDropResyncs} for unreported drops); B converged ${doneAt - t0} ms after the burst started`,
  );

  // the event path still works after the overrun
  a.conntrack('-I -s 10.98.0.1 -d 172.31.9.9 -p udp --sport 1 --dport 2 -t 60');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === LIVE + 1, 10_000, 250), 'a later event still reaches B');
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
