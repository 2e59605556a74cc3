/**
 * Smoke test of the issue-8 harness (bench/sync, bench/faults) on a few hundred entries: the
 * harness runs end to end against a real daemon in bn-* namespaces and its figures are sane.
 * No timed assertions (CONTRIBUTING / issue 8: benchmarks are never timed tests in CI).
 *
 * Daemon under test: BN_SMOKE_DAEMON (conntrackd by default; ctsyncd once it runs).
 */
import { rmSync } from 'node:fs';
import t from 'tap';
import { partition } from '../../bench/faults/faults';
import { sideBySide } from '../../bench/sync/common';
import { type DaemonKind, dumpEntries, killAllStarted, parseCacheCounts } from '../../bench/sync/daemon';
import { benchFlow, benchIndex, benchKey } from '../../bench/sync/flows';
import { deleteNamespace, listBenchNamespaces } from '../../bench/sync/topo';
import { burst, type RigOptions, Rig, steady, waitConverged, waitCount } from '../../bench/sync/workloads';

const kind = (process.env.BN_SMOKE_DAEMON ?? 'ctsyncd') as DaemonKind;
const id = `t${process.pid.toString(36)}`; // ≤ 6 chars: bn-<id><n>-a stays ≤ 15
const runDir = `/tmp/bn-smoke-${id}`;
let k = 200;
const rig = (): RigOptions => ({ kind, tag: `${id}${k - 199}`, k: k++, runDir, sched: 'other' });

t.teardown(() => {
  killAllStarted();
  for (const ns of listBenchNamespaces(`bn-${id}`)) deleteNamespace(ns);
  rmSync(runDir, { recursive: true, force: true });
});

t.test('flow identities round-trip (index ↔ tuple ↔ dump key)', async (t) => {
  for (const i of [0, 1, 63, 64, 12345, 249_999]) {
    const f = benchFlow(i, i % 2 === 0);
    t.equal(benchIndex(f.orig.src as number, f.orig.sport, f.orig.dst as number, f.orig.dport), i);
    const line = `tcp      6 ESTABLISHED src=${benchKey(i).split(' ')[1]!.split(':')[0]} dst=10.97.0.1 sport=${f.orig.sport} dport=80 [ASSURED] mark=3 [active since 8s]`;
    t.same([...dumpEntries(line)], [[benchKey(i), 3]]);
  }
  t.equal(benchIndex(1, 1024, 2, 80), -1);
});

t.test('parsers: -s cache counts and the side-by-side table', async (t) => {
  const s = 'cache internal:\ncurrent active connections:\t          12\n\ncache external:\ncurrent active connections:\t           7\n';
  t.same(parseCacheCounts(s), { internal: 12, external: 7 });
  t.equal(parseCacheCounts('nothing'), undefined);
  const md = sideBySide('w', ['a', 'b'], [{ x: 2, y: 'z' }, { x: 3, y: 'z' }]);
  t.match(md, /\| x \| 2 \| 3 \| 1\.50 \|/);
  t.match(md, /\| y \| z \| z \| {2}\|/);
});

t.test(`burst of 300 (${kind}): synced, committed on fwB, resynced to a restarted fwB`, async (t) => {
  const f = await burst(rig(), 300, false, true, (s) => t.comment(s));
  t.equal(f.injected, 300);
  t.equal(f.converged, true);
  t.equal(f.lost, 0);
  t.equal(f.stale, 0);
  t.equal(f.stale_mark, 0);
  t.equal(f.commit_exit, 0);
  t.equal(f.commit_kernelB, 300);
  t.equal(f.resync_converged, true);
  t.ok((f.wireAB_B_per_entry as number) > 20, 'sync payload bytes counted on the veth');
  t.ok((f.hwmA_MiB as number) > 0 && (f.hwmB_MiB as number) > 0, 'peak RSS read from /proc');
  t.equal(f.aliveA, true);
  t.equal(f.aliveB, true);
  t.same(listBenchNamespaces(`bn-${id}1-`), [], 'pair deleted afterwards');
});

t.test(`NAT burst of 200 (${kind}) arrives with its NAT`, async (t) => {
  const f = await burst(rig(), 200, true, false, (s) => t.comment(s));
  t.equal(f.converged, true);
  t.equal(f.lost, 0);
  t.ok((f.wireAB_B_per_entry as number) > 20);
});

t.test(`steady 400 events/s for 2 s (${kind}): lag measured from the capture`, async (t) => {
  const f = await steady(rig(), 400, 2, 200, (s) => t.comment(s));
  t.equal(f.converged, true);
  t.ok((f.sent as number) > 400, 'load was injected');
  t.ok((f.lag_samples as number) > 0, 'creates/deletes matched on the wire');
  t.ok((f.lag_p50_ms as number) <= (f.lag_max_ms as number));
  t.equal(f.lost, 0);
  t.equal(f.stale, 0);
});

t.test(`fault: 10 s partition with 200 flows (${kind}) converges after the heal`, async (t) => {
  const f = await partition(rig(), 200, (s) => t.comment(s));
  t.equal(f.converged, true);
  t.equal(f.lost, 0);
  t.equal(f.stale_mark, 0);
  t.equal(f.aliveA, true);
});

t.test('a dead peer is reported as such, not waited on for the full timeout', async (t) => {
  const r = new Rig(rig());
  try {
    await r.start();
    r.b.kill9();
    const w = await waitCount(r.b, 'external', (c) => c >= 1, 60_000);
    t.equal(w.converged, false);
    t.equal(w.died, true);
    const c = await waitConverged(r, 60_000);
    t.equal(c.converged, false);
    t.equal(c.died, true);
  } finally {
    await r.close();
  }
});
