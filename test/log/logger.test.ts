import t from 'tap';
import { createLogger, formatReadable, RateGate } from '../../src/log/logger';

function sink(isTTY = false) {
  const lines: string[] = [];
  return { lines, isTTY, write: (s: string) => lines.push(s) };
}

t.test('JSON lines by default, level filter, bindings', async (t) => {
  const d = sink();
  const log = createLogger({ level: 'info', destination: d, base: { node: 'fw-a' } });
  log.debug('hidden');
  log.info({ peer: '10.0.0.2' }, 'hello');
  log.child({ area: 'channel' }).warn('child line');
  t.equal(d.lines.length, 2);
  const rec = JSON.parse(d.lines[0]!);
  t.equal(rec.msg, 'hello');
  t.equal(rec.level, 30);
  t.equal(rec.node, 'fw-a');
  t.equal(rec.peer, '10.0.0.2');
  t.equal(JSON.parse(d.lines[1]!).area, 'channel');
});

t.test('readable output on a TTY', async (t) => {
  const d = sink(true);
  const log = createLogger({ destination: d });
  log.warn({ code: 'ENOBUFS', note: 'a b' }, 'send failed');
  t.match(d.lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}send failed code=ENOBUFS note="a b"\n$/);
  t.equal(formatReadable('not json'), 'not json\n');
  t.match(formatReadable(JSON.stringify({ level: 50, time: 0, msg: 'x', err: { message: 'boom', stack: 's' } })), /ERROR x err="boom"/);
});

t.test('rateLimited: once per key and interval, shared by children, reports suppressed', async (t) => {
  let now = 0;
  const d = sink();
  const log = createLogger({ destination: d, now: () => now });
  for (let i = 0; i < 1000; i++) log.rateLimited('send-err', 5000)?.warn('send failed');
  log.child({ c: 1 }).rateLimited('send-err', 5000)?.warn('from child');
  t.equal(d.lines.length, 1, 'one line for 1001 calls');
  now = 5000;
  log.rateLimited('send-err', 5000)?.warn('again');
  t.equal(d.lines.length, 2);
  t.equal(JSON.parse(d.lines[1]!).suppressed, 1000);
  log.rateLimited('other', 5000)?.warn('different key');
  t.equal(d.lines.length, 3);
});

t.test('RateGate', async (t) => {
  let now = 100;
  const g = new RateGate(() => now);
  t.equal(g.pass('k', 10), 0);
  t.equal(g.pass('k', 10), -1);
  now = 110;
  t.equal(g.pass('k', 10), 1);
});
