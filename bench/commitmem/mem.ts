/**
 * Bytes per cached entry through the real decode paths (issue 8 memory target). Not a test.
 * Runs itself inside a scratch network namespace (`cmm-<pid>`, deleted at the end):
 *  1. internal cache: subscribe to conntrack events, create N TCP entries with createBatch,
 *     decode every NEW event (ctnetlink codec) into InternalCache.apply('new', …) as the
 *     daemon's kernel feed does;
 *  2. external cache: every internal flow is encoded for the wire (src/sync/wire/ct.ts),
 *     decoded back and applied to an ExternalCache, as a peer's receiver does.
 * Heap used (after forced GC) before/after each stage ÷ N.
 * Usage (root): node --expose-gc -r <ts loader> bench/commitmem/mem.ts [N]
 */
import { execFileSync } from 'node:child_process';
import { externalCtCache, internalCtCache } from '../../src/cache/cache';
import { ConntrackClient } from '../../src/ctnetlink/client';
import { AF_INET, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, IPS, invertTuple, makeTuple } from '../../src/flow/flow';
import { DEFAULT_WIRE_OPTIONS, ctMessageLength, decodeCtBody, encodeCt } from '../../src/sync/wire/ct';

const N = Number(process.argv[2] ?? 100000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gcHeap(): number {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) g();
  return process.memoryUsage().heapUsed;
}

function flowAt(k: number): Flow {
  const src = ((10 << 24) | (((k >>> 14) & 0xff) << 16) | (((k >>> 6) & 0xff) << 8) | 1) >>> 0;
  const orig = makeTuple({ family: AF_INET, src, dst: parseAddr('10.200.0.1'), proto: IPPROTO.TCP, sport: 1024 + (k & 63), dport: 80 });
  return { orig, reply: invertTuple(orig), status: IPS.SEEN_REPLY | IPS.ASSURED, timeout: 7200, tcp: { state: 3 } };
}

async function inside(): Promise<void> {
  const client = new ConntrackClient();
  const internal = internalCtCache(0);
  const external = externalCtCache(0);
  let got = 0;
  const h0 = gcHeap();
  client.subscribe({
    onEvent: (kind, flow, _origin) => {
      if (kind !== 'new') return;
      internal.apply('new', flow, true, performance.now());
      got++;
    },
  });
  for (let s = 0; s < N; s += 8192) {
    const batch: Flow[] = [];
    for (let k = s; k < Math.min(N, s + 8192); k++) batch.push(flowAt(k));
    const r = client.createBatch(batch);
    if (r.failed > 0) throw new Error(`create failed for ${r.failed}`);
    // let the event socket drain between batches (bounded: N / 8192 rounds)
    await sleep(20);
  }
  const end = Date.now() + 30_000;
  while (got < N && Date.now() < end) await sleep(50);
  if (got < N) throw new Error(`only ${got}/${N} NEW events`);
  client.unsubscribe();
  const h1 = gcHeap();
  const buf = Buffer.alloc(4096);
  for (const o of internal.objects()) {
    const len = encodeCt(buf, 0, 0, 0, 0, o.data, DEFAULT_WIRE_OPTIONS);
    if (len !== ctMessageLength(o.data, DEFAULT_WIRE_OPTIONS)) throw new Error('length mismatch');
    external.apply('new', decodeCtBody(buf, 8, len, DEFAULT_WIRE_OPTIONS), performance.now());
  }
  const h2 = gcHeap();
  const sample = internal.objects().next().value;
  const out = {
    n: N,
    internalBytesPerEntry: Math.round((h1 - h0) / N),
    externalBytesPerEntry: Math.round((h2 - h1) / N),
    internalSize: internal.size,
    externalSize: external.size,
    sampleInternal: sample?.data,
  };
  console.log(JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  client.close();
}

function main(): void {
  if (process.env.CMM_INSIDE) {
    inside().catch((e) => {
      console.error(e);
      process.exit(1);
    });
    return;
  }
  const ns = `cmm-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, __filename, String(N)], {
      stdio: 'inherit',
      env: { ...process.env, CMM_INSIDE: '1' },
      timeout: 120_000,
    });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
main();
