/**
 * ConntrackClient over the in-memory FakeNetlinkSocket: seq → entry matching of batch errors,
 * ACK-on-last framing, a missing final ACK (overrun) reported as 'lost' instead of hanging,
 * event decoding with own-port recognition, counted decode errors and unknown types, overrun
 * callback, and handler exceptions contained.
 */
import t from 'tap';
import { ClientStats, ConntrackClient, DEFAULT_EVENT_RCVBUF, EEXIST, ENOBUFS, ENOENT, netlinkDrops } from '../../src/ctnetlink/client';
import { encodeConntrack } from '../../src/ctnetlink/codec';
import { AF_INET, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, invertTuple, makeTuple } from '../../src/flow/flow';
import { FakeNetlinkSocket } from '../../src/netlink/fake-socket';
import { forEachNlMsg, NLM_F_ACK, NLMSG_ERROR, NlBuilder, type NlMsg } from '../../src/netlink/message';
import type { NetlinkSocketOptions } from '../../src/netlink/socket';

function flows(n: number): Flow[] {
  const out: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const orig = makeTuple({ family: AF_INET, src: parseAddr('10.0.0.1'), dst: parseAddr('10.0.0.2'), proto: IPPROTO.TCP, sport: 1000 + i, dport: 80 });
    out.push({ orig, reply: invertTuple(orig), status: 0xa, timeout: 60, tcp: { state: 3 } });
  }
  return out;
}

/** NLMSG_ERROR datagram answering `orig` (CAP_ACK style: header only). */
function errDatagram(orig: NlMsg, errno: number, portId: number): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(NLMSG_ERROR, 4);
  b.writeUInt16LE(0x100, 6); // NLM_F_CAPPED
  b.writeUInt32LE(orig.seq, 8);
  b.writeUInt32LE(portId, 12);
  b.writeInt32LE(-errno, 16);
  orig.buf.copy(b, 20, orig.payloadOff - 16, orig.payloadOff);
  return b;
}

function setup(kernel: (m: NlMsg, i: number) => number | undefined, opts: { batchSize?: number } = {}) {
  const sockets: FakeNetlinkSocket[] = [];
  const factory = (o: NetlinkSocketOptions) => {
    const s = new FakeNetlinkSocket({ slots: o.slots ?? 16, slotSize: o.slotSize ?? 32768 });
    if (o.rcvbuf) s.setsockopt(1, 33, o.rcvbuf);
    if (o.groups) s.joinGroups(o.groups);
    sockets.push(s);
    return s;
  };
  const client = new ConntrackClient({ socketFactory: factory, batchSize: opts.batchSize });
  // opened in the constructor: the command socket, then the bulk socket (async batches)
  const cmd = sockets[0]!;
  const bulk = sockets[1]!;
  const datagramSizes: number[] = [];
  const ackFlags: boolean[] = [];
  cmd.responder = (d) => {
    const replies: Buffer[] = [];
    let i = 0;
    let n = 0;
    forEachNlMsg(d, 0, d.length, () => n++);
    datagramSizes.push(n);
    forEachNlMsg(d, 0, d.length, (m) => {
      ackFlags.push((m.flags & NLM_F_ACK) !== 0);
      const e = kernel(m, i++);
      if (e === undefined) return; // kernel answer lost
      if (e !== 0 || (m.flags & NLM_F_ACK) !== 0) replies.push(errDatagram(m, e, 0));
    });
    return replies;
  };
  bulk.responder = cmd.responder;
  return { client, cmd, bulk, sockets, datagramSizes, ackFlags };
}

t.test('batch: per-entry errnos matched by seq, ACK only on the last message of a datagram', async (t) => {
  const { client, datagramSizes, ackFlags, cmd } = setup((_m, i) => (i % 3 === 1 ? EEXIST : 0), { batchSize: 4 });
  const res = client.createBatch(flows(10));
  t.same(datagramSizes, [4, 4, 2], 'batches of batchSize messages per sendmsg');
  t.same(ackFlags, [false, false, false, true, false, false, false, true, false, true]);
  // kernel index i restarts per datagram: failures at i = 1 of each datagram
  t.same(Array.from(res.errnos), [0, EEXIST, 0, 0, 0, EEXIST, 0, 0, 0, EEXIST]);
  t.equal(res.ok, 7);
  t.equal(res.failed, 3);
  t.equal(client.stats.batchFailures, 3);
  t.equal(cmd.getRcvBuf(), 2 * (1 << 20), 'command socket buffer ≥ 1 MiB (batch × 1 KiB)');
  t.equal(cmd.getsockopt(270, 10), 1, 'NETLINK_CAP_ACK set');
});

t.test('batch: lost final ACK does not hang; unanswered entries reported as ENOBUFS', async (t) => {
  let call = 0;
  const { client } = setup((_m, i) => {
    call++;
    if (i === 0) return ENOENT;
    if (i === 3) return undefined; // the final ACK vanished (command socket overrun)
    return 0;
  });
  const t0 = Date.now();
  const res = client.deleteBatch(flows(4));
  t.ok(Date.now() - t0 < 2000, 'returns promptly');
  t.equal(call, 4);
  t.same(Array.from(res.errnos), [ENOENT, ENOBUFS, ENOBUFS, ENOBUFS], 'answered error kept, the rest lost');
  t.equal(client.stats.batchLost, 3);
  t.equal(client.classifyErrno(ENOBUFS), 'lost');
  t.equal(client.classifyErrno(EEXIST), 'exists');
});

t.test('stale answers from an earlier batch are ignored', async (t) => {
  const { client, cmd } = setup(() => 0);
  // an ACK for a seq far outside the next batch sits in the queue
  const fake = Buffer.alloc(36);
  fake.writeUInt32LE(36, 0);
  fake.writeUInt16LE(NLMSG_ERROR, 4);
  fake.writeUInt32LE(999999, 8);
  fake.writeInt32LE(-EEXIST, 16);
  fake.writeUInt32LE(999999, 28);
  cmd.enqueue([fake]);
  const res = client.createBatch(flows(2));
  t.same(Array.from(res.errnos), [0, 0]);
});

function eventDatagram(flow: Flow, kind: 'create' | 'update' | 'delete', pid: number): Buffer {
  const b = new NlBuilder(512);
  encodeConntrack(b, flow, kind, 0, { ack: false });
  const d = Buffer.from(b.bytes());
  d.writeUInt32LE(pid, 12);
  if (kind === 'update') d.writeUInt16LE(0, 6); // events: no REQUEST flags; NEW has CREATE|EXCL
  if (kind === 'create') d.writeUInt16LE(0x400 | 0x200, 6);
  if (kind === 'delete') d.writeUInt16LE(0, 6);
  return d;
}

t.test('events: decoded, own changes flagged, bad input counted, overrun reported', async (t) => {
  const { client, sockets } = setup(() => 0);
  const got: string[] = [];
  let overruns = 0;
  client.subscribe({
    onEvent: (kind, f, pid) => got.push(`${kind}:${f.orig.sport}:${pid === client.portId ? 'own' : pid}`),
    onOverrun: (n) => {
      overruns = n;
    },
  });
  const ev = sockets[2]!; // after the command and bulk sockets
  t.same([...ev.groups].sort(), [1, 2, 3], 'joined NEW/UPDATE/DESTROY');
  t.equal(ev.getRcvBuf(), 2 * DEFAULT_EVENT_RCVBUF, 'event buffer enlarged to the default');
  const [a, b] = flows(2);
  const garbage = Buffer.from([1, 2, 3]); // shorter than a nlmsghdr
  const truncatedAttr = eventDatagram(a!, 'create', 0).subarray(0, 40);
  truncatedAttr.writeUInt32LE(40, 0); // header claims 40 bytes; attributes cut mid-way
  const doneMsg = Buffer.alloc(20);
  doneMsg.writeUInt32LE(20, 0);
  doneMsg.writeUInt16LE(3, 4); // NLMSG_DONE on the event socket: unknown here
  ev.deliver([
    eventDatagram(a!, 'create', 0),
    garbage,
    eventDatagram(b!, 'create', client.portId),
    truncatedAttr,
    doneMsg,
    eventDatagram(a!, 'update', 4242),
    eventDatagram(a!, 'delete', 0),
  ]);
  t.same(got, ['new:1000:0', 'new:1001:own', 'update:1000:4242', 'destroy:1000:0']);
  t.equal(client.stats.events, 4);
  t.equal(client.stats.ownEvents, 1);
  t.equal(client.stats.decodeErrors, 2, 'garbage + truncated message counted');
  t.equal(client.stats.unknownTypes, 1);
  ev.overrun();
  t.equal(overruns, 1);
  t.equal(client.stats.overruns, 1);
  const before = ev.getRcvBuf();
  const after = client.growReceiveBuffer(1 << 30);
  t.equal(after, before * 2, 'growReceiveBuffer doubles');
  t.equal(client.growReceiveBuffer(before / 2), before, 'capped by max');
});

t.test('a throwing event handler does not break delivery', async (t) => {
  const { client, sockets } = setup(() => 0);
  let calls = 0;
  const errors: Error[] = [];
  client.subscribe({
    onEvent: () => {
      calls++;
      if (calls === 1) throw new Error('handler bug');
    },
    onError: (e) => errors.push(e),
  });
  const ev = sockets[2]!; // after the command and bulk sockets
  const [a, b] = flows(2);
  ev.deliver([Buffer.concat([eventDatagram(a!, 'create', 0), eventDatagram(b!, 'create', 0)])]);
  t.equal(calls, 2, 'the next event in the same datagram is still delivered');
  t.equal(client.stats.handlerErrors, 1);
  t.equal(client.stats.decodeErrors, 0, 'not mistaken for a decode error');
  t.equal(errors.length, 1);
  t.match(errors[0]!.message, /handler bug/);
  t.ok(client.stats instanceof ClientStats);
});

t.test('get / flush / closed client', async (t) => {
  const { client, cmd } = setup((m) => (m.type === ((1 << 8) | 1) ? ENOENT : 0));
  t.equal(client.get(flows(1)[0]!), undefined, 'ENOENT → undefined');
  t.doesNotThrow(() => client.flush());
  client.close();
  t.ok(cmd.closed);
  t.throws(() => client.createBatch(flows(1)), /closed/);
});

t.test("a refused sendmsg fails that datagram's entries only", async (t) => {
  let datagrams = 0;
  const { client, cmd } = setup(() => 0, { batchSize: 2 });
  const inner = cmd.responder!;
  cmd.responder = (d) => {
    datagrams++;
    if (datagrams === 2) throw Object.assign(new Error('sendmsg: EMSGSIZE'), { errno: 90 });
    return inner(d);
  };
  const res = client.createBatch(flows(6));
  t.same(Array.from(res.errnos), [0, 0, 90, 90, 0, 0]);
  t.equal(res.failed, 2);
});

t.test('netlinkDrops parses /proc/net/netlink', async (t) => {
  const text = [
    'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode',
    '000000004bd31369 0   0          00000000 0        0        0     2        0        4',
    '00000000a85b7488 12  3735928559 00000007 0        0        0     2        19898    1507',
    '00000000a85b7489 12  77         00000000 0        0        0     2        5        1508',
    '',
  ].join('\n');
  t.equal(netlinkDrops(text, 12, 0xdeadbeef), 19898);
  t.equal(netlinkDrops(text, 12, 77), 5);
  t.equal(netlinkDrops(text, 0, 77), undefined, 'other protocol');
  t.equal(netlinkDrops('garbage', 12, 77), undefined);
});

// ---------------------------------------------------------------------------------------------
// Asynchronous (pipelined) batches on the bulk socket
// ---------------------------------------------------------------------------------------------

/** seq of every message of a datagram, in order. */
function seqsOf(d: Buffer): number[] {
  const out: number[] = [];
  forEachNlMsg(d, 0, d.length, (m) => out.push(m.seq));
  return out;
}

t.test('async batches: errors land on the right entries across several datagrams', async (t) => {
  // the kernel fails entries by their global position: EEXIST on every 3rd, ENOENT on the 10th
  let global = 0;
  const { client, cmd, bulk, datagramSizes, ackFlags } = setup(() => {
    const g = global++;
    if (g === 9) return ENOENT;
    return g % 3 === 2 ? EEXIST : 0;
  }, { batchSize: 4 });
  const res = await client.createBatchAsync(flows(11));
  t.same(datagramSizes, [4, 4, 3], 'batchSize messages per sendmsg');
  t.same(ackFlags, [false, false, false, true, false, false, false, true, false, false, true], 'ACK on the last of each datagram');
  t.same(Array.from(res.errnos), [0, 0, EEXIST, 0, 0, EEXIST, 0, 0, EEXIST, ENOENT, 0]);
  t.equal(res.ok, 7);
  t.equal(res.failed, 4);
  t.equal(bulk.sent.length, 3, 'sent on the bulk socket');
  t.equal(cmd.sent.length, 0, 'the command socket stays free for synchronous requests');
  t.equal(bulk.maxInflight, 1, "one datagram in the kernel at a time: replies of two datagrams never mix");
  // seqs increase across the datagrams (they are encoded ahead, in order)
  const seqs = bulk.sent.flatMap((d) => seqsOf(d));
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'seqs in order');
  t.equal(new Set(seqs).size, 11, 'one seq per entry');
  t.equal(client.stats.batchFailures, 4);
  t.equal(client.stats.batchEntries, 11);
});

t.test('async batches: a lost final ACK costs only that datagram (ENOBUFS), the next ones map normally', async (t) => {
  let global = 0;
  const { client } = setup(() => {
    const g = global++;
    if (g === 1) return ENOENT; // answered error in datagram 1
    if (g === 3) return undefined; // final ACK of datagram 1 lost
    if (g === 6) return EEXIST; // datagram 2
    return 0;
  }, { batchSize: 4 });
  const t0 = Date.now();
  const res = await client.deleteBatchAsync(flows(10));
  t.ok(Date.now() - t0 < 2000, 'returns promptly');
  t.same(Array.from(res.errnos), [ENOBUFS, ENOENT, ENOBUFS, ENOBUFS, 0, 0, EEXIST, 0, 0, 0]);
  t.equal(client.stats.batchLost, 3);
  t.equal(res.failed, 5);
});

t.test('async batches: a refused datagram fails its entries only; the run goes on', async (t) => {
  const { client, bulk } = setup(() => 0, { batchSize: 2 });
  let n = 0;
  bulk.sendErrno = () => (++n === 2 ? 90 /* EMSGSIZE */ : 0);
  const res = await client.createBatchAsync(flows(6), { timeouts: [5, -1, 7, -1, -1, 9] });
  t.same(Array.from(res.errnos), [0, 0, 90, 90, 0, 0]);
  t.equal(res.failed, 2);
});

t.test('async batches: concurrent runs are serialised; results stay with their run', async (t) => {
  let global = 0;
  // run 1 has 5 entries (global 0-4), run 2 has 3 (global 5-7): fail global 1 and 6
  const { client, bulk } = setup(() => {
    const g = global++;
    return g === 1 || g === 6 ? EEXIST : 0;
  }, { batchSize: 2 });
  const [r1, r2] = await Promise.all([client.createBatchAsync(flows(5)), client.deleteBatchAsync(flows(3))]);
  t.same(Array.from(r1.errnos), [0, EEXIST, 0, 0, 0]);
  t.same(Array.from(r2.errnos), [0, EEXIST, 0]);
  t.equal(bulk.maxInflight, 1, 'never two datagrams in flight');
  t.same((await client.createBatchAsync([])).errnos.length, 0, 'an empty run resolves');
});

t.test('async batches: closing the client meanwhile rejects, never hangs', async (t) => {
  const { client } = setup(() => 0, { batchSize: 2 });
  const p = client.createBatchAsync(flows(6));
  client.close();
  await t.rejects(p, /closed/);
  await t.rejects(async () => client.createBatchAsync(flows(1)), /closed/);
});

t.test('own origin: events from the command and from the bulk socket are both ours', async (t) => {
  const { client, cmd, bulk, sockets } = setup(() => 0);
  t.not(cmd.portId, bulk.portId);
  t.same(client.ownPortIds, [cmd.portId, bulk.portId]);
  t.ok(client.isOwnOrigin(cmd.portId));
  t.ok(client.isOwnOrigin(bulk.portId));
  t.notOk(client.isOwnOrigin(0), 'the kernel (0) is never us');
  t.notOk(client.isOwnOrigin(4242));
  const got: string[] = [];
  client.subscribe({ onEvent: (k, f, pid) => got.push(`${k}:${f.orig.sport}:${client.isOwnOrigin(pid) ? 'own' : pid}`) });
  const ev = sockets[2]!;
  const [a, b, c] = flows(3);
  ev.deliver([eventDatagram(a!, 'create', cmd.portId), eventDatagram(b!, 'create', bulk.portId), eventDatagram(c!, 'create', 0)]);
  t.same(got, ['new:1000:own', 'new:1001:own', 'new:1002:0']);
  t.equal(client.stats.ownEvents, 2);
});

t.test('async batches: the events they cause are read between datagrams, the rest after; overruns reported', async (t) => {
  const { client, bulk, sockets } = setup(() => 0, { batchSize: 2 });
  const seen: { sport: number; sentSoFar: number }[] = [];
  let overruns = 0;
  client.subscribe({
    onEvent: (_k, f) => seen.push({ sport: f.orig.sport, sentSoFar: bulk.sent.length }),
    onOverrun: () => overruns++,
  });
  const ev = sockets[2]!;
  const fs = flows(6);
  // the "kernel" raises one NEW event per created entry, as the real one does inside sendmsg
  const inner = bulk.responder!;
  bulk.responder = (d) => {
    forEachNlMsg(d, 0, d.length, (m) => {
      const i = (m.seq - seqBase) >>> 0;
      ev.deliver([eventDatagram(fs[i]!, 'create', bulk.portId)]);
    });
    return inner(d);
  };
  // the first read between datagrams meets ENOBUFS (the addon counts it and reads on)
  const evRead = ev.readNow.bind(ev);
  let reads = 0;
  ev.readNow = (cb, timeoutMs, maxRounds) => {
    if (++reads === 1) ev.overruns++;
    return evRead(cb, timeoutMs, maxRounds);
  };
  let seqBase = 0;
  const first = bulk.sendAsync.bind(bulk);
  bulk.sendAsync = (buf, done) => {
    if (seqBase === 0) seqBase = buf.readUInt32LE(8);
    first(buf, done);
  };
  const res = await client.createBatchAsync(fs);
  t.equal(res.ok, 6);
  t.ok(ev.paused === false, 'delivery resumed after the run');
  t.same(
    seen.map((s) => s.sport),
    fs.map((f) => f.orig.sport),
    'every event handled once, in order',
  );
  t.ok(seen[0]!.sentSoFar < 3, `the first events were handled before the last datagram went out (${seen[0]!.sentSoFar})`);
  t.ok(reads >= 1, `events read between datagrams (${reads} reads)`);
  t.equal(overruns, 1, 'an overrun met while reading between datagrams is reported');
  t.equal(client.stats.overruns, 1);
  // polled delivery again
  ev.deliver([eventDatagram(fs[0]!, 'update', 0)]);
  t.equal(seen.length, 7, 'delivered by the poller after the run');
});
