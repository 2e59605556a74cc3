/**
 * Volume behaviour against the real kernel, each test in its own scratch network namespace:
 * a 100k event burst with the enlarged buffer, an overrun with a tiny buffer (reported, process
 * keeps reading), a streamed dump of 100k entries, a commit into a full table, and a pipelined
 * commit of 20k entries of which 1k replace existing ones.
 */
import t from 'tap';
import { createNetns, deleteNetns, runWork } from './fixtures/netns';

function withNs(tt: { teardown(fn: () => void): void }): string {
  const ns = createNetns();
  tt.teardown(() => deleteNetns(ns));
  return ns;
}

type J = Record<string, number> & { stats: Record<string, number>; diag: Record<string, number> };

t.test('100k NEW burst arrives in full with the default (enlarged) receive buffer', async (t) => {
  const ns = withNs(t);
  const r = await runWork<J>(ns, 'burst', { n: 100000 });
  t.equal(r.created, 100000);
  t.ok(r.rcvbuf >= 2 * (96 << 20), `SO_RCVBUFFORCE granted (${r.rcvbuf} B)`);
  t.equal(r.received, 100000, 'every NEW event received although nobody read during the burst');
  t.equal(r.overrunReports, 0);
  t.equal(r.drops, 0, '/proc/net/netlink: no drops on our event socket');
  t.equal(r.stats.overruns, 0);
  t.equal(r.stats.ownEvents, 100000, 'all recognised as our own changes');
  t.comment(`create ${r.createMs.toFixed(0)} ms (listener present), all events by ${r.recvMs.toFixed(0)} ms`);
});

t.test('tiny receive buffer: overrun reported, socket keeps working', async (t) => {
  const ns = withNs(t);
  const r = await runWork<J>(ns, 'burst', { n: 20000, rcvbuf: 65536, after: 500 });
  t.equal(r.created, 20000);
  t.ok(r.received < 20000, `events were lost (${r.received} of 20000 received)`);
  t.ok(r.received > 0, 'some events got through');
  t.ok(r.overrunReports >= 1, `overrun reported (${r.overrunReports}x)`);
  t.equal(r.drops, 20000 - r.received, '/proc/net/netlink Drops = exactly the events we did not get');
  t.equal(r.stats.overruns, r.overrunReports, 'counted in stats');
  // nobody polled during the synchronous burst, so the first wake-up sees EPOLLERR: libuv stops
  // the handle and reports UV_EBADF; the addon must read SO_ERROR and re-arm (research §1.1)
  t.ok(r.diag.pollErrors >= 1, `overrun arrived as POLLERR (${r.diag.pollErrors}x) and was survived`);
  t.equal(r.diag.truncated, 0, 'no datagram truncated');
  t.ok(r.grown > 2 * 65536, `growReceiveBuffer enlarged the buffer (${r.grown} B)`);
  t.equal(r.afterReceived, 500, 'after the overrun all 500 new events arrive: still reading');
});

t.test('streamed dump of 100k entries', async (t) => {
  const ns = withNs(t);
  const r = await runWork<J>(ns, 'dumpMany', { n: 100000 });
  t.equal(r.created, 100000);
  t.equal(r.count, 100000, 'nf_conntrack_count');
  t.equal(r.dumped, 100000, 'every entry dumped');
  t.equal(r.dupes, 0, 'no entry twice');
  t.equal(r.wrongState, 0, 'all decode as ESTABLISHED to port 80');
  t.ok(r.chunks >= 20, `streamed in ${r.chunks} chunks (largest ${r.maxChunk})`);
  t.ok(r.maxChunk < 5000, 'never the whole table in one chunk');
  t.comment(`dump + decode of 100k: ${r.dumpMs.toFixed(0)} ms`);
});

t.test('commit into a full table: failures counted by reason, EEXIST replaced', async (t) => {
  const ns = withNs(t);
  const r = (await runWork<Record<string, unknown>>(ns, 'tableFull', { room: 100, n: 1000, existing: 50 }, 55000)) as {
    max: number;
    filled: number;
    fillMs: number;
    count: number;
    report: { attempted: number; committed: number; replaced: number; failed: number; failedByReason: Record<string, number>; maxStallMs: number };
  };
  t.equal(r.filled, r.max - 100, `prefilled to nf_conntrack_max - 100 (${r.filled})`);
  t.equal(r.report.attempted, 1050);
  t.equal(r.report.replaced, 50, 'entries already present: deleted and created again');
  t.equal(r.report.committed, 150, '100 free slots + 50 replaced');
  t.equal(r.report.failed, 900);
  t.equal(r.report.failedByReason.tableFull, 900, 'ENOMEM at nf_conntrack_max classified as table full');
  t.equal(r.report.failedByReason.other, 0);
  t.equal(r.count, r.max, 'table exactly full');
  t.comment(`fill ${r.filled} in ${r.fillMs} ms; longest commit stall ${r.report.maxStallMs} ms`);
});

t.test('pipelined commit of 20k with 1k already present: each committed once, counts exact', async (t) => {
  const ns = withNs(t);
  const r = (await runWork<Record<string, unknown>>(ns, 'pipelinedReplace', { n: 20000, existing: 1000 }, 55000)) as {
    pre: number;
    count: number;
    replacedTimeout: number;
    gets: number;
    getErrors: number;
    batchLost: number;
    ev: { ownNew: number; ownDestroy: number; foreign: number };
    report: { attempted: number; committed: number; replaced: number; failed: number; pipelined: boolean };
  };
  t.equal(r.pre, 1000, '1k entries created beforehand');
  t.equal(r.report.pipelined, true, 'the kernel work ran off the JS thread');
  t.match(r.report, { attempted: 20000, committed: 20000, replaced: 1000, failed: 0 });
  t.equal(r.count, 20000, 'the table holds exactly the committed entries');
  t.ok(r.replacedTimeout > 250 && r.replacedTimeout <= 300, `a replaced entry has the committed timeout (${r.replacedTimeout})`);
  t.equal(r.batchLost, 0, 'no answer lost');
  t.equal(r.getErrors, 0, `synchronous requests meanwhile (${r.gets}) unaffected`);
  t.ok(r.gets > 0, 'some ran during the commit');
  t.same(r.ev, { ownNew: 21000, ownDestroy: 1000, foreign: 0 }, 'every event of the commit recognised as our own (bulk socket port)');
});

t.test('pipelined commit with a tiny event buffer: the overrun is reported, events flow again after', async (t) => {
  const ns = withNs(t);
  const r = (await runWork<Record<string, unknown>>(ns, 'pipelinedOverrun', { n: 20000 }, 55000)) as {
    report: { committed: number; failed: number };
    overrunReports: number;
    statsOverruns: number;
    duringCommit: number;
    after: number;
    count: number;
  };
  t.match(r.report, { committed: 20000, failed: 0 }, 'the commit is not affected');
  t.equal(r.count, 20020);
  t.ok(r.duringCommit < 20000, `events were lost (${r.duringCommit} of 20000 received)`);
  t.ok(r.overrunReports >= 1, `overrun reported (${r.overrunReports}x)`);
  t.equal(r.statsOverruns, r.overrunReports, 'counted in stats');
  t.equal(r.after, 20, 'afterwards every event arrives: still reading');
});
