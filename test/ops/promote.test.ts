/**
 * Issue 7 §6: `ctsyncd promote` / `ctsyncd demote` on a running pair (keepalived's notify hooks,
 * docs/operations.md "keepalived").
 *
 * promote on B with a large external cache: the nft hold table exists while the commit runs
 * (seen by polling `nft list tables` in B's namespace) and is gone afterwards; the steps are
 * printed in order; exit 0; B's kernel then holds A's flows, B's external cache is flushed and
 * its internal cache resynced, and A receives B's bulk. `--hold-ms 1` releases the hold before
 * the commit ends (fail-open); `--no-hold` never installs it; a partial commit exits 1; SIGTERM
during the commit removes the hold before promote exits.
 * demote on A: exit 0 and B answers the RESYNC with a bulk (its bulk counter goes up).
 */
import { execFile, spawn } from 'node:child_process';
import * as util from 'node:util';
import t from 'tap';
import { ask, cli, inject } from '../daemon/fixtures/util';
import { CTSYNCD, type LabNode, SyncLab, waitFor } from '../helpers/sync-lab';
import { childEnv } from './fixtures/ops';

const run = util.promisify(execFile);
const N = 10_000;
const HOLD = 'ctsyncd_promote_hold';

interface Status {
  internal: number;
  external: number;
  ready: boolean;
}

/** burstFlows(k) of test/daemon/fixtures/inject.ts: 10.a.b.1:sport → 10.200.0.1:80. */
function burstSrc(k: number): { src: string; sport: number } {
  return { src: `10.${(k >>> 14) & 0xff}.${(k >>> 6) & 0xff}.1`, sport: 1024 + (k & 63) };
}

/** Runs `ctsyncd promote …` in B while polling B's nft tables; resolves with both. */
async function promote(n: LabNode, extra: string[]): Promise<{ code: number; out: string; sawHold: boolean; polls: number }> {
  const child = run('ip', ['netns', 'exec', n.ns, process.execPath, CTSYNCD, 'promote', '-C', n.confFile, ...extra], {
    env: childEnv(),
    timeout: 60_000,
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
  );
  let done = false;
  void child.then(() => (done = true));
  let sawHold = false;
  let polls = 0;
  const deadline = Date.now() + 60_000;
  while (!done && Date.now() < deadline) {
    const tables = (await run('ip', ['netns', 'exec', n.ns, 'nft', 'list', 'tables'])).stdout;
    polls++;
    if (tables.includes(HOLD)) sawHold = true;
  }
  const r = await child;
  return { ...r, sawHold, polls };
}

const tables = (n: LabNode) => n.exec('nft', ['list', 'tables']);

t.test('promote and demote on a pair', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = [lab.nodes[0]!, lab.nodes[1]!];
  await a.start();
  await b.start();
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).ready, 10_000), 'B ready');
  t.equal(cli(b, ['status', '--ready', '-C', b.confFile]).code, 0, 'status --ready on B: exit 0');

  // --- 1: a large external cache, with the hold
  const made = await inject<{ created: number }>(a.ns, 'burst', { n: N });
  t.equal(made.created, N, `${N} flows in A's kernel`);
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === N, 30_000), `B's external cache holds ${N}`);
  t.equal(Number(b.exec('conntrack', ['-C']).trim()), 0, "B's kernel table is empty before the promotion");
  const p1 = await promote(b, []);
  t.equal(p1.code, 0, `promote exits 0:\n${p1.out}`);
  t.ok(p1.sawHold, `the hold table ${HOLD} existed during the promotion (${p1.polls} polls)`);
  const lines = p1.out.trim().split('\n');
  const idx = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const order = [
    idx(/^promote: holding new\/invalid forwarded traffic/),
    idx(new RegExp(`^promote: commit ok: ${N} entries, 0 expectations, 0 failed`)),
    idx(/^promote: hold released \(commit finished\)/),
    idx(/^promote: external cache flushed/),
    idx(/^promote: internal cache resynced with the kernel/),
    idx(/^promote: bulk update sent to peers/),
    idx(/^promote: done in \d+ ms$/),
  ];
  t.ok(order.every((i) => i >= 0), 'every step is printed');
  t.same(order, [...order].sort((x, y) => x - y), 'in order: hold, commit, release, flush, resync, bulk, done');
  t.comment(lines.filter((l) => /commit ok|done in/.test(l)).join(' | '));
  t.notMatch(tables(b), HOLD, 'no hold table afterwards');
  // (not `conntrack -C`: the hold's `ct state` rule turns conntrack on in B's namespace, so the
  // sync link's own UDP flow is tracked from then on)
  const inB = Number(b.exec('sh', ['-c', 'conntrack -L -d 10.200.0.1 2>/dev/null | wc -l']).trim());
  t.equal(inB, N, `B's kernel holds the ${N} flows of A`);
  const f0 = burstSrc(0);
  t.match(b.conntrack(`-L -s ${f0.src} -p tcp --sport ${f0.sport}`).join('\n'), /dst=10\.200\.0\.1 .*dport=80/, 'a flow of A is in B\'s table');
  const stB = await ask<Status>(b, { cmd: 'status' });
  t.equal(stB.external, 0, "B's external cache flushed");
  t.equal(stB.internal, N, "B's internal cache resynced with its kernel");
  t.ok(await waitFor(async () => (await ask<Status>(a, { cmd: 'status' })).external === N, 30_000), "B's bulk reaches A's external cache");
  const text = cli(b, ['status', '-C', b.confFile]);
  t.equal(text.code, 0, 'ctsyncd status exits 0');
  t.match(text.stdout, /mode ftfw, READY/, 'status text: mode and readiness');
  t.match(text.stdout, new RegExp(`internal cache ${N}, external cache 0`), 'status text: cache sizes');
  t.match(text.stdout, /peer \(conntrackd-compatible\): last message \d+ ms ago, gaps 0/, 'status text: the peer');

  // --- 2: fail-open: --hold-ms 1 releases before the commit ends
  const M = 5000;
  await inject(a.ns, 'burst', { n: M, offset: N });
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === M, 30_000), `B's external cache holds ${M} new`);
  const p2 = await promote(b, ['--hold-ms', '1']);
  t.equal(p2.code, 0, `promote --hold-ms 1 exits 0:\n${p2.out}`);
  const l2 = p2.out.split('\n');
  const rel = l2.findIndex((l) => /hold released \(fail-open bound reached\)/.test(l));
  const com = l2.findIndex((l) => /^promote: commit ok/.test(l));
  t.ok(rel >= 0 && rel < com, 'the hold is released by the fail-open bound before the commit result');
  t.equal(l2.filter((l) => /hold released/.test(l)).length, 1, 'released once');
  t.notMatch(tables(b), HOLD, 'no hold table afterwards');

  // --- 3: --no-hold
  const K = 100;
  await inject(a.ns, 'burst', { n: K, offset: N + M });
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === K, 10_000), `B's external cache holds ${K} new`);
  const cache = cli(b, ['cache', 'external', '--json', '-C', b.confFile]);
  t.equal(cache.code, 0, 'ctsyncd cache external --json exits 0');
  const rows = JSON.parse(cache.stdout) as { orig: { src: string; dst: string } }[];
  t.equal(rows.length, K, `it lists the ${K} entries`);
  t.ok(rows.every((r) => r.orig.dst === '10.200.0.1'), 'rows carry the original tuple');
  const p3 = await promote(b, ['--no-hold']);
  t.equal(p3.code, 0, `promote --no-hold exits 0:\n${p3.out}`);
  t.notOk(p3.sawHold, `--no-hold: the hold table never appeared (${p3.polls} polls)`);
  t.notMatch(p3.out, /holding|hold released/, '--no-hold: no hold lines');
  t.match(p3.out, new RegExp(`commit ok: ${K} entries`), `--no-hold: ${K} committed`);

  // --- 4: a partial commit: an entry in B clashes with one flow's reply tuple
  await inject(a.ns, 'burst', { n: K, offset: N + M + K });
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === K, 10_000), `B's external cache holds ${K} new`);
  const c = burstSrc(N + M + K);
  b.conntrack(
    `-I -s 10.200.0.1 -d ${c.src} -p tcp --sport 80 --dport ${c.sport} --reply-src ${c.src} --reply-dst 192.0.2.77 --reply-port-src ${c.sport} --reply-port-dst 80 --state ESTABLISHED -t 600`,
  );
  const p4 = await promote(b, ['--no-hold']);
  t.equal(p4.code, 1, 'a partial commit: promote exits 1');
  t.match(p4.out, /commit partial: 99 entries, 0 expectations, 1 failed \(exists=1\)/, 'the failure is counted by reason');
  t.match(p4.out, /done with a PARTIAL commit/, 'and the summary says so');

  // --- 5: promote stopped by SIGTERM mid-commit: the hold is removed on the way out
  await inject(a.ns, 'burst', { n: N, offset: N + M + 2 * K });
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === N, 30_000), `B's external cache holds ${N} new`);
  const p5 = spawn('ip', ['netns', 'exec', b.ns, process.execPath, CTSYNCD, 'promote', '-C', b.confFile, '--hold-ms', '30000'], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out5 = '';
  p5.stdout!.on('data', (x: Buffer) => (out5 += x.toString()));
  const exit5 = new Promise<number | null>((r) => p5.on('exit', (c) => r(c)));
  t.ok(await waitFor(() => /holding new/.test(out5), 10_000, 5), 'promote installed the hold');
  t.match(tables(b), HOLD, 'the hold table exists');
  process.kill(p5.pid!, 'SIGTERM'); // `ip netns exec` execs node: this is the promote process
  t.equal(await exit5, 143, 'SIGTERM: promote exits 128+15');
  t.match(out5, /hold released \(SIGTERM received\)/, 'it says it released the hold');
  t.notMatch(tables(b), HOLD, 'no hold table left behind');

  // --- demote on A: B answers A's RESYNC with a bulk
  const bulks = async () => ((await ask<{ engine: { bulks: number } }>(b, { cmd: 'stats' })).engine.bulks);
  const before = await bulks();
  const d = cli(a, ['demote', '-C', a.confFile]);
  t.equal(d.code, 0, `demote exits 0 (${d.stdout.trim()} ${d.stderr.trim()})`);
  t.match(d.stdout, /resync requested from the peer/, 'demote says what it did');
  t.ok(await waitFor(async () => (await bulks()) > before, 5000), `B's bulk count goes up (${before} → ${await bulks()})`);
  t.equal(cli(a, ['status', '--ready', '-C', a.confFile]).code, 0, 'status --ready on A after the demotion: exit 0');
});
