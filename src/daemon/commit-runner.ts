/**
 * Commit (`-c`, promote): external cache → kernel (spec §5.3), one at a time, with a report
 * that counts every failure by reason and ends in one summary log line — conntrackd logs two
 * lines per failed entry and exits 0.
 */
import { commitFlows, emptyCommitReport, type CommitReport } from '../commit/commit';
import type { Expectation, Flow } from '../flow/flow';
import type { Logger } from '../log/logger';
import { PlainHistogram, COMMIT_DURATION_BUCKETS } from '../metrics/source';
import type { Daemon } from './daemon';

export class CommitStats {
  runs = 0;
  refused = 0;
  committed = 0;
  failedByReason: Record<string, number> = {};
  expCommitted = 0;
  expFailed = 0;
  readonly duration = new PlainHistogram(COMMIT_DURATION_BUCKETS);
  last: (CommitReport & { expCommitted: number; expFailed: number; at: number }) | undefined;
}

export interface CommitOutcome {
  outcome: 'ok' | 'partial' | 'refused';
  ct: number;
  exp: number;
  failed: number;
  reason?: string;
  report?: CommitReport;
}

export class CommitRunner {
  readonly stats = new CommitStats();
  private running = false;
  /** Timeout of the flow flowsWithTimeout yielded last (see runLocked). */
  private nextTimeout = 0;

  constructor(
    private readonly d: Daemon,
    private readonly log: Logger,
  ) {}

  get busy(): boolean {
    return this.running;
  }

  async run(what: { ct: boolean; exp: boolean }): Promise<CommitOutcome> {
    if (this.running) {
      this.stats.refused++;
      return { outcome: 'refused', ct: 0, exp: 0, failed: 0, reason: 'a commit is already running' };
    }
    this.running = true;
    try {
      return await this.runLocked(what);
    } finally {
      this.running = false;
    }
  }

  private async runLocked(what: { ct: boolean; exp: boolean }): Promise<CommitOutcome> {
    const { engine, client, cfg } = this.d;
    const now = () => performance.now();
    this.stats.runs++;
    let report: CommitReport | undefined;
    if (what.ct) {
      // flowsWithTimeout hands each flow's commit timeout over through `nextTimeout`: commitFlows
      // calls timeoutOf once per flow right after pulling it, so no flow is copied
      report = await commitFlows(client, this.flowsWithTimeout(), {
        beLiberal: !cfg.tcpWindowTracking,
        now,
        timeoutOf: () => this.nextTimeout,
        onProgress: (k) => {
          if (k % 65536 < 8192) this.log.debug({ attempted: k }, 'commit progress');
        },
      });
      this.stats.committed += report.committed;
      for (const [k, v] of Object.entries(report.failedByReason)) {
        if (v > 0) this.stats.failedByReason[k] = (this.stats.failedByReason[k] ?? 0) + v;
      }
      this.stats.duration.observe(report.durationMs / 1000);
    }
    let expOk = 0;
    let expFailed = 0;
    if (what.exp && cfg.expectationSync !== false) {
      const exps: Expectation[] = [...engine.externalExpectations()];
      if (exps.length > 0) {
        const r = client.createExpectations(exps);
        for (const e of r.errnos) {
          if (e === 0) expOk++;
          else expFailed++;
        }
      }
      this.stats.expCommitted += expOk;
      this.stats.expFailed += expFailed;
    }
    const failed = (report?.failed ?? 0) + expFailed;
    this.stats.last = {
      ...(report ?? emptyCommitReport()),
      expCommitted: expOk,
      expFailed,
      at: Date.now(),
    };
    const summary = {
      committed: report?.committed ?? 0,
      replaced: report?.replaced ?? 0,
      failed,
      failedByReason: report ? nonZero(report.failedByReason) : {},
      expCommitted: expOk,
      expFailed,
      durationMs: Math.round(report?.durationMs ?? 0),
      maxStallMs: Math.round(report?.maxStallMs ?? 0),
      pipelined: report?.pipelined ?? false,
    };
    if (failed > 0) this.log.warn(summary, 'commit partial: some entries were refused by the kernel');
    else this.log.info(summary, 'commit done');
    return {
      outcome: failed > 0 ? 'partial' : 'ok',
      ct: report?.committed ?? 0,
      exp: expOk,
      failed,
      report,
    };
  }

  /**
   * spec §5.3 timeout: CommitTimeout if set; else the received timeout minus the time since
   * the entry was last updated (a negative elapsed counts as 60 s; a result ≤ 0 becomes 60 s).
   */
  private *flowsWithTimeout(): Generator<Flow> {
    const { engine, cfg } = this.d;
    const nowMs = this.d.clock.now();
    for (const o of engine.external.objects()) {
      if (o.status === 2 /* DEAD */) continue;
      const f = o.data;
      let timeout: number;
      if (cfg.commitTimeout > 0) timeout = cfg.commitTimeout;
      else {
        let elapsed = Math.floor((nowMs - o.lastUpdate) / 1000);
        if (elapsed < 0) elapsed = 60;
        timeout = (f.timeout ?? 0) - elapsed;
        if (timeout <= 0) timeout = 60;
      }
      this.nextTimeout = timeout;
      yield f;
    }
  }
}

function nonZero(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) if (v > 0) out[k] = v;
  return out;
}
