/**
 * In-process microbenchmark of ctsyncd's sync path (issue 8: CPU per synced entry), without the
 * noisy two-namespace pair: two real SyncEngines in FTFW mode joined by in-memory channels, the
 * real clock (performance.now, as the daemon), a manual scheduler (transmit passes run when we
 * drain it, as setImmediate would after each netlink read).
 *
 *   A tx   kernel events (the bench's TCP flows, 64 per "netlink read") → internal cache →
 *          transmit pass → encodeCt → packer → channel.send (datagrams kept)
 *   B rx   each datagram → walkDatagram → FTFW seq/ack → decodeCtBody → external cache,
 *          plus B's ACK transmit passes
 *   A ack  B's ACKs → FTFW resend-queue release on A
 *
 * Reported per message: process CPU µs (process.cpuUsage: user+system of every thread, so the
 * GC helper threads are in it) and main-thread GC pause ms per phase (PerformanceObserver).
 * Internal/external cache work (src/cache) is inside A tx / B rx; "A pass" is the transmit pass
 * alone. Rounds use fresh engines; the median round is printed last.
 *
 *   node -r "$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")" \
 *     --expose-gc bench/sync/rxpath.ts [--n=100000] [--rounds=9]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { systemClock } from '../../src/core/clock';
import type { Channel, Scheduler } from '../../src/sync/channel-port';
import { SyncEngine } from '../../src/sync/engine';
import { DEFAULT_WIRE_OPTIONS } from '../../src/sync/wire';
import { benchFlow } from './flows';

function arg(name: string, dflt: number): number {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
}
const N = arg('n', 100_000);
const ROUNDS = arg('rounds', 9);
const BATCH = 64;
const MTU = 1500;

class MemChannel implements Channel {
  readonly maxPayload = MTU - 28;
  readonly out: Buffer[] = [];
  handler: ((d: Buffer, from: string) => void) | undefined;
  send(d: Buffer): void {
    this.out.push(d);
  }
  onDatagram(cb: (d: Buffer, from: string) => void): void {
    this.handler = cb;
  }
  async close(): Promise<void> {}
}

class ManualScheduler implements Scheduler {
  private q: (() => void)[] = [];
  setTimer(): unknown {
    return {}; // timers never fire: the bench is a burst shorter than any FTFW timer that matters
  }
  clearTimer(): void {}
  defer(fn: () => void): void {
    this.q.push(fn);
  }
  drain(): void {
    for (let i = 0; i < 1000 && this.q.length > 0; i++) this.q.shift()!();
  }
}

function engine(ch: MemChannel, sched: ManualScheduler): SyncEngine {
  return new SyncEngine({
    mode: 'ftfw',
    clock: systemClock,
    channel: ch,
    wire: DEFAULT_WIRE_OPTIONS,
    // no startup RESYNC (nothing to answer it) and no flow-control window (ACKs come back only
    // after B's phase; the real pair keeps the window open with its ACKs)
    ftfw: { startupResync: false, maxInFlight: 0 },
    cacheLimit: 0,
    scheduler: sched,
  });
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const tick = () => new Promise<void>((r) => setTimeout(r, 20)); // lets the gc entries arrive

function heapAfterGc(): number {
  if (!global.gc) return Number.NaN;
  global.gc();
  return process.memoryUsage().heapUsed;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

interface Round {
  aTx: number;
  aPass: number;
  bRx: number;
  aAck: number;
  gcA: number;
  gcB: number;
  /** Heap bytes per entry B retains (external cache), measured after a full GC; NaN without --expose-gc. */
  heapB: number;
  dgrams: number;
  acks: number;
}

async function round(flows: ReturnType<typeof benchFlow>[]): Promise<Round> {
  const chA = new MemChannel();
  const chB = new MemChannel();
  const sA = new ManualScheduler();
  const sB = new ManualScheduler();
  const a = engine(chA, sA);
  const b = engine(chB, sB);
  if (global.gc) global.gc(); // start from a clean heap (run with --expose-gc)
  await tick();

  gcMs = 0;
  let pass = 0;
  const t0 = cpuUs();
  for (let i = 0; i < flows.length; i += BATCH) {
    const e = Math.min(flows.length, i + BATCH);
    const now = systemClock.now();
    for (let j = i; j < e; j++) a.onKernelEvent('new', flows[j]!, false, now);
    const p0 = cpuUs();
    sA.drain();
    pass += cpuUs() - p0;
  }
  const aTx = cpuUs() - t0;
  await tick();
  const gcA = gcMs;

  const dgrams = chA.out.splice(0);
  const heap0 = heapAfterGc();
  gcMs = 0;
  const hB = chB.handler && chA.handler ? chB.handler : undefined;
  if (!hB) throw new Error('no handler');
  const t1 = cpuUs();
  for (const d of dgrams) {
    hB(d, '10.88.1.1');
    sB.drain();
  }
  const bRx = cpuUs() - t1;
  await tick();
  const gcB = gcMs;
  const heapB = (heapAfterGc() - heap0) / flows.length;

  const acks = chB.out.splice(0);
  const hA = chA.handler!;
  const t2 = cpuUs();
  for (const d of acks) hA(d, '10.88.1.2');
  const aAck = cpuUs() - t2;

  if (b.external.size !== flows.length || a.stats.rsQueue !== 0) {
    throw new Error(`B holds ${b.external.size} of ${flows.length} flows, A's resend queue ${a.stats.rsQueue}`);
  }
  await a.close();
  await b.close();
  return { aTx, aPass: pass, bRx, aAck, gcA, gcB, heapB, dgrams: dgrams.length, acks: acks.length };
}

async function main(): Promise<void> {
  const flows = Array.from({ length: N }, (_, i) => benchFlow(i, false));
  const rs: Round[] = [];
  console.log(`sync path, ${N} TCP flows, batches of ${BATCH}, MTU ${MTU}; µs CPU per message (process, all threads)`);
  console.log('round  A tx(all)  A pass  B rx  A ack  | GC ms A  GC ms B | B heap B/entry | datagrams acks');
  for (let r = 0; r < ROUNDS; r++) {
    const x = await round(flows);
    rs.push(x);
    const f = (us: number) => (us / N).toFixed(2).padStart(7);
    console.log(
      `${String(r).padStart(5)}  ${f(x.aTx)}  ${f(x.aPass)} ${f(x.bRx)} ${f(x.aAck)}  | ${x.gcA.toFixed(0).padStart(7)}  ${x.gcB.toFixed(0).padStart(7)} | ${x.heapB.toFixed(0).padStart(14)} | ${x.dgrams} ${x.acks}`,
    );
  }
  const med = (k: keyof Round) => {
    const v = rs.map((x) => x[k]).sort((p, q) => p - q);
    return v[v.length >> 1]!;
  };
  const min = (k: keyof Round) => Math.min(...rs.map((x) => x[k]));
  console.log(
    `median: A tx ${(med('aTx') / N).toFixed(2)} µs/msg (pass ${(med('aPass') / N).toFixed(2)}), B rx ${(med('bRx') / N).toFixed(2)} µs/msg, A ack ${(med('aAck') / N).toFixed(3)} µs/msg; GC A ${med('gcA').toFixed(0)} ms, B ${med('gcB').toFixed(0)} ms; B heap ${med('heapB').toFixed(0)} B/entry`,
  );
  console.log(
    `min:    A tx ${(min('aTx') / N).toFixed(2)} µs/msg (pass ${(min('aPass') / N).toFixed(2)}), B rx ${(min('bRx') / N).toFixed(2)} µs/msg, A ack ${(min('aAck') / N).toFixed(3)} µs/msg`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
