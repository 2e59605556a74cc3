/**
 * CommitRunner (spec §5.3 timeouts) without a kernel: the flows of the external cache reach
 * createBatch as the cached objects themselves (no per-entry copies, issue 8), with the commit
 * timeout passed beside them: CommitTimeout when set, else received timeout − seconds since
 * the last update (≤ 0 → 60, a negative elapsed counts as 60 s). DEAD objects are skipped.
 */
import t from 'tap';
import { externalCtCache } from '../../src/cache/cache';
import type { CommitFailReason } from '../../src/commit/commit';
import { ManualClock } from '../../src/core/clock';
import { CommitRunner } from '../../src/daemon/commit-runner';
import type { Daemon } from '../../src/daemon/daemon';
import { AF_INET } from '../../src/flow/address';
import { type Flow, IPPROTO, makeTuple } from '../../src/flow/flow';
import type { Logger } from '../../src/log/logger';

function flow(i: number, timeout: number): Flow {
  return { orig: makeTuple({ family: AF_INET, src: 0x0a000001, dst: 0x0a000002, proto: IPPROTO.TCP, sport: 1000 + i, dport: 80 }), timeout, status: 14, tcp: { state: 3 } };
}

function rig(commitTimeout: number) {
  const clock = new ManualClock(0);
  const external = externalCtCache(0);
  const calls: { flows: readonly Flow[]; timeouts: number[] }[] = [];
  const client = {
    createBatch(flows: readonly Flow[], opts?: { timeouts?: ArrayLike<number> }) {
      calls.push({ flows, timeouts: Array.from(opts?.timeouts ?? []) });
      return { errnos: new Int32Array(flows.length) };
    },
    deleteBatch(flows: readonly Flow[]) {
      return { errnos: new Int32Array(flows.length) };
    },
    classifyErrno: (): CommitFailReason => 'other',
    createExpectations: () => ({ errnos: new Int32Array(0) }),
  };
  const d = {
    clock,
    client,
    cfg: { commitTimeout, tcpWindowTracking: false, expectationSync: false },
    engine: { external, externalExpectations: () => [] },
  } as unknown as Daemon;
  const noop = () => {};
  const log = { debug: noop, info: noop, warn: noop, error: noop } as unknown as Logger;
  return { clock, external, calls, runner: new CommitRunner(d, log) };
}

t.test('received timeout minus elapsed seconds; the cached flows themselves are sent', async (t) => {
  const r = rig(0);
  r.external.apply('new', flow(1, 300), 0); // updated at 0 s
  r.external.apply('new', flow(2, 100), 50_000); // updated at 50 s
  r.external.apply('new', flow(3, 30), 0); // 30 − 70 ≤ 0 → 60
  r.external.apply('new', flow(4, 500), 90_000); // updated "in the future" → elapsed 60 → 440
  r.external.apply('new', flow(5, 70), 0); // 70 − 70 = 0 → 60
  const dead = r.external.apply('new', flow(6, 999), 0)!;
  r.external.apply('destroy', flow(6, 999), 0);
  r.clock.advance(70_000);
  const out = await r.runner.run({ ct: true, exp: false });
  t.equal(out.outcome, 'ok');
  t.equal(out.ct, 5, 'DEAD entry skipped');
  const sent = new Map<number, number>();
  let sameObjects = 0;
  for (const c of r.calls) {
    c.flows.forEach((f, i) => {
      const tmo = c.timeouts[i]!;
      sent.set(f.orig.sport - 1000, tmo >= 0 ? tmo : f.timeout!);
      if (r.external.find(f)?.data === f) sameObjects++;
    });
  }
  t.same(Object.fromEntries(sent), { 1: 230, 2: 80, 3: 60, 4: 440, 5: 60 });
  t.equal(sameObjects, 5, 'no copies: createBatch got the cached Flow objects');
  t.equal(r.external.find(flow(1, 0))!.data.timeout, 300, 'cached timeouts untouched');
  t.equal(dead.status, 2, "entry 6 is DEAD");
  t.notOk(sent.has(6), "the DEAD entry is not committed");
});

t.test('CommitTimeout replaces the computed timeout', async (t) => {
  const r = rig(180);
  r.external.apply('new', flow(1, 300), 0);
  r.external.apply('new', flow(2, 180), 0);
  r.clock.advance(5_000);
  await r.runner.run({ ct: true, exp: false });
  const got = r.calls.flatMap((c) => c.flows.map((f, i) => (c.timeouts[i]! >= 0 ? c.timeouts[i]! : f.timeout!)));
  t.same(got.sort(), [180, 180]);
});
