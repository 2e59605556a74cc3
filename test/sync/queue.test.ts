import t from 'tap';
import { LinkedQueue, type QNode } from '../../src/sync/queue';

type Item = QNode & { id: number };
const item = (id: number): Item => ({ qPrev: null, qNext: null, qOwner: null, id });

t.test('FIFO, remove from the middle, move between queues', async (t) => {
  const a = new LinkedQueue<Item>('a');
  const b = new LinkedQueue<Item>('b');
  const xs = [1, 2, 3, 4].map(item);
  for (const x of xs) a.push(x);
  t.same([...a].map((x) => x.id), [1, 2, 3, 4]);
  t.ok(a.remove(xs[1]!));
  t.notOk(a.remove(xs[1]!), 'not in the queue any more');
  t.same([...a].map((x) => x.id), [1, 3, 4]);
  b.push(xs[2]!); // moves
  t.equal(a.length, 2);
  t.equal(b.length, 1);
  t.ok(b.has(xs[2]!));
  t.notOk(a.has(xs[2]!));
  a.push(xs[0]!); // re-push in the same queue moves it to the tail
  t.same([...a].map((x) => x.id), [4, 1]);
  t.equal(a.shift()?.id, 4);
  t.equal(a.head?.id, 1);
  t.equal(a.tail?.id, 1);
  const seen: number[] = [];
  a.clear((x) => seen.push(x.id));
  t.same(seen, [1]);
  t.equal(a.length, 0);
  t.equal(xs[0]!.qOwner, null);
  t.equal(a.shift(), null);
});

t.test('iteration tolerates removal of the current item', async (t) => {
  const q = new LinkedQueue<Item>('q');
  for (let i = 0; i < 10; i++) q.push(item(i));
  for (const x of q) if (x.id % 2 === 0) q.remove(x);
  t.same([...q].map((x) => x.id), [1, 3, 5, 7, 9]);
});

t.test('O(1) operations: 1M moves stay fast', async (t) => {
  const a = new LinkedQueue<Item>('a');
  const b = new LinkedQueue<Item>('b');
  const xs = Array.from({ length: 100_000 }, (_, i) => item(i));
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < 10; r++) for (const x of xs) (r % 2 ? a : b).push(x);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  t.equal(a.length + b.length, 100_000);
  t.ok(ms < 2000, `1M pushes/moves in ${ms.toFixed(0)} ms`);
});
