/**
 * The caches' hash index (src/cache/hash-index.ts): same answers as a Map keyed by flowKey()
 * under random inserts/removals (the string keys define "same key"), insertion order kept,
 * holes and growth handled, forced hash collisions still resolved by field comparison.
 */
import t from 'tap';
import { HashIndex, type KeyOps } from '../../src/cache/hash-index';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Expectation, type Flow, IPPROTO, makeTuple } from '../../src/flow/flow';
import { expectationHash, expectationKey, flowHash, flowKey, sameExpectationKey, sameFlowKey } from '../../src/flow/key';

interface Obj {
  data: Flow;
  n: number;
}
const FLOW_OPS: KeyOps<Flow> = { hash: flowHash, sameKey: sameFlowKey };

/** Deterministic PRNG (tests must not depend on luck). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A small key space so that re-inserts and removals of existing keys are frequent. */
function randomFlow(r: () => number): Flow {
  const v6 = r() < 0.3;
  const icmp = r() < 0.1;
  const orig = makeTuple({
    family: v6 ? AF_INET6 : AF_INET,
    src: v6 ? parseAddr(`2001:db8::${Math.floor(r() * 4)}`) : parseAddr(`10.0.0.${Math.floor(r() * 4)}`),
    dst: v6 ? parseAddr(`2001:db8::1:${Math.floor(r() * 3)}`) : parseAddr(`10.1.0.${Math.floor(r() * 3)}`),
    proto: icmp ? (v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP) : r() < 0.5 ? IPPROTO.TCP : IPPROTO.UDP,
    sport: icmp ? 0 : 1000 + Math.floor(r() * 6),
    dport: icmp ? 0 : 80 + Math.floor(r() * 2),
    icmpType: icmp ? 8 : 0,
    icmpId: icmp ? Math.floor(r() * 3) : 0,
  });
  const zone = Math.floor(r() * 3);
  return zone === 0 ? { orig } : { orig, zone };
}

t.test('random operations: same contents as a Map keyed by flowKey, in the same order', async (t) => {
  const r = prng(42);
  const idx = new HashIndex<Flow, Obj>(FLOW_OPS);
  const ref = new Map<string, Obj>();
  let mismatches = 0;
  for (let step = 0; step < 20_000; step++) {
    const f = randomFlow(r);
    const k = flowKey(f);
    const got = idx.get(f);
    if (got !== ref.get(k)) mismatches++;
    if (r() < 0.55) {
      if (got) {
        idx.remove(got);
        ref.delete(k);
      }
      const o = { data: f, n: step };
      idx.add(o);
      ref.set(k, o);
    } else if (got) {
      t.equal(idx.remove(got), true);
      ref.delete(k);
    }
  }
  t.equal(mismatches, 0, 'every lookup agreed with the string-keyed Map');
  t.equal(idx.size, ref.size);
  t.ok(ref.size > 100, `a non-trivial population (${ref.size})`);
  t.same(
    [...idx.values()].map((o) => o.n),
    [...ref.values()].map((o) => o.n),
    'iteration in insertion order, like a Map',
  );
});

t.test('remove is by identity; a missing object is reported', async (t) => {
  const idx = new HashIndex<Flow, Obj>(FLOW_OPS);
  const f = randomFlow(prng(1));
  const a = { data: f, n: 1 };
  idx.add(a);
  const twin = { data: { ...f }, n: 2 };
  t.equal(idx.remove(twin), false, 'an equal key in another object is not removed');
  t.equal(idx.get(f), a);
  t.equal(idx.remove(a), true);
  t.equal(idx.remove(a), false);
  t.equal(idx.size, 0);
  t.equal(idx.get(f), undefined);
});

t.test('all hashes colliding: still correct (field comparison decides)', async (t) => {
  const idx = new HashIndex<Flow, Obj>({ hash: () => 7, sameKey: sameFlowKey });
  const flows: Flow[] = [];
  for (let i = 0; i < 300; i++) flows.push({ orig: makeTuple({ family: AF_INET, src: i, dst: 1, proto: 6, sport: 1, dport: 2 }) });
  for (let n = 0; n < flows.length; n++) idx.add({ data: flows[n]!, n });
  for (let i = 0; i < 300; i += 2) idx.remove(idx.get(flows[i]!)!);
  let found = 0;
  for (let i = 0; i < 300; i++) if (idx.get(flows[i]!)?.n === i) found++;
  t.equal(found, 150, 'the odd half is found, each under its own key');
  t.equal(idx.size, 150);
});

t.test('iteration survives removals and growth during the walk', async (t) => {
  const idx = new HashIndex<Flow, Obj>(FLOW_OPS);
  const mk = (i: number): Obj => ({ data: { orig: makeTuple({ family: AF_INET, src: i, dst: 2, proto: 17, sport: 5, dport: 6 }) }, n: i });
  for (let i = 0; i < 10; i++) idx.add(mk(i));
  const seen: number[] = [];
  for (const o of idx.values()) {
    seen.push(o.n);
    if (o.n === 2) idx.remove(idx.get(mk(5).data)!); // not visited any more
    if (o.n === 3) for (let i = 100; i < 200; i++) idx.add(mk(i)); // forces a rebuild
  }
  t.same(
    seen.filter((n) => n < 100),
    [0, 1, 2, 3, 4, 6, 7, 8, 9],
    'every entry present at the start is visited once, in order, except the one removed meanwhile',
  );
  t.equal(new Set(seen).size, seen.length, 'nothing is visited twice across the rebuild');
  t.equal(idx.size, 109);
  t.equal([...idx.values()].length, 109, 'a new walk sees the additions');
  idx.clear();
  t.equal(idx.size, 0);
  t.same([...idx.values()], []);
});

t.test('expectation keys: hash and comparison agree with expectationKey()', async (t) => {
  const r = prng(7);
  const exps: Expectation[] = [];
  for (let i = 0; i < 400; i++) {
    const m = randomFlow(r);
    const x = randomFlow(r);
    exps.push({ master: m.orig, tuple: x.orig, mask: x.orig, ...(m.zone === undefined ? {} : { zone: m.zone }) } as Expectation);
  }
  let disagreements = 0;
  for (let i = 0; i < exps.length; i++) {
    for (let j = i; j < Math.min(exps.length, i + 40); j++) {
      const a = exps[i]!;
      const b = exps[j]!;
      const same = expectationKey(a) === expectationKey(b);
      if (same !== sameExpectationKey(a, b)) disagreements++;
      if (same && expectationHash(a) !== expectationHash(b)) disagreements++;
    }
  }
  t.equal(disagreements, 0);
});

t.test('flow hash spreads: 100k sequential IPv4 flows fill most buckets', async (t) => {
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) {
    const f: Flow = { orig: makeTuple({ family: AF_INET, src: 0x0a000000 + (i >> 8), dst: 0x0a640001, proto: 6, sport: 1024 + (i & 255), dport: 80 }) };
    seen.add(flowHash(f) & (262_144 - 1));
  }
  // a uniform hash puts 100k keys in ≈84k of 256k buckets
  t.ok(seen.size > 80_000, `${seen.size} distinct buckets of 262144`);
});
