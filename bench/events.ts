/**
 * The sender's kernel-event path in one process, without the kernel or the network: 100k
 * ctnetlink NEW events (one per datagram, as the kernel sends them) handed to ConntrackClient
 * through the fake socket, 256 datagrams per wake-up like the real event socket, then
 *   decode    : client decode only (handler does nothing),
 *   cache     : decode + InternalCache.apply (what the daemon does before queueing),
 *   engine    : decode + SyncEngine.onKernelEvent (NOTRACK, datagrams encoded and dropped).
 * Prints CPU µs per event (process.cpuUsage: every thread, GC helpers included). Issue 8:
 * conntrackd's whole sender costs ≈3.8 µs per entry (user+sys) in the same bench.
 *
 *   node -r "$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")" bench/events.ts [N] [rounds]
 */
import { internalCtCache } from '../src/cache/cache';
import { systemClock } from '../src/core/clock';
import { encodeConntrack } from '../src/ctnetlink/codec';
import { ConntrackClient } from '../src/ctnetlink/client';
import { AF_INET } from '../src/flow/address';
import { type Flow, makeTuple, invertTuple } from '../src/flow/flow';
import { FakeNetlinkSocket } from '../src/netlink/fake-socket';
import { NlBuilder } from '../src/netlink/message';
import { SyncEngine } from '../src/sync/engine';
import { DEFAULT_WIRE_OPTIONS } from '../src/sync/wire/options';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 3);

function flow(i: number): Flow {
  const orig = makeTuple({ family: AF_INET, src: 0x0a000000 + (i >>> 8), dst: 0x0a640001, proto: 6, sport: 1024 + (i & 255), dport: 80 });
  return { orig, reply: invertTuple(orig), status: 0x18e, timeout: 432000, id: i + 1, use: 1, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7, flagsOrig: 0x23, flagsReply: 0x23 } };
}

function datagrams(round: number): Buffer[] {
  const b = new NlBuilder(1 << 12);
  const out: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    b.reset();
    encodeConntrack(b, flow(round * N + i), 'create', 0, { ack: false });
    out.push(Buffer.from(b.bytes()));
  }
  return out;
}

type Stage = 'decode' | 'cache' | 'engine';

function run(stage: Stage, round: number): number {
  let ev: FakeNetlinkSocket | undefined;
  let n = 0;
  const client = new ConntrackClient({
    socketFactory: (o) => {
      const s = new FakeNetlinkSocket({ slots: o.slots ?? 16, slotSize: o.slotSize ?? 32768 });
      if (o.groups) ev = s;
      return s;
    },
  });
  const cache = internalCtCache(0);
  // transmit passes run when drained below, inside the measured window
  let deferred: (() => void)[] = [];
  let sent = 0;
  const engine =
    stage === 'engine'
      ? new SyncEngine({
          mode: 'notrack',
          clock: systemClock,
          channel: { maxPayload: 1472, send: () => void sent++, onDatagram: () => {}, close: async () => {} },
          wire: DEFAULT_WIRE_OPTIONS,
          cacheLimit: 0,
          scheduler: { defer: (fn: () => void) => void deferred.push(fn), setTimer: () => null, clearTimer: () => {} },
        })
      : undefined;
  client.subscribe({
    onEvent: (kind, f) => {
      n++;
      if (stage === 'cache') cache.apply(kind, f, false, 1000);
      else if (engine) engine.onKernelEvent(kind, f, false, 1000);
    },
  });
  const ds = datagrams(round);
  const c0 = process.cpuUsage();
  ev!.deliver(ds);
  for (let guard = 0; deferred.length > 0 && guard < 1_000_000; guard++) {
    const fns = deferred;
    deferred = [];
    for (const fn of fns) fn();
  }
  const c1 = process.cpuUsage(c0);
  if (n !== N) throw new Error(`${stage}: ${n} events of ${N}`);
  if (engine && sent < N / 40) throw new Error(`engine: only ${sent} datagrams for ${N} events ${JSON.stringify(engine.engineStats)} ${engine.internal.size}`);
  client.close();
  return (c1.user + c1.system) / N;
}

for (const stage of ['decode', 'cache', 'engine'] as Stage[]) {
  const us: number[] = [];
  for (let r = 0; r < ROUNDS; r++) us.push(run(stage, r));
  console.log(`${stage.padEnd(7)} ${us.map((x) => x.toFixed(2)).join(' ')} µs/event (CPU, all threads)`);
}
