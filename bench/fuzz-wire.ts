/**
 * Wire fuzzing at scale: >= 1,000,000 cases through walkDatagram + decode (same generators as
 * test/wire/fuzz.test.ts), printing counts and heap before/after. Bounded by count and by time.
 *
 *   node --expose-gc -r "$(node -p "require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only')")" \
 *     bench/fuzz-wire.ts [CASES] [SEED]
 */
import { join } from 'node:path';
import { readPcapFile } from '../src/tools/pcap';
import { countersConsistent, runFuzz } from '../test/wire/fixtures/fuzz-core';
import { CAPTURES, VECTORS } from '../test/wire/fixtures/golden';

const cases = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 0x5eed);
const MAX_MS = 10 * 60 * 1000;
const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

const corpus = CAPTURES.flatMap((c) => readPcapFile(join(VECTORS, `${c}.pcap`)).map((r) => Buffer.from(r.payload)));
// warm-up so the "before" heap includes the compiled code
runFuzz(20_000, seed ^ 1, corpus);
const before = heapMiB();
const t0 = process.hrtime.bigint();
const half = runFuzz(Math.floor(cases / 2), seed, corpus, Date.now() + MAX_MS / 2);
const mid = heapMiB();
const rest = runFuzz(cases - half.cases, seed + 1, corpus, Date.now() + MAX_MS / 2);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const after = heapMiB();

const total = half.cases + rest.cases;
const sum = <K extends 'escaped' | 'unstable' | 'accepted'>(k: K) => half[k] + rest[k];
console.log(`cases ${total} in ${secs.toFixed(1)} s (${Math.round(total / secs)} cases/s), seed ${seed}${gc ? '' : ' (no --expose-gc: heap figures are noisy)'}`);
console.log('by kind', JSON.stringify(Object.fromEntries(Object.keys(half.byKind).map((k) => [k, half.byKind[k as 'random'] + rest.byKind[k as 'random']]))));
console.log(`escaped exceptions ${sum('escaped')}, unstable re-encodings ${sum('unstable')}, accepted data messages ${sum('accepted')}`);
const counters: Record<string, number> = {};
for (const [k, v] of Object.entries(half.stats)) counters[k] = v + (rest.stats as unknown as Record<string, number>)[k]!;
console.log('rejections', JSON.stringify(counters));
console.log(`counters consistent: ${countersConsistent(half.stats) && countersConsistent(rest.stats)}`);
console.log(`heap used: before ${before.toFixed(1)} MiB, after ${(total / 2) | 0} cases ${mid.toFixed(1)} MiB, after ${total} ${after.toFixed(1)} MiB`);
if (half.firstProblem ?? rest.firstProblem) console.log(`first problem: ${half.firstProblem ?? rest.firstProblem}`);
process.exitCode = sum('escaped') + sum('unstable') === 0 && total >= cases ? 0 : 1;
