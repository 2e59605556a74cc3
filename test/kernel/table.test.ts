/**
 * ConntrackClient against the real kernel, each test in its own scratch network namespace:
 * decode of entries made by conntrack(8), our creates as conntrack(8) sees them, events with
 * own-change recognition, per-entry batch errors, commit ordering, kernel stats.
 */
import t from 'tap';
import { conntrackList, createNetns, deleteNetns, nsExec, runWork } from './fixtures/netns';

function withNs(tt: { teardown(fn: () => void): void }): string {
  const ns = createNetns();
  tt.teardown(() => deleteNetns(ns));
  return ns;
}

/** conntrack -L and our formatter print the remaining timeout; it may tick between the two. */
const noTimeout = (l: string) => l.replace(/^(\S+\s+\d+\s+)\d+ /, '$1T ');
const sorted = (ls: string[]) => ls.map(noTimeout).sort();

type J = Record<string, unknown>;

t.test('entries made by conntrack -I decode to the same flows', async (t) => {
  const ns = withNs(t);
  const I = (args: string) => nsExec(ns, 'conntrack', ['-I', ...args.split(' ')]);
  I('-p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 --state ESTABLISHED -t 300 -u SEEN_REPLY,ASSURED');
  I('-p tcp -s 10.0.0.1 -d 10.0.0.3 --sport 1001 --dport 80 --state ESTABLISHED -t 300 -u SEEN_REPLY -n 192.0.2.9');
  I('-p udp -s 10.0.0.1 -d 10.0.0.4 --sport 1002 --dport 53 -t 60 -g 10.0.0.40');
  I('-p tcp -s 10.0.0.1 -d 10.0.0.5 --sport 1003 --dport 80 --state SYN_SENT -t 100 -w 7');
  I('-p tcp -s 10.0.0.1 -d 10.0.0.6 --sport 1004 --dport 80 --state TIME_WAIT -t 100 -m 0xdead');
  I('-p tcp -s fd00::1 -d fd00::2 --sport 1005 --dport 443 --state ESTABLISHED -t 300 -u SEEN_REPLY');
  I('-p icmp -s 10.0.0.1 -d 10.0.0.7 --icmp-type 8 --icmp-code 0 --icmp-id 99 -t 30');
  I('-p icmpv6 -s fd00::1 -d fd00::3 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 98 -t 30');
  I('-p sctp -s 10.0.0.1 -d 10.0.0.8 --sport 3868 --dport 3868 --state ESTABLISHED --orig-vtag 1234 --reply-vtag 5678 -t 300');
  const theirs = conntrackList(ns);
  t.equal(theirs.length, 9, 'conntrack -L shows the 9 entries');
  const ours = await runWork<{ lines: string[]; flows: J[] }>(ns, 'dump');
  t.same(sorted(ours.lines), sorted(theirs), 'formatted lines equal conntrack -L (timeout masked)');
  const byDst = new Map(ours.flows.map((f) => [((f.orig as J).dst as string), f]));
  const snat = byDst.get('10.0.0.3')!;
  t.equal((snat.reply as J).dst, '192.0.2.9', 'SNAT visible in the reply tuple');
  const dnat = byDst.get('10.0.0.4')!;
  t.equal((dnat.reply as J).src, '10.0.0.40', 'DNAT visible in the reply tuple');
  t.equal(byDst.get('10.0.0.5')!.zone, 7, 'zone');
  t.equal(byDst.get('10.0.0.6')!.mark, 0xdead, 'mark');
  t.equal(((byDst.get('10.0.0.6')!.tcp as J).state as number), 7, 'TIME_WAIT = 7');
  const icmp = byDst.get('10.0.0.7')!.orig as J;
  t.same([icmp.icmpType, icmp.icmpCode, icmp.icmpId], [8, 0, 99], 'icmp type/code/id');
  const icmp6 = byDst.get('fd00::3')!.orig as J;
  t.same([icmp6.icmpType, icmp6.icmpId], [128, 98], 'icmpv6 type/id');
  const sctp = byDst.get('10.0.0.8')!;
  // conntrack(8) 1.4.7 puts --orig-vtag into the attribute in host byte order while the kernel
  // keeps vtags in network order (nla_put_be32 of the wire value), so on this little-endian
  // machine the kernel holds the byte-swapped number; our decoder reports the kernel's value.
  const bswap = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
  t.match(sctp.sctp, { state: 4, vtagOrig: bswap(1234), vtagReply: bswap(5678) }, 'sctp state + vtags');
  t.equal((byDst.get('fd00::2')!.status as number) & 0x2, 0x2, 'SEEN_REPLY bit on the v6 flow');
});

t.test('entries created by ConntrackClient appear identically in conntrack -L', async (t) => {
  const ns = withNs(t);
  // labels are stored only when something in the netns uses them (nf_connlabels_get)
  nsExec(ns, 'nft', ['add table ip ctk; add chain ip ctk c { type filter hook prerouting priority 0; }; add rule ip ctk c ct label set 3']);
  const r = await runWork<{ errnos: number[]; lines: string[]; flows: J[] }>(ns, 'createVariety');
  t.same(r.errnos, [0, 0, 0, 0, 0, 0, 0, 0], 'all 8 creates succeed');
  const theirs = conntrackList(ns);
  t.same(sorted(r.lines), sorted(theirs), 'our dump formats exactly like conntrack -L');
  const text = theirs.join('\n');
  t.match(text, /tcp\s+6 \d+ ESTABLISHED src=10\.1\.0\.1 dst=10\.1\.0\.2 sport=40000 dport=443 src=10\.1\.0\.2 dst=10\.1\.0\.1 sport=443 dport=40000 \[ASSURED\] mark=42 use=1/);
  t.match(text, /src=10\.1\.0\.1 dst=10\.1\.0\.6 sport=40001 dport=80 src=10\.1\.0\.6 dst=192\.0\.2\.1 sport=80 dport=40001/, 'SNAT applied by the kernel');
  t.match(text, /src=10\.1\.0\.1 dst=10\.1\.0\.7 sport=40002 dport=8080 src=10\.1\.0\.70 dst=10\.1\.0\.1 sport=9090 dport=40002/, 'DNAT address+port');
  t.match(text, /icmp\s+1 \d+ src=10\.1\.0\.1 dst=10\.1\.0\.4 type=8 code=0 id=77 \[UNREPLIED\]/);
  t.match(text, /sctp\s+132 \d+ ESTABLISHED src=10\.1\.0\.1 dst=10\.1\.0\.5 sport=3868 dport=3868/);
  t.match(text, /src=fd00::1 dst=fd00::2 sport=1234 dport=22/);
  t.match(text, /dst=10\.1\.0\.8 .* zone=7 use=1/);
  const v6 = r.flows.find((f) => (f.orig as J).dst === 'fd00::2')!;
  t.same(v6.labels, [1, 7, 127], 'labels round-trip through the kernel');
  const sctp = r.flows.find((f) => (f.orig as J).dst === '10.1.0.5')!;
  t.match(sctp.sctp, { vtagOrig: 0x11223344, vtagReply: 0x55667788 });
});

t.test('events: NEW/UPDATE/DESTROY, own changes recognised by port id', async (t) => {
  const ns = withNs(t);
  type Ev = { kind: string; own: boolean; line: string; pid: number };
  const r = await runWork<{ portId: number; events: Ev[]; stats: J }>(ns, 'events');
  const tool = r.events.filter((e) => !e.own);
  t.same(
    tool.map((e) => e.kind),
    ['new', 'update', 'destroy'],
    'conntrack -I/-U/-D give NEW, UPDATE, DESTROY',
  );
  t.match(tool[0]!.line, /^tcp\s+6 100 SYN_SENT src=10\.2\.0\.1 dst=10\.2\.0\.2 sport=1111 dport=80/);
  t.match(tool[1]!.line, /mark=5/, 'update carries the new mark');
  t.ok(tool.every((e) => e.pid !== 0 && e.pid !== r.portId), 'conntrack(8) has its own port id');
  const own = r.events.filter((e) => e.own);
  t.same(own.map((e) => e.kind), ['new', 'new', 'new', 'update', 'update', 'update', 'destroy', 'destroy', 'destroy']);
  t.match(own[3]!.line, /mark=9/);
  t.equal(r.stats.ownEvents, 9);
  t.equal(r.stats.decodeErrors, 0);
  t.equal(r.stats.overruns, 0);
});

t.test('batch create with duplicates reports EEXIST per entry; delete/update/get per entry', async (t) => {
  const ns = withNs(t);
  const r = await runWork<J>(ns, 'duplicates');
  t.same(r.errnos, [0, 17, 0, 17, 0, 17, 17, 0], 'EEXIST exactly where the entry already existed');
  t.equal(r.ok, 4);
  t.equal(r.failed, 4);
  t.same(r.delErrnos, [0, 2], 'second delete of the same entry: ENOENT');
  t.same(r.updErrnos, [2, 0], 'update of a deleted entry: ENOENT');
  t.equal(r.gotMark, 7, 'get sees the update');
  t.equal(r.missing, true, 'get of a deleted entry: undefined');
});

t.test('commit: masters before related', async (t) => {
  const ns = withNs(t);
  const r = await runWork<{ alone: number; report: J; relatedHasMaster: boolean; masterSport: number }>(ns, 'related');
  t.equal(r.alone, 2, 'a related entry without its master is refused (ENOENT)');
  t.match(r.report, { attempted: 2, committed: 2, failed: 0 });
  t.equal(r.relatedHasMaster, true, 'kernel reports the master tuple');
  t.equal(r.masterSport, 40000);
});

t.test('kernel stats via CT_GET_STATS(_CPU)', async (t) => {
  const ns = withNs(t);
  const s = await runWork<J>(ns, 'stats');
  t.equal(s.entries, 10);
  t.ok((s.insert as number) >= 10, 'insert counter summed over CPUs');
  t.ok((s.cpus as number) >= 1);
  t.equal(s.maxEntries, Number(nsExec(ns, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_max']).trim()));
});

t.test('ctsyncd kernel subcommands', async (t) => {
  const ns = withNs(t);
  type Run = { argv: string; code: number; out: string[]; err: string[] };
  const runs = await runWork<Run[]>(ns, 'cli');
  const by = (prefix: string, nth = 0) => runs.filter((r) => r.argv.startsWith(prefix))[nth]!;
  t.equal(by('create -p tcp').code, 0);
  t.equal(by('create -p udp').code, 0);
  t.equal(by('create -p icmp').code, 0);
  const dup = by('create -p tcp', 1);
  t.equal(dup.code, 1, 'duplicate create fails');
  t.match(dup.err.join('\n'), /EEXIST/);
  t.same(by('count').out, ['3']);
  const list = by('list');
  t.equal(list.out.length, 3);
  t.match(list.out.join('\n'), /tcp\s+6 1\d\d ESTABLISHED src=10\.4\.0\.1 dst=10\.4\.0\.2 sport=1000 dport=80 src=10\.4\.0\.2 dst=10\.4\.0\.1 sport=80 dport=1000 \[ASSURED\] mark=5 use=1/);
  t.match(list.out.join('\n'), /udp\s+17 \d+ src=10\.4\.0\.1 dst=10\.4\.0\.3 sport=53 dport=53 \[UNREPLIED\] .* zone=3 use=1/);
  t.equal(by('list -p udp').out.length, 1, 'protocol filter');
  const json = by('list --json').out.map((l) => JSON.parse(l));
  t.equal(json.length, 1, 'mark filter');
  t.match(json[0], { mark: 5, orig: { src: '10.4.0.1', dst: '10.4.0.2', sport: 1000, dport: 80 } });
  t.match(by('get -p tcp -s 10.4.0.1 -d 10.4.0.2 --sport 1000').out[0], /sport=1000 dport=80/);
  t.equal(by('get -p tcp -s 10.4.0.1 -d 10.4.0.2 --sport 1001').code, 1, 'get of a missing entry');
  t.match(JSON.parse(by('stats').out[0]!), { entries: 3 });
  const ev = by('events');
  t.equal(ev.code, 0);
  t.equal(ev.out.length, 2, 'stopped after -c 2; the UDP event was filtered out');
  t.match(ev.out[0], /^\s+\[NEW\] tcp\s+6 30 SYN_SENT src=10\.4\.1\.1/);
  t.match(ev.out[1], /^\[DESTROY\] tcp\s+6 \d+ SYN_SENT src=10\.4\.1\.1/);
  t.equal(by('delete').code, 0);
  t.same(by('count', 1).out, ['2'], 'delete -p udp removed the one UDP entry');
  t.same(by('count', 2).out, ['0'], 'flush empties the table');
  t.equal(by('list --bogus').code, 2, 'usage error');
  t.equal(by('frobnicate').code, 2, 'unknown command');
  t.same(conntrackList(ns), [], 'conntrack -L agrees: empty');
});

t.test('expectations: events, dump, delete and re-create (FTP helper over loopback)', async (t) => {
  const ns = withNs(t);
  nsExec(
    ns,
    'nft',
    ['-f', '-'],
    'table inet ctk {\n ct helper ftp-h { type "ftp" protocol tcp; l3proto ip; }\n chain out { type filter hook output priority 0; tcp dport 21 ct helper set "ftp-h"; }\n}\n',
  );
  type E = { tuple: J; master: J; mask: J; helper: string; timeout: number };
  const r = await runWork<{ evs: { kind: string; dport: number; helper: string }[]; dumped: E[]; delErrno: number; afterDelete: number; createErrno: number; recreated: E[] }>(
    ns,
    'expect',
  );
  t.ok(r.evs.length >= 1, `expectation events received (${r.evs.map((e) => e.kind).join(',')})`);
  t.match(r.evs[0], { kind: 'new', dport: 51210, helper: 'ftp' });
  t.equal(r.dumped.length, 1, 'one expectation dumped');
  t.match(r.dumped[0], { helper: 'ftp', tuple: { dst: '127.0.0.1', dport: 51210, proto: 6 }, master: { dport: 21 }, mask: { dport: 65535 } });
  t.equal(r.delErrno, 0, 'deleted');
  t.equal(r.afterDelete, 0, 'gone from the dump');
  t.equal(r.createErrno, 0, 'created again through EXP_NEW');
  t.equal(r.recreated.length, 1);
  t.match(r.recreated[0], { helper: 'ftp', tuple: { dport: 51210 }, master: { dport: 21 } });
});
