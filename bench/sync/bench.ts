/**
 * Issue 8 benchmark driver: the same workloads, in the same run, against two daemons (default
 * conntrackd then ctsyncd), printed side by side with ratios. Run it through bench/run.sh.
 *
 *   bench.ts [--quick|--full] [--daemons conntrackd,ctsyncd] [--sched other|rr99]
 *            [--only burst,nat,steady] [--bursts=N,…] [--out FILE.md]
 *
 * If ctsyncd cannot run yet, the second column is conntrackd again (a second, independent run
 * of it: the ratio then shows the run-to-run noise), and the output says so.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { DaemonKind, SchedMode } from './daemon';
import { ctsyncdBuild, installCleanup, load1, machine, parseDaemons, parseFlags, probeCtsyncd, runId, sideBySide } from './common';
import { burst, type Figures, type RigOptions, steady } from './workloads';

interface Plan {
  bursts: number[];
  natBursts: number[];
  rates: number[];
  seconds: number;
  pool: number;
}

const QUICK: Plan = { bursts: [10_000], natBursts: [10_000], rates: [5_000, 20_000], seconds: 10, pool: 10_000 };
const FULL: Plan = { bursts: [10_000, 100_000, 250_000], natBursts: [10_000, 100_000, 250_000], rates: [5_000, 20_000, 50_000], seconds: 30, pool: 10_000 };

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const mode = flags.has('full') ? 'full' : 'quick';
  const plan = { ...(mode === 'full' ? FULL : QUICK) };
  // --bursts=N[,N…]: override the plain/NAT burst sizes (e.g. one 100k commit measurement)
  const bursts = flags.get('bursts');
  if (bursts) plan.bursts = plan.natBursts = bursts.split(',').map((x) => Number(x));
  // --rates=R[,R…] and --seconds=S: override the steady workloads (e.g. one 50k/s lag measurement)
  const rates = flags.get('rates');
  if (rates) plan.rates = rates.split(',').map((x) => Number(x));
  const seconds = flags.get('seconds');
  if (seconds) plan.seconds = Number(seconds);
  const sched = (flags.get('sched') ?? 'rr99') as SchedMode;
  if (sched !== 'other' && sched !== 'rr99') throw new Error('--sched other|rr99');
  // --warmup=N: entries synced and flushed before each measured burst (0 = cold daemons)
  const warmup = Number(flags.get('warmup') ?? 20_000);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error('--warmup takes a count ≥ 0');
  const only = new Set((flags.get('only') ?? 'burst,nat,steady').split(','));
  const id = runId();
  const runDir = `/tmp/bn-run-${id}`;
  mkdirSync(runDir, { recursive: true });
  installCleanup(id);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  let daemons = parseDaemons(flags.get('daemons') ?? 'conntrackd,ctsyncd');
  const notes: string[] = [];
  if (daemons.includes('ctsyncd')) {
    const why = await probeCtsyncd(id, runDir);
    if (why) {
      notes.push(`ctsyncd is not usable yet (${why}); the ctsyncd column is a second, independent run of conntrackd — these are conntrackd baselines and the ratio is run-to-run noise.`);
      daemons = daemons.map((d) => (d === 'ctsyncd' ? 'conntrackd' : d)) as DaemonKind[];
      log(notes[notes.length - 1]!);
    }
  }
  const labels = daemons.map((d, i) => (i === 1 && daemons[0] === d ? `${d} (2nd run)` : d));
  const started = new Date();
  const loadStart = load1();
  const sections: string[] = [];
  let k = 1;
  const rig = (kind: DaemonKind, idx: number): RigOptions => ({ kind, tag: `${id}${idx}${k}`, k: k++, runDir, sched, warmup });

  const runBoth = async (title: string, fn: (o: RigOptions) => Promise<Figures>) => {
    const cols: Figures[] = [];
    for (let i = 0; i < daemons.length; i++) {
      log(`[${new Date().toISOString().slice(11, 19)}] ${title} — ${labels[i]}`);
      try {
        cols.push(await fn(rig(daemons[i]!, i)));
      } catch (e) {
        log(`  failed: ${e instanceof Error ? e.message : String(e)}`);
        cols.push({ error: (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 120) });
      }
    }
    const table = sideBySide(title, labels, cols);
    process.stdout.write(`\n${table}`);
    sections.push(table);
  };

  if (only.has('burst')) for (const n of plan.bursts) await runBoth(`burst ${n} (then commit, resync)`, (o) => burst(o, n, false, true, log));
  if (only.has('nat')) for (const n of plan.natBursts) await runBoth(`burst ${n} SNAT+DNAT`, (o) => burst(o, n, true, false, log));
  if (only.has('steady')) for (const rate of plan.rates) await runBoth(`steady ${rate}/s × ${plan.seconds} s`, (o) => steady(o, rate, plan.seconds, plan.pool, log));

  const md = [
    `### Sync daemons — ${mode} run ${started.toISOString()}`,
    '',
    `- machine: ${machine()}`,
    ...(daemons.includes('ctsyncd') ? [`- ctsyncd: ${ctsyncdBuild()}`] : []),
    `- command: \`${['bash bench/run.sh', `--${mode}`, ...process.argv.slice(2).filter((a) => a !== '--quick' && a !== '--full')].join(' ')}\``,
    `- daemons: ${labels.join(' vs ')}; scheduling: ${sched === 'other' ? 'both SCHED_OTHER (chrt -a -o -p 0 on every thread after start)' : 'both SCHED_RR 99 (chrt -a -r -p 99)'}`,
    `- duration: ${Math.round((Date.now() - started.getTime()) / 1000)} s; load average (1 min) at start ${loadStart}, at end ${load1()} (shared machine: other work ran meanwhile)`,
    ...notes.map((n) => `- note: ${n}`),
    '',
    ...sections,
  ].join('\n');
  const out = flags.get('out') ?? `${runDir}/results.md`;
  writeFileSync(out, `${md}\n`);
  log(`\nresults written to ${out}`);
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
