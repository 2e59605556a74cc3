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
 *    default the chunk size adapts to keep each slice near `sliceMs`.
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
  /** Longest synchronous slice in ms (what the event loop had to wait for at most). */
  maxStallMs: number;
}

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
  };
}

export async function commitFlows(target: CommitTarget, flows: Iterable<Flow>, opts: CommitOptions): Promise<CommitReport> {
  const fixed = opts.chunk ?? opts.yieldEvery;
  const sliceMs = opts.sliceMs ?? 20;
  // adaptive chunks start at one full kernel batch and move in whole 256-entry steps
  let chunkSize = fixed !== undefined ? Math.max(1, fixed) : 1024;
  const t0 = opts.now();
  const report = emptyCommitReport();
  const related: Flow[] = [];
  const relatedTimeouts: number[] = [];
  let chunk: Flow[] = [];
  // per-entry timeout override (-1 = flow.timeout), parallel to chunk
  let timeouts: number[] = [];
  let sliceStart = opts.now();

  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const n = chunk.length;
    commitChunk(target, chunk, timeouts, opts, report);
    chunk = [];
    timeouts = [];
    opts.onProgress?.(report.attempted);
    const stall = opts.now() - sliceStart;
    if (stall > report.maxStallMs) report.maxStallMs = stall;
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
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  // pass 2: related flows (spec §5.3 second pass)
  for (let i = 0; i < related.length; i++) {
    chunk.push(related[i]!);
    timeouts.push(relatedTimeouts[i]!);
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  report.durationMs = opts.now() - t0;
  return report;
}

/** The timeout override for f (≥ 0), or -1 to keep f.timeout. */
function timeoutFor(f: Flow, opts: CommitOptions): number {
  if (!opts.timeoutOf) return -1;
  const t = opts.timeoutOf(f);
  return t === undefined || t === f.timeout ? -1 : t;
}

function commitChunk(target: CommitTarget, flows: Flow[], timeouts: number[], opts: CommitOptions, report: CommitReport): void {
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
  const attempt = (call: () => { errnos: Int32Array }, n: number): Int32Array | undefined => {
    try {
      return call().errnos;
    } catch (e) {
      const errno = (e as { errno?: number }).errno ?? -1;
      for (let i = 0; i < n; i++) fail(errno);
      return undefined;
    }
  };
  const res = attempt(() => target.createBatch(flows, { beLiberal: opts.beLiberal, timeouts }), flows.length);
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
  const del = attempt(() => target.deleteBatch(existing), existing.length);
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
  const again = attempt(() => target.createBatch(retry, { beLiberal: opts.beLiberal, timeouts: retryTimeouts }), retry.length);
  if (!again) return;
  for (let i = 0; i < retry.length; i++) {
    const e = again[i]!;
    if (e === 0) {
      report.committed++;
      report.replaced++;
    } else fail(e);
  }
}
