/**
 * commitFlows against an in-memory CommitTarget (no kernel): masters before related (spec §5.3),
 * EEXIST → delete + create once, failures by reason, never throws, yields between chunks,
 * timeoutOf applied.
 */
import t from 'tap';
import { type CommitFailReason, type CommitTarget, commitFlows } from '../../src/commit/commit';
import { AF_INET } from '../../src/flow/address';
import { type Flow, IPPROTO, makeTuple } from '../../src/flow/flow';

const EEXIST = 17;
const ENOENT = 2;
const ENOMEM = 12;
const EINVAL = 22;

function flow(i: number, master?: number): Flow {
  const f: Flow = { orig: makeTuple({ family: AF_INET, src: 0x0a000001, dst: 0x0a000002, proto: IPPROTO.TCP, sport: i, dport: 80 }), timeout: 100 };
  if (master !== undefined) f.master = makeTuple({ family: AF_INET, src: 0x0a000001, dst: 0x0a000002, proto: IPPROTO.TCP, sport: master, dport: 21 });
  return f;
}

/** A toy kernel table: related entries need their master present; capacity limited. */
class FakeTable implements CommitTarget {
  readonly table = new Map<number, Flow>();
  readonly log: string[] = [];
  capacity = Number.POSITIVE_INFINITY;
  /** sport → errno the next create of it returns once */
  readonly failOnce = new Map<number, number>();
  createBatch(flows: readonly Flow[], opts?: { timeouts?: ArrayLike<number> }) {
    const errnos = new Int32Array(flows.length);
    flows.forEach((f0, i) => {
      // a timeout override is sent instead of the flow's own (as the kernel client encodes it)
      const t = opts?.timeouts?.[i] ?? -1;
      const f = t >= 0 ? { ...f0, timeout: t } : f0;
      const k = f.orig.sport;
      this.log.push(`c${k}`);
      const forced = this.failOnce.get(k);
      if (forced !== undefined) {
        this.failOnce.delete(k);
        errnos[i] = forced;
      } else if (this.table.has(k)) errnos[i] = EEXIST;
      else if (f.master && !this.table.has(f.master.sport)) errnos[i] = ENOENT;
      else if (this.table.size >= this.capacity) errnos[i] = ENOMEM;
      else this.table.set(k, f);
    });
    return { errnos };
  }
  deleteBatch(flows: readonly Flow[]) {
    const errnos = new Int32Array(flows.length);
    flows.forEach((f, i) => {
      this.log.push(`d${f.orig.sport}`);
      if (!this.table.delete(f.orig.sport)) errnos[i] = ENOENT;
    });
    return { errnos };
  }
  classifyErrno(errno: number): CommitFailReason {
    if (errno === EEXIST) return 'exists';
    if (errno === ENOENT) return 'notFound';
    if (errno === ENOMEM) return this.table.size >= this.capacity ? 'tableFull' : 'nomem';
    return 'other';
  }
}

const now = () => Number(process.hrtime.bigint() / 1000000n);

t.test('masters are created before related flows, even when listed after them', async (t) => {
  const k = new FakeTable();
  const input = [flow(2001, 1), flow(1), flow(2002, 3), flow(3), flow(4)];
  const r = await commitFlows(k, input, { beLiberal: true, now, chunk: 2 });
  t.same(k.log, ['c1', 'c3', 'c4', 'c2001', 'c2002']);
  t.match(r, { attempted: 5, committed: 5, failed: 0 });
});

t.test('EEXIST: delete and create once; failures counted by reason; never throws', async (t) => {
  const k = new FakeTable();
  k.table.set(10, flow(10));
  k.table.set(11, flow(11));
  k.failOnce.set(12, EINVAL);
  k.capacity = 5; // 2 present + 3 more
  const input = [10, 11, 12, 13, 14, 15, 16, 17].map((i) => flow(i));
  const r = await commitFlows(k, input, { beLiberal: false, now });
  t.equal(r.attempted, 8);
  t.equal(r.replaced, 2, '10 and 11 replaced');
  t.equal(r.committed, 5, '13, 14, 15 + the 2 replaced');
  t.equal(r.failedByReason.other, 1, 'EINVAL');
  t.same(r.otherErrnos, { [EINVAL]: 1 });
  t.equal(r.failedByReason.tableFull, 2, '16, 17 hit the capacity');
  t.equal(r.failed, 3);
  t.ok(k.log.indexOf('d10') > k.log.indexOf('c10'), 'delete after the failed create');
  t.equal(k.log.filter((l) => l === 'c10').length, 2, 'created at most twice');
});

t.test('a replace whose second create fails is counted once, by its reason', async (t) => {
  const k = new FakeTable();
  k.table.set(1, flow(1));
  const orig = k.createBatch.bind(k);
  let calls = 0;
  k.createBatch = (fs) => {
    calls++;
    if (calls === 2) return { errnos: new Int32Array(fs.length).fill(EEXIST) }; // re-created by someone else
    return orig(fs);
  };
  const r = await commitFlows(k, [flow(1)], { beLiberal: true, now });
  t.match(r, { attempted: 1, committed: 0, failed: 1, failedByReason: { exists: 1 } });
});

t.test('chunks yield to the event loop; timeoutOf is applied', async (t) => {
  const k = new FakeTable();
  let ticks = 0;
  const iv = setInterval(() => ticks++, 0);
  const input = Array.from({ length: 10000 }, (_, i) => flow(i));
  let progressCalls = 0;
  const slowTarget: CommitTarget = {
    createBatch: (fs, o) => {
      const end = now() + 3; // ≈3 ms of kernel work per chunk
      while (now() < end) {
        // busy
      }
      return k.createBatch(fs, o);
    },
    deleteBatch: (fs) => k.deleteBatch(fs),
    classifyErrno: (e) => k.classifyErrno(e),
  };
  const r = await commitFlows(slowTarget, input, {
    beLiberal: true,
    now,
    chunk: 1000,
    timeoutOf: (f) => (f.orig.sport % 2 === 0 ? 42 : undefined),
    onProgress: () => progressCalls++,
  });
  clearInterval(iv);
  t.equal(r.committed, 10000);
  t.equal(progressCalls, 10);
  t.ok(ticks >= 5, `timers ran between chunks (${ticks} ticks)`);
  // no timed assertion (a loaded CI machine stretches any slice); the yields are checked above
  t.ok(r.maxStallMs > 0, `longest stall measured (${r.maxStallMs} ms)`);
  t.equal(k.table.get(2)!.timeout, 42);
  t.equal(k.table.get(3)!.timeout, 100, 'undefined keeps the flow timeout');
  t.equal(input[2]!.timeout, 100, 'input flows are not mutated');
});

t.test('adaptive chunks keep each slice near sliceMs', async (t) => {
  const k = new FakeTable();
  const sizes: number[] = [];
  const perEntryMs = 0.02; // 1024 entries = 20 ms
  const slow: CommitTarget = {
    createBatch: (fs) => {
      sizes.push(fs.length);
      const end = now() + fs.length * perEntryMs;
      while (now() < end) {
        // simulated kernel work, proportional to the batch
      }
      return k.createBatch(fs);
    },
    deleteBatch: (fs) => k.deleteBatch(fs),
    classifyErrno: (e) => k.classifyErrno(e),
  };
  const input = Array.from({ length: 20000 }, (_, i) => flow(i));
  const r = await commitFlows(slow, input, { beLiberal: true, now, sliceMs: 8 });
  t.equal(r.committed, 20000);
  t.equal(sizes[0], 1024, 'starts with one kernel batch');
  t.ok(sizes.slice(2, -1).every((n) => n <= 512), `then shrinks to fit 8 ms slices (${[...new Set(sizes)].join(',')})`);
  t.ok(sizes.every((n) => n % 256 === 0 || n === sizes[sizes.length - 1]), 'whole 256-entry steps');
});

t.test('a throwing target fails that chunk only; commit resolves', async (t) => {
  const k = new FakeTable();
  let calls = 0;
  const flaky: CommitTarget = {
    createBatch: (fs) => {
      calls++;
      if (calls === 2) throw Object.assign(new Error('sendmsg: EMSGSIZE'), { errno: 90 });
      return k.createBatch(fs);
    },
    deleteBatch: (fs) => k.deleteBatch(fs),
    classifyErrno: (e) => k.classifyErrno(e),
  };
  const r = await commitFlows(flaky, Array.from({ length: 30 }, (_, i) => flow(i)), { beLiberal: true, now, chunk: 10 });
  t.match(r, { attempted: 30, committed: 20, failed: 10, failedByReason: { other: 10 }, otherErrnos: { 90: 10 } });
});

/**
 * The same toy table behind createBatchAsync/deleteBatchAsync that complete on a later turn of
 * the event loop (like the client's threadpool sends): commitFlows then pipelines.
 */
class AsyncTable extends FakeTable {
  inflight = 0;
  maxInflight = 0;
  private later<T>(f: () => T): Promise<T> {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    return new Promise((res) =>
      setImmediate(() => {
        this.inflight--;
        res(f());
      }),
    );
  }
  createBatchAsync(flows: readonly Flow[], opts?: { timeouts?: ArrayLike<number> }) {
    return this.later(() => this.createBatch(flows, opts));
  }
  deleteBatchAsync(flows: readonly Flow[]) {
    return this.later(() => this.deleteBatch(flows));
  }
}

t.test('pipelined: masters strictly before related, one chunk in the kernel at a time', async (t) => {
  const k = new AsyncTable();
  const input = [flow(2001, 1), flow(1), flow(2002, 3), flow(3), flow(4), flow(5), flow(2003, 5)];
  const r = await commitFlows(k, input, { beLiberal: true, now, chunk: 2 });
  t.same(k.log, ['c1', 'c3', 'c4', 'c5', 'c2001', 'c2002', 'c2003']);
  t.match(r, { attempted: 7, committed: 7, failed: 0, pipelined: true });
  t.equal(k.maxInflight, 1, 'chunks do not overlap in the kernel');
});

t.test('pipelined: EEXIST replace and failures by reason across several chunks', async (t) => {
  const k = new AsyncTable();
  for (const i of [10, 11, 17, 21]) k.table.set(i, flow(i));
  k.failOnce.set(12, EINVAL);
  k.failOnce.set(19, ENOMEM); // not full: nomem
  const input: Flow[] = [];
  for (let i = 10; i < 30; i++) input.push(flow(i));
  const timeouts = new Map<number, number>();
  const r = await commitFlows(k, input, { beLiberal: false, now, chunk: 3, timeoutOf: (f) => (f.orig.sport % 2 ? 33 : undefined) });
  for (const [sport, f] of k.table) timeouts.set(sport, f.timeout!);
  t.equal(r.attempted, 20);
  t.equal(r.replaced, 4, '10, 11, 17, 21 replaced');
  t.equal(r.failed, 2);
  t.same(r.failedByReason, { exists: 0, notFound: 0, nomem: 1, tableFull: 0, lost: 0, other: 1 });
  t.equal(r.committed, 18);
  t.equal(k.table.size, 18, 'all 20 but the 2 refused (the 4 replaced ones included)');
  t.notOk(k.table.has(12));
  t.notOk(k.table.has(19));
  t.equal(timeouts.get(17), 33, 'a replaced entry gets its timeout override');
  t.equal(timeouts.get(10), 100, 'no override keeps the flow timeout');
  t.ok(k.log.indexOf('d17') > k.log.indexOf('c17') && k.log.lastIndexOf('c17') > k.log.indexOf('d17'), 'create, delete, create');
});

t.test('pipelined: a lost answer (ENOBUFS) and a rejected call are counted, never thrown', async (t) => {
  const k = new AsyncTable();
  k.failOnce.set(2, 105);
  const orig = k.createBatchAsync.bind(k);
  let calls = 0;
  k.createBatchAsync = (fs, o) => {
    calls++;
    if (calls === 2) return Promise.reject(Object.assign(new Error('closed'), { errno: 9 }));
    return orig(fs, o);
  };
  const r = await commitFlows(k, [1, 2, 3, 4, 5, 6].map((i) => flow(i)), { beLiberal: true, now, chunk: 2 });
  t.match(r, { attempted: 6, committed: 3, failed: 3, failedByReason: { lost: 0, other: 3 } });
  t.same(r.otherErrnos, { 105: 1, 9: 2 }, 'ENOBUFS (classified by the target) and the rejected chunk');
});

t.test('pipelined: a chunk in the kernel completes while the next one is still being collected', async (t) => {
  const k = new AsyncTable();
  let completions = 0;
  const orig = k.createBatchAsync.bind(k);
  k.createBatchAsync = (fs, o) =>
    orig(fs, o).then((r) => {
      completions++;
      return r;
    });
  let seenAtEndOfSecondChunk = -1;
  function* flows(): Generator<Flow> {
    for (let i = 0; i < 12288; i++) {
      if (i === 8191) seenAtEndOfSecondChunk = completions;
      yield flow(i);
    }
  }
  const r = await commitFlows(k, flows(), { beLiberal: true, now, chunk: 4096 });
  t.match(r, { attempted: 12288, committed: 12288, failed: 0 });
  t.ok(seenAtEndOfSecondChunk >= 1, `the first chunk was answered during the collection of the second (${seenAtEndOfSecondChunk})`);
  t.equal(k.maxInflight, 1);
});
