/**
 * Shared by the benchmark and the fault campaign: argument parsing, run ids, cleanup on
 * interrupt, the ctsyncd readiness probe and the side-by-side markdown table.
 */
import { existsSync, statSync } from 'node:fs';
import { cpus, hostname, loadavg, release } from 'node:os';
import { resolve } from 'node:path';
import { type DaemonKind, killAllStarted } from './daemon';
import { run } from './sh';
import { deleteNamespace, listBenchNamespaces } from './topo';
import { type Figures, Rig } from './workloads';

/** Short id in every namespace name of this run ("bn-<id>..."), from BN_RUNID or the PID. */
export function runId(): string {
  const env = process.env.BN_RUNID;
  if (env && /^[a-z0-9]{1,4}$/.test(env)) return env;
  return (process.pid % 46656).toString(36).padStart(3, '0');
}

/** Deletes this run's namespaces and kills its daemons on exit, Ctrl-C or SIGTERM. */
export function installCleanup(id: string): () => void {
  const cleanup = () => {
    killAllStarted();
    for (const ns of listBenchNamespaces(`bn-${id}`)) deleteNamespace(ns);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up bn-${id}* and exiting\n`);
      cleanup();
      process.exit(130);
    });
  }
  process.on('exit', cleanup);
  return cleanup;
}

export function parseFlags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--') && ['daemons', 'sched', 'only', 'out'].includes(a.slice(2))) m.set(a.slice(2), argv[++i]!);
    else m.set(a.slice(2), 'true');
  }
  return m;
}

export function parseDaemons(s: string): DaemonKind[] {
  const list = s.split(',').map((x) => x.trim());
  for (const d of list) if (d !== 'conntrackd' && d !== 'ctsyncd') throw new Error(`unknown daemon '${d}' (conntrackd|ctsyncd)`);
  if (list.length < 1 || list.length > 2) throw new Error('--daemons takes one or two names');
  return list as DaemonKind[];
}

/**
 * Whether ctsyncd can be benchmarked: it must start on a pair and answer `-s` in the
 * conntrackd format. Returns the reason when it cannot.
 */
export async function probeCtsyncd(id: string, runDir: string): Promise<string | undefined> {
  let rig: Rig | undefined;
  try {
    rig = new Rig({ kind: 'ctsyncd', tag: `${id}p`, k: 250, runDir, sched: 'other' });
    await rig.start();
    if (!rig.b.cacheCounts()) return "its '-s' output lacks the 'cache external: current active connections' lines";
    return undefined;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split('\n')[0];
  } finally {
    await rig?.close();
  }
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? '?';
  const kver = release();
  const ctd = /v\d+\.\d+\.\d+/.exec(run('conntrackd', ['-v']).stdout)?.[0] ?? '?';
  return `${hostname()}: ${cpus().length} × ${cpu}, Linux ${kver}, Node ${process.version}, conntrackd ${ctd}`;
}

/**
 * Which ctsyncd ran: bin/ctsyncd runs dist/src/main.js, so the build time matters as much as
 * the checkout (other engineers commit meanwhile).
 */
export function ctsyncdBuild(): string {
  const head = run('git', ['-C', resolve(__dirname, '..', '..'), 'rev-parse', '--short', 'HEAD']).stdout.trim() || '?';
  const main = resolve(__dirname, '..', '..', 'dist', 'src', 'main.js');
  const built = existsSync(main) ? statSync(main).mtime.toISOString() : 'not built';
  return `checkout ${head}, dist/src/main.js built ${built}`;
}

/** 1-minute load average: the machine is shared, so every result records how busy it was. */
export function load1(): string {
  return loadavg()[0]!.toFixed(2);
}

function fmt(v: number | string | boolean | undefined): string {
  if (v === undefined) return '–';
  if (typeof v === 'number') return Number.isNaN(v) ? 'n/a' : String(v);
  return String(v);
}

/**
 * One markdown table per workload: figure | first daemon | second daemon | second/first.
 * `labels` name the two columns (e.g. "conntrackd", "conntrackd (2nd run)").
 */
export function sideBySide(title: string, labels: string[], cols: Figures[]): string {
  const keys: string[] = [];
  for (const c of cols) for (const k of Object.keys(c)) if (!keys.includes(k)) keys.push(k);
  const two = cols.length === 2;
  const head = two ? `| ${title} | ${labels[0]} | ${labels[1]} | ratio 2/1 |\n|---|---:|---:|---:|` : `| ${title} | ${labels[0]} |\n|---|---:|`;
  const rows = keys.map((k) => {
    const a = cols[0]?.[k];
    const b = cols[1]?.[k];
    if (!two) return `| ${k} | ${fmt(a)} |`;
    const ratio = typeof a === 'number' && typeof b === 'number' && a !== 0 && Number.isFinite(a) && Number.isFinite(b) ? (b / a).toFixed(2) : '';
    return `| ${k} | ${fmt(a)} | ${fmt(b)} | ${ratio} |`;
  });
  return `${head}\n${rows.join('\n')}\n`;
}
