/**
 * Cache keys (src/flow/key.ts): zone + original tuple, compact (issue 8 memory), and still one
 * key per distinct tuple: every field that is part of the key changes it, the reply/status do
 * not, IPv4 and IPv6 keys never collide, expectation keys are unambiguous.
 */
import t from 'tap';
import { externalCtCache } from '../../src/cache/cache';
import { AF_INET, AF_INET6, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, invertTuple, makeTuple, type Tuple } from '../../src/flow/flow';
import { expectationKey, flowKey, tupleKey } from '../../src/flow/key';

const v4 = (over: Partial<Tuple> = {}): Tuple =>
  makeTuple({ family: AF_INET, src: parseAddr('10.0.0.1'), dst: parseAddr('192.168.255.254'), proto: IPPROTO.TCP, sport: 40000, dport: 443, ...over });
const v6 = (over: Partial<Tuple> = {}): Tuple =>
  makeTuple({ family: AF_INET6, src: parseAddr('2001:db8::1'), dst: parseAddr('2001:db8::ffff:1'), proto: IPPROTO.TCP, sport: 40000, dport: 443, ...over });

t.test('equal tuples give equal keys; the reply, status and timeout are not part of it', async (t) => {
  const a: Flow = { orig: v4(), reply: invertTuple(v4()), status: 14, timeout: 10 };
  const b: Flow = { orig: v4(), status: 0, timeout: 999, mark: 5 };
  t.equal(flowKey(a), flowKey(b));
  t.equal(flowKey({ orig: v6() }), flowKey({ orig: v6(), reply: invertTuple(v6()) }));
});

t.test('every key field changes the key (IPv4 and IPv6)', async (t) => {
  for (const mk of [v4, v6]) {
    const base = flowKey({ orig: mk() });
    const variants: [string, Flow][] = [
      ['zone', { orig: mk(), zone: 1 }],
      ['proto', { orig: mk({ proto: IPPROTO.UDP }) }],
      ['sport', { orig: mk({ sport: 40001 }) }],
      ['dport', { orig: mk({ dport: 444 }) }],
      ['src', { orig: mk({ src: mk === v4 ? parseAddr('10.0.0.2') : parseAddr('2001:db8::2') }) }],
      ['dst', { orig: mk({ dst: mk === v4 ? parseAddr('192.168.255.253') : parseAddr('2001:db8::ffff:2') }) }],
      ['src/dst swapped', { orig: mk({ src: mk().dst, dst: mk().src }) }],
      ['icmp type', { orig: mk({ proto: IPPROTO.ICMP, sport: 0, dport: 0, icmpType: 8 }) }],
    ];
    const seen = new Set([base]);
    for (const [what, f] of variants) {
      const k = flowKey(f);
      t.not(k, base, `${what} (family ${mk().family})`);
      seen.add(k);
    }
    t.equal(seen.size, variants.length + 1, 'all distinct');
    // ICMP id/code and high address halves are separate units
    t.not(flowKey({ orig: mk({ proto: IPPROTO.ICMP, icmpId: 1 }) }), flowKey({ orig: mk({ proto: IPPROTO.ICMP, icmpCode: 1 }) }));
  }
  t.not(flowKey({ orig: v4({ src: 0x0a000001 }) }), flowKey({ orig: v4({ src: 0x0a010000 }) }), 'both address halves count');
  t.not(flowKey({ orig: v4({ src: 0xffff0000 }) }), flowKey({ orig: v4({ src: 0x0000ffff }) }));
});

t.test('compact: an IPv4 key is one short string, an IPv6 key shares the address strings', async (t) => {
  t.equal(flowKey({ orig: v4() }).length, 12, 'zone + 11 units');
  t.equal(tupleKey(v4()).length, 11);
  t.equal(flowKey({ orig: v6() }).length, 8 + 32);
  t.equal(tupleKey(v6()).length, 7 + 32);
  t.not(tupleKey(v4()), tupleKey(v6()));
});

t.test('expectation keys: zone + master + tuple, unambiguous across families', async (t) => {
  const mask = v4();
  const e1 = { master: v4(), tuple: v6(), mask };
  const e2 = { master: v6(), tuple: v4(), mask };
  t.not(expectationKey(e1), expectationKey(e2));
  t.not(expectationKey({ ...e1, zone: 3 }), expectationKey(e1));
  t.equal(expectationKey({ master: v4(), tuple: v6(), mask: v6() }), expectationKey(e1), 'the mask is not part of the key');
});

t.test('a cache holds 5000 distinct IPv4 flows under 5000 distinct keys', async (t) => {
  const c = externalCtCache(0);
  for (let i = 0; i < 5000; i++) c.apply('new', { orig: v4({ src: (0x0a000000 + i * 65537) >>> 0, sport: i & 0xffff }) }, 1);
  t.equal(c.size, 5000);
  t.equal(c.stats.replaced, 0);
});
