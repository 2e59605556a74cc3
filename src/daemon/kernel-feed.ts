/**
 * Feeds the kernel's conntrack table into the sync engine (the "kernel → cache" arrow):
 *  - start-up: subscribe to events first, then dump the table into the internal cache without
 *    sending anything (spec §5.1); subscribing first means no change between the dump and the
 *    subscription is missed;
 *  - events: NEW/UPDATE/DESTROY tagged with their origin, so our own commits and flushes are
 *    applied to the internal cache but not echoed to peers (spec §5.1 "origin");
 *  - the event socket opens with the larger of NetlinkBufferSize and NetlinkBufferSizeMaxGrowth
 *    (conntrackd starts at the first and doubles on each overrun): the kernel charges a socket
 *    only for the events queued in it, so a big limit costs nothing while we keep up, and every
 *    overrun costs a full table dump and re-send. A 100k-flow burst created at 100k/s outruns
 *    us for a moment (≈10 µs per event, 2 cores shared); with the 2 MiB of the bench config it
 *    overran three times (8 → 16 → 32 MiB) and resent the table twice;
 *  - overrun (ENOBUFS: events were lost, how many is unknowable): grow the receive buffer up to
 *    the cap, then resync from a dump. conntrackd waits NetlinkOverrunResync (30 s) before it
 *    resyncs; we resync after a short debounce (`overrunResyncMs`) so caches converge at once.
 *  - resync (`-R`, overrun): every dumped entry is merged and queued to peers as NEW/UPD, then
 *    internal entries the dump did not contain are destroyed (sent as DEL): a mark-and-sweep
 *    instead of conntrackd's one GET per cached entry.
 *  - silent drops: the kernel reports ENOBUFS once per congestion episode, then drops every
 *    event without a word until we have read the queue empty (NETLINK_S_CONGESTED). A resync
 *    that starts while the socket is still congested misses whatever is dropped after its dump
 *    (e.g. a burst of deletes). So the socket's drop counter (/proc/net/netlink "Drops") is
 *    compared with its value when the last dump began: after each resync pass, and once a
 *    second; any increase means another pass.
 *  - commit: the events our own commit causes are applied while it runs: the kernel's part of
 *    the commit runs on a worker thread and the client reads the queued events between its
 *    datagrams (ConntrackClient.drainEvents), so they reach this handler as usual, overruns
 *    included. Holding them back until the commit was done measured no faster for the commit
 *    on the bench (2 cores, SCHED_RR): the 100k held events were then applied in one ≈300 ms
 *    stretch right after it, which also delayed everything else on the machine.
 */
import type { Clock } from '../core/clock';
import type { ConntrackClient } from '../ctnetlink/client';
import type { Flow } from '../flow/flow';
import { flowKey } from '../flow/key';
import type { SyncEngine } from '../sync/engine';

export class KernelFeedStats {
  events = { new: 0, update: 0, destroy: 0 };
  expectationEvents = 0;
  ownEvents = 0;
  overruns = 0;
  resyncs = 0;
  resyncEntries = 0;
  resyncVanished = 0;
  /** Kernel drop counter of the event socket (lost events, including unreported ones). */
  eventDrops = 0;
  /** Resyncs started because drops were seen without a (new) ENOBUFS report. */
  silentDropResyncs = 0;
  dumpEntries = 0;
  lastDumpMs = 0;
  bufferBytes = 0;
  bufferCapHits = 0;
  handlerErrors = 0;
}

export interface KernelFeedOptions {
  client: ConntrackClient;
  engine: SyncEngine;
  clock: Clock;
  expectations: boolean;
  rcvbuf: number;
  rcvbufMax: number;
  /** Delay between an overrun and the resync dump (ms); 0 disables the automatic resync. */
  overrunResyncMs: number;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export class KernelFeed {
  readonly stats = new KernelFeedStats();
  private resyncTimer: NodeJS.Timeout | null = null;
  private resyncRunning: Promise<void> | null = null;
  private resyncAgain = false;
  private closed = false;
  /** Event-socket drop counter when the last kernel dump began (start-up or resync). */
  private dropsAtDump = 0;
  private dropTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: KernelFeedOptions) {}

  /** Subscribe, then load the current table. Resolves when the dump is in the internal cache. */
  async start(): Promise<void> {
    const { client, engine, clock } = this.o;
    client.subscribe(
      {
        onEvent: (kind, flow, origin) => {
          this.stats.events[kind]++;
          // one of our sockets (command or bulk) made this change: internal cache only
          const self = client.isOwnOrigin(origin);
          if (self) this.stats.ownEvents++;
          try {
            engine.onKernelEvent(kind, flow, self, clock.now());
          } catch (err) {
            this.stats.handlerErrors++;
            this.o.log.error({ err }, 'internal error while applying a kernel event');
          }
        },
        onExpectation: (kind, exp, origin) => {
          this.stats.expectationEvents++;
          try {
            engine.onKernelExpectation(kind, exp, client.isOwnOrigin(origin), clock.now());
          } catch (err) {
            this.stats.handlerErrors++;
            this.o.log.error({ err }, 'internal error while applying a kernel expectation event');
          }
        },
        onOverrun: () => this.onOverrun(),
      },
      { expectations: this.o.expectations, rcvbuf: Math.max(this.o.rcvbuf, this.o.rcvbufMax) },
    );
    this.stats.bufferBytes = client.eventReceiveBuffer();
    this.dropsAtDump = this.drops();
    const t0 = clock.now();
    for await (const chunk of client.dump()) {
      for (const f of chunk) engine.loadInternal(f);
      this.stats.dumpEntries += chunk.length;
    }
    if (this.o.expectations) {
      for await (const chunk of client.dumpExpectations()) for (const e of chunk) engine.loadInternalExpectation(e);
    }
    this.stats.lastDumpMs = clock.now() - t0;
    if (this.o.overrunResyncMs > 0) {
      this.dropTimer = setInterval(() => this.checkDrops(), 1000);
      this.dropTimer.unref();
    }
  }

  /** Kernel drop count of our event socket; 0 when /proc does not tell. */
  private drops(): number {
    try {
      const d = this.o.client.eventDrops() ?? 0;
      this.stats.eventDrops = d;
      return d;
    } catch {
      return 0;
    }
  }

  /** Events dropped since the last dump began, reported or not: resync (once a second at most). */
  private checkDrops(): void {
    if (this.closed || this.resyncRunning || this.resyncTimer) return;
    if (this.drops() <= this.dropsAtDump) return;
    this.stats.silentDropResyncs++;
    this.o.log.warn({ drops: this.stats.eventDrops - this.dropsAtDump }, 'netlink events were dropped: resyncing from a kernel dump');
    void this.resync('event drops', true);
  }

  private onOverrun(): void {
    this.stats.overruns++;
    const before = this.o.client.eventReceiveBuffer();
    const now = this.o.client.growReceiveBuffer(this.o.rcvbufMax);
    this.stats.bufferBytes = now;
    if (now <= before) this.stats.bufferCapHits++;
    this.o.log.warn(
      { bufferBytes: now, capped: now <= before, overruns: this.stats.overruns },
      'netlink event overrun: events were lost, resyncing from a kernel dump',
    );
    if (this.o.overrunResyncMs <= 0 || this.closed) return;
    if (this.resyncTimer) return; // one resync covers every overrun until it starts
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      void this.resync('overrun', true);
    }, this.o.overrunResyncMs);
  }

  /**
   * Re-reads the kernel table: changed or new entries are queued to peers, vanished ones are
   * sent as DEL. Concurrent calls coalesce into one extra pass.
   */
  async resync(reason: string, send: boolean): Promise<{ entries: number; vanished: number }> {
    if (this.resyncRunning) {
      this.resyncAgain = true;
      await this.resyncRunning;
      return { entries: 0, vanished: 0 };
    }
    let result = { entries: 0, vanished: 0 };
    this.resyncRunning = (async () => {
      // Another pass when asked meanwhile, or when events were dropped during this one (the
      // socket may still be congested; bounded, the once-a-second check takes over after).
      let passes = 0;
      do {
        this.resyncAgain = false;
        result = await this.resyncOnce(send);
        passes++;
      } while ((this.resyncAgain || (send && this.drops() > this.dropsAtDump)) && !this.closed && passes < 5);
    })();
    try {
      await this.resyncRunning;
    } finally {
      this.resyncRunning = null;
    }
    this.o.log.info({ reason, ...result }, 'kernel resync done');
    return result;
  }

  /** send=false is `-R`: refresh the internal cache only, nothing goes to peers (spec §5.4). */
  private async resyncOnce(send: boolean): Promise<{ entries: number; vanished: number }> {
    const { client, engine, clock } = this.o;
    this.stats.resyncs++;
    // `-R` tells peers nothing: only a sending pass settles drops for them
    if (send) this.dropsAtDump = this.drops();
    const seen = new Set<string>();
    let entries = 0;
    for await (const chunk of client.dump()) {
      const now = clock.now();
      for (const f of chunk) {
        seen.add(flowKey(f));
        if (send) engine.onKernelEvent('update', f, false, now);
        else engine.loadInternal(f);
      }
      entries += chunk.length;
    }
    const vanished: Flow[] = [];
    for (const f of engine.internalFlows()) if (!seen.has(flowKey(f))) vanished.push(f);
    const now = clock.now();
    for (const f of vanished) engine.onKernelEvent('destroy', f, !send, now);
    this.stats.resyncEntries += entries;
    this.stats.resyncVanished += vanished.length;
    return { entries, vanished: vanished.length };
  }

  close(): void {
    this.closed = true;
    if (this.dropTimer) clearInterval(this.dropTimer);
    this.dropTimer = null;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = null;
    this.o.client.unsubscribe();
  }
}
