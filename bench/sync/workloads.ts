/**
 * The issue-8 workloads, each on a fresh firewall pair running one daemon kind on both sides.
 * Every function returns a flat record of figures (numbers, booleans, short strings); NaN means
 * "not measured" (e.g. the daemon died). Every wait is bounded and reports "did not converge".
 *
 * How things are measured (also printed in the results):
 *  - sync time: from the injector's first sendmsg to the first poll (every POLL_MS) at which the
 *    peer's `-s` "cache external: current active connections" reaches the target;
 *  - lost / stale: orig tuples in fwA's kernel (`conntrack -L`) but not in fwB's external cache
 *    (`-e`), and the reverse, once, at the end;
 *  - CPU: utime+stime(+children) of each daemon from /proc/PID/stat, before/after, per 100k;
 *  - memory: VmHWM at the end; bytes per cached entry = VmRSS growth / entries;
 *  - wire: UDP payload bytes each side sent on the sync veth (sysfs counters − 42 B/packet);
 *  - lag: capture on fwB's sync veth, see wirelag.ts;
 *  - commit: `-c` on fwB until fwB's kernel count reaches n (commit_ms, CPU to then), and until
 *    fwB's `-s` internal cache count reaches n (commit_internal_ms, CPU to then: the commit's
 *    own NEW events applied to it; conntrackd 1.4.7 did not reach n there within 15 s: n/a).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ConfOptions, Daemon, type DaemonKind, dumpEntries, kernelEntries, procTimes, type SchedMode } from './daemon';
import { lastJson, nowMs, nsNodeAsync, type RunResult, sleep } from './sh';

export { lastJson };
import { createPair, deletePair, kernelCount, kernelFlush, type LinkCounters, linkCounters, type Pair, payloadSent, SYNC_IF, SYNC_PORT } from './topo';
import { type InjectLog, lagReport } from './wirelag';

export const POLL_MS = 50;
export const INJECT = resolve(__dirname, 'inject.ts');

export type Figures = Record<string, number | string | boolean>;

export interface RigOptions {
  kind: DaemonKind;
  tag: string;
  /** Picks the /30 of the sync link (1..250); distinct per concurrent pair. */
  k: number;
  runDir: string;
  sched: SchedMode;
  conf?: ConfOptions;
  /**
   * Bursts: entries created, synced and flushed on the same pair before the measured burst, so
   * both daemons are measured warm (a long-running daemon is; ctsyncd's JIT otherwise pays its
   * compilation inside the first burst). 0 = measure cold.
   */
  warmup?: number;
}

/** A firewall pair with one daemon on each side. */
export class Rig {
  readonly pair: Pair;
  readonly a: Daemon;
  readonly b: Daemon;

  constructor(readonly o: RigOptions) {
    this.pair = createPair(o.tag, o.k, o.runDir);
    this.a = new Daemon(o.kind, this.pair, 'a', o.conf, o.sched);
    this.b = new Daemon(o.kind, this.pair, 'b', o.conf, o.sched);
  }

  async start(): Promise<void> {
    await this.a.start();
    await this.b.start();
  }

  async close(): Promise<void> {
    await this.a.stop();
    await this.b.stop();
    deletePair(this.pair);
  }

  inject(mode: string, args: Record<string, unknown>, timeoutMs: number, side: 'a' | 'b' = 'a'): Promise<RunResult> {
    return nsNodeAsync(side === 'a' ? this.pair.nsA : this.pair.nsB, INJECT, [mode, JSON.stringify(args)], timeoutMs);
  }
}

export interface WaitResult {
  converged: boolean;
  /** Epoch ms of the first poll that saw the target (NaN if never). */
  at: number;
  last: number;
  /** The daemon polled was found dead. */
  died: boolean;
}

/** Polls `-s` of `d` until its external (or internal) count satisfies `ok`, ≤ timeoutMs. */
export async function waitCount(d: Daemon, which: 'external' | 'internal', ok: (n: number) => boolean, timeoutMs: number, abort?: () => boolean): Promise<WaitResult> {
  const end = nowMs() + timeoutMs;
  let last = -1;
  for (;;) {
    const c = d.cacheCounts(3000);
    if (c) {
      last = c[which];
      if (ok(last)) return { converged: true, at: nowMs(), last, died: false };
    }
    if (!d.alive()) return { converged: false, at: Number.NaN, last, died: true };
    if (nowMs() >= end || abort?.()) return { converged: false, at: Number.NaN, last, died: false };
    await sleep(POLL_MS);
  }
}

interface Snap {
  t: number;
  cpuA: number;
  cpuB: number;
  sysA: number;
  sysB: number;
  rssA: number;
  rssB: number;
  linkA: LinkCounters;
  linkB: LinkCounters;
}

function snap(r: Rig): Snap {
  return {
    t: nowMs(),
    cpuA: r.a.cpuSeconds(),
    cpuB: r.b.cpuSeconds(),
    sysA: r.a.sysSeconds(),
    sysB: r.b.sysSeconds(),
    rssA: r.a.memory().rss,
    rssB: r.b.memory().rss,
    linkA: linkCounters(r.pair.nsA),
    linkB: linkCounters(r.pair.nsB),
  };
}

/** Resource figures between two snapshots, normalised by `entries`. */
function resources(r: Rig, s0: Snap, s1: Snap, entries: number, prefix = ''): Figures {
  const per100k = 100_000 / Math.max(1, entries);
  const wa = payloadSent(s0.linkA, s1.linkA);
  const wb = payloadSent(s0.linkB, s1.linkB);
  return {
    [`${prefix}cpuA_s_per100k`]: round((s1.cpuA - s0.cpuA) * per100k, 3),
    [`${prefix}cpuB_s_per100k`]: round((s1.cpuB - s0.cpuB) * per100k, 3),
    [`${prefix}sysA_s_per100k`]: round((s1.sysA - s0.sysA) * per100k, 3),
    [`${prefix}sysB_s_per100k`]: round((s1.sysB - s0.sysB) * per100k, 3),
    [`${prefix}hwmA_MiB`]: round(r.a.memory().hwm / 1048576, 1),
    [`${prefix}hwmB_MiB`]: round(r.b.memory().hwm / 1048576, 1),
    [`${prefix}memA_B_per_entry`]: Math.round((s1.rssA - s0.rssA) / Math.max(1, entries)),
    [`${prefix}memB_B_per_entry`]: Math.round((s1.rssB - s0.rssB) / Math.max(1, entries)),
    [`${prefix}wireAB_B_per_entry`]: round(wa.bytes / Math.max(1, entries), 1),
    [`${prefix}wireBA_B_per_entry`]: round(wb.bytes / Math.max(1, entries), 1),
    [`${prefix}wireAB_packets`]: wa.packets,
  };
}

/** fwA's netlink overruns / kernel resyncs / buffer and fwB's sequence-tracking losses. */
export function netlinkFigures(r: Rig): Figures {
  const a = r.a.alive() ? r.a.runtimeStats() : undefined;
  const b = r.b.alive() ? r.b.runtimeStats() : undefined;
  return {
    nl_overrunsA: a?.overruns ?? Number.NaN,
    nl_kernel_resyncsA: a?.kernelResyncs ?? Number.NaN,
    nl_bufferA_KiB: a ? Math.round(a.nlBuffer / 1024) : Number.NaN,
    seq_lostB: b?.seqLost ?? Number.NaN,
  };
}

/** The injector's own error line ("inject: ...") or the start of its stderr. */
export function injectError(r: RunResult): string {
  return r.stderr.split('\n').find((l) => l.startsWith('inject:')) ?? r.stderr.slice(0, 300);
}

export function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/**
 * Orig tuples in A's kernel but not in B's external cache (lost), the reverse (stale), and
 * entries in both whose mark differs (staleMark: an update that never arrived).
 */
export function diffAgainstPeer(r: Rig): { lost: number; stale: number; staleMark: number; kernelA: number; externalB: number } {
  const ka = kernelEntries(r.pair.nsA);
  const e = r.b.alive() ? r.b.client(['-e'], 120_000) : undefined;
  if (e?.code !== 0) return { lost: Number.NaN, stale: Number.NaN, staleMark: Number.NaN, kernelA: ka.size, externalB: Number.NaN };
  const kb = dumpEntries(e.stdout);
  let lost = 0;
  let stale = 0;
  let staleMark = 0;
  for (const [k, m] of ka) {
    const mb = kb.get(k);
    if (mb === undefined) lost++;
    else if (mb !== m) staleMark++;
  }
  for (const k of kb.keys()) if (!ka.has(k)) stale++;
  return { lost, stale, staleMark, kernelA: ka.size, externalB: kb.size };
}

interface InjectOut {
  t0: number;
  t1: number;
  ok: number;
  failed: number;
  ratePerSec?: number;
  errnos?: Record<string, number>;
}

/**
 * Convergence timeout for n entries: bounded but longer than conntrackd's overrun recovery (a
 * netlink overrun is repaired by a kernel-table resync NetlinkOverrunResync = 30 s later), so a
 * recovered overrun shows up as a slow sync rather than as "did not converge".
 */
/** How long the commit workload waits for fwB's internal cache to hold the committed entries. */
export const COMMIT_INTERNAL_TIMEOUT_MS = 15_000;

export function convergeTimeoutMs(n: number): number {
  return 45_000 + Math.ceil(n / 4000) * 1000;
}

/**
 * Warm-up on a fresh pair: w entries (flows n..n+w-1, disjoint from the measured 0..n-1) are
 * created on fwA, synced to fwB, then fwA's table is flushed and the deletes synced, so both
 * caches are empty again when the measurement starts.
 */
async function warmUp(r: Rig, w: number, n: number, log: (s: string) => void): Promise<void> {
  const ir = await r.inject('burst', { n: w, offset: n }, convergeTimeoutMs(w));
  if (ir.code !== 0) throw new Error(`warm-up injector failed: ${injectError(ir)}`);
  const up = await waitCount(r.b, 'external', (c) => c >= w, convergeTimeoutMs(w));
  kernelFlush(r.pair.nsA);
  const down = await waitCount(r.b, 'external', (c) => c === 0, convergeTimeoutMs(w));
  if (!up.converged || !down.converged) log(`  warm-up of ${w}: peer external reached ${up.last}, then ${down.last} (expected ${w}, then 0)`);
  await sleep(500);
}

/**
 * Burst of n creates on fwA; figures for sync, then (plain bursts, opts.followUps) commit on
 * fwB and bulk resync to a restarted fwB on the same rig.
 */
export async function burst(o: RigOptions, n: number, nat: boolean, followUps: boolean, log: (s: string) => void): Promise<Figures> {
  const r = new Rig(o);
  const f: Figures = { n, nat };
  try {
    await r.start();
    f.sched = `${r.a.schedPolicy()}`;
    f.warmup = o.warmup ?? 0;
    if (o.warmup) await warmUp(r, o.warmup, n, log);
    const s0 = snap(r);
    let injFailed = false;
    const inj = r.inject('burst', { n, nat }, convergeTimeoutMs(n)).then((x) => {
      injFailed = x.code !== 0;
      return x;
    });
    const w = await waitCount(r.b, 'external', (c) => c >= n, convergeTimeoutMs(n), () => injFailed);
    const ir = await inj;
    const io = lastJson<InjectOut>(ir);
    if (!io) throw new Error(`injector failed (${ir.code}): ${injectError(ir)}`);
    f.injected = io.ok;
    f.inject_ms = round(io.t1 - io.t0, 1);
    f.inject_per_s = io.ratePerSec ?? Number.NaN;
    f.converged = w.converged;
    f.sync_ms = w.converged ? round(w.at - io.t0, 1) : Number.NaN;
    f.sync_events_per_s = w.converged ? Math.round(n / ((w.at - io.t0) / 1000)) : Number.NaN;
    if (!w.converged) log(`  ${o.kind} burst ${n}${nat ? ' nat' : ''}: did not converge in ${convergeTimeoutMs(n) / 1000} s (peer external ${w.last}/${n}${w.died ? ', peer daemon died' : ''})`);
    await sleep(300); // let acks settle before reading counters
    const s1 = snap(r);
    if (process.env.BN_THREADS) log(`  threads A: ${threadCpu(r.a.pid)}\n  threads B: ${threadCpu(r.b.pid)}`);
    Object.assign(f, resources(r, s0, s1, n));
    const d = diffAgainstPeer(r);
    f.lost = d.lost;
    f.stale = d.stale;
    f.stale_mark = d.staleMark;
    Object.assign(f, netlinkFigures(r));
    f.aliveA = r.a.alive();
    f.aliveB = r.b.alive();
    if (!followUps || !r.b.alive()) return f;

    // Commit of the n synced entries into fwB's kernel (the failover step).
    const cpuB0 = r.b.cpuSeconds();
    const tc = nowMs();
    const c = r.b.client(['-c'], convergeTimeoutMs(n));
    f.commit_exit = c.code;
    f.commit_client_ms = round(c.ms, 1);
    let kc = kernelCount(r.pair.nsB);
    const end = nowMs() + convergeTimeoutMs(n);
    while (kc < n && nowMs() < end && r.b.alive()) {
      await sleep(POLL_MS);
      kc = kernelCount(r.pair.nsB);
    }
    f.commit_ms = kc >= n ? round(nowMs() - tc, 1) : Number.NaN;
    f.commit_kernelB = kc;
    f.commit_cpuB_s_per100k = round(((r.b.cpuSeconds() - cpuB0) * 100_000) / n, 3);
    if (kc < n) log(`  ${o.kind} commit ${n}: fwB kernel has ${kc}/${n} after ${convergeTimeoutMs(n) / 1000} s`);
    // ...and when fwB's internal cache holds them too: the NEW events the commit caused have
    // been applied (spec §5.1: own changes go to the internal cache), with fwB's CPU up to then. The
    // count includes fwB's few own entries (sync link), hence "≥ n" is within a handful.
    const wi = await waitCount(r.b, 'internal', (x) => x >= n, COMMIT_INTERNAL_TIMEOUT_MS);
    f.commit_internal_ms = wi.converged ? round(wi.at - tc, 1) : Number.NaN;
    f.commit_internal_cpuB_s_per100k = round(((r.b.cpuSeconds() - cpuB0) * 100_000) / n, 3);
    if (!wi.converged) log(`  ${o.kind} commit ${n}: fwB internal cache has ${wi.last}/${n} after ${COMMIT_INTERNAL_TIMEOUT_MS / 1000} s`);
    if (process.env.BN_THREADS) log(`  threads B after the commit (cumulative): ${threadCpu(r.b.pid)}`);

    // Bulk resync to a restarted peer (StartupResync on): fwB comes back empty.
    kernelFlush(r.pair.nsB);
    await r.b.stop();
    const l0 = linkCounters(r.pair.nsA);
    const cpuA0 = r.a.cpuSeconds();
    const tr = nowMs();
    await r.b.start();
    const wr = await waitCount(r.b, 'external', (x) => x >= n, convergeTimeoutMs(n));
    f.resync_converged = wr.converged;
    f.resync_ms = wr.converged ? round(wr.at - tr, 1) : Number.NaN;
    f.resync_cpuA_s_per100k = round(((r.a.cpuSeconds() - cpuA0) * 100_000) / n, 3);
    f.resync_wireAB_B_per_entry = round(payloadSent(l0, linkCounters(r.pair.nsA)).bytes / n, 1);
    if (!wr.converged) log(`  ${o.kind} resync ${n}: did not converge in ${convergeTimeoutMs(n) / 1000} s (peer external ${wr.last}/${n})`);
    f.aliveA = r.a.alive();
    f.aliveB = r.b.alive();
    return f;
  } finally {
    await r.close();
  }
}

/** Starts tcpdump on fwB's sync veth (sender → receiver datagrams only). */
export function startCapture(r: Rig, file: string): { stop: () => Promise<void> } {
  rmSync(file, { force: true });
  const child = spawn(
    'ip',
    ['netns', 'exec', r.pair.nsB, 'tcpdump', '-i', SYNC_IF, '-n', '-s', '2048', '-B', '65536', '-U', '-w', file, 'udp', 'and', 'port', String(SYNC_PORT), 'and', 'src', 'host', r.pair.addrA],
    { stdio: 'ignore' },
  );
  return {
    async stop() {
      if (child.exitCode !== null || !child.pid) return;
      process.kill(child.pid, 'SIGINT');
      const end = nowMs() + 5000;
      while (child.exitCode === null && child.signalCode === null && nowMs() < end) await sleep(50);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    },
  };
}

/** Steady mixed load at `rate` events/s for `seconds` over a synced pool of `pool` flows. */
export async function steady(o: RigOptions, rate: number, seconds: number, pool: number, log: (s: string) => void): Promise<Figures> {
  const r = new Rig(o);
  const f: Figures = { rate, seconds, pool };
  try {
    await r.start();
    const pr = await r.inject('burst', { n: pool }, 60_000);
    if (pr.code !== 0) throw new Error(`pool injector failed: ${injectError(pr)}`);
    const wp = await waitCount(r.b, 'external', (c) => c >= pool, convergeTimeoutMs(pool));
    if (!wp.converged) {
      log(`  ${o.kind} steady ${rate}/s: pool of ${pool} did not converge (peer ${wp.last})`);
      f.converged = false;
      return f;
    }
    const pcap = join(r.pair.dir, `steady-${rate}.pcap`);
    const cap = startCapture(r, pcap);
    await sleep(500); // tcpdump up
    const s0 = snap(r);
    const injLog = join(r.pair.dir, `steady-${rate}.json`);
    const ir = await r.inject('steady', { rate, seconds, pool, log: injLog }, (seconds + 60) * 1000);
    const io = lastJson<{ t0: number; t1: number; sent: number; failed: number; achievedRate: number; lateTicks: number }>(ir);
    if (!io) throw new Error(`steady injector failed (${ir.code}): ${injectError(ir)}`);
    f.sent = io.sent;
    f.achieved_per_s = io.achievedRate;
    f.inject_failed = io.failed;
    // Converged when the peer's external cache holds as many entries as fwA's kernel.
    const target = kernelCount(r.pair.nsA);
    const w = await waitCount(r.b, 'external', (c) => c === target, convergeTimeoutMs(0));
    f.converged = w.converged;
    f.settle_ms = w.converged ? round(w.at - io.t1, 1) : Number.NaN;
    if (!w.converged) log(`  ${o.kind} steady ${rate}/s: did not converge in ${convergeTimeoutMs(0) / 1000} s after the load (peer ${w.last}, fwA kernel ${target})`);
    // The lost/stale diff runs while the capture is still on, so late datagrams are captured.
    await sleep(1000);
    const d = diffAgainstPeer(r);
    f.lost = d.lost;
    f.stale = d.stale;
    f.stale_mark = d.staleMark;
    await cap.stop();
    const s1 = snap(r);
    // Per event here (the table size stays ≈ pool): RSS growth per event means nothing, drop it.
    Object.assign(f, resources(r, s0, s1, io.sent));
    delete f.memA_B_per_entry;
    delete f.memB_B_per_entry;
    f.cpuA_pct = round(((s1.cpuA - s0.cpuA) / ((s1.t - s0.t) / 1000)) * 100, 1);
    f.cpuB_pct = round(((s1.cpuB - s0.cpuB) / ((s1.t - s0.t) / 1000)) * 100, 1);
    f.sysA_pct = round(((s1.sysA - s0.sysA) / ((s1.t - s0.t) / 1000)) * 100, 1);
    f.sysB_pct = round(((s1.sysB - s0.sysB) / ((s1.t - s0.t) / 1000)) * 100, 1);
    if (existsSync(pcap) && existsSync(injLog)) {
      const lag = lagReport(JSON.parse(readFileSync(injLog, 'utf8')) as InjectLog, pcap, r.pair.addrA);
      f.lag_p50_ms = round(lag.p50, 2);
      f.lag_p99_ms = round(lag.p99, 2);
      f.lag_max_ms = round(lag.max, 2);
      f.lag_samples = lag.samples;
      f.lag_unseen_creates = lag.missingCreates;
      f.lag_unseen_deletes = lag.missingDeletes;
      if (process.env.BN_KEEP !== '1') rmSync(pcap, { force: true });
    }
    Object.assign(f, netlinkFigures(r));
    f.aliveA = r.a.alive();
    f.aliveB = r.b.alive();
    return f;
  } finally {
    await r.close();
  }
}

export interface Convergence {
  converged: boolean;
  /** Epoch ms when the peer was first seen fully in sync (NaN if never). */
  at: number;
  lost: number;
  stale: number;
  staleMark: number;
  died: boolean;
}

/**
 * Full convergence: the peer's external cache holds exactly fwA's kernel entries with the same
 * marks. Cheap count polls first, then a full diff (one `-e` dump + `conntrack -L`) at most
 * every second, until clean or `timeoutMs`. The last diff is returned either way.
 */
export async function waitConverged(r: Rig, timeoutMs: number): Promise<Convergence> {
  const end = nowMs() + timeoutMs;
  let last: Convergence = { converged: false, at: Number.NaN, lost: Number.NaN, stale: Number.NaN, staleMark: Number.NaN, died: false };
  for (;;) {
    const target = kernelCount(r.pair.nsA);
    const w = await waitCount(r.b, 'external', (c) => c === target, Math.max(0, end - nowMs()));
    if (w.died || !r.a.alive()) return { ...last, died: true };
    const t = nowMs();
    const d = diffAgainstPeer(r);
    last = { converged: false, at: Number.NaN, lost: d.lost, stale: d.stale, staleMark: d.staleMark, died: false };
    if (w.converged && d.lost === 0 && d.stale === 0 && d.staleMark === 0) return { ...last, converged: true, at: t };
    if (nowMs() >= end) return last;
    await sleep(1000);
  }
}

/** Debug aid (BN_THREADS=1): CPU seconds per thread of a daemon, "name user/sys". */
function threadCpu(pid: number): string {
  const out: string[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const c = procTimes(`/proc/${pid}/task/${t}/stat`);
    if (c.utime + c.stime > 0) out.push(`${c.comm} ${c.utime.toFixed(2)}/${c.stime.toFixed(2)}`);
  }
  return out.join(', ');
}
