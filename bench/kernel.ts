/**
 * Kernel-layer benchmark (not a test). Runs itself inside a scratch network namespace
 * (`ctkb-<pid>`, deleted at the end) and measures, for N entries (default 100k):
 *  - create / update / delete rates through ConntrackClient batches, no event listener;
 *  - `conntrack -R` loading the same N entries (conntrack -L -o save format) for comparison;
 *  - commitFlows of N entries (chunked, yields) and its longest event-loop stall;
 *  - create rate with an event listener subscribed, then the drain rate of the N queued NEW
 *    events (read + decode);
 *  - live receive rate of N DESTROY events while `conntrack -F` empties the table;
 *  - streamed dump + decode of N entries.
 * Usage (as root): node -r ./test/kernel/fixtures/ts-cache-loader.js bench/kernel.ts [N] [repeats]
 *   (or -r @isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only)
 * Results are printed as a markdown table (copy into bench/RESULTS.md).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { commitFlows } from '../src/commit/commit';
import { ConntrackClient } from '../src/ctnetlink/client';
import { AF_INET, parseAddr } from '../src/flow/address';
import { type Flow, IPPROTO, IPS, invertTuple, makeTuple } from '../src/flow/flow';

const N = Number(process.argv[2] ?? 100000);
const REPEATS = Number(process.argv[3] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function bulkFlows(n: number, timeout = 600): Flow[] {
  const out: Flow[] = new Array(n);
  const dst = parseAddr('10.200.0.1');
  for (let k = 0; k < n; k++) {
    const src = ((10 << 24) | (((k >>> 14) & 0xff) << 16) | (((k >>> 6) & 0xff) << 8) | 1) >>> 0;
    const orig = makeTuple({ family: AF_INET, src, dst, proto: IPPROTO.TCP, sport: 1024 + (k & 63), dport: 80 });
    out[k] = { orig, reply: invertTuple(orig), status: IPS.SEEN_REPLY | IPS.ASSURED, timeout, tcp: { state: 3 } };
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Row = { what: string; ms: number[]; n: number; note?: string };

/** CPU time (user + sys, ms) of this process: ctnetlink work runs inside our sendmsg. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}
function userMs(since: NodeJS.CpuUsage): number {
  return process.cpuUsage(since).user / 1000;
}
/** A clock that only advances while this process runs (CPU ms): slices without preemption. */
const cpuClock = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function inside(): Promise<void> {
  const rows: Row[] = [];
  const add = (what: string, n: number, v: number[], note?: string) => rows.push({ what, ms: v, n, note });
  const flows = bulkFlows(N);
  const updates = flows.map((f) => ({ orig: f.orig, timeout: 300, mark: 7 }));
  const c = new ConntrackClient();
  const must = (ok: number, what: string) => {
    if (ok !== N) throw new Error(`${what}: only ${ok} of ${N} succeeded`);
  };

  // 1. batches without a listener
  // warm-up (JIT): the daemon's encoder is warm by the time it commits
  const warm = bulkFlows(5000);
  c.createBatch(warm);
  c.updateBatch(warm);
  c.deleteBatch(warm);
  const cr: number[] = [];
  const up: number[] = [];
  const de: number[] = [];
  const cpu = { cr: [] as number[], up: [] as number[], de: [] as number[] };
  const user = { cr: [] as number[], up: [] as number[], de: [] as number[] };
  for (let r = 0; r < REPEATS; r++) {
    let t0 = process.hrtime.bigint();
    let c0 = process.cpuUsage();
    must(c.createBatch(flows).ok, 'create');
    cr.push(ms(t0));
    cpu.cr.push(cpuMs(c0));
    user.cr.push(userMs(c0));
    t0 = process.hrtime.bigint();
    c0 = process.cpuUsage();
    must(c.updateBatch(updates).ok, 'update');
    up.push(ms(t0));
    cpu.up.push(cpuMs(c0));
    user.up.push(userMs(c0));
    t0 = process.hrtime.bigint();
    c0 = process.cpuUsage();
    must(c.deleteBatch(flows).ok, 'delete');
    de.push(ms(t0));
    cpu.de.push(cpuMs(c0));
    user.de.push(userMs(c0));
  }
  const cpuNote = (xs: number[], us: number[]) => `CPU user+sys median ${median(xs).toFixed(0)} ms, of it JS (user) ${median(us).toFixed(0)} ms`;
  add('create (createBatch, 1024/sendmsg, ACK on last), no listener', N, cr, cpuNote(cpu.cr, user.cr));
  add('update (mark + timeout), no listener', N, up, cpuNote(cpu.up, user.up));
  add('delete, no listener', N, de, cpuNote(cpu.de, user.de));

  // 2. conntrack -R on the same entries (-o save format)
  must(c.createBatch(flows).ok, 'create');
  const file = `/tmp/ctkb-${process.pid}.save`;
  writeFileSync(file, execFileSync('conntrack', ['-L', '-o', 'save'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }));
  const rl: number[] = [];
  const rlCpu: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    c.flush();
    const t0 = process.hrtime.bigint();
    // bash's `time` reports the child's user+sys CPU (ctnetlink work runs in its sendmsg)
    const res = spawnSync('bash', ['-c', `TIMEFORMAT='%3U %3S'; time conntrack -R ${file} 2>/dev/null`], { encoding: 'utf8' });
    rl.push(ms(t0));
    const [u, sy] = res.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    rlCpu.push(((u ?? 0) + (sy ?? 0)) * 1000);
    if (c.count() !== N) throw new Error(`conntrack -R loaded ${c.count()} of ${N}`);
  }
  execFileSync('rm', ['-f', file]);
  add('`conntrack -R` of the same entries (-o save file), no listener', N, rl, `CPU user+sys median ${median(rlCpu).toFixed(0)} ms`);
  c.flush();

  // 3. commitFlows (chunked, yielding) into an empty table
  const cm: number[] = [];
  const stall: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const rep = await commitFlows(c, flows, { beLiberal: true, now: () => Number(process.hrtime.bigint() / 1000000n) });
    if (rep.committed !== N) throw new Error(`commit: ${rep.committed}`);
    cm.push(rep.durationMs);
    stall.push(rep.maxStallMs);
    c.flush();
  }
  add('commitFlows (adaptive chunks for 20 ms slices, setImmediate between), no listener', N, cm, `longest stall (wall, includes preemption) median ${median(stall).toFixed(0)} ms, max ${Math.max(...stall).toFixed(0)} ms`);
  // the same with a CPU-time clock: the work per slice without the scheduler's share
  const cpuStall: number[] = [];
  const cpuDur: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const rep = await commitFlows(c, flows, { beLiberal: true, now: cpuClock });
    if (rep.committed !== N) throw new Error(`commit: ${rep.committed}`);
    cpuStall.push(rep.maxStallMs);
    cpuDur.push(rep.durationMs);
    c.flush();
  }
  add('commitFlows measured on a CPU-time clock (ms = CPU ms)', N, cpuDur, `longest slice ${median(cpuStall).toFixed(0)} CPU ms (median), max ${Math.max(...cpuStall).toFixed(0)}`);

  // 4. with a listener: create cost, then drain of the queued NEW events
  const cl: number[] = [];
  const dr: number[] = [];
  const live: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const l = new ConntrackClient();
    let got = 0;
    let destroyed = 0;
    l.subscribe({ onEvent: (k) => (k === 'new' ? got++ : k === 'destroy' ? destroyed++ : 0) }, { rcvbuf: 96 << 20 });
    let t0 = process.hrtime.bigint();
    must(c.createBatch(flows).ok, 'create');
    cl.push(ms(t0));
    t0 = process.hrtime.bigint();
    const deadline = Date.now() + 20000;
    while (got < N && Date.now() < deadline) await sleep(1);
    dr.push(ms(t0));
    if (got !== N) throw new Error(`drain: ${got} of ${N} events (overruns ${l.stats.overruns})`);
    // live: conntrack -F in another process produces DESTROY events while we read
    t0 = process.hrtime.bigint();
    const child = spawn('conntrack', ['-F'], { stdio: 'ignore' });
    while (destroyed < N && Date.now() < deadline + 20000) await sleep(1);
    live.push(ms(t0));
    await new Promise((res) => (child.exitCode !== null ? res(null) : child.on('close', res)));
    if (destroyed !== N) throw new Error(`live: ${destroyed} of ${N} DESTROY events`);
    l.close();
  }
  add('create with one event listener subscribed', N, cl);
  add('drain + decode of the queued NEW events (after the create)', N, dr);
  add('live DESTROY events during `conntrack -F` (received + decoded)', N, live, 'producer-bound');

  // 5. streamed dump
  must(c.createBatch(flows).ok, 'create');
  const du: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    for await (const chunk of c.dump(AF_INET)) n += chunk.length;
    du.push(ms(t0));
    if (n !== N) throw new Error(`dump: ${n}`);
  }
  add('dump + decode (streamed chunks)', N, du);
  c.flush();
  c.close();

  const lines = ['| operation | N | median ms | runs (ms) | rate (median) | note |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    const m = median(r.ms);
    lines.push(
      `| ${r.what} | ${r.n} | ${m.toFixed(0)} | ${r.ms.map((x) => x.toFixed(0)).join(', ')} | ${Math.round((r.n / m) * 1000).toLocaleString('en-US')}/s | ${r.note ?? ''} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  if (process.env.CTK_BENCH_INSIDE) return inside();
  const ns = `ctkb-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    process.stdout.write(
      `Kernel layer benchmark, ${new Date().toISOString()}, ${os.cpus().length}x ${os.cpus()[0]?.model ?? '?'}, kernel ${os.release()}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join('/')}\n\n`,
    );
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, __filename, String(N), String(REPEATS)], {
      stdio: 'inherit',
      env: { ...process.env, CTK_BENCH_INSIDE: '1' },
      timeout: 600000,
    });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
