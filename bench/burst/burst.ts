/**
 * Burst sync: n idle flows created on fwA in netlink batches, time until fwB's external cache
 * holds all of them, where entries are lost or delayed, and what it costs.
 *
 *   node -r <ts loader> bench/burst/burst.ts [--n=100000] [--daemon=ctsyncd|conntrackd]
 *        [--timeout-s=120] [--prof=DIR] [--k=200]
 *
 * Root only (network namespaces bn-<id>u-a/-b via bench/sync/topo.ts, deleted at the end and on
 * Ctrl-C). Run through bench/burst/run.sh. One JSON object on stdout with the figures:
 *  - sync_ms: injector's first sendmsg → first poll (every 20 ms, over the control socket from
 *    this process, so polling costs the daemons no client process) at which fwB's `-s`
 *    "cache external: current active connections" reaches n;
 *  - lost/stale: orig tuples in fwA's kernel but not in fwB's external cache and the reverse;
 *  - cpu{A,B}_us_per_entry: utime+stime from /proc/PID/stat between the start of the burst and
 *    the end of the sync (+300 ms for ACKs), per entry;
 *  - hwm{A,B}_B_per_entry: VmHWM at the end / n (includes the runtime's own ~50 MiB baseline for
 *    ctsyncd; hwm*_MiB is printed too);
 *  - loss diagnostics: UDP receive-buffer drops on fwB (nstat UdpRcvbufErrors), send-buffer
 *    errors on fwA, netlink overruns on fwA, and (ctsyncd) the FTFW counters of both sides.
 * `--prof=DIR`: ctsyncd runs with `node --cpu-prof --cpu-prof-dir DIR` (written on SIGTERM);
 * `--sched=other|rr99`: every daemon thread at SCHED_OTHER (default) or SCHED_RR 99 after start
 * (bench/sync/daemon.ts; conntrackd puts itself at RR 99; --prof/--node-flags keep SCHED_OTHER).
 * `--commit`: afterwards fwB commits (`-c`) and its kernel table is counted (commit_kernelB).
 * `--node-flags='--max-semi-space-size=32'`: extra node/V8 flags for ctsyncd (experiments).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { controlJson, controlRequest } from '../../src/control/client';
import { CTL_REQ } from '../../src/control/protocol';
import { installCleanup, parseFlags, runId } from '../sync/common';
import { Daemon, type DaemonKind, parseCacheCounts, procTimes, type SchedMode } from '../sync/daemon';
import { nowMs, nsRun, sleep } from '../sync/sh';
import { kernelCount } from '../sync/topo';
import { diffAgainstPeer, injectError, lastJson, netlinkFigures, Rig, round } from '../sync/workloads';

const POLL_MS = 20;

/** A bench Daemon whose ctsyncd runs under `node --cpu-prof` (profile written at SIGTERM). */
class ProfDaemon extends Daemon {
  profDir = '';
  nodeFlags: string[] = [];

  private get profiled(): boolean {
    return this.kind === 'ctsyncd' && (this.profDir !== '' || this.nodeFlags.length > 0);
  }

  protected override nodeArgs(): string[] {
    if (!this.profiled) return super.nodeArgs();
    const prof = this.profDir ? ['--cpu-prof', '--cpu-prof-dir', this.profDir, '--cpu-prof-name', `${this.side}.cpuprofile`] : [];
    return [...prof, ...this.nodeFlags];
  }

  /** Profiled daemons keep the default scheduling, as this bench always ran them. */
  protected override applySched(): void {
    if (!this.profiled) super.applySched();
  }
}

/** [utime, stime] seconds of a process (children not included). */
function userSys(pid: number): [number, number] {
  const t = procTimes(`/proc/${pid}/stat`);
  return [t.utime, t.stime];
}

function ctlPath(d: Daemon): string {
  return join(d.dir, 'daemon.ctl');
}

async function externalCount(d: Daemon): Promise<number> {
  try {
    const t = await controlRequest(ctlPath(d), CTL_REQ.STATS, { timeoutMs: 5000 });
    return parseCacheCounts(t)?.external ?? -1;
  } catch {
    return -1;
  }
}

/** UDP counters of a namespace (nstat -az: absolute, all counters). */
function udpCounters(ns: string): Record<string, number> {
  const r = nsRun(ns, 'nstat', ['-az', '--json'], 10_000);
  const out: Record<string, number> = {};
  try {
    const j = JSON.parse(r.stdout) as { kernel?: Record<string, number> };
    for (const k of ['UdpInDatagrams', 'UdpOutDatagrams', 'UdpRcvbufErrors', 'UdpSndbufErrors', 'UdpInErrors']) out[k] = j.kernel?.[k] ?? Number.NaN;
  } catch {
    // nstat missing: figures stay absent
  }
  return out;
}

interface FtfwDiag {
  mode?: Record<string, unknown>;
  links?: Array<{ stats?: Record<string, unknown> } & Record<string, unknown>>;
  kernel?: { feed?: Record<string, unknown>; client?: Record<string, unknown> };
  engine?: Record<string, unknown>;
  queues?: Record<string, unknown>;
}

async function ctsyncdDiag(d: Daemon): Promise<Record<string, unknown>> {
  try {
    const s = (await controlJson(ctlPath(d), { cmd: 'stats' }, { timeoutMs: 10_000 })) as FtfwDiag;
    const m = s.mode ?? {};
    const pick = (o: Record<string, unknown> | undefined, keys: string[]) => Object.fromEntries(keys.filter((k) => o && k in o).map((k) => [k, o![k]]));
    return {
      mode: pick(m, ['msgsSent', 'dataSent', 'resends', 'rsOverflow', 'lost', 'nacksSent', 'nacksRecv', 'acksSent', 'acksRecv', 'before', 'probesSent', 'promptAcks']),
      engine: pick(s.engine, ['datagramsSent', 'datagramsRecv', 'transmitPasses', 'appliedNew', 'rxErrors']),
      queues: s.queues,
      links: (s.links ?? []).map((l) => l),
      feed: pick(s.kernel?.feed, ['overruns', 'resyncs', 'resyncEntries', 'bufferBytes']),
    };
  } catch (e) {
    return { error: String(e) };
  }
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const n = Number(flags.get('n') ?? 100_000);
  const kind = (flags.get('daemon') ?? 'ctsyncd') as DaemonKind;
  const timeoutMs = Number(flags.get('timeout-s') ?? 120) * 1000;
  const prof = flags.get('prof');
  const id = runId();
  const runDir = `/tmp/bn-burst-${id}`;
  mkdirSync(runDir, { recursive: true });
  installCleanup(id);
  const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${s}\n`);

  const sched = (flags.get('sched') ?? 'other') as SchedMode;
  if (sched !== 'other' && sched !== 'rr99') throw new Error('--sched=other|rr99');
  const r = new Rig({ kind, tag: `${id}u`, k: Number(flags.get('k') ?? 200), runDir, sched });
  // Swap in profiled daemons (same pair, same config files).
  const mk = (side: 'a' | 'b') => {
    const d = new ProfDaemon(kind, r.pair, side, {}, sched);
    if (prof) {
      mkdirSync(prof, { recursive: true });
      d.profDir = resolve(prof);
    }
    d.nodeFlags = (flags.get('node-flags') ?? '').split(/\s+/).filter(Boolean);
    return d;
  };
  (r as unknown as { a: Daemon }).a = mk('a');
  (r as unknown as { b: Daemon }).b = mk('b');
  const f: Record<string, unknown> = { daemon: kind, n, sched };
  try {
    await r.start();
    await sleep(1500); // StartupResync exchange over
    // Calibration: what the 20 ms `-s` polling alone costs the idle fwB (CPU ms per second).
    const pc0 = r.b.cpuSeconds();
    const pt0 = nowMs();
    while (nowMs() - pt0 < 2000) {
      await externalCount(r.b);
      await sleep(POLL_MS);
    }
    f.pollCpuB_ms_per_s = round(((r.b.cpuSeconds() - pc0) * 1e6) / (nowMs() - pt0), 1);
    const udpA0 = udpCounters(r.pair.nsA);
    const udpB0 = udpCounters(r.pair.nsB);
    const cpuA0 = r.a.cpuSeconds();
    const cpuB0 = r.b.cpuSeconds();
    const usA0 = userSys(r.a.pid);
    const usB0 = userSys(r.b.pid);
    log(`${kind}: injecting ${n} on fwA`);
    let injDone = false;
    const inj = r.inject('burst', { n }, timeoutMs).then((x) => {
      injDone = true;
      return x;
    });
    // Poll fwB over its control socket until n, the timeout, or (after the injector ended) no
    // progress for 45 s (conntrackd resyncs NetlinkOverrunResync = 30 s after an overrun).
    const tStart = nowMs();
    let last = -1;
    let lastChange = tStart;
    let at = Number.NaN;
    const samples: Array<[number, number]> = [];
    for (;;) {
      const c = await externalCount(r.b);
      const t = nowMs();
      if (c !== last) {
        last = c;
        lastChange = t;
        samples.push([t, c]);
      }
      if (c >= n) {
        at = t;
        break;
      }
      if (t - tStart > timeoutMs || (injDone && t - lastChange > 45_000) || !r.b.alive()) break;
      await sleep(POLL_MS);
    }
    const ir = await inj;
    const io = lastJson<{ t0: number; t1: number; ok: number; failed: number; ratePerSec: number }>(ir);
    if (!io) throw new Error(`injector failed (${ir.code}): ${injectError(ir)}`);
    await sleep(300);
    const cpuA1 = r.a.cpuSeconds();
    const cpuB1 = r.b.cpuSeconds();
    const usA1 = userSys(r.a.pid);
    const usB1 = userSys(r.b.pid);
    // kernel share: recvmsg/sendmsg, and on a veth the peer's receive path runs in the sender
    f.sysA_us_per_entry = round(((usA1[1] - usA0[1]) * 1e6) / n, 2);
    f.sysB_us_per_entry = round(((usB1[1] - usB0[1]) * 1e6) / n, 2);
    f.injected = io.ok;
    f.inject_failed = io.failed;
    f.inject_ms = round(io.t1 - io.t0, 1);
    f.converged = Number.isFinite(at);
    f.sync_ms = Number.isFinite(at) ? round(at - io.t0, 1) : Number.NaN;
    f.after_last_injection_ms = Number.isFinite(at) ? round(at - io.t1, 1) : Number.NaN;
    f.externalB = last;
    f.cpuA_us_per_entry = round(((cpuA1 - cpuA0) * 1e6) / n, 2);
    f.cpuB_us_per_entry = round(((cpuB1 - cpuB0) * 1e6) / n, 2);
    const ma = r.a.memory();
    const mb = r.b.memory();
    f.hwmA_MiB = round(ma.hwm / 1048576, 1);
    f.hwmB_MiB = round(mb.hwm / 1048576, 1);
    f.hwmA_B_per_entry = Math.round(ma.hwm / n);
    f.hwmB_B_per_entry = Math.round(mb.hwm / n);
    const udpA1 = udpCounters(r.pair.nsA);
    const udpB1 = udpCounters(r.pair.nsB);
    const delta = (x: Record<string, number>, y: Record<string, number>) => Object.fromEntries(Object.keys(y).map((k) => [k, (y[k] ?? 0) - (x[k] ?? 0)]));
    f.udpA = delta(udpA0, udpA1);
    f.udpB = delta(udpB0, udpB1);
    Object.assign(f, netlinkFigures(r));
    if (kind === 'ctsyncd') {
      f.diagA = await ctsyncdDiag(r.a);
      f.diagB = await ctsyncdDiag(r.b);
    }
    const d = diffAgainstPeer(r);
    f.lost = d.lost;
    f.stale = d.stale;
    f.kernelA = d.kernelA;
    // [ms since the first injection, fwB external count], at most ~40 points.
    const pts = samples.map(([t, c]) => [Math.round(t - io.t0), c]);
    f.progress = pts.length > 40 ? pts.filter((_, i) => i % Math.ceil(pts.length / 40) === 0 || i === pts.length - 1) : pts;
    log(`${kind}: sync ${f.sync_ms} ms, external ${last}/${n}, lost ${d.lost}`);
    if (flags.has('commit') && r.b.alive()) {
      // The failover step: fwB commits its external cache into its (empty) kernel table.
      const tc = nowMs();
      const c = r.b.client(['-c'], 120_000);
      let kc = kernelCount(r.pair.nsB);
      const end = nowMs() + 60_000;
      while (kc < n && nowMs() < end) {
        await sleep(100);
        kc = kernelCount(r.pair.nsB);
      }
      f.commit_exit = c.code;
      f.commit_ms = round(nowMs() - tc, 1);
      f.commit_kernelB = kc;
      log(`${kind}: commit → fwB kernel ${kc}/${n}`);
    }
  } finally {
    await r.close();
  }
  process.stdout.write(`${JSON.stringify(f)}\n`);
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`burst: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
