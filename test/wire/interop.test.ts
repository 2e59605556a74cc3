/**
 * Live interoperability with the real conntrackd 1.4.7 (Debian package), both directions, in a
 * private network namespace on its loopback (never the root namespace's table):
 *  - our encoder → conntrackd: 8 flows (IPv4/IPv6, TCP/UDP/ICMP/SCTP/DCCP, SNAT+DNAT with ports,
 *    mark, zone, helper, labels) are accepted without a malformed message, show up in its
 *    external cache, and its commit recreates them in the namespace's kernel table (NAT reply
 *    tuple, zone, helper, ICMP id as sent: checks the §3.6 host-order quirk end to end);
 *  - conntrackd → our decoder: after a resync and bulk send, every datagram conntrackd emits
 *    decodes without a rejection, re-encodes byte for byte, and carries the flows we sent
 *    (labels bitmap included).
 * Needs root, conntrackd, conntrack and nft (scripts/setup.sh installs them).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AF_INET, AF_INET6, formatAddr, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, makeTuple } from '../../src/flow/flow';
import {
  ctMessageLength,
  DatagramPacker,
  DEFAULT_WIRE_OPTIONS,
  decodeDataMessage,
  encodeCt,
  encodeCtl,
  isAckForm,
  NET_T,
  WireRxStats,
  walkDatagram,
} from '../../src/sync/wire';

const opts = DEFAULT_WIRE_OPTIONS;
const ns = `wire-${process.pid}-ct`;
const dir = mkdtempSync(join(tmpdir(), 'wire-interop-'));
const conf = join(dir, 'ctd.conf');
const PORT = 3790;
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inNs = (cmd: string, args: string[]) => execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 10_000 });
const ctd = (...args: string[]) => inNs('conntrackd', ['-C', conf, ...args]);

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
  const done = new Promise((r) => c.once('exit', r));
  process.kill(c.pid, 'SIGTERM');
  await Promise.race([done, sleep(3000)]);
  if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
}

t.teardown(async () => {
  for (const c of children) await stopChild(c);
  try {
    execFileSync('ip', ['netns', 'del', ns]);
  } catch {
    // not created
  }
  rmSync(dir, { recursive: true, force: true });
});

const v4 = (s: string, d: string, p: number, sp = 0, dp = 0) => makeTuple({ family: AF_INET, src: parseAddr(s), dst: parseAddr(d), proto: p, sport: sp, dport: dp });
const labels = new Uint8Array(16);
labels[0] = 0x02; // label 1
labels[12] = 0x80; // label 103
const flows: Flow[] = [
  { orig: v4('10.1.0.1', '10.2.0.1', IPPROTO.TCP, 1111, 80), status: 0xe, timeout: 600, mark: 5, tcp: { state: 3 }, synproxy: { its: 0, isn: 0, tsoff: 0 } },
  { orig: v4('10.1.0.2', '10.2.0.1', IPPROTO.TCP, 2222, 80), status: 0x1be, timeout: 600, mark: 0, tcp: { state: 3 }, reply: v4('172.16.0.9', '172.16.0.1', IPPROTO.TCP, 8080, 40000) },
  {
    orig: makeTuple({ family: AF_INET6, src: parseAddr('2001:db8::1'), dst: parseAddr('2001:db8::2'), proto: IPPROTO.TCP, sport: 3333, dport: 443 }),
    status: 0xe,
    timeout: 300,
    tcp: { state: 3 },
    zone: 7,
  },
  { orig: v4('10.1.0.3', '10.2.0.1', IPPROTO.UDP, 53, 5353), status: 0xa, timeout: 30, mark: 1, labels },
  { orig: makeTuple({ family: AF_INET, src: parseAddr('10.1.0.4'), dst: parseAddr('10.2.0.1'), proto: IPPROTO.ICMP, icmpType: 8, icmpCode: 0, icmpId: 0x1234 }), status: 0xa, timeout: 30 },
  { orig: v4('10.1.0.5', '10.2.0.1', IPPROTO.SCTP, 5000, 5001), status: 0xa, timeout: 100, sctp: { state: 3, vtagOrig: 0x11223344, vtagReply: 0x55667788 } },
  { orig: v4('10.1.0.6', '10.2.0.1', IPPROTO.DCCP, 6000, 6001), status: 0xa, timeout: 100, dccp: { state: 3, role: 0 } },
  { orig: v4('10.1.0.7', '10.2.0.1', IPPROTO.TCP, 7777, 21), status: 0xe | 0x2000, timeout: 600, tcp: { state: 3 }, helper: 'ftp' },
];

t.test('conntrackd 1.4.7 accepts our messages and we accept its', async (t) => {
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // a ruleset that uses ct labels, so the kernel gives new entries a labels extension
  inNs('nft', ['add table inet wl; add chain inet wl c { type filter hook prerouting priority 0; }; add rule inet wl c ct label 127 counter']);
  writeFileSync(
    conf,
    `Sync {
	Mode NOTRACK {
	}
	UDP {
		IPv4_address 127.0.0.1
		IPv4_Destination_Address 127.0.0.2
		Port ${PORT}
		Interface lo
		Checksum on
	}
}
General {
	HashSize 8192
	HashLimit 65535
	LogFile ${dir}/ctd.log
	LockFile ${dir}/ctd.lock
	UNIX {
		Path ${dir}/ctd.sock
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
			ICMP
			SCTP
			DCCP
		}
	}
}
`,
  );
  // our receiver for conntrackd's transmissions: 127.0.0.2:PORT inside the namespace
  const rxHex: string[] = [];
  const listener = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.on('message',m=>console.log(m.toString('hex')));s.bind(${PORT},'127.0.0.2',()=>console.log('ready'));setTimeout(()=>process.exit(0),60000)`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(listener);
  let buffered = '';
  listener.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    rxHex.push(...lines);
  });
  const daemon = spawn('ip', ['netns', 'exec', ns, 'conntrackd', '-C', conf], { stdio: 'ignore' });
  children.push(daemon);
  for (let i = 0; i < 50 && !(existsSync(join(dir, 'ctd.sock')) && rxHex.includes('ready')); i++) await sleep(100);
  t.ok(existsSync(join(dir, 'ctd.sock')), 'conntrackd is up');
  t.ok(rxHex.includes('ready'), 'listener is up');

  // ---- our encoder -> conntrackd
  const out: Buffer[] = [];
  const packer = new DatagramPacker(1500 - 28, (d) => out.push(d));
  let seq = 1000;
  for (const f of flows) {
    const off = packer.reserve(ctMessageLength(f, opts));
    packer.commit(encodeCt(packer.buffer, off, 0, 0, seq++, f, opts) - off);
  }
  packer.flush();
  const sendJs = `const s=require('dgram').createSocket('udp4');const ds=process.argv.slice(1);let n=0;for(const h of ds)s.send(Buffer.from(h,'hex'),${PORT},'127.0.0.1',()=>{if(++n===ds.length)s.close()})`;
  inNs(process.execPath, ['-e', sendJs, ...out.map((d) => d.toString('hex'))]);
  let ext = '';
  for (let i = 0; i < 30; i++) {
    ext = ctd('-e');
    if (ext.split('\n').filter((l) => l.includes('dst=10.2.0.1')).length >= flows.length) break;
    await sleep(100);
  }
  const net = ctd('-s', 'network');
  t.match(net, /Malformed messages:\s+0\n/, 'conntrackd: no malformed message');
  t.match(net, /Malformed payload:\s+0\n/);
  const extLines = ext.split('\n').filter((l) => l.includes('dst=10.2.0.1') || l.includes('2001:db8'));
  t.equal(extLines.length, flows.length, 'all flows in conntrackd external cache');
  t.match(ext, /tcp\s+6 ESTABLISHED src=10\.1\.0\.1 dst=10\.2\.0\.1 sport=1111 dport=80 \[ASSURED\] mark=5/);
  t.match(ext, /src=2001:db8::1 dst=2001:db8::2 sport=3333 dport=443 \[ASSURED\] zone=7/);
  t.match(ext, /icmp\s+1 src=10\.1\.0\.4 dst=10\.2\.0\.1 type=8 code=0 id=4660/, 'ICMP id in host order (§3.6)');
  t.match(ext, /sport=7777 dport=21 \[ASSURED\] helper=ftp/);
  t.match(ext, /sctp\s+132 COOKIE_ECHOED src=10\.1\.0\.5/);

  // ---- conntrackd commits them into the namespace's kernel table
  ctd('-c');
  const table = inNs('conntrack', ['-L']);
  t.match(table, /src=10\.1\.0\.2 dst=10\.2\.0\.1 sport=2222 dport=80 src=172\.16\.0\.9 dst=172\.16\.0\.1 sport=8080 dport=40000/, 'SNAT+DNAT with SPAT/DPAT recreated exactly');
  t.match(table, /src=2001:db8::1 .* zone=7/);
  t.match(table, /type=8 code=0 id=4660 src=10\.2\.0\.1 dst=10\.1\.0\.4 type=0 code=0 id=4660/);

  // ---- conntrackd -> our decoder: resync its internal cache from the kernel and bulk-send it
  const before = rxHex.length;
  ctd('-R');
  ctd('-B');
  const want = new Set(flows.map((f) => formatAddr(f.orig.src)));
  const stats = new WireRxStats();
  const seen = new Map<string, Flow>();
  let identical = 0;
  let datagrams = 0;
  for (let i = 0; i < 50 && [...want].some((a) => !seen.has(a)); i++) {
    await sleep(100);
    for (const hex of rxHex.splice(before)) {
      if (!/^[0-9a-f]+$/.test(hex)) continue;
      const d = Buffer.from(hex, 'hex');
      datagrams++;
      const re: Buffer[] = [];
      walkDatagram(d, 0, d.length, stats, (h, b, s, e) => {
        if (h.type === NET_T.CTL) {
          const c = Buffer.alloc(isAckForm(h.type, h.flags) ? 16 : 8);
          re.push(c.subarray(0, encodeCtl(c, 0, h.flags, h.seq, h.from, h.to)));
          return;
        }
        const x = Buffer.alloc(2048);
        const m = decodeDataMessage(h, b, s, e, stats, opts);
        if (m?.kind !== 'ct') return;
        seen.set(formatAddr(m.flow.orig.src), m.flow);
        re.push(x.subarray(0, encodeCt(x, 0, m.type, h.flags, h.seq, m.flow, opts)));
      });
      if (Buffer.concat(re).equals(d)) identical++;
    }
  }
  t.ok(datagrams > 0, `received ${datagrams} datagrams from conntrackd`);
  t.equal(stats.malformed, 0, 'no rejection of conntrackd output');
  t.equal(identical, datagrams, 'every conntrackd datagram re-encodes byte for byte');
  for (const a of want) t.ok(seen.has(a), `flow ${a} came back`);
  t.same([...(seen.get('10.1.0.3')?.labels ?? [])], [...labels], 'labels bitmap survives kernel → conntrackd → us');
  t.same(seen.get('10.1.0.2')?.nat, { snatAddr: parseAddr('172.16.0.1'), dnatAddr: parseAddr('172.16.0.9'), snatPort: 40000, dnatPort: 8080 });
  t.equal(seen.get('2001:db8::1')?.zone, 7);
  t.equal(seen.get('10.1.0.7')?.helper, 'ftp');
  t.equal(seen.get('10.1.0.4')?.orig.icmpId, 0x1234);
  t.equal(seen.get('10.1.0.1')?.mark, 5);
});
