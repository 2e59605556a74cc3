/**
 * L4: commit a set of flows (normally the external cache) into the kernel table (spec §5.3).
 *
 *  - masters (flows without `master`) first, related flows second, so the kernel can attach
 *    each related entry to its master;
 *  - per entry: create; on EEXIST delete and create once more (replace); other errors are
 *    counted by reason and never abort the commit or throw;
 *  - bulk work runs in chunks and yields to the event loop (setImmediate) between them so no
 *    single stall is long (ARCHITECTURE habit 6). The kernel does the work inside sendmsg at a
 *    rate that varies 3x with event listeners present and with machine load (≈2.6 µs/entry
 *    quiet without a listener, ≈6 µs with one: research/netlink-measurements.md §3.1), so by
 *    default the chunk size adapts to keep each slice near `sliceMs`;
 *  - pipelined (the target has createBatchAsync/deleteBatchAsync, as ConntrackClient does):
 *    the kernel's work runs on a worker thread, so the JS thread is only busy encoding (one
 *    datagram at a time) and collecting the next chunk, which it does while the previous chunk
 *    is in the kernel. Chunks are committed one after another (masters strictly before related
 *    flows); errors are mapped per entry exactly as in the synchronous path.
 */
import type { FailReason } from '../ctnetlink/client';
import type { Flow } from '../flow/flow';

/** Why an entry could not be committed (ENOMEM split into nomem / tableFull by the client). */
export type CommitFailReason = FailReason;

/** What commit needs from the kernel side (ConntrackClient implements it). */
export interface CommitTarget {
  /**
   * opts.timeouts[i] ≥ 0 replaces flows[i].timeout on the wire (the flows are not copied or
   * mutated: a 100k commit would otherwise allocate 100k flow copies); < 0 keeps it.
   */
  createBatch(flows: readonly Flow[], opts?: { beLiberal?: boolean; timeouts?: ArrayLike<number> }): { errnos: Int32Array };
  deleteBatch(flows: readonly Flow[]): { errnos: Int32Array };
  /** Optional asynchronous twins (kernel work off the JS thread); used when both exist. */
  createBatchAsync?(flows: readonly Flow[], opts?: { beLiberal?: boolean; timeouts?: ArrayLike<number> }): Promise<{ errnos: Int32Array }>;
  deleteBatchAsync?(flows: readonly Flow[]): Promise<{ errnos: Int32Array }>;
  /** Maps a positive errno to a reason (ENOMEM is refined into tableFull by the client). */
  classifyErrno(errno: number): CommitFailReason;
}

export interface CommitOptions {
  /** Fixed entries per chunk between yields (default: adaptive, see sliceMs). */
  chunk?: number;
  /** Alias of `chunk` (entries between two yields to the event loop). */
  yieldEvery?: number;
  /** Adaptive chunking: target duration of one synchronous slice in ms (default 20). */
  sliceMs?: number;
  /** spec §5.3: set TCP "be liberal" unless TCPWindowTracking is on. */
  beLiberal: boolean;
  /** Milliseconds clock (injected: L4 code does not read Date.now itself). */
  now: () => number;
  /**
   * Timeout in seconds to commit a flow with (spec §5.3 CommitTimeout / received − elapsed);
   * undefined keeps flow.timeout. Called exactly once per flow, in iteration order, right after
   * the iterator produced it (so an iterator may hand the value over through a variable).
   */
  timeoutOf?: (f: Flow) => number | undefined;
  /** Progress callback after each chunk (entries attempted so far). */
  onProgress?: (attempted: number) => void;
}

export interface CommitReport {
  attempted: number;
  committed: number;
  /** Entries that existed and were replaced (delete + create). */
  replaced: number;
  failed: number;
  failedByReason: Record<CommitFailReason, number>;
  /** errno → count for the 'other' reason (for logs). */
  otherErrnos: Record<number, number>;
  durationMs: number;
  /**
   * Longest synchronous slice in ms (what the event loop had to wait for at most). Pipelined:
   * the longest chunk collection (each datagram's encode, ≈1-2 ms, is a slice of its own).
   */
  maxStallMs: number;
  /** Whether the kernel work ran off the JS thread (createBatchAsync/deleteBatchAsync). */
  pipelined: boolean;
}

/** Entries per chunk when pipelined: the JS thread is not stalled by the kernel's work. */
const PIPELINED_CHUNK = 8192;
/**
 * Pipelined: flows collected between two turns of the event loop while a chunk is in the
 * kernel (≈1 ms of JS), so a datagram the kernel has finished is answered and the next one sent
 * without waiting for the whole next chunk to be collected (7-14 ms for 8192 flows measured).
 */
const COLLECT_SLICE = 1024;

const EEXIST = 17;
const ENOENT = 2;

/** A report with nothing attempted (also what a commit of nothing returns). */
export function emptyCommitReport(): CommitReport {
  return {
    attempted: 0,
    committed: 0,
    replaced: 0,
    failed: 0,
    failedByReason: { exists: 0, notFound: 0, nomem: 0, tableFull: 0, lost: 0, other: 0 },
    otherErrnos: {},
    durationMs: 0,
    maxStallMs: 0,
    pipelined: false,
  };
}

export async function commitFlows(target: CommitTarget, flows: Iterable<Flow>, opts: CommitOptions): Promise<CommitReport> {
  const calls = batchCalls(target);
  const fixed = opts.chunk ?? opts.yieldEvery;
  const sliceMs = opts.sliceMs ?? 20;
  // adaptive chunks start at one full kernel batch and move in whole 256-entry steps
  let chunkSize = fixed !== undefined ? Math.max(1, fixed) : calls.pipelined ? PIPELINED_CHUNK : 1024;
  const t0 = opts.now();
  const report = emptyCommitReport();
  report.pipelined = calls.pipelined;
  const related: Flow[] = [];
  const relatedTimeouts: number[] = [];
  let chunk: Flow[] = [];
  // per-entry timeout override (-1 = flow.timeout), parallel to chunk
  let timeouts: number[] = [];
  let sliceStart = opts.now();
  // pipelined: the chunk in the kernel while the next one is collected
  let inflight: Promise<void> | undefined;

  const noteStall = (): void => {
    const stall = opts.now() - sliceStart;
    if (stall > report.maxStallMs) report.maxStallMs = stall;
  };
  // pipelined: give a finished datagram its turn every COLLECT_SLICE flows collected (callers
  // test `due()` first: no await per flow)
  const due = (): boolean => chunk.length >= chunkSize || (inflight !== undefined && chunk.length % COLLECT_SLICE === 0);
  const collected = async (): Promise<void> => {
    if (chunk.length >= chunkSize) return flush();
    noteStall();
    await new Promise<void>((r) => setImmediate(r));
    sliceStart = opts.now();
  };

  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const n = chunk.length;
    const c = chunk;
    const ct = timeouts;
    chunk = [];
    timeouts = [];
    if (calls.pipelined) {
      noteStall();
      // one chunk at a time: entries reach the kernel in order (masters before related)
      if (inflight) await inflight;
      inflight = commitChunk(calls, c, ct, opts, report).then(() => opts.onProgress?.(report.attempted));
      sliceStart = opts.now();
      return;
    }
    // synchronous target: the whole chunk (kernel work included) is one slice
    await commitChunk(calls, c, ct, opts, report);
    opts.onProgress?.(report.attempted);
    const stall = opts.now() - sliceStart;
    noteStall();
    if (fixed === undefined) {
      const perEntry = Math.max(stall, 0.1) / n;
      const next = Math.floor(sliceMs / perEntry / 256) * 256;
      chunkSize = Math.min(8192, Math.max(256, next));
    }
    await new Promise<void>((r) => setImmediate(r));
    sliceStart = opts.now();
  };

  // pass 1: masters; related flows are set aside (few in practice)
  for (const f of flows) {
    const t = timeoutFor(f, opts);
    if (f.master) {
      related.push(f);
      relatedTimeouts.push(t);
      continue;
    }
    chunk.push(f);
    timeouts.push(t);
    if (due()) await collected();
  }
  await flush();
  // pass 2: related flows (spec §5.3 second pass); flush waits for the last master chunk
  for (let i = 0; i < related.length; i++) {
    chunk.push(related[i]!);
    timeouts.push(relatedTimeouts[i]!);
    if (due()) await collected();
  }
  await flush();
  if (inflight) await inflight;
  report.durationMs = opts.now() - t0;
  return report;
}

type BatchOpts = { beLiberal?: boolean; timeouts?: ArrayLike<number> };

/** The target's batch calls, asynchronous when it has both async twins. */
interface BatchCalls {
  pipelined: boolean;
  create(flows: readonly Flow[], opts: BatchOpts): Promise<{ errnos: Int32Array }> | { errnos: Int32Array };
  del(flows: readonly Flow[]): Promise<{ errnos: Int32Array }> | { errnos: Int32Array };
  classifyErrno(errno: number): CommitFailReason;
}

function batchCalls(target: CommitTarget): BatchCalls {
  const classifyErrno = (e: number) => target.classifyErrno(e);
  if (target.createBatchAsync && target.deleteBatchAsync) {
    const ca = target.createBatchAsync.bind(target);
    const da = target.deleteBatchAsync.bind(target);
    return { pipelined: true, create: ca, del: da, classifyErrno };
  }
  return { pipelined: false, create: (f, o) => target.createBatch(f, o), del: (f) => target.deleteBatch(f), classifyErrno };
}

/** The timeout override for f (≥ 0), or -1 to keep f.timeout. */
function timeoutFor(f: Flow, opts: CommitOptions): number {
  if (!opts.timeoutOf) return -1;
  const t = opts.timeoutOf(f);
  return t === undefined || t === f.timeout ? -1 : t;
}

async function commitChunk(target: BatchCalls, flows: Flow[], timeouts: number[], opts: CommitOptions, report: CommitReport): Promise<void> {
  report.attempted += flows.length;
  // classifyErrno may read /proc (ENOMEM vs table full): once per errno per chunk is enough
  const reasons = new Map<number, CommitFailReason>();
  const fail = (errno: number): void => {
    let reason = reasons.get(errno);
    if (reason === undefined) {
      reason = target.classifyErrno(errno);
      reasons.set(errno, reason);
    }
    report.failed++;
    report.failedByReason[reason]++;
    if (reason === 'other') report.otherErrnos[errno] = (report.otherErrnos[errno] ?? 0) + 1;
  };
  // A batch-level fault (socket closed, encoder bug) fails that call's entries, counted like
  // any other failure; the commit goes on.
  const attempt = async (call: () => Promise<{ errnos: Int32Array }> | { errnos: Int32Array }, n: number): Promise<Int32Array | undefined> => {
    try {
      return (await call()).errnos;
    } catch (e) {
      const errno = (e as { errno?: number }).errno ?? -1;
      for (let i = 0; i < n; i++) fail(errno);
      return undefined;
    }
  };
  const res = await attempt(() => target.create(flows, { beLiberal: opts.beLiberal, timeouts }), flows.length);
  if (!res) return;
  const existing: Flow[] = [];
  const existingTimeouts: number[] = [];
  for (let i = 0; i < flows.length; i++) {
    const e = res[i]!;
    if (e === 0) report.committed++;
    else if (e === EEXIST) {
      existing.push(flows[i]!);
      existingTimeouts.push(timeouts[i]!);
    } else fail(e);
  }
  if (existing.length === 0) return;
  // spec §5.3: on EEXIST delete and retry once. A delete failing with ENOENT (the entry expired
  // meanwhile) is fine; the create decides.
  const del = await attempt(() => target.del(existing), existing.length);
  if (!del) return;
  const retry: Flow[] = [];
  const retryTimeouts: number[] = [];
  for (let i = 0; i < existing.length; i++) {
    const e = del[i]!;
    if (e === 0 || e === ENOENT) {
      retry.push(existing[i]!);
      retryTimeouts.push(existingTimeouts[i]!);
    } else fail(e);
  }
  if (retry.length === 0) return;
  const again = await attempt(() => target.create(retry, { beLiberal: opts.beLiberal, timeouts: retryTimeouts }), retry.length);
  if (!again) return;
  for (let i = 0; i < retry.length; i++) {
    const e = again[i]!;
    if (e === 0) {
      report.committed++;
      report.replaced++;
    } else fail(e);
  }
}
