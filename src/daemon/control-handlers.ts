/**
 * The control socket's request handlers: conntrackd's request codes (spec §8) with its text
 * replies (spec §5.7 layouts, formatted by src/control/stats-text.ts), plus the JSON extension
 * used by our own CLI (`status`, `stats`, `cache`, `promote`, `demote`).
 */
import { formatCommitStatus } from '../control/protocol';
import type { ControlReply, RequestContext } from '../control/server';
import {
  type CacheDetail,
  type CacheCounters,
  type LinkInfo,
  formatCacheStats,
  formatDumpLine,
  formatExpectLine,
  formatFlowXml,
  formatLinkStats,
  formatNetworkStats,
  formatProcessStats,
  formatQueueStats,
  formatRsQueue,
  formatRuntimeStats,
  formatSyncStats,
  type RsQueueEntry,
} from '../control/stats-text';
import { CTL_REQ } from '../control/protocol';
import type { CacheStats } from '../cache/stats';
import type { CacheObject } from '../cache/object';
import type { Flow } from '../flow/flow';
import { flowToJson } from '../ctnetlink/format';
import { FtfwMode } from '../sync/mode/ftfw';
import type { Daemon } from './daemon';
import { linkStats } from './link-view';
import { flushKernel } from './kernel-flush';

const R = CTL_REQ;

export class ControlHandlers {
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly d: Daemon) {}

  async handle(code: number, _ctx: RequestContext): Promise<ControlReply | undefined> {
    const d = this.d;
    const e = d.engine;
    const expOn = d.cfg.expectationSync !== false;
    switch (code) {
      case R.CT_FLUSH_MASTER:
        await flushKernel(d, { ct: true, exp: false });
        return undefined;
      case R.EXP_FLUSH_MASTER:
        if (expOn) await flushKernel(d, { ct: false, exp: true });
        return undefined;
      case R.ALL_FLUSH_MASTER:
        await flushKernel(d, { ct: true, exp: expOn });
        return undefined;
      case R.CT_RESYNC_MASTER:
      case R.ALL_RESYNC_MASTER:
      case R.EXP_RESYNC_MASTER:
        await d.feed.resync('-R', false);
        return undefined;
      case R.CT_DUMP_INTERNAL:
        return this.dumpFlows(e.internal.objects(), false);
      case R.CT_DUMP_EXTERNAL:
        return this.dumpFlows(e.external.objects(), d.cfg.mode === 'alarm');
      case R.CT_DUMP_INT_XML:
        return this.dumpXml(e.internal.objects());
      case R.CT_DUMP_EXT_XML:
        return this.dumpXml(e.external.objects());
      case R.EXP_DUMP_INTERNAL:
        return expOn ? this.dumpExps(e.internalExp.objects()) : undefined;
      case R.EXP_DUMP_EXTERNAL:
        return expOn ? this.dumpExps(e.externalExp.objects()) : undefined;
      case R.EXP_DUMP_INT_XML:
      case R.EXP_DUMP_EXT_XML:
        return undefined; // conntrackd prints nothing useful here either
      case R.CT_COMMIT:
      case R.EXP_COMMIT:
      case R.ALL_COMMIT: {
        const what = { ct: code !== R.EXP_COMMIT, exp: code !== R.CT_COMMIT };
        this.cancelPurge();
        const r = await d.commit.run(what);
        return formatCommitStatus({ outcome: r.outcome, ct: r.ct, exp: r.exp, failed: r.failed, reason: r.reason });
      }
      case R.CT_FLUSH_CACHE:
      case R.ALL_FLUSH_CACHE:
        if (d.commit.busy) return undefined; // spec §5.4: refused while a commit runs
        this.cancelPurge();
        e.flushInternal();
        e.flushExternal();
        return undefined;
      case R.CT_FLUSH_INT_CACHE:
        this.cancelPurge();
        e.flushInternal();
        return undefined;
      case R.CT_FLUSH_EXT_CACHE:
        if (d.commit.busy) return undefined;
        e.flushExternal();
        return undefined;
      case R.KILL:
        setImmediate(() => void d.stop('kill request (-k)'));
        return undefined;
      case R.STATS:
        return formatSyncStats(this.syncStats(e.stats.internal, e.stats.external));
      case R.EXP_STATS:
        return formatSyncStats(this.syncStats(e.stats.internalExp, e.stats.externalExp));
      case R.SEND_BULK:
        e.bulkSend();
        return undefined;
      case R.REQUEST_DUMP:
        e.requestResync();
        return undefined;
      case R.RESET_TIMERS:
        this.schedulePurge();
        return undefined;
      case R.STATS_NETWORK:
        return this.networkStats();
      case R.STATS_CACHE:
        return formatCacheStats([
          cacheDetail('internal', e.stats.internal, e.internal.size),
          cacheDetail('external', e.stats.external, e.external.size),
        ]);
      case R.STATS_RUNTIME:
        return this.runtimeStats();
      case R.STATS_LINK:
        return formatLinkStats(this.linkInfos());
      case R.STATS_RSQUEUE:
        return formatRsQueue(this.rsEntries());
      case R.STATS_PROCESS:
        return formatProcessStats([]);
      case R.STATS_QUEUE: {
        const s = e.stats;
        return formatQueueStats(s.txQueue + s.rsQueue, [
          { name: 'txqueue', current: s.txQueue, max: 2147483647, full: 0 },
          // conntrackd always lists its error queue (used by the TCP transport only; default
          // ErrorQueueLength 128). We have no TCP transport, so it stays empty, but `-s queue`
          // keeps conntrackd's layout for scripts that parse it.
          { name: 'errorq', current: 0, max: 128, full: 0 },
          { name: 'rsqueue', current: s.rsQueue, max: d.cfg.ftfw.resendQueueSize, full: s.mode.rsOverflow },
        ]);
      }
      default:
        return undefined;
    }
  }

  /** JSON extension for our own CLI (src/cli/ops.ts). */
  async handleJson(req: unknown): Promise<unknown> {
    const r = (req ?? {}) as { cmd?: string; which?: string };
    const d = this.d;
    switch (r.cmd) {
      case 'status':
        return this.status();
      case 'stats':
        return this.allStats();
      case 'cache': {
        const objs = r.which === 'external' ? d.engine.external.objects() : d.engine.internal.objects();
        const out: unknown[] = [];
        for (const o of objs) if (o.status !== 2) out.push(flowToJson(o.data));
        return out;
      }
      case 'commit': {
        const res = await d.commit.run({ ct: true, exp: true });
        return { ...res, report: res.report };
      }
      case 'resync-kernel':
        return d.feed.resync('-R', false);
      case 'flush-internal':
        d.engine.flushInternal();
        return { ok: true };
      case 'flush-external':
        d.engine.flushExternal();
        return { ok: true };
      case 'bulk':
        d.engine.bulkSend();
        return { ok: true };
      case 'request-resync':
        d.engine.requestResync();
        return { ok: true };
      default:
        throw new Error(`unknown request '${String(r.cmd)}'`);
    }
  }

  status(): Record<string, unknown> {
    const d = this.d;
    const s = d.engine.stats;
    return {
      node: d.cfg.nodeName,
      mode: d.cfg.mode,
      ready: d.engine.ready,
      uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
      internal: s.internal.active,
      external: s.external.active,
      txQueue: s.txQueue,
      rsQueue: s.rsQueue,
      oldestUnackedMs: s.oldestUnackedAgeMs ?? 0,
      peers: s.peers.map((p) => ({
        id: p.id,
        lastMessageAgeMs: p.mode.lastRecvAt > 0 ? Math.round(d.clock.now() - p.mode.lastRecvAt) : null,
        received: p.mode.msgsRecv,
        gaps: p.mode.gaps,
      })),
      links: linkStats(d.channels).map((l) => ({ name: l.name, up: l.up, active: l.active })),
      lastCommit: d.commit.stats.last ?? null,
      readyFile: d.readyFile,
    };
  }

  allStats(): Record<string, unknown> {
    const d = this.d;
    const s = d.engine.stats;
    return {
      engine: s.engine,
      mode: { ...s.mode, lag: { boundsMs: [...lagBounds()], counts: s.mode.lag.counts, sumMs: s.mode.lag.sum, count: s.mode.lag.count } },
      rx: s.rx,
      peers: s.peers,
      caches: { internal: s.internal, external: s.external, internalExp: s.internalExp, externalExp: s.externalExp },
      filter: s.filter,
      queues: { tx: s.txQueue, rs: s.rsQueue },
      kernel: { feed: d.feed.stats, client: d.client.stats },
      links: linkStats(d.channels),
      commit: d.commit.stats,
      envelope: d.envelope?.stats,
    };
  }

  private *dumpFlows(objs: Iterable<CacheObject<Flow>>, alarm: boolean): Generator<string> {
    const now = this.d.clock.now();
    let chunk = '';
    for (const o of objs) {
      if (o.status === 2) continue;
      const expiresInSec = alarm && o.expireAt > 0 ? Math.max(0, Math.round((o.expireAt - now) / 1000)) : undefined;
      chunk += `${formatDumpLine(o.data, { activeSinceSec: Math.max(0, Math.round((now - o.created) / 1000)), expiresInSec })}\n`;
      if (chunk.length > 65536) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }

  private *dumpXml(objs: Iterable<CacheObject<Flow>>): Generator<string> {
    for (const o of objs) if (o.status !== 2) yield `${formatFlowXml(o.data)}\n`;
  }

  private *dumpExps(objs: Iterable<CacheObject<import('../flow/flow').Expectation>>): Generator<string> {
    const now = this.d.clock.now();
    for (const o of objs) {
      if (o.status === 2) continue;
      yield `${formatExpectLine(o.data, { activeSinceSec: Math.max(0, Math.round((now - o.created) / 1000)) })}\n`;
    }
  }

  private linkInfos(): LinkInfo[] {
    const d = this.d;
    return linkStats(d.channels).map((l, i) => {
      const cfg = d.cfg.channels[i] ?? d.cfg.channels[0]!;
      return {
        kind: cfg.kind,
        device: l.interface ?? l.name,
        status: l.up ? 'RUNNING' : 'DOWN',
        role: l.active ? 'ACTIVE' : 'BACKUP',
        bytesSent: l.channel.sentBytes,
        bytesRecv: l.channel.receivedBytes,
        packetsSent: l.channel.sentDatagrams,
        packetsRecv: l.channel.receivedDatagrams,
        errorSend: l.channel.sendErrors,
        errorRecv: l.channel.receiveErrors,
      };
    });
  }

  private activeLink(): LinkInfo {
    const links = this.linkInfos();
    return links.find((l) => l.role === 'ACTIVE') ?? links[0]!;
  }

  private syncStats(internal: CacheStats, external: CacheStats) {
    const s = this.d.engine.stats;
    return {
      internal: { kind: 'cache' as const, counters: counters(internal) },
      external: { kind: 'cache' as const, counters: counters(external) },
      traffic: { bytes: 0, packets: 0 },
      link: this.activeLink(),
      messages: { malformed: s.rx.malformed, lost: s.mode.lostConntrackd },
    };
  }

  private networkStats(): string {
    const s = this.d.engine.stats;
    return formatNetworkStats({
      malformed: s.rx.malformed,
      wrongVersion: s.rx.badVersion,
      malformedHeader: s.mode.badCtl,
      malformedPayload: s.rx.malformedPayload,
      badType: s.rx.badType,
      truncated: s.rx.truncated,
      badSize: s.rx.badSize,
      sendMalformed: s.engine.encodeErrors,
      lost: s.mode.lostConntrackd,
      before: s.mode.before,
      link: this.activeLink(),
    });
  }

  private runtimeStats(): string {
    const d = this.d;
    const f = d.feed.stats;
    const c = d.client.stats;
    const s = d.engine.stats;
    return formatRuntimeStats({
      uptimeSeconds: (Date.now() - d.startedAt) / 1000,
      eventsReceived: c.events + c.expectationEvents,
      eventsFiltered: s.engine.filtered,
      eventsUnknownType: c.unknownTypes,
      catchEventFailed: c.decodeErrors,
      dumpUnknownType: 0,
      netlinkOverrun: f.overruns,
      flushKernelTable: 0,
      resyncKernelTable: f.resyncs,
      bufferSize: f.bufferBytes,
      childFailed: 0,
      childSegfault: 0,
      childTermsig: 0,
      selectFailed: 0,
      waitFailed: 0,
      localReadFailed: 0,
      localUnknownRequest: 0,
    });
  }

  private rsEntries(): RsQueueEntry[] {
    const mode = this.d.engine.mode;
    if (!(mode instanceof FtfwMode)) return [];
    const out: RsQueueEntry[] = [];
    for (const it of mode.rsEntries()) {
      if ('flags' in it && (it as { kind: string }).kind === 'ctl') out.push({ kind: 'control', seq: it.seq, flags: it.flags });
      else out.push({ kind: 'object', seq: it.seq });
    }
    return out;
  }

  /** `-t`: after PurgeTimeout, flush the (filtered) kernel table and the internal cache. */
  private schedulePurge(): void {
    if (this.purgeTimer) return; // spec §5.4: ignored if already scheduled
    this.purgeTimer = setTimeout(() => {
      this.purgeTimer = undefined;
      void flushKernel(this.d, { ct: true, exp: false }).then(() => this.d.engine.flushInternal());
    }, this.d.cfg.purgeTimeout * 1000);
    this.purgeTimer.unref();
  }

  private cancelPurge(): void {
    if (this.purgeTimer) clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
  }
}

function lagBounds(): readonly number[] {
  return [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
}

function counters(c: CacheStats): CacheCounters {
  return {
    active: c.active,
    created: c.added,
    createFailed: c.refusedFull,
    updated: c.updated,
    updateFailed: 0,
    destroyed: c.deleted,
    destroyFailed: c.deleteMissing,
  };
}

function cacheDetail(name: string, c: CacheStats, total: number): CacheDetail {
  return {
    name,
    active: c.active,
    total,
    createOk: c.added,
    createFailed: c.refusedFull,
    noMemory: 0,
    noSpace: c.refusedFull,
    updateOk: c.updated,
    updateFailed: c.updateMissing,
    updateNotFound: c.updateMissing,
    deleteOk: c.deleted,
    deleteFailed: c.deleteMissing,
    deleteNotFound: c.deleteMissing,
  };
}
