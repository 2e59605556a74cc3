/**
 * Issue 7 §1: the Prometheus endpoint of a running ctsyncd pair, scraped from inside the
 * namespaces. Native JSON configs made with `ctsyncd config convert --json` plus
 * `metrics: { address: <sync address>, port }` (docs/operations.md "Watching it").
 *
 * - a lone node: /healthz 503 and ctsyncd_ready 0 until its readiness wait ends, then 200 / 1
 *   (FTFW readiness: our RESYNC answered and the bulk over, or 3 s without an answer — see
 *   src/sync/mode/README.md); `ctsyncd status --ready` exit codes follow it.
 * - after flows on A: sync lag observed on A, B's external cache gauge equals the flows, the peer
 *   silence gauge is small, the kernel table gauge equals `conntrack -C`.
 * - a partial commit on B: the kernel refuses an entry whose reply tuple clashes with an entry
 *   already in B's table (create → EEXIST, delete by the original tuple → ENOENT, create again
 *   → EEXIST): `ctsyncd -c` exits 1 and ctsyncd_commit_failures_total{reason="exists"} counts it.
 *   Cheaper than filling nf_conntrack_max (global and read-only in a namespace; test/kernel
 *   covers the table-full reason).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cli, inject } from '../daemon/fixtures/util';
import { SyncLab, sleep, waitFor } from '../helpers/sync-lab';
import { metric, NsHttp, nativeWithMetrics, parseProm, type Sample } from './fixtures/ops';

const PORT = 9469;
const N = 200;

t.test('metrics endpoint on a running pair', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], configOf: nativeWithMetrics(PORT) });
  t.teardown(() => lab.destroy());
  const [a, b] = [lab.nodes[0]!, lab.nodes[1]!];
  t.match(a.confFile, /\.json$/, 'native JSON config');
  const httpA = new NsHttp(a.ns);
  const httpB = new NsHttp(b.ns);
  t.teardown(() => {
    httpA.close();
    httpB.close();
  });
  const url = (n: typeof a, p: string) => `http://${n.addr}:${PORT}${p}`;
  const scrape = async (n: typeof a): Promise<Sample[]> => {
    const r = await (n === a ? httpA : httpB).get(url(n, '/metrics'));
    if (r.status !== 200) throw new Error(`scrape ${n.ns}: ${JSON.stringify(r)}`);
    return parseProm(r.body!);
  };

  // --- a lone node: not ready, then ready (poll from before the daemon exists)
  const t0 = Date.now();
  await a.start(false);
  const seen: { ms: number; status: number }[] = [];
  let statusReady: { code: number; ready: unknown } | undefined;
  let statusNotReady: { code: number; ready: unknown } | undefined;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await httpA.get(url(a, '/healthz'), 2000);
    if (r.status !== undefined) {
      if (seen.length === 0 || seen[seen.length - 1]!.status !== r.status) seen.push({ ms: Date.now() - t0, status: r.status });
      if (r.status === 503 && !statusNotReady) {
        // the same moment through the control socket: `status --ready` must say no
        const s = cli(a, ['status', '--json', '--ready', '-C', a.confFile]);
        statusNotReady = { code: s.code, ready: (JSON.parse(s.stdout || '{}') as { ready?: unknown }).ready };
        const m = await scrape(a);
        t.equal(metric(m, 'ctsyncd_ready'), 0, 'lone node before its readiness wait ends: ctsyncd_ready 0');
        t.equal(fs.readFileSync(path.join(a.dir, 'ctl.ready'), 'utf8').trim(), '1', 'readiness file says 1 (not ready)');
      }
      if (r.status === 200) break;
    }
    await sleep(20);
  }
  t.comment(`lone node /healthz transitions: ${JSON.stringify(seen)}`);
  t.equal(seen[0]?.status, 503, '/healthz answers 503 first (not ready)');
  t.equal(seen[seen.length - 1]?.status, 200, '/healthz turns 200 once ready');
  t.equal(seen.length, 2, 'exactly one transition 503 → 200');
  t.same(statusNotReady, { code: 1, ready: false }, 'status --ready exits 1 while not ready');
  {
    const s = cli(a, ['status', '--json', '--ready', '-C', a.confFile]);
    statusReady = { code: s.code, ready: (JSON.parse(s.stdout || '{}') as { ready?: unknown }).ready };
    t.same(statusReady, { code: 0, ready: true }, 'status --ready exits 0 once ready');
    const m = await scrape(a);
    t.equal(metric(m, 'ctsyncd_ready'), 1, 'ctsyncd_ready 1 once ready');
  }

  // --- the pair: B joins, flows on A
  await b.start();
  t.ok(await waitFor(async () => (await httpB.get(url(b, '/healthz'))).status === 200, 10_000), 'B becomes ready (healthz 200)');
  const made = await inject<{ created: number }>(a.ns, 'burst', { n: N });
  t.equal(made.created, N, `${N} flows created in A's kernel`);
  t.ok(
    await waitFor(async () => metric(await scrape(b), 'ctsyncd_cache_entries', { cache: 'external' }) === N, 10_000),
    `B: ctsyncd_cache_entries{cache="external"} reaches ${N}`,
  );
  // ACKs come back within ~30 ms of the last datagram (ackDelayMs); give them a moment
  t.ok(await waitFor(async () => (metric(await scrape(a), 'ctsyncd_sync_lag_seconds_count') ?? 0) > 0, 5000), 'A: sync lag observed');
  const ma = await scrape(a);
  const mb = await scrape(b);
  const lagCount = metric(ma, 'ctsyncd_sync_lag_seconds_count')!;
  const lagSum = metric(ma, 'ctsyncd_sync_lag_seconds_sum')!;
  t.comment(`A: sync lag count ${lagCount}, mean ${((lagSum / lagCount) * 1000).toFixed(1)} ms`);
  t.ok(lagCount >= 1 && lagCount <= N, `lag count ${lagCount} in [1, ${N}] (one per synced event at most)`);
  t.equal(metric(ma, 'ctsyncd_sync_lag_seconds_bucket', { le: '+Inf' }), lagCount, '+Inf bucket = count');
  t.equal(metric(ma, 'ctsyncd_cache_entries', { cache: 'internal' }), N, `A: internal cache gauge ${N}`);
  t.equal(metric(mb, 'ctsyncd_cache_entries', { cache: 'external' }), N, `B: external cache gauge ${N}`);
  for (const [name, m] of [
    ['A', ma],
    ['B', mb],
  ] as const) {
    const age = metric(m, 'ctsyncd_peer_last_message_age_seconds');
    t.ok(age !== undefined && age >= 0 && age < 2.5, `${name}: peer last message age ${age} s (ALIVE/ACK every second)`);
    t.equal(metric(m, 'ctsyncd_ready'), 1, `${name}: ctsyncd_ready 1`);
    t.equal(metric(m, 'ctsyncd_link_up', { link: m === ma ? a.dev : b.dev }), 1, `${name}: link up`);
  }
  const countA = Number(a.exec('conntrack', ['-C']).trim());
  t.equal(countA, N, `conntrack -C in A = ${N}`);
  t.equal(metric(ma, 'ctsyncd_kernel_conntrack_entries'), countA, 'A: ctsyncd_kernel_conntrack_entries = conntrack -C');
  t.equal(metric(mb, 'ctsyncd_kernel_conntrack_entries'), Number(b.exec('conntrack', ['-C']).trim()), 'B: kernel gauge = conntrack -C');
  t.ok((metric(ma, 'ctsyncd_kernel_conntrack_limit') ?? 0) > 0, 'kernel limit gauge present');
  t.equal((await httpA.get(url(a, '/nope'))).status, 404, 'other paths: 404');

  // --- a partial commit on B. Flow 0 of the burst is 10.0.0.1:1024 → 10.200.0.1:80 (tcp); put
  // an entry whose ORIGINAL tuple is flow 0's reply tuple, with a NATed reply, in B's table.
  b.conntrack(
    '-I -s 10.200.0.1 -d 10.0.0.1 -p tcp --sport 80 --dport 1024 --reply-src 10.0.0.1 --reply-dst 192.0.2.77 --reply-port-src 1024 --reply-port-dst 80 --state ESTABLISHED -t 600',
  );
  const before = await scrape(b);
  t.equal(metric(before, 'ctsyncd_commit_failures_total', { reason: 'exists' }) ?? 0, 0, 'no commit failures yet');
  const c = b.client(['-c']);
  t.equal(c.code, 1, `-c exits 1 on a partial commit (${c.stdout.trim()} ${c.stderr.trim()})`);
  const after = await scrape(b);
  t.equal(metric(after, 'ctsyncd_commit_failures_total', { reason: 'exists' }), 1, 'ctsyncd_commit_failures_total{reason="exists"} = 1');
  t.equal(metric(after, 'ctsyncd_commit_entries_total'), N - 1, `ctsyncd_commit_entries_total = ${N - 1}`);
  t.equal(metric(after, 'ctsyncd_commit_duration_seconds_count'), 1, 'one commit observed in the duration histogram');
  t.comment(`B: commit of ${N} entries took ${(metric(after, 'ctsyncd_commit_duration_seconds_sum')! * 1000).toFixed(1)} ms`);
  t.match(b.log, /commit partial/, 'the partial commit is logged');
});
