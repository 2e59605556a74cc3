/**
 * Hostile and malformed sync traffic at a running daemon (no envelope, so anything on the sync
 * link is heard): short and empty datagrams, bad lengths and versions, truncated and garbage
 * attributes, an absurd NACK range, a RESYNC, and a few hundred seeded random datagrams. B must
 * keep running without an internal error, count the rejections, and keep syncing with A.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { SyncLab, waitFor } from '../helpers/sync-lab';
import { AF_INET, parseAddr } from '../../src/flow/address';
import { IPPROTO, IPS, invertTuple, makeTuple } from '../../src/flow/flow';
import { NET_F } from '../../src/sync/wire/constants';
import { encodeCt } from '../../src/sync/wire/ct';
import { encodeCtl, writeHeader } from '../../src/sync/wire/header';
import { DEFAULT_WIRE_OPTIONS } from '../../src/sync/wire/options';
import { cacheRows, fieldDiffs, inject, keyDiff, stats } from './fixtures/util';

/** A deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function hostile(): Buffer[] {
  const out: Buffer[] = [];
  out.push(Buffer.alloc(0), Buffer.from([0x00, 0x00, 0x00]));
  const h = (type: number, flags: number, len: number, seq: number, extra = 0) => {
    const b = Buffer.alloc(8 + extra);
    writeHeader(b, 0, type, flags, len, seq);
    return b;
  };
  out.push(h(0, 0, 0, 1), h(0, 0, 65535, 1), h(1, 0, 7, 1));
  const badVersion = h(0, 0, 8, 1);
  badVersion[0] = (3 << 4) | 0;
  out.push(badVersion);
  // a real CT NEW whose attribute area is then corrupted in several ways
  const orig = makeTuple({ family: AF_INET, src: parseAddr('10.66.0.1'), dst: parseAddr('10.66.0.2'), proto: IPPROTO.TCP, sport: 1, dport: 2 });
  const buf = Buffer.alloc(512);
  const end = encodeCt(buf, 0, 0, 0, 5, { orig, reply: invertTuple(orig), status: IPS.SEEN_REPLY, timeout: 60, tcp: { state: 3 } }, DEFAULT_WIRE_OPTIONS);
  const good = buf.subarray(0, end);
  const truncated = Buffer.from(good.subarray(0, end - 6));
  truncated.writeUInt16BE(end, 2); // header claims the full length
  out.push(truncated);
  const attrLen = Buffer.from(good);
  attrLen.writeUInt16BE(0xfff0, 10); // first attribute's length far past the end
  out.push(attrLen);
  const attrZero = Buffer.from(good);
  attrZero.writeUInt16BE(0, 10); // zero-length attribute
  out.push(attrZero);
  const r = rng(0xc7);
  const garbageBody = Buffer.from(good);
  for (let i = 8; i < garbageBody.length; i++) garbageBody[i] = Math.floor(r() * 256);
  out.push(garbageBody);
  // control messages: an absurd NACK range, and a RESYNC request
  const nack = Buffer.alloc(16);
  encodeCtl(nack, 0, NET_F.NACK, 7, 0, 0xffffffff);
  out.push(nack);
  const resync = Buffer.alloc(16);
  encodeCtl(resync, 0, NET_F.RESYNC, 8);
  out.push(resync);
  // random datagrams, half of them starting with a plausible header
  for (let i = 0; i < 300; i++) {
    const len = Math.floor(r() * 1400);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(r() * 256);
    if (len >= 8 && i % 2 === 0) writeHeader(b, 0, Math.floor(r() * 12), Math.floor(r() * 128), Math.min(len, Math.floor(r() * 1500)), Math.floor(r() * 2 ** 32));
    out.push(b);
  }
  return out;
}

t.test('malformed and hostile datagrams: counted, no crash, sync goes on', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();
  a.conntrack('-I -s 10.99.0.1 -d 172.31.1.1 -p tcp --sport 1000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  t.ok(await waitFor(async () => (await cacheRows(b, 'external')).length === 1, 5000), 'B: synced before the attack');

  const list = hostile();
  const file = path.join(lab.dir, 'hostile.hex');
  fs.writeFileSync(file, list.map((x) => `${x.toString('hex')}\n`).join(''));
  const r = await inject<{ sent: number }>(a.ns, 'raw', { file, to: b.addr, port: 3780 });
  t.equal(r.sent, list.length, `${list.length} hostile datagrams sent to B`);
  await new Promise((res) => setTimeout(res, 1000));
  t.equal(b.proc?.exitCode, null, 'B still running');
  const s = await stats(b);
  const rejected = s.rx.malformed! + s.rx.badSize! + s.rx.badVersion! + s.rx.badType! + s.rx.truncated! + s.rx.malformedPayload!;
  t.ok(rejected > 0, `B counted rejections (${JSON.stringify({ malformed: s.rx.malformed, badSize: s.rx.badSize, badVersion: s.rx.badVersion, badType: s.rx.badType, truncated: s.rx.truncated, malformedPayload: s.rx.malformedPayload })})`);
  t.equal(s.engine.rxErrors, 0, 'no internal error while receiving');
  t.notMatch(b.log, /internal error|uncaught exception/, 'nothing in B log about internal errors');

  // the link still works both ways, and B's view of A is still right (spoofed NEWs aside)
  a.conntrack('-I -s 10.99.0.2 -d 172.31.1.1 -p udp --sport 1 --dport 2 -t 60');
  b.conntrack('-I -s 10.98.0.1 -d 172.31.1.1 -p udp --sport 3 --dport 4 -t 60');
  const fromA = async () => (await cacheRows(b, 'external')).filter((x) => String((x.orig as { src: string }).src).startsWith('10.99.'));
  t.ok(await waitFor(async () => (await fromA()).length === 2, 8000), 'A → B still syncs');
  t.ok(await waitFor(async () => (await cacheRows(a, 'external')).length === 1, 8000), 'B → A still syncs');
  const ia = await cacheRows(a, 'internal');
  const eb = await fromA();
  t.same(keyDiff(ia, eb), { missing: [], extra: [] }, 'B: A flows intact');
  t.same(fieldDiffs(ia, eb), [], 'B: A flow fields intact');
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
