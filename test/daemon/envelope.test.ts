/**
 * Issue 4 §7.6: three ctsyncd nodes on one bridge, FTFW over unicast UDP (each node lists both
 * others) inside the authenticated envelope. A conntrackd.conf cannot express the envelope, so
 * every node gets a native JSON config with a 0600 key file. Each node's flows reach both others;
 * per-sender FTFW tracking shows no gaps; a datagram sealed with another key, or by a node id
 * that is not a configured peer, is dropped and counted.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { type LabNode, SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows, inject, keyDiff, stats } from './fixtures/util';

const PER_NODE = 2000;

function nativeConfig(lab: SyncLab, n: LabNode, keyFile: string): string {
  const others = lab.nodes.filter((o) => o !== n);
  return JSON.stringify(
    {
      mode: 'ftfw',
      nodeName: `node${n.index + 1}`,
      channels: [{ kind: 'udp', family: 'ipv4', localAddress: n.addr, peers: others.map((o) => o.addr), port: 3780, interface: n.dev, checksum: true }],
      envelope: { nodeId: n.index + 1, keyFiles: [keyFile], peers: others.map((o) => o.index + 1) },
      general: {
        lockFile: path.join(n.dir, 'lock'),
        unixPath: path.join(n.dir, 'ctl'),
        systemd: false,
        netlinkBufferSize: 8388608,
        netlinkBufferSizeMax: 134217728,
      },
      filter: { from: 'userspace', address: { mode: 'ignore', cidrs: ['127.0.0.1/32', `10.254.${lab.id}.0/24`] } },
    },
    null,
    1,
  );
}

t.test('three nodes with the authenticated envelope', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const keyFile = path.join(lab.dir, 'sync.key');
  const key = randomBytes(32).toString('hex');
  fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const nodes = lab.nodes;
  for (const n of nodes) n.conf = nativeConfig(lab, n, keyFile);
  await Promise.all(nodes.map((n) => n.start()));
  t.ok(nodes.every((n) => n.confFile.endsWith('.json')), 'native JSON configs');

  // one flow per node, then a burst per node
  nodes.forEach((n, i) => {
    n.conntrack(`-I -s 10.90.${i}.1 -d 172.31.0.1 -p tcp --sport 1000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m ${i + 1}`);
  });
  for (const n of nodes) {
    t.ok(await waitFor(async () => (await cacheRows(n, 'external')).length === 2, 8000), `node${n.index + 1}: both other nodes' flows arrived`);
    const marks = (await cacheRows(n, 'external')).map((r) => r.mark).sort();
    t.same(marks, [1, 2, 3].filter((m) => m !== n.index + 1), `node${n.index + 1}: from the right senders`);
  }
  const t0 = Date.now();
  await Promise.all(nodes.map((n, i) => inject(n.ns, 'burst', { n: PER_NODE, offset: 100_000 * (i + 1) })));
  for (const n of nodes) {
    let d = { missing: [] as string[], extra: [] as string[] };
    const ok = await waitFor(
      async () => {
        // the internal caches follow their kernels asynchronously: compare against fresh reads
        const internals = await Promise.all(nodes.map((o) => cacheRows(o, 'internal')));
        if (internals.some((i) => i.length !== PER_NODE + 1)) return false;
        const want = internals.filter((_, i) => i !== n.index).flat();
        d = keyDiff(want, await cacheRows(n, 'external'));
        return d.missing.length === 0 && d.extra.length === 0;
      },
      20_000,
      250,
    );
    t.ok(ok, `node${n.index + 1}: external cache = union of the others' internal caches (missing ${d.missing.length}, extra ${d.extra.length})`);
  }
  t.comment(`envelope: 3 x ${PER_NODE} flows converged on all nodes in ${Date.now() - t0} ms`);

  for (const n of nodes) {
    const s = await stats(n);
    const peers = s.peers.filter((p) => p.id !== 0);
    t.same(peers.map((p) => p.id).sort(), [1, 2, 3].filter((id) => id !== n.index + 1), `node${n.index + 1}: tracks each sender separately`);
    // Gaps are real only when the kernel dropped sync datagrams (a busy 2-core machine overflows
    // the socket's receive buffer); three senders on one tracker would gap constantly instead.
    const udp = n.exec('cat', ['/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
    const col = udp[0]!.split(/\s+/).indexOf('RcvbufErrors');
    const drops = Number(udp[1]!.split(/\s+/)[col]);
    const gaps = peers.reduce((x, p) => x + p.mode.gaps!, 0);
    t.ok(gaps <= drops, `node${n.index + 1}: ${gaps} gaps, all explained by ${drops} datagrams the kernel dropped (receive buffer full)`);
    t.equal(s.envelope?.dropped, 0, `node${n.index + 1}: nothing dropped by the envelope`);
  }

  // intruders: another key, and the right key but a node id that is not a configured peer
  const [a, , c] = nodes as [LabNode, LabNode, LabNode];
  const before = (await stats(a)).envelope!;
  await inject(c.ns, 'seal', { key: randomBytes(32).toString('hex'), nodeId: 3, to: a.addr, port: 3780 });
  await inject(c.ns, 'seal', { key, nodeId: 9, to: a.addr, port: 3780 });
  t.ok(
    await waitFor(async () => (await stats(a)).envelope!.dropped >= before.dropped + 2, 5000),
    'node1: both intruder datagrams dropped',
  );
  const after = await stats(a);
  t.ok(after.envelope!.authFailed > before.authFailed!, `counted as an authentication failure (${after.envelope!.authFailed})`);
  t.ok(after.envelope!.unknownNode > before.unknownNode!, `counted as an unknown node (${after.envelope!.unknownNode})`);
  t.ok(after.engine.envelopeRejected! >= 2, 'engine counts the rejected datagrams');
  t.equal((await cacheRows(a, 'external')).length, 2 * (PER_NODE + 1), 'node1: external cache untouched by the intruders');

  // node2 crashes; the others change state meanwhile; node2 restarts (new envelope counter, empty
  // external cache) and gets both senders' state back through its start-up RESYNC
  const b2 = nodes[1]!;
  await b2.stop('SIGKILL');
  a.conntrack('-I -s 10.91.0.1 -d 172.31.0.1 -p udp --sport 1 --dport 2 -t 600');
  c.conntrack('-D -s 10.90.2.1');
  await b2.start();
  for (const n of nodes) {
    let d = { missing: [] as string[], extra: [] as string[] };
    const ok = await waitFor(
      async () => {
        const internals = await Promise.all(nodes.map((o) => cacheRows(o, 'internal')));
        const want = internals.filter((_, i) => i !== n.index).flat();
        d = keyDiff(want, await cacheRows(n, 'external'));
        return d.missing.length === 0 && d.extra.length === 0;
      },
      20_000,
      250,
    );
    t.ok(ok, `after node2's restart, node${n.index + 1} converged (missing ${d.missing.length}, extra ${d.extra.length})`);
  }
  const s1 = await stats(a);
  t.equal(s1.envelope?.replay, 0, 'node1: the restarted sender was not mistaken for a replay');
  for (const n of nodes) t.equal(await n.stop(), 0, `node${n.index + 1} exits 0`);
});
