/**
 * KernelFeed against a scripted fake kernel (no namespaces): the silent-drop case found by
 * test/daemon/loss.test.ts under load. After one ENOBUFS the kernel drops every further event
 * without reporting it until the queue has been read empty, so a resync whose dump ran before a
 * burst of (dropped) deletes left the deleted entries in the internal cache for good. The feed
 * now compares the socket's drop counter with its value when the dump began.
 */
import t from 'tap';
import type { ConntrackClient, EventHandlers } from '../../src/ctnetlink/client';
import { systemClock } from '../../src/core/clock';
import { KernelFeed } from '../../src/daemon/kernel-feed';
import { AF_INET } from '../../src/flow/address';
import { type Flow, IPPROTO, invertTuple, makeTuple } from '../../src/flow/flow';
import { flowKey } from '../../src/flow/key';
import type { SyncEngine } from '../../src/sync/engine';
import { sleep, waitFor } from '../helpers/sync-lab';

function flow(i: number): Flow {
  const orig = makeTuple({ family: AF_INET, src: (10 << 24) + i, dst: (172 << 24) + 1, proto: IPPROTO.UDP, sport: 1000 + i, dport: 53 });
  return { orig, reply: invertTuple(orig), status: 0, timeout: 60 };
}

class FakeKernel {
  table = new Map<string, Flow>();
  drops = 0;
  handlers: EventHandlers = {};
  dumps = 0;
  /** Runs after the n-th dump (1-based) has handed out its snapshot. */
  afterDump = new Map<number, () => void>();

  readonly client = {
    portId: 4242,
    isOwnOrigin: (pid: number) => pid === 4242 || pid === 4243,
    subscribe: (h: EventHandlers) => {
      this.handlers = h;
    },
    unsubscribe: () => {},
    eventReceiveBuffer: () => 1 << 20,
    growReceiveBuffer: () => 1 << 20,
    eventDrops: () => this.drops,
    dump: () => this.dump(),
    dumpExpectations: async function* () {},
  } as unknown as ConntrackClient;

  private async *dump(): AsyncGenerator<Flow[]> {
    const n = ++this.dumps;
    const snapshot = [...this.table.values()];
    await sleep(5);
    yield snapshot;
    this.afterDump.get(n)?.();
  }

  add(from: number, to: number): void {
    for (let i = from; i < to; i++) this.table.set(flowKey(flow(i)), flow(i));
  }
  /** Deletes whose DESTROY events the kernel drops without a report (socket congested). */
  deleteSilently(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      this.table.delete(flowKey(flow(i)));
      this.drops++;
    }
  }
}

class FakeEngine {
  internal = new Map<string, Flow>();
  sentUpdates = 0;
  sentDeletes = 0;
  selfCaused = 0;
  onKernelEvent(kind: 'new' | 'update' | 'destroy', f: Flow, self = false): void {
    if (self) this.selfCaused++;
    if (kind === 'destroy') {
      this.internal.delete(flowKey(f));
      this.sentDeletes++;
    } else {
      this.internal.set(flowKey(f), f);
      this.sentUpdates++;
    }
  }
  loadInternal(f: Flow): void {
    this.internal.set(flowKey(f), f);
  }
  loadInternalExpectation(): void {}
  *internalFlows(): IterableIterator<Flow> {
    yield* [...this.internal.values()];
  }
}

const log = { warn() {}, info() {}, error() {} };

t.test('a resync misses deletes dropped after its dump: another pass follows', async (t) => {
  const k = new FakeKernel();
  const engine = new FakeEngine();
  const feed = new KernelFeed({
    client: k.client,
    engine: engine as unknown as SyncEngine,
    clock: systemClock,
    expectations: false,
    rcvbuf: 1 << 20,
    rcvbufMax: 1 << 20,
    overrunResyncMs: 10,
    log,
  });
  t.teardown(() => feed.close());
  k.add(0, 10);
  await feed.start();
  t.equal(engine.internal.size, 10, 'start-up dump loaded');

  // events for 10..19 were lost (ENOBUFS reported); the resync dump sees 0..19, and right after
  // it the kernel deletes 0..4 while the socket is still congested: those DESTROYs vanish.
  k.add(10, 20);
  k.drops += 10;
  k.afterDump.set(2, () => k.deleteSilently(0, 5));
  k.handlers.onOverrun?.(1);
  t.ok(await waitFor(() => engine.internal.size === 15, 3000, 20), `internal cache follows the kernel (${engine.internal.size} of 15)`);
  t.ok(feed.stats.resyncs >= 2, `a second pass ran (${feed.stats.resyncs} resyncs)`);
  t.equal(engine.sentDeletes, 5, 'the five deletes are sent to peers');

  // drops with no ENOBUFS at all (the congestion began before the last dump): the once-a-second
  // check notices the counter moved
  k.deleteSilently(5, 10);
  t.ok(await waitFor(() => engine.internal.size === 10, 4000, 50), `silent drops caught by the periodic check (${engine.internal.size} of 10)`);
  t.equal(feed.stats.silentDropResyncs, 1, 'counted as a silent-drop resync');
  t.equal(feed.stats.eventDrops, k.drops, 'drop counter exposed in the stats');
  const before = feed.stats.resyncs;
  await sleep(1500);
  t.equal(feed.stats.resyncs, before, 'no further resync while nothing is dropped');
});

t.test('own origin: events from either of our sockets (command, bulk) are applied as self-caused', async (t) => {
  const k = new FakeKernel();
  const engine = new FakeEngine();
  const feed = new KernelFeed({
    client: k.client as unknown as ConntrackClient,
    engine: engine as unknown as SyncEngine,
    clock: systemClock,
    expectations: false,
    rcvbuf: 1 << 20,
    rcvbufMax: 1 << 20,
    overrunResyncMs: 0,
    log,
  });
  await feed.start();
  k.handlers.onEvent?.('new', flow(1), 4242); // command socket
  k.handlers.onEvent?.('new', flow(2), 4243); // bulk socket (commit)
  k.handlers.onEvent?.('new', flow(3), 0); // the kernel: traffic
  t.equal(engine.selfCaused, 2);
  t.equal(feed.stats.ownEvents, 2);
  t.equal(engine.internal.size, 3, 'all three applied to the internal cache');
  feed.close();
});
