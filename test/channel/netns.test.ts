/**
 * Real sockets in two fresh network namespaces joined by veth pairs (fixtures/netns.ts).
 * Covers: multicast IPv4 + IPv6 round trip without self-loopback, unicast to several peers,
 * stranger sources dropped and counted, multilink fail-over on link down and back.
 */
import t from 'tap';
import { Agent, createLab, type Ev, ip } from './fixtures/netns';

const lab = createLab();
const A = new Agent(lab.nsA);
const B = new Agent(lab.nsB);
t.teardown(async () => {
  await Promise.all([A.stop(), B.stop()]);
  lab.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const texts = (evs: Ev[]) => evs.map((e) => e.text as string);

t.before(async () => {
  await Promise.all([A.waitFor((e) => e.ev === 'hello', 15000), B.waitFor((e) => e.ev === 'hello', 15000)]);
});

t.test('multicast IPv4: round trip, no self-loopback, maxPayload = MTU - 28', async (t) => {
  const common = { family: 4, group: '225.0.0.50', port: 3780 };
  const oa = await A.call({ op: 'open', id: 'm4', kind: 'multicast', opts: { ...common, interface: lab.ifs.a0 } }, 'opened');
  await B.call({ op: 'open', id: 'm4', kind: 'multicast', opts: { ...common, interface: lab.ifs.b0 } }, 'opened');
  t.equal(oa.maxPayload, 1500 - 28, 'veth MTU 1500 → 1472');
  await A.call({ op: 'send', id: 'm4', text: 'from-a-1' }, 'sent');
  await B.call({ op: 'send', id: 'm4', text: 'from-b-1' }, 'sent');
  const rb = await B.waitFor((e) => e.ev === 'rx' && e.id === 'm4');
  const ra = await A.waitFor((e) => e.ev === 'rx' && e.id === 'm4');
  t.equal(rb.text, 'from-a-1');
  t.equal(rb.from, '10.255.0.1', 'source is A link-0 address');
  t.equal(ra.text, 'from-b-1');
  // a datagram to another group on the same port must not reach us (bound to the group)
  await B.call({ op: 'rawsend', family: 4, address: '225.0.0.51', port: 3780, text: 'other-group', bind: '10.255.0.2' }, 'rawsent');
  await A.call({ op: 'send', id: 'm4', text: 'from-a-2' }, 'sent');
  await B.waitFor((e) => e.ev === 'rx' && e.text === 'from-a-2');
  await sleep(200);
  t.same(texts(A.rx('m4')), ['from-b-1'], 'A never hears itself nor the other group');
  t.same(texts(B.rx('m4')), ['from-a-1', 'from-a-2'], 'B never hears itself');
  const sa = (await A.call({ op: 'stats', id: 'm4' }, 'stats')).stats as Record<string, number>;
  t.equal(sa.sentDatagrams, 2);
  t.equal(sa.sentBytes, 16);
  t.equal(sa.receivedDatagrams, 1);
  t.equal(sa.sendErrors, 0);
});

t.test('multicast IPv6 (ff02::/16 with interface zone): round trip, no self-loopback', async (t) => {
  const common = { family: 6, group: 'ff02::1:50', port: 3781 };
  await A.call({ op: 'open', id: 'm6', kind: 'multicast', opts: { ...common, interface: lab.ifs.a0 } }, 'opened');
  await B.call({ op: 'open', id: 'm6', kind: 'multicast', opts: { ...common, interface: lab.ifs.b0 } }, 'opened');
  await A.call({ op: 'send', id: 'm6', text: 'v6-from-a' }, 'sent');
  await B.call({ op: 'send', id: 'm6', text: 'v6-from-b' }, 'sent');
  const rb = await B.waitFor((e) => e.ev === 'rx' && e.id === 'm6');
  const ra = await A.waitFor((e) => e.ev === 'rx' && e.id === 'm6');
  t.equal(rb.text, 'v6-from-a');
  t.match(rb.from as string, /^fe80:/, 'link-local source, zone stripped');
  t.equal(ra.text, 'v6-from-b');
  await sleep(200);
  t.same(texts(A.rx('m6')), ['v6-from-b']);
  t.same(texts(B.rx('m6')), ['v6-from-a']);
});

t.test('udp unicast: every datagram to every peer; strangers dropped and counted', async (t) => {
  // B listens on both of its addresses; A sends to both
  await B.call({ op: 'open', id: 'u0', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.2', port: 3790, peers: ['10.255.0.1'], mtu: 1500 } }, 'opened');
  await B.call({ op: 'open', id: 'u1', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.6', port: 3790, peers: ['10.255.0.1'], mtu: 1500 } }, 'opened');
  const oa = await A.call(
    { op: 'open', id: 'u', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3790, peers: ['10.255.0.2', '10.255.0.6'], interface: lab.ifs.a0 } },
    'opened',
  );
  t.equal(oa.maxPayload, 1472);
  await A.call({ op: 'send', id: 'u', text: 'to-all' }, 'sent');
  const r0 = await B.waitFor((e) => e.ev === 'rx' && e.id === 'u0');
  const r1 = await B.waitFor((e) => e.ev === 'rx' && e.id === 'u1');
  t.equal(r0.text, 'to-all');
  t.equal(r1.text, 'to-all');
  t.equal(r0.from, '10.255.0.1', 'source pinned to the local address');
  const sa = (await A.call({ op: 'stats', id: 'u' }, 'stats')).stats as Record<string, number>;
  t.equal(sa.sentDatagrams, 2, 'one datagram per peer');

  // a channel whose only peer is 10.255.0.2: a raw socket on 10.255.0.6 is a stranger to it
  await A.call({ op: 'open', id: 'us', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3793, peers: ['10.255.0.2'], mtu: 1500 } }, 'opened');
  await B.call({ op: 'open', id: 'ps', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.2', port: 3793, peers: ['10.255.0.1'], mtu: 1500 } }, 'opened');
  await B.call({ op: 'send', id: 'ps', text: 'from-peer' }, 'sent');
  await A.waitFor((e) => e.ev === 'rx' && e.id === 'us' && e.text === 'from-peer');
  await B.call({ op: 'rawsend', family: 4, address: '10.255.0.1', port: 3793, text: 'stranger', bind: '10.255.0.6' }, 'rawsent');
  await B.call({ op: 'rawsend', family: 4, address: '10.255.0.1', port: 3793, text: 'stranger', bind: '10.255.0.6' }, 'rawsent');
  await B.call({ op: 'send', id: 'ps', text: 'from-peer-2' }, 'sent');
  await A.waitFor((e) => e.ev === 'rx' && e.id === 'us' && e.text === 'from-peer-2');
  const st = (await A.call({ op: 'stats', id: 'us' }, 'stats')).stats as Record<string, number>;
  t.equal(st.strangerDrops, 2, 'both stranger datagrams counted');
  t.equal(st.receivedDatagrams, 2);
  t.same(texts(A.rx('us')), ['from-peer', 'from-peer-2'], 'stranger never delivered');
  const logs = (await A.call({ op: 'logs' }, 'logs')).lines as Ev[];
  t.equal(logs.filter((l) => l.msg === 'dropped datagram from unknown source').length, 1, 'logged once (rate-limited)');

  // acceptAnySource (conntrackd behaviour) delivers the stranger
  await A.call({ op: 'open', id: 'uany', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3791, peers: ['10.255.0.2'], mtu: 1500, acceptAnySource: true } }, 'opened');
  await B.call({ op: 'rawsend', family: 4, address: '10.255.0.1', port: 3791, text: 'anyone', bind: '10.255.0.6' }, 'rawsent');
  const ra = await A.waitFor((e) => e.ev === 'rx' && e.id === 'uany');
  t.equal(ra.from, '10.255.0.6');
});

t.test('udp unicast over IPv6: ULA and link-local (zone from the interface)', async (t) => {
  ip('-n', lab.nsA, 'addr', 'add', 'fd00:255::1/64', 'dev', lab.ifs.a0, 'nodad');
  ip('-n', lab.nsB, 'addr', 'add', 'fd00:255::2/64', 'dev', lab.ifs.b0, 'nodad');
  const u6 = (local: string, peer: string, ifname: string) => ({ family: 6, localAddress: local, port: 3796, peers: [peer], interface: ifname });
  await A.call({ op: 'open', id: 'v6', kind: 'udp', opts: u6('fd00:255::1', 'fd00:255::2', lab.ifs.a0) }, 'opened');
  await B.call({ op: 'open', id: 'v6', kind: 'udp', opts: u6('fd00:255::2', 'fd00:255:0::1', lab.ifs.b0) }, 'opened');
  await A.call({ op: 'send', id: 'v6', text: 'ula-a' }, 'sent');
  const rb = await B.waitFor((e) => e.ev === 'rx' && e.id === 'v6');
  t.equal(rb.text, 'ula-a');
  t.equal(rb.from, 'fd00:255::1', 'peer list matches in canonical form');

  const ll = (ns: string, dev: string) => /inet6 (fe80::[0-9a-f:]+)\//.exec(ip('-n', ns, '-6', 'addr', 'show', 'dev', dev, 'scope', 'link'))![1]!;
  const llA = ll(lab.nsA, lab.ifs.a0);
  const llB = ll(lab.nsB, lab.ifs.b0);
  await A.call({ op: 'open', id: 'll', kind: 'udp', opts: { ...u6(`${llA}%${lab.ifs.a0}`, `${llB}%${lab.ifs.a0}`, lab.ifs.a0), port: 3797 } }, 'opened');
  await B.call({ op: 'open', id: 'll', kind: 'udp', opts: { ...u6(`${llB}%${lab.ifs.b0}`, `${llA}%${lab.ifs.b0}`, lab.ifs.b0), port: 3797 } }, 'opened');
  await B.call({ op: 'send', id: 'll', text: 'll-b' }, 'sent');
  const ra = await A.waitFor((e) => e.ev === 'rx' && e.id === 'll');
  t.equal(ra.text, 'll-b');
  t.equal(ra.from, llB, 'zone stripped from the source address');
});

t.test('socket buffers: applied (kernel doubles), capped by rmem_max/wmem_max', async (t) => {
  const small = await A.call(
    { op: 'open', id: 'ub1', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3794, peers: ['10.255.0.2'], mtu: 1500, rcvBuf: 262144, sndBuf: 131072 } },
    'opened',
  );
  const st1 = small.stats as Record<string, number>;
  t.equal(st1.rcvBufBytes, 2 * 262144);
  t.equal(st1.sndBufBytes, 2 * 131072);
  const rmemMax = Number(ip('netns', 'exec', lab.nsA, 'cat', '/proc/sys/net/core/rmem_max').trim());
  const big = await A.call(
    { op: 'open', id: 'ub2', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3795, peers: ['10.255.0.2'], mtu: 1500, rcvBuf: rmemMax * 4 } },
    'opened',
  );
  t.equal((big.stats as Record<string, number>).rcvBufBytes, 2 * rmemMax, 'SO_RCVBUF without FORCE stops at rmem_max');
});

t.test('send errors are counted, not thrown', async (t) => {
  // ENETUNREACH/EHOSTUNREACH style: a peer on no route at all
  await A.call({ op: 'open', id: 'ue', kind: 'udp', opts: { family: 4, localAddress: '10.255.0.1', port: 3792, peers: ['192.0.2.1'], mtu: 1500 } }, 'opened');
  for (let i = 0; i < 3; i++) await A.call({ op: 'send', id: 'ue', text: 'x' }, 'sent');
  await sleep(100);
  const st = (await A.call({ op: 'stats', id: 'ue' }, 'stats')).stats as { sendErrors: number; sendErrorsByCode: Record<string, number> };
  t.equal(st.sendErrors, 3);
  t.ok(Object.keys(st.sendErrorsByCode).length >= 1, `by code: ${JSON.stringify(st.sendErrorsByCode)}`);
  const logs = (await A.call({ op: 'logs' }, 'logs')).lines as Ev[];
  const mine = logs.filter((l) => l.channel === 'udp:10.255.0.1:3792' && l.msg === 'sync channel send failed');
  t.equal(mine.length, 1, 'three failures, one log line (rate-limited)');
});

t.test('multilink: fail-over on link down, receive-driven switch back', async (t) => {
  const udp = (local: string, peer: string, ifname: string) => ({ family: 4, localAddress: local, port: 3800, peers: [peer], interface: ifname });
  await A.call({ op: 'open', id: 'a0', kind: 'udp', opts: udp('10.255.0.1', '10.255.0.2', lab.ifs.a0) }, 'opened');
  await A.call({ op: 'open', id: 'a1', kind: 'udp', opts: udp('10.255.0.5', '10.255.0.6', lab.ifs.a1) }, 'opened');
  await B.call({ op: 'open', id: 'b0', kind: 'udp', opts: udp('10.255.0.2', '10.255.0.1', lab.ifs.b0) }, 'opened');
  await B.call({ op: 'open', id: 'b1', kind: 'udp', opts: udp('10.255.0.6', '10.255.0.5', lab.ifs.b1) }, 'opened');
  await A.call({ op: 'multilink', id: 'ml', links: [{ ch: 'a0', interface: lab.ifs.a0 }, { ch: 'a1', interface: lab.ifs.a1 }] }, 'opened');
  await B.call({ op: 'multilink', id: 'ml', links: [{ ch: 'b0', interface: lab.ifs.b0 }, { ch: 'b1', interface: lab.ifs.b1 }] }, 'opened');

  await A.call({ op: 'send', id: 'ml', text: 'L0' }, 'sent');
  const r0 = await B.waitFor((e) => e.ev === 'rx' && e.id === 'ml' && e.text === 'L0');
  t.equal(r0.link, 0, 'starts on link 0');

  ip('-n', lab.nsA, 'link', 'set', lab.ifs.a0, 'down');
  const t0 = Date.now();
  let st: Ev = {};
  while (Date.now() - t0 < 3000) {
    st = await A.call({ op: 'stats', id: 'ml' }, 'stats');
    if ((st.stats as { current: number }).current === 1) break;
    await sleep(50);
  }
  const failoverMs = Date.now() - t0;
  t.equal((st.stats as { current: number }).current, 1, `A failed over to link 1 (${failoverMs} ms)`);
  t.equal((st.stats as { downFailovers: number }).downFailovers, 1);
  const links = st.links as Array<{ up: boolean; active: boolean }>;
  t.same(links.map((l) => [l.up, l.active]), [[false, false], [true, true]]);

  await A.call({ op: 'send', id: 'ml', text: 'L1' }, 'sent');
  const r1 = await B.waitFor((e) => e.ev === 'rx' && e.id === 'ml' && e.text === 'L1');
  t.equal(r1.link, 1, 'B receives on link 1 and switches to it');
  t.equal(r1.from, '10.255.0.5');

  ip('-n', lab.nsA, 'link', 'set', lab.ifs.a0, 'up');
  const t2 = Date.now();
  while (Date.now() - t2 < 3000) {
    st = await A.call({ op: 'stats', id: 'ml' }, 'stats');
    if ((st.links as Array<{ up: boolean }>)[0]!.up) break;
    await sleep(50);
  }
  t.equal((st.stats as { current: number }).current, 1, 'no switch back just because link 0 came up');
  t.equal((st.links as Array<{ up: boolean }>)[0]!.up, true, 'link 0 seen up again');

  // B loses link 1: B fails over to 0, sends there; A switches to 0 because 0 delivered last
  ip('-n', lab.nsB, 'link', 'set', lab.ifs.b1, 'down');
  const t1 = Date.now();
  while (Date.now() - t1 < 3000) {
    const sb = await B.call({ op: 'stats', id: 'ml' }, 'stats');
    if ((sb.stats as { current: number }).current === 0) break;
    await sleep(50);
  }
  await B.call({ op: 'send', id: 'ml', text: 'back-on-0' }, 'sent');
  const ra = await A.waitFor((e) => e.ev === 'rx' && e.id === 'ml' && e.text === 'back-on-0');
  t.equal(ra.link, 0, 'A switched to the link that delivered last');
  ip('-n', lab.nsB, 'link', 'set', lab.ifs.b1, 'up');
});
