/**
 * Per-entry memory measures (issue 8): cache timestamps are whole milliseconds (no boxed
 * doubles), all-zero synproxy info decoded from the kernel or from a peer is one shared frozen
 * object, and the commit's timeout override reaches the wire without copying the flow.
 */
import t from 'tap';
import { externalCtCache, internalCtCache } from '../../src/cache/cache';
import { decodeConntrack, encodeConntrack } from '../../src/ctnetlink/codec';
import { AF_INET, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, invertTuple, makeTuple } from '../../src/flow/flow';
import { forEachNlMsg, NlBuilder, type NlMsg, nfAttrOff, readNfgenFamily } from '../../src/netlink/message';
import { DEFAULT_WIRE_OPTIONS, ctMessageLength, decodeCtBody, encodeCt } from '../../src/sync/wire/ct';

function flow(i: number, synproxy?: Flow['synproxy']): Flow {
  const orig = makeTuple({ family: AF_INET, src: parseAddr('10.1.0.1') as number, dst: parseAddr('10.2.0.1'), proto: IPPROTO.TCP, sport: 1000 + i, dport: 80 });
  const f: Flow = { orig, reply: invertTuple(orig), status: 14, timeout: 300, tcp: { state: 3 } };
  if (synproxy) f.synproxy = synproxy;
  return f;
}

function roundTrip(f: Flow, opts: { timeout?: number } = {}): Flow {
  const b = new NlBuilder(256);
  encodeConntrack(b, f, 'create', 1, { ack: false, ...opts });
  const msgs: NlMsg[] = [];
  forEachNlMsg(b.bytes(), 0, b.length, (m) => msgs.push(m));
  const m = msgs[0]!;
  return decodeConntrack(m.buf, nfAttrOff(m), m.end, readNfgenFamily(m));
}

t.test('cache timestamps are whole milliseconds of the (fractional) clock', async (t) => {
  const c = internalCtCache(0);
  const o = c.apply('new', flow(1), false, 1234.75)!;
  t.equal(o.created, 1234);
  t.equal(o.lastUpdate, 1234);
  c.apply('update', flow(1), false, 2000.5);
  t.equal(o.lastUpdate, 2000);
  c.apply('destroy', flow(1), false, 2500.9);
  t.equal(o.lastUpdate, 2500);
  const e = externalCtCache(0).apply('new', flow(2), 99.99)!;
  t.ok(Number.isInteger(e.created) && Number.isInteger(e.lastUpdate));
});

t.test('all-zero synproxy is shared and frozen; non-zero values are kept', async (t) => {
  const a = roundTrip(flow(1, { isn: 0, its: 0, tsoff: 0 }));
  const b = roundTrip(flow(2, { isn: 0, its: 0, tsoff: 0 }));
  t.same(a.synproxy, { isn: 0, its: 0, tsoff: 0 });
  t.equal(a.synproxy, b.synproxy, 'ctnetlink decode: one shared object');
  t.ok(Object.isFrozen(a.synproxy));
  t.same(roundTrip(flow(3, { isn: 7, its: 8, tsoff: 9 })).synproxy, { isn: 7, its: 8, tsoff: 9 });

  const buf = Buffer.alloc(512);
  const wire = (f: Flow) => {
    const len = encodeCt(buf, 0, 0, 0, 1, f, DEFAULT_WIRE_OPTIONS);
    t.equal(len, ctMessageLength(f, DEFAULT_WIRE_OPTIONS));
    return decodeCtBody(buf, 8, len, DEFAULT_WIRE_OPTIONS);
  };
  const w1 = wire(a);
  const w2 = wire(b);
  t.same(w1.synproxy, { isn: 0, its: 0, tsoff: 0 }, 'still sent and received on the wire');
  t.equal(w1.synproxy, w2.synproxy, 'wire decode: one shared object');
  t.same(wire(flow(4, { isn: 1, its: 2, tsoff: 3 })).synproxy, { isn: 1, its: 2, tsoff: 3 });
});

t.test('create: EncodeOpts.timeout replaces flow.timeout without touching the flow', async (t) => {
  const f = flow(5);
  t.equal(roundTrip(f, { timeout: 42 }).timeout, 42);
  t.equal(roundTrip(f).timeout, 300);
  t.equal(f.timeout, 300, 'input not mutated');
});
