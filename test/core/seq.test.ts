import t from 'tap';
import { seqAdd, seqAfter, seqBefore } from '../../src/core/seq';

t.test('wrap-around comparisons', async (t) => {
  t.ok(seqBefore(1, 2));
  t.notOk(seqBefore(2, 1));
  t.ok(seqBefore(0xffffffff, 0), 'max is before 0 after wrap');
  t.ok(seqAfter(0, 0xffffffff));
  t.equal(seqAdd(0xffffffff, 2), 1);
});
