/** Authenticated envelope: seal/open, every drop reason, replay window, rotation, key files. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ENVELOPE_OVERHEAD, Envelope, loadKeyFile, REPLAY_WINDOW, seedCounter } from '../../src/sync/envelope';

const K1 = { id: 1, key: Buffer.alloc(32, 0x11) };
const K2 = { id: 2, key: Buffer.alloc(32, 0x22) };
const payload = Buffer.from('1a3000086b0d6358', 'hex');

t.test('seal/open round trip, header layout', async (t) => {
  const a = new Envelope({ nodeId: 7, keys: [K1], counterStart: 100n });
  const b = new Envelope({ nodeId: 8, keys: [K1], peers: [7] });
  const d = a.seal(payload);
  t.equal(d.length, payload.length + ENVELOPE_OVERHEAD);
  t.equal(d.toString('hex', 0, 20), `ce5c000101000000${'00000007'}${'0000000000000064'}`);
  t.notOk(d.subarray(16).includes(payload), 'payload is encrypted');
  const o = b.open(d);
  t.same(o && { n: o.nodeId, p: o.payload.toString('hex') }, { n: 7, p: payload.toString('hex') });
  t.equal(a.nextCounter, 101n);
  t.equal(b.stats.opened, 1);
  t.equal(a.stats.sealed, 1);
});

t.test('drop reasons are counted before parsing', async (t) => {
  const a = new Envelope({ nodeId: 7, keys: [K1], counterStart: 1000n });
  const b = new Envelope({ nodeId: 8, keys: [K1], peers: [7] });
  const d = a.seal(payload);
  const expectDrop = (buf: Buffer, reason: keyof typeof b.stats) => {
    const before = b.stats[reason];
    t.equal(b.open(buf), null, `${reason}: dropped`);
    t.equal(b.stats[reason], before + 1, `${reason}: counted`);
  };
  expectDrop(d.subarray(0, 20), 'tooShort');
  expectDrop(Buffer.concat([payload, Buffer.alloc(32)]), 'badMagic');
  const v = Buffer.from(d);
  v[3] = 9;
  expectDrop(v, 'badVersion');
  const rsv = Buffer.from(d);
  rsv[6] = 1;
  expectDrop(rsv, 'badVersion');
  const k = Buffer.from(d);
  k[4] = 5;
  expectDrop(k, 'unknownKey');
  for (const pos of [8, 12, 19, 20, d.length - 1]) {
    const f = Buffer.from(d);
    f[pos]! ^= 1;
    // flipping the node id makes an unknown node (peer list); elsewhere authentication fails
    expectDrop(f, pos === 8 ? 'unknownNode' : 'authFailed');
  }
  const other = new Envelope({ nodeId: 9, keys: [K1] });
  expectDrop(other.seal(payload), 'unknownNode');
  const self = new Envelope({ nodeId: 8, keys: [K1] });
  expectDrop(self.seal(payload), 'ownNode');
  const wrongKey = new Envelope({ nodeId: 7, keys: [{ id: 1, key: Buffer.alloc(32, 0x33) }], counterStart: 5000n });
  expectDrop(wrongKey.seal(payload), 'authFailed');
  t.ok(b.open(d), 'the original still opens');
  expectDrop(d, 'replay');
  t.equal(
    b.stats.dropped,
    b.stats.tooShort + b.stats.badMagic + b.stats.badVersion + b.stats.unknownKey + b.stats.unknownNode + b.stats.ownNode + b.stats.authFailed + b.stats.replay + b.stats.tooOld,
    'dropped = sum of reasons',
  );
  // a forged datagram with a huge counter must not move the window
  const forged = Buffer.from(a.seal(payload));
  forged.writeBigUInt64BE(1n << 60n, 12);
  expectDrop(forged, 'authFailed');
  t.ok(b.open(a.seal(payload)), 'sender still accepted after a forged high counter');
});

t.test('replay window: out of order within 1024 accepted once, older dropped', async (t) => {
  const a = new Envelope({ nodeId: 1, keys: [K1], counterStart: 0n });
  const b = new Envelope({ nodeId: 2, keys: [K1] });
  const sealed: Buffer[] = [];
  for (let i = 0; i < REPLAY_WINDOW + 10; i++) sealed.push(a.seal(payload));
  t.ok(b.open(sealed[5]!));
  t.ok(b.open(sealed[3]!), 'older but unseen: accepted');
  t.equal(b.open(sealed[3]!), null, 'replay');
  t.ok(b.open(sealed[REPLAY_WINDOW + 9]!), 'jump ahead');
  t.equal(b.open(sealed[4]!), null, 'now outside the window');
  t.equal(b.stats.tooOld, 1);
  t.ok(b.open(sealed[REPLAY_WINDOW]!), 'inside the window, unseen');
  t.equal(b.open(sealed[REPLAY_WINDOW]!), null);
  t.equal(b.stats.replay, 2);
  // the bits of counters that slid out must be cleared: re-use of ring slots works
  for (let i = REPLAY_WINDOW + 10; i < 3 * REPLAY_WINDOW; i++) sealed.push(a.seal(payload));
  let ok = 0;
  for (let i = REPLAY_WINDOW + 10; i < 3 * REPLAY_WINDOW; i++) if (b.open(sealed[i]!)) ok++;
  t.equal(ok, 2 * REPLAY_WINDOW - 10, 'every fresh datagram accepted after the ring wrapped');
});

t.test('key rotation: send with the primary, accept either', async (t) => {
  const oldSender = new Envelope({ nodeId: 1, keys: [K1] });
  const newSender = new Envelope({ nodeId: 3, keys: [K2, K1] });
  const rx = new Envelope({ nodeId: 2, keys: [K2, K1] });
  t.ok(rx.open(oldSender.seal(payload)), 'old key accepted');
  const d = newSender.seal(payload);
  t.equal(d[4], 2, 'sealed with the primary key id');
  t.ok(rx.open(d), 'new key accepted');
  const rxOld = new Envelope({ nodeId: 2, keys: [K1] });
  t.equal(rxOld.open(newSender.seal(payload)), null, 'receiver without the new key drops');
  t.equal(rxOld.stats.unknownKey, 1);
  t.throws(() => new Envelope({ nodeId: 1, keys: [K1, { id: 1, key: K2.key }] }), /duplicate key id/);
  t.throws(() => new Envelope({ nodeId: 1, keys: [{ id: 1, key: Buffer.alloc(16) }] }), /16 bytes, need 32/);
  t.throws(() => new Envelope({ nodeId: 1, keys: [] }), /need 1 or 2 keys/);
  t.throws(() => new Envelope({ nodeId: 0, keys: [K1] }).seal(payload), /receive-only/);
});

t.test('restart: a new seed is above every counter of the previous run', async (t) => {
  const t0 = 1_790_000_000_000_000n; // µs
  const run1 = new Envelope({ nodeId: 1, keys: [K1], counterStart: seedCounter(t0) });
  const rx = new Envelope({ nodeId: 2, keys: [K1] });
  for (let i = 0; i < 5000; i++) rx.open(run1.seal(payload)); // 5000 datagrams within the same µs
  const run2 = new Envelope({ nodeId: 1, keys: [K1], counterStart: seedCounter(t0 + 2n) });
  t.ok(run2.nextCounter > run1.nextCounter, 'restart 2 µs later still starts above');
  t.ok(rx.open(run2.seal(payload)), 'restarted sender accepted, not a replay');
  t.ok(seedCounter() < 1n << 64n, 'fits u64 today');
  t.ok(seedCounter() > seedCounter(BigInt(Date.now() - 1000) * 1000n), 'grows with wall-clock time');
});

t.test('key files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wire-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: string | Buffer, mode: number) => {
    const p = join(dir, name);
    writeFileSync(p, data);
    chmodSync(p, mode);
    return p;
  };
  const hex = 'ab'.repeat(32);
  t.same(loadKeyFile(write('hex', `${hex}\n`, 0o600)), Buffer.from(hex, 'hex'));
  t.same(loadKeyFile(write('raw', Buffer.alloc(32, 7), 0o400)), Buffer.alloc(32, 7));
  t.throws(() => loadKeyFile(write('short', 'abcd', 0o600)), /need 32 raw bytes or 64 hex digits, got 4 bytes/);
  t.throws(() => loadKeyFile(write('raw31', Buffer.alloc(31), 0o600)), /got 31 bytes/);
  t.throws(() => loadKeyFile(write('group', hex, 0o640)), /accessible by group\/others \(mode 640\)/);
  t.throws(() => loadKeyFile(write('world', hex, 0o604)), /chmod 600/);
  t.throws(() => loadKeyFile(join(dir, 'missing')), /ENOENT/);
});
