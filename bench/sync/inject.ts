/**
 * Batched flow injector, run INSIDE fwA's (or fwB's) namespace:
 *
 *   ip netns exec NS node -r ts-node/register/transpile-only bench/sync/inject.ts MODE 'JSON'
 *
 * Modes (all bounded in count and time; one JSON line on stdout at the end):
 *   burst  {n, offset?, nat?}                 create flows offset..offset+n-1 as fast as the kernel
 *                                              takes them (ConntrackClient.createBatch, 1024/sendmsg)
 *   update {n, offset?, nat?, mark}           update those flows' mark (one event each)
 *   steady {rate, seconds, pool, offset?, nat?, log}
 *                                              `rate` events/s for `seconds`: 1/4 creates of new
 *                                              flows, 1/2 updates of live ones, 1/4 deletes of the
 *                                              oldest; starts from `pool` live flows (already made).
 *                                              Writes the create/delete schedule to `log` for the
 *                                              lag analysis (wirelag.ts).
 *   fill   {n, offset?}                        like burst, reports failures by errno (table full)
 *
 * Times are epoch milliseconds (performance.timeOrigin + now()), comparable with pcap stamps.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type BatchResult, ConntrackClient } from '../../src/ctnetlink/client';
import type { Flow } from '../../src/flow/flow';
import { benchFlow } from './flows';

type Args = Record<string, number | boolean | string | undefined>;

const epochMs = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function num(a: Args, k: string, d?: number): number {
  const v = a[k];
  if (typeof v === 'number') return v;
  if (d !== undefined) return d;
  throw new Error(`inject: missing numeric arg '${k}'`);
}

function flows(offset: number, n: number, nat: boolean, mark?: number): Flow[] {
  const out: Flow[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = benchFlow(offset + i, nat, mark);
  return out;
}

function errnoHistogram(errnos: Int32Array): Record<string, number> {
  const h: Record<string, number> = {};
  for (const e of errnos) if (e !== 0) h[e] = (h[e] ?? 0) + 1;
  return h;
}

/**
 * One chunk; a thrown sendmsg error (e.g. ENOBUFS/ENOMEM under memory pressure) is retried once
 * after 50 ms, then reported as the chunk's failure reason instead of aborting the run.
 */
function sendChunk(c: ConntrackClient, fl: Flow[], op: 'create' | 'update'): BatchResult | string {
  for (let attempt = 0; ; attempt++) {
    try {
      return op === 'create' ? c.createBatch(fl) : c.updateBatch(fl);
    } catch (e) {
      if (attempt >= 1) return `throw:${(e as { code?: string }).code ?? (e as Error).message}`;
      const until = Date.now() + 50;
      while (Date.now() < until) {
        // short synchronous back-off: the client API is synchronous
      }
    }
  }
}

/** Creates in chunks of 8192 flows (built lazily to bound memory), returns timing and errors. */
function createRange(c: ConntrackClient, offset: number, n: number, nat: boolean, op: 'create' | 'update', mark?: number) {
  const t0 = epochMs();
  let ok = 0;
  let failed = 0;
  const errs: Record<string, number> = {};
  for (let done = 0; done < n; ) {
    const k = Math.min(8192, n - done);
    const fl = flows(offset + done, k, nat, mark);
    const r = sendChunk(c, fl, op);
    if (typeof r === 'string') {
      failed += k;
      errs[r] = (errs[r] ?? 0) + k;
    } else {
      ok += r.ok;
      failed += r.failed;
      for (const [e, v] of Object.entries(errnoHistogram(r.errnos))) errs[e] = (errs[e] ?? 0) + v;
    }
    done += k;
  }
  const t1 = epochMs();
  return { t0, t1, ok, failed, errnos: errs, ratePerSec: Math.round(n / ((t1 - t0) / 1000)) };
}

const modes: Record<string, (a: Args) => Promise<unknown>> = {
  async burst(a) {
    const c = new ConntrackClient();
    try {
      return createRange(c, num(a, 'offset', 0), num(a, 'n'), a.nat === true, 'create');
    } finally {
      c.close();
    }
  },

  async fill(a) {
    const c = new ConntrackClient();
    try {
      const r = createRange(c, num(a, 'offset', 0), num(a, 'n'), false, 'create');
      return { ...r, count: c.count(), max: c.maxEntries() };
    } finally {
      c.close();
    }
  },

  async update(a) {
    const c = new ConntrackClient();
    try {
      return createRange(c, num(a, 'offset', 0), num(a, 'n'), a.nat === true, 'update', num(a, 'mark', 1));
    } finally {
      c.close();
    }
  },

  async steady(a) {
    const rate = num(a, 'rate');
    const seconds = num(a, 'seconds');
    const nat = a.nat === true;
    const base = num(a, 'offset', 0);
    const pool = num(a, 'pool');
    if (pool < 1) throw new Error('steady: pool must be ≥ 1');
    const c = new ConntrackClient();
    // Live window [lo, hi): deletes take lo (oldest), creates append hi.
    let lo = base;
    let hi = base + pool;
    let mark = 1;
    let updCursor = 0;
    const creates: number[][] = []; // [tMs, firstIndex, count]
    const deletes: number[][] = [];
    let sent = 0;
    let failed = 0;
    let lateTicks = 0;
    const tick = 10;
    const t0 = epochMs();
    const end = t0 + seconds * 1000;
    try {
      for (;;) {
        const now = epochMs();
        if (now >= end) break;
        const due = Math.floor(((now - t0) / 1000) * rate) - sent;
        if (due > 0) {
          const nc = Math.max(1, Math.floor(due / 4));
          const nd = Math.min(Math.floor(due / 4), hi - lo - 1);
          const nu = due - nc - nd;
          const tc = epochMs();
          const rc = c.createBatch(flows(hi, nc, nat));
          creates.push([tc, hi, nc]);
          hi += nc;
          const live = hi - lo;
          const upd: Flow[] = new Array(nu);
          mark = (mark + 1) & 0x7fffffff;
          for (let i = 0; i < nu; i++) {
            updCursor = (updCursor + 7919) % live;
            upd[i] = { orig: benchFlow(lo + updCursor, nat).orig, mark };
          }
          const ru = c.updateBatch(upd);
          const td = epochMs();
          const rd = c.deleteBatch(flows(lo, nd, nat));
          if (nd > 0) deletes.push([td, lo, nd]);
          lo += nd;
          failed += rc.failed + ru.failed + rd.failed;
          sent += due;
        }
        const spent = epochMs() - now;
        if (spent > tick) lateTicks++;
        await sleep(Math.max(0, tick - spent));
      }
    } finally {
      c.close();
    }
    const t1 = epochMs();
    if (typeof a.log === 'string') writeFileSync(a.log, JSON.stringify({ creates, deletes }));
    return { t0, t1, sent, failed, achievedRate: Math.round(sent / ((t1 - t0) / 1000)), lateTicks, lo, hi, live: hi - lo };
  },
};

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const fn = mode ? modes[mode] : undefined;
  if (!fn) throw new Error(`usage: inject.ts ${Object.keys(modes).join('|')} '<json>'`);
  const args = JSON.parse(json ?? '{}') as Args;
  const out = await fn(args);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`inject: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
