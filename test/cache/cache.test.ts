import t from 'tap';
import { externalCtCache, externalExpCache, internalCtCache } from '../../src/cache/cache';
import { mergeFlow } from '../../src/cache/merge';
import { ObjStatus } from '../../src/cache/object';
import { LinkedQueue } from '../../src/sync/queue';
import { ftpExp, tcpFlow } from '../sync/fixtures/flows';

t.test('internal cache: NEW / UPDATE / DESTROY semantics (spec §5.1)', async (t) => {
  const c = internalCtCache(0);
  const a = c.apply('new', tcpFlow(1), false, 10);
  t.ok(a, 'NEW is queued');
  t.equal(a?.status, ObjStatus.NEW);
  t.equal(c.find(tcpFlow(1, { mark: 77, timeout: 5 })), a, 'keyed by zone + orig tuple (other fields do not matter)');
  t.equal(a?.created, 10);

  const u = c.apply('update', tcpFlow(1, { timeout: 120, tcp: { wscaleOrig: 7 }, mark: undefined }), false, 20);
  t.equal(u, a, 'UPDATE merges into the same object');
  t.equal(u?.status, ObjStatus.ALIVE);
  t.equal(u?.data.timeout, 120, 'present attribute overwrites');
  t.equal(u?.data.tcp?.state, 3, 'nested tcp info merged field-wise: state kept');
  t.equal(u?.data.tcp?.wscaleOrig, 7, 'nested tcp info merged field-wise: wscale added');
  t.equal(u?.lastUpdate, 20);

  const d = c.apply('destroy', tcpFlow(1), false, 30);
  t.equal(d, a, 'DESTROY returns the object to queue as DEL');
  t.equal(d?.status, ObjStatus.DEAD);
  t.equal(c.size, 1, 'DEAD object kept until released');
  t.equal(c.stats.active, 0);
  t.equal(c.apply('destroy', tcpFlow(1), false, 31), null, 'second destroy: nothing to send');
  t.equal(c.stats.deleteMissing, 1);

  // NEW over a DEAD object replaces it; the old one is detached
  const n2 = c.apply('new', tcpFlow(1), false, 40);
  t.not(n2, a);
  t.equal(a?.inCache, false, 'old dead object detached');
  t.equal(c.find(tcpFlow(1)), n2);
  t.equal(c.stats.replaced, 1);

  // UPDATE of a DEAD object creates anew with status NEW
  c.apply('destroy', tcpFlow(1), false, 50);
  const n3 = c.apply('update', tcpFlow(1), false, 60);
  t.not(n3, n2);
  t.equal(n3?.status, ObjStatus.NEW);
  t.equal(c.stats.updateMissing, 1);
});

t.test('internal cache: NEW replaces a live queued object, old one goes out DEAD', async (t) => {
  const c = internalCtCache(0);
  const q = new LinkedQueue<ReturnType<typeof c.apply> & object>('tx');
  const a = c.apply('new', tcpFlow(2), false, 0)!;
  q.push(a);
  const b = c.apply('new', tcpFlow(2, { mark: 5 }), false, 1)!;
  t.equal(a.status, ObjStatus.DEAD, 'replaced object is DEAD (it will be sent as DEL first)');
  t.ok(q.has(a), 'still queued');
  t.equal(c.find(tcpFlow(2)), b);
  t.equal(c.stats.active, 1);
});

t.test('internal cache: release of DEAD objects only when unqueued', async (t) => {
  const c = internalCtCache(0);
  const q = new LinkedQueue<NonNullable<ReturnType<typeof c.apply>>>('rs');
  const a = c.apply('new', tcpFlow(3), false, 0)!;
  c.apply('destroy', tcpFlow(3), false, 1);
  q.push(a);
  c.release(a);
  t.equal(c.size, 1, 'queued DEAD object not released');
  q.remove(a);
  c.release(a);
  t.equal(c.size, 0, 'released after leaving its queue');
  t.equal(c.stats.released, 1);
  const live = c.apply('new', tcpFlow(4), false, 0)!;
  c.release(live);
  t.equal(c.size, 1, 'live objects are never released');
});

t.test('internal cache: self-caused events update but are not queued', async (t) => {
  const c = internalCtCache(0);
  t.equal(c.apply('new', tcpFlow(5), true, 0), null);
  t.equal(c.size, 1, 'applied');
  t.equal(c.apply('update', tcpFlow(5, { mark: 9 }), true, 1), null);
  t.equal(c.find(tcpFlow(5))?.data.mark, 9);
  t.equal(c.apply('destroy', tcpFlow(5), true, 2), null);
  t.equal(c.size, 0, 'self-caused destroy of an unqueued object removes it at once');
  t.equal(c.stats.selfCaused, 3);
});

t.test('size limit: refusals counted', async (t) => {
  const c = internalCtCache(3);
  for (let i = 0; i < 5; i++) c.apply('new', tcpFlow(100 + i), false, 0);
  t.equal(c.size, 3);
  t.equal(c.stats.refusedFull, 2);
  t.ok(c.apply('new', tcpFlow(100), false, 1), 'replacing an existing key is allowed at the limit');
  t.ok(c.apply('update', tcpFlow(101), false, 1), 'updating is allowed at the limit');
});

t.test('external cache: NEW replaces, UPD merges or creates, DEL removes (spec §5.2)', async (t) => {
  const c = externalCtCache(0);
  const a = c.apply('new', tcpFlow(1, { mark: 1 }), 0)!;
  const b = c.apply('new', tcpFlow(1), 5)!;
  t.not(a, b, 'NEW replaces');
  t.equal(b.data.mark, undefined, 'replaced object has no leftovers');
  t.equal(b.created, 5, 'timestamps reset');
  c.apply('update', tcpFlow(1, { mark: 2 }), 6);
  t.equal(c.find(tcpFlow(1))?.data.mark, 2);
  const created = c.apply('update', tcpFlow(2), 7)!;
  t.equal(created.status, ObjStatus.NEW, 'UPD of unknown creates');
  c.apply('destroy', tcpFlow(1), 8);
  t.equal(c.find(tcpFlow(1)), undefined, 'DEL removes immediately');
  t.equal(c.size, 1);
  t.equal(c.apply('destroy', tcpFlow(9), 9), null);
  t.equal(c.stats.deleteMissing, 1);
});

t.test('external expectation UPD replaces the whole object', async (t) => {
  const c = externalExpCache(0);
  const m = tcpFlow(1);
  c.apply('new', { ...ftpExp(m), class: 1, flags: 2 }, 0);
  const e = c.apply('update', ftpExp(m), 1)!;
  t.equal(e.data.class, undefined, 'absent attribute not kept');
  t.equal(e.data.flags, undefined);
});

t.test('external cache expiry (ALARM CacheTimeout)', async (t) => {
  const c = externalCtCache(0, 1000);
  c.apply('new', tcpFlow(1), 0);
  c.apply('new', tcpFlow(2), 100);
  c.apply('update', tcpFlow(1), 500); // moves to the tail
  t.equal(c.nextExpiryAt(), 1100);
  t.equal(c.expire(1099), 0);
  t.equal(c.expire(1100), 1);
  t.equal(c.size, 1);
  t.ok(c.find(tcpFlow(1)), 'refreshed entry survives');
  t.equal(c.expire(1500), 1);
  t.equal(c.size, 0);
  t.equal(c.stats.expired, 2);
  t.equal(c.nextExpiryAt(), undefined);
});

t.test('mergeFlow: table of attribute merges', async (t) => {
  const rows: [string, object, object, (f: ReturnType<typeof mergeFlow>) => unknown, unknown][] = [
    ['status overwrite', { status: 1 }, { status: 2 }, (f) => f.status, 2],
    ['absent keeps', { mark: 7 }, {}, (f) => f.mark, 7],
    ['sctp field-wise', { sctp: { state: 1, vtagOrig: 5 } }, { sctp: { state: 3 } }, (f) => [f.sctp?.state, f.sctp?.vtagOrig], [3, 5]],
    ['dccp created', {}, { dccp: { role: 1 } }, (f) => f.dccp?.role, 1],
    ['nat field-wise', { nat: { snatAddr: 1 } }, { nat: { dnatAddr: 2 } }, (f) => [f.nat?.snatAddr, f.nat?.dnatAddr], [1, 2]],
    ['helper overwrite', { helper: 'ftp' }, { helper: 'sip' }, (f) => f.helper, 'sip'],
  ];
  for (const [name, a, b, get, want] of rows) {
    const merged = mergeFlow(tcpFlow(1, a), tcpFlow(1, { ...b, tcp: undefined, status: (b as { status?: number }).status, timeout: undefined }));
    t.same(get(merged), want, name);
  }
});
