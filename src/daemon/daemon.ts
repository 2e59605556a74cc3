/**
 * The composition root (L5): the only place that builds objects and wires the layers.
 *
 * Start-up order (spec §5.1): lock file → kernel (subscribe, dump into the internal cache) →
 * channels + engine → control socket → metrics → READY. Any failure before READY undoes what was
 * started and surfaces as one clear error; nothing is left half-started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StatsChannel } from '../channel';
import { type Clock, systemClock } from '../core/clock';
import type { DaemonConfig } from '../config/types';
import { ControlServer } from '../control/server';
import { ConntrackClient } from '../ctnetlink/client';
import type { Logger } from '../log/logger';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../metrics';
import { realScheduler, SyncEngine } from '../sync/engine';
import { Envelope } from '../sync/envelope/envelope';
import { loadKeyFile } from '../sync/envelope/keyfile';
import { DEFAULT_WIRE_OPTIONS } from '../sync/wire/options';
import { openChannels, syncLinkAddresses, type OpenedChannels } from './channels';
import { CommitRunner } from './commit-runner';
import { ControlHandlers } from './control-handlers';
import { ReloadableFilter } from './filter';
import { KernelFeed } from './kernel-feed';
import { LockFile } from './lockfile';
import { DaemonMetricsSource } from './metrics-source';
import { SdNotifier } from './sd-notify';
import { Watchdog } from './watchdog';

export class Daemon {
  readonly startedAt = Date.now();
  readonly clock: Clock = systemClock;
  client!: ConntrackClient;
  engine!: SyncEngine;
  feed!: KernelFeed;
  channels!: OpenedChannels;
  filter!: ReloadableFilter;
  commit!: CommitRunner;
  envelope: Envelope | undefined;
  private control: ControlServer | undefined;
  private metrics: MetricsServer | undefined;
  private readonly lock: LockFile;
  private readonly notifier: SdNotifier;
  private readonly watchdog: Watchdog;
  private stopping: Promise<void> | null = null;
  private stopResolve!: (code: number) => void;
  /** Resolves with the exit code when the daemon has stopped. */
  readonly stopped: Promise<number>;
  private readyFileState: boolean | undefined;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    public cfg: DaemonConfig,
    readonly configFile: string,
    readonly log: Logger,
  ) {
    this.lock = new LockFile(cfg.general.lockFile);
    // conntrackd talks to systemd only with `Systemd on` (spec §5.6, §7 table; the default is on):
    // `Systemd off` silences READY/STATUS/WATCHDOG/STOPPING even when $NOTIFY_SOCKET is set.
    const sd = cfg.general.systemd;
    this.notifier = new SdNotifier(sd ? {} : { socketPath: '' });
    this.watchdog = new Watchdog({ ping: () => this.notifier.watchdog(), env: sd ? process.env : {} });
    this.stopped = new Promise((r) => {
      this.stopResolve = r;
    });
  }

  /** Path of the readiness file for keepalived's track_file ("0" ready, "1" not yet). */
  get readyFile(): string {
    return `${this.cfg.general.unixPath}.ready`;
  }

  async start(): Promise<void> {
    const cfg = this.cfg;
    if (!cfg.general.systemd && process.env.NOTIFY_SOCKET) {
      this.log.warn(
        { notifySocket: process.env.NOTIFY_SOCKET },
        'systemd notifications are off (Systemd off in the config) but NOTIFY_SOCKET is set: a Type=notify unit will time out waiting for READY=1',
      );
    }
    if (cfg.disableExternalCache || cfg.disableInternalCache) {
      // parsed and validated (src/config) but the engine has no such path yet: say so rather
      // than let an active/active pair believe the peer's states go straight into the kernel
      this.log.warn(
        { disableExternalCache: cfg.disableExternalCache, disableInternalCache: cfg.disableInternalCache },
        'DisableExternalCache/DisableInternalCache are not implemented yet and are ignored: both caches are used',
      );
    }
    this.lock.acquire();
    // A file left by a killed predecessor may say 0 (ready): say 1 until we know better.
    if (fs.existsSync(this.readyFile)) this.writeReadyFile(false);
    try {
      await this.startComponents(cfg);
    } catch (err) {
      await this.teardown();
      throw err;
    }
    this.log.info(
      {
        mode: cfg.mode,
        internal: this.engine.internal.size,
        dumpMs: Math.round(this.feed.stats.lastDumpMs),
        channels: cfg.channels.map((c) => `${c.kind}:${c.interface ?? c.localAddress}`),
      },
      'ctsyncd started',
    );
    this.notifier.ready(this.statusLine());
    this.watchdog.start();
    this.statusTimer = setInterval(() => this.periodic(), 1000);
    this.statusTimer.unref();
  }

  private async startComponents(cfg: DaemonConfig): Promise<void> {
    this.client = new ConntrackClient();
    const selfAddrs = syncLinkAddresses(cfg.channels);
    this.filter = new ReloadableFilter(cfg.filter, selfAddrs);
    this.channels = await openChannels(cfg.channels, this.log.child({ component: 'channel' }));
    if (cfg.envelope) {
      const keys = cfg.envelope.keyFiles.map((f, i) => ({ id: i + 1, key: loadKeyFile(f) }));
      this.envelope = new Envelope({ nodeId: cfg.envelope.nodeId, keys, peers: cfg.envelope.peers });
    }
    this.engine = new SyncEngine({
      mode: cfg.mode,
      clock: this.clock,
      channel: this.channels.channel,
      wire: {
        ...DEFAULT_WIRE_OPTIONS,
        portsHostLE: cfg.wire.portsHostLE,
        sendTimeout: cfg.commitTimeout === 0,
        tcpWindowTracking: cfg.tcpWindowTracking,
      },
      envelope: this.envelope,
      nodeId: cfg.envelope?.nodeId,
      ftfw: {
        ackWindow: cfg.ftfw.ackWindow,
        resendQueueSize: cfg.ftfw.resendQueueSize,
      },
      alarm: { refreshTime: cfg.alarm.refreshTime, cacheTimeout: cfg.alarm.cacheTimeout },
      cacheLimit: cfg.general.hashLimit,
      filter: this.filter,
      expectationSync: cfg.expectationSync,
      scheduler: realScheduler(this.clock),
      onPeerResyncDone: () => {
        const reason = this.engine?.readyReason;
        const why =
          reason === 'answered'
            ? 'first state sync from the peer is complete: ready'
            : reason === 'alone'
              ? 'no peer heard since start: ready with what this node has'
              : reason === 'peerDidNotAnswer'
                ? 'a peer is heard but never answered our resync request: ready without its state'
                : 'ready (no start-up resync to wait for)';
        if (reason === 'peerDidNotAnswer') this.log.warn({ reason }, why);
        else this.log.info({ reason }, why);
        this.updateReadyFile();
        this.notifier.status(this.statusLine());
      },
      onError: (err, where) => this.log.error({ err, where }, 'internal error in the sync engine'),
    });
    this.feed = new KernelFeed({
      client: this.client,
      engine: this.engine,
      clock: this.clock,
      expectations: cfg.expectationSync !== false,
      rcvbuf: cfg.general.netlinkBufferSize,
      rcvbufMax: cfg.general.netlinkBufferSizeMax,
      // conntrackd waits NetlinkOverrunResync seconds; we honour "off" (0) but resync at once.
      overrunResyncMs: cfg.general.netlinkOverrunResync === 0 ? 0 : 50,
      log: this.log.child({ component: 'kernel' }),
    });
    await this.feed.start();
    this.commit = new CommitRunner(this, this.log.child({ component: 'commit' }));
    const handlers = new ControlHandlers(this);
    this.control = new ControlServer({
      path: cfg.general.unixPath,
      backlog: cfg.general.unixBacklog,
      handler: (code, ctx) => handlers.handle(code, ctx),
      jsonHandler: (req) => handlers.handleJson(req),
      onError: (err, code) => this.log.error({ err, code }, 'control request failed'),
    });
    await this.control.start();
    await this.startMetrics();
    this.updateReadyFile();
  }

  private async startMetrics(): Promise<void> {
    const m = this.cfg.metrics;
    if (!m) return;
    const source = new DaemonMetricsSource(this);
    const registry = createMetricsRegistry(source);
    this.metrics = await startMetricsServer({
      address: m.address,
      port: m.port,
      registry,
      ready: () => this.engine.ready,
      onError: (err) => this.log.rateLimited('metrics-error', 10_000)?.warn({ err }, 'metrics scrape failed'),
    });
    this.log.info({ address: m.address, port: this.metrics.address.port }, 'metrics endpoint listening');
  }

  private periodic(): void {
    this.updateReadyFile();
    this.notifier.status(this.statusLine());
  }

  /** keepalived `track_file`: 0 when ready (weight 0 → no effect), 1 before (→ FAULT). */
  private updateReadyFile(): void {
    const ready = this.engine?.ready ?? false;
    if (ready === this.readyFileState) return;
    this.readyFileState = ready;
    this.writeReadyFile(ready);
  }

  private writeReadyFile(ready: boolean): void {
    try {
      fs.mkdirSync(path.dirname(this.readyFile), { recursive: true });
      fs.writeFileSync(this.readyFile, ready ? '0\n' : '1\n');
    } catch (err) {
      this.log.rateLimited('ready-file', 60_000)?.warn({ err, file: this.readyFile }, 'cannot write the readiness file');
    }
  }

  statusLine(): string {
    if (!this.engine) return 'starting';
    const s = this.engine.stats;
    return `${this.cfg.mode} ${this.engine.ready ? 'ready' : 'syncing'}; internal ${s.internal.active}, external ${s.external.active}; tx ${s.txQueue}, rsqueue ${s.rsQueue}`;
  }

  /**
   * SIGHUP: filters, log level and metrics settings; the caches stay. Rejects only when the new
   * metrics endpoint cannot listen (the rest is applied by then; metrics stay off until the
   * next reload). READY=1 follows RELOADING=1 either way, or systemd would wait for it.
   */
  async reload(next: DaemonConfig): Promise<void> {
    // sd_notify(3): RELOADING=1 … READY=1 brackets a reload (Type=notify-reload needs it; under
    // Type=notify systemd shows the unit "reloading" meanwhile).
    this.notifier.reloading('reloading the configuration');
    try {
      this.filter.replace(next.filter, syncLinkAddresses(this.cfg.channels));
      this.log.level = next.general.logLevel;
      const metricsChanged = JSON.stringify(next.metrics) !== JSON.stringify(this.cfg.metrics);
      this.cfg = { ...this.cfg, filter: next.filter, general: { ...this.cfg.general, logLevel: next.general.logLevel }, metrics: next.metrics };
      if (metricsChanged) {
        await this.metrics?.close();
        this.metrics = undefined;
        await this.startMetrics();
      }
      this.log.info({}, 'configuration reloaded (filters, log level, metrics)');
      const restartOnly = changedRestartOnly(this.cfg, next);
      if (restartOnly.length > 0) {
        this.log.warn({ keys: restartOnly }, 'reload: these settings only take effect on a restart; still running with the previous values');
      }
    } finally {
      this.notifier.ready(this.statusLine());
    }
  }

  /** Stops everything (SIGTERM, `-k`). Idempotent. */
  stop(reason: string, code = 0): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        this.log.info({ reason }, 'ctsyncd stopping');
        this.notifier.stopping();
        await this.teardown();
        this.stopResolve(code);
      })();
    }
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.watchdog.stop();
    const steps: [string, () => unknown][] = [
      ['control', () => this.control?.close()],
      ['metrics', () => this.metrics?.close()],
      ['feed', () => this.feed?.close()],
      ['engine', () => this.engine?.close()],
      ['channels', () => (this.engine ? undefined : closeLinks(this.channels))],
      ['netlink', () => this.client?.close()],
    ];
    for (const [name, fn] of steps) {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err, step: name }, 'error during shutdown');
      }
    }
    // A stopped daemon is not ready. keepalived's track_file takes a *missing* file as OK, so
    // the file stays and says 1 (FAULT with weight 0) rather than being removed. A daemon that
    // never wrote it (failed start-up) leaves nothing behind.
    if (this.readyFileState !== undefined) {
      try {
        fs.writeFileSync(this.readyFile, '1\n');
      } catch {
        // best effort
      }
    }
    this.lock.release();
  }
}

/**
 * Settings a reload does not apply (everything but the filter, the log level and the metrics
 * endpoint), as dotted keys, so an operator who edited e.g. the sync link learns that SIGHUP
 * did not change it.
 */
export function changedRestartOnly(cur: DaemonConfig, next: DaemonConfig): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => {
    try {
      return JSON.stringify(x) === JSON.stringify(y);
    } catch {
      return true; // not comparable as JSON: do not warn rather than fail the reload
    }
  };
  const keys = new Set([...Object.keys(cur), ...Object.keys(next)]) as Set<keyof DaemonConfig>;
  for (const k of keys) {
    if (k === 'filter' || k === 'metrics') continue;
    if (k === 'general') {
      const g = new Set([...Object.keys(cur.general), ...Object.keys(next.general)]) as Set<keyof DaemonConfig['general']>;
      for (const gk of g) if (gk !== 'logLevel' && !same(cur.general[gk], next.general[gk])) out.push(`general.${gk}`);
    } else if (!same(cur[k], next[k])) out.push(k);
  }
  return out;
}

async function closeLinks(ch: OpenedChannels | undefined): Promise<void> {
  if (!ch) return;
  for (const l of ch.links) await (l.channel as StatsChannel).close();
}
