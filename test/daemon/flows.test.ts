/**
 * Issue 4 §7.1: every kind of flow the sync carries (TCP, UDP, ICMP, SCTP; IPv4 and IPv6; SNAT,
 * DNAT (v4 and v6, with ports), mark, zone, labels) goes NEW → UPDATE → DESTROY from A's kernel into B's external
 * cache; a commit on B recreates kernel entries identical to A's (timeouts within a few
 * seconds); an FTP expectation (ExpectationSync on) reaches B's `-e expect` and is committed.
 */
import t from 'tap';
import { normalizeLine, SyncLab, waitFor } from '../helpers/sync-lab';
import { cacheRows, cli, fieldDiffs, inject, kernelEntries, keyDiff, type Row, withoutReply } from './fixtures/util';

t.test('flows of every kind: new/update/destroy reach the peer, commit recreates them', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], syncExtra: 'Options {\n ExpectationSync on\n}' });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  await b.start();

  // FTP control connection between two local (non-loopback) addresses of A, helper set by nft
  a.exec('ip', ['addr', 'add', '10.77.0.1/32', 'dev', 'lo']);
  a.exec('ip', ['addr', 'add', '10.77.0.2/32', 'dev', 'lo']);
  a.exec(
    'nft',
    ['-f', '-'],
    'table inet ftp {\n ct helper ftp-h { type "ftp" protocol tcp; l3proto ip; }\n chain out { type filter hook output priority 0; tcp dport 21 ct helper set "ftp-h"; }\n}\n',
  );

  // connection labels are stored only once a ruleset uses them (net->ct.labels_used)
  for (const n of [a, b]) n.exec('nft', ['-f', '-'], 'table inet lbl {\n chain c { type filter hook output priority 0; meta mark 0x7fff0000 ct label set 1; }\n}\n');
  const v = await inject<{ errnos: number[]; n: number }>(a.ns, 'variety', {});
  t.same(v.errnos, new Array(v.n).fill(0), 'A: every variety flow created');
  await inject(a.ns, 'expect', { addr: '10.77.0.1', peer: '10.77.0.2', holdMs: 200 });
  const expectLines = (n: typeof a, which: '-i' | '-e') => n.client([which, 'expect']).stdout.split('\n').filter((l) => /src=/.test(l));
  t.ok(await waitFor(() => expectLines(a, '-i').length === 1, 5000), 'A: the FTP expectation is in the internal cache');

  const total = v.n + 1; // + the FTP control connection
  const aInt = () => cacheRows(a, 'internal');
  const bExt = () => cacheRows(b, 'external');
  t.ok(await waitFor(async () => (await bExt()).length === total, 10_000), `B: ${total} flows in the external cache`);
  let ai = await aInt();
  let be = await bExt();
  t.equal(ai.length, total, 'A: internal cache holds the same number');
  t.same(keyDiff(ai, be), { missing: [], extra: [] }, 'same keys');
  t.same(fieldDiffs(ai, be), [], 'same fields (NAT, mark, zone, labels, states, status; timeouts aside)');
  const ipv6 = be.filter((r) => (r.orig as { family?: unknown }).family === 10 || String((r.orig as { src?: unknown }).src).includes(':'));
  t.equal(ipv6.length, 5, 'five IPv6 flows among them (two with NAT)');
  const bySport = (rows: Row[], sport: number) => rows.find((r) => (r.orig as { sport?: number }).sport === sport);
  t.match(bySport(be, 40003), { zone: 7 }, 'zone carried');
  t.match(bySport(be, 40000), { mark: 42 }, 'mark carried');
  t.ok(bySport(be, 1234)?.labels !== undefined, 'labels carried');
  t.ok((bySport(be, 40001) as { nat?: unknown })?.nat ?? bySport(be, 40001)?.reply, 'SNAT flow carried');

  // `-e` lines on B equal `-i` lines on A (the conntrackd text view of the same state)
  const sortNorm = (ls: string[]) => ls.map((l) => normalizeLine(l)).sort();
  t.same(sortNorm(b.cache('external')), sortNorm(a.cache('internal').map(withoutReply)), '-e on B equals -i on A (reply tuple aside)');
  // our CLI gives the same rows as the control request
  const viaCli = cli(b, ['cache', 'external', '--json', '-C', b.confFile]);
  t.equal(viaCli.code, 0, `ctsyncd cache external --json exits 0 ${viaCli.stderr}`);
  t.same(keyDiff(JSON.parse(viaCli.stdout) as Row[], be), { missing: [], extra: [] }, 'ctsyncd cache external --json: same keys');

  // the expectation
  t.ok(await waitFor(() => expectLines(b, '-e').length === 1, 5000), 'B: the expectation is in the external cache');
  t.match(expectLines(b, '-e')[0] ?? '', /dport=51210/, 'B: expectation for the PORT data connection');

  // UPDATE
  a.conntrack('-U -p udp -s 10.1.0.1 -d 10.1.0.3 --sport 5353 --dport 53 -m 99');
  a.conntrack('-U -p sctp -s 10.1.0.1 -d 10.1.0.5 --sport 3868 --dport 3868 -m 5');
  t.ok(
    await waitFor(async () => {
      const rows = await bExt();
      return bySport(rows, 5353)?.mark === 99 && bySport(rows, 3868)?.mark === 5;
    }, 5000),
    'updates (marks on UDP and SCTP flows) reach B',
  );

  // DESTROY
  a.conntrack('-D -p icmp -s 10.1.0.1 -d 10.1.0.4');
  a.conntrack('-D -f ipv6 -p udp -s fd00::1 -d fd00::3');
  t.ok(await waitFor(async () => (await bExt()).length === total - 2, 5000), 'destroys reach B');
  ai = await aInt();
  be = await bExt();
  t.same(keyDiff(ai, be), { missing: [], extra: [] }, 'same keys after destroys');
  t.same(fieldDiffs(ai, be), [], 'same fields after updates');

  // COMMIT: B's kernel gets the same entries as A's (the sync link's own flows aside)
  const own = new RegExp(`10\\.254\\.${lab.id}\\.|fd54:`);
  const kernel = (n: typeof a) => {
    const m = new Map<string, number>();
    for (const f of ['ipv4', 'ipv6']) for (const [k, v2] of kernelEntries(n, `-L -f ${f}`)) if (!own.test(k)) m.set(k, v2);
    return m;
  };
  const c = b.client(['-c']);
  t.equal(c.code, 0, `commit exits 0 ${c.stdout}${c.stderr}`);
  const ka = kernel(a);
  const kb = kernel(b);
  t.same([...kb.keys()].sort(), [...ka.keys()].sort(), 'B kernel: same entries as A (conntrack -L, timeouts aside)');
  const skew = [...ka].map(([k, to]) => Math.abs(to - (kb.get(k) ?? -1000)));
  t.ok(Math.max(...skew) <= 5, `timeouts within 5 s (max skew ${Math.max(...skew)} s)`);
  const expB = b.conntrack('-L expect');
  t.equal(expB.length, 1, `B kernel: the expectation was committed (${expB.join('; ')})`);
  t.match(expB[0] ?? '', /dport=51210/, 'B kernel: the committed expectation');
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
});
