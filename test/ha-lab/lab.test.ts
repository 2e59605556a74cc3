// ha-lab topology (issue 6): lab.sh up/down/status are idempotent, build what the README says
// (VIPs, no route back from the server, drop policies, tcp_loose=0) and leave nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';

const LAB = path.resolve(__dirname, '../../ha-lab/lab.sh');
const PREFIX = `hll${process.pid % 100000}`;
const env = { ...process.env, HL_PREFIX: PREFIX, SYNC_DAEMON: 'ctsyncd' };

function sh(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const lab = (...args: string[]) => sh('bash', [LAB, ...args]);
const inNs = (ns: string, ...args: string[]) => sh('ip', ['netns', 'exec', `${PREFIX}-${ns}`, ...args]);
const ourNamespaces = () =>
  sh('ip', ['netns', 'list'])
    .out.split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${PREFIX}-`));

t.teardown(() => {
  lab('down');
});

t.test('up builds the topology, twice is a no-op, down removes everything', async (t) => {
  t.equal(lab('up').code, 0, 'up');
  t.same(ourNamespaces().sort(), ['client', 'fwA', 'fwB', 'lan', 'server', 'wan'].map((n) => `${PREFIX}-${n}`).sort());
  const again = lab('up');
  t.equal(again.code, 0, 'second up');
  t.match(again.out, /already up/);
  const st = lab('status');
  t.equal(st.code, 0);
  t.match(st.out, /fwA: VIPs held: 2\/2/);
  t.match(st.out, /fwB: VIPs held: 0\/2/);

  for (const fw of ['fwA', 'fwB']) {
    t.equal(inNs(fw, 'sysctl', '-n', 'net.netfilter.nf_conntrack_tcp_loose').out.trim(), '0', `${fw} tcp_loose=0`);
    t.equal(inNs(fw, 'sysctl', '-n', 'net.ipv4.ip_forward').out.trim(), '1', `${fw} forwarding`);
    const rules = inNs(fw, 'nft', 'list', 'ruleset').out;
    t.match(rules, /hook input priority filter; policy drop;/, `${fw} input policy drop`);
    t.match(rules, /hook forward priority filter; policy drop;/, `${fw} forward policy drop`);
    t.match(rules, /snat ip to 10\.77\.2\.1|snat to 10\.77\.2\.1/, `${fw} SNAT to the WAN VIP`);
  }
  t.match(inNs('client', 'ip', 'route', 'show', 'default').out, /default via 10\.77\.1\.1 /, 'client gateway = LAN VIP');
  t.not(inNs('server', 'ip', 'route', 'get', '10.77.1.10').code, 0, 'server has no route back to the LAN');
  t.match(fs.readFileSync(`/run/${PREFIX}/fwB/conntrackd.conf`, 'utf8'), /IPv4_Destination_Address 10\.77\.3\.1/);
  // ctsyncd (the default): keepalived tracks the daemon's readiness file with weight 0.
  const ka = fs.readFileSync(`/run/${PREFIX}/fwB/keepalived.conf`, 'utf8');
  t.match(ka, new RegExp(`track_file hl_ready \\{\\s+file "/run/${PREFIX}/fwB/daemon\\.ctl\\.ready"\\s+weight 0`), 'track_file on the readiness file');
  t.match(ka, /track_file \{\s+hl_ready\s+\}/, 'the VRRP instance tracks it');
  t.match(fs.readFileSync(`/run/${PREFIX}/fwB/daemon.env`, 'utf8'), /DAEMON_KIND=ctsyncd/);

  t.equal(lab('down').code, 0, 'down');
  t.same(ourNamespaces(), [], 'no namespace left');
  t.notOk(fs.existsSync(`/run/${PREFIX}`), 'run dir removed');
  t.equal(lab('down').code, 0, 'second down');
  t.equal(lab('status').code, 3, 'status reports down');
});

t.test('down stops the processes it started, by pid file', async (t) => {
  t.equal(lab('up').code, 0);
  t.equal(lab('daemon', 'start', 'A').code, 0, 'daemon starts on fwA');
  const pid = Number(fs.readFileSync(`/run/${PREFIX}/fwA/daemon.pid`, 'utf8'));
  t.ok(pid > 1);
  t.doesNotThrow(() => process.kill(pid, 0), 'daemon running');
  t.match(lab('status').out, new RegExp(`fwA: .*sync daemon: running pid ${pid}`));
  t.equal(lab('down').code, 0);
  t.throws(() => process.kill(pid, 0), 'daemon gone after down');
});

t.test('iptables variant installs the same policy; conntrackd has no readiness track_file', async (t) => {
  t.equal(sh('bash', [LAB, 'up'], { HL_FW: 'iptables', SYNC_DAEMON: 'conntrackd' }).code, 0);
  t.notMatch(fs.readFileSync(`/run/${PREFIX}/fwB/keepalived.conf`, 'utf8'), /track_file/, 'no track_file for conntrackd');
  const rules = inNs('fwB', 'iptables', '-S').out;
  t.match(rules, /-P FORWARD DROP/);
  t.match(rules, /-A FORWARD -m conntrack --ctstate INVALID -j DROP/);
  t.match(inNs('fwB', 'iptables', '-t', 'nat', '-S').out, /SNAT --to-source 10\.77\.2\.1/);
  t.equal(lab('down').code, 0);
});

t.test('demo.sh interrupted by SIGTERM mid-run leaves nothing behind', async (t) => {
  const demo = spawn('bash', [path.resolve(__dirname, '../../ha-lab/demo.sh'), '--no-setup', '--conns', '20'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  demo.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  demo.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => demo.on('close', (code) => resolve(code)));
  // Interrupt once the connections run through fwA (daemons, traffic tool, everything started).
  const end = Date.now() + 60_000;
  while (Date.now() < end && !/established through fwA/.test(out)) await new Promise((r) => setTimeout(r, 100));
  t.match(out, /established through fwA/, 'the demo got as far as live connections');
  demo.kill('SIGTERM');
  t.equal(await exited, 130, 'demo exits 130 on SIGTERM');
  t.match(out, /interrupted, cleaning up/);
  t.same(ourNamespaces(), [], 'no namespace left');
  t.notOk(fs.existsSync(`/run/${PREFIX}`), 'run dir removed');
  const ps = sh('ps', ['-eo', 'args']).out.split('\n').filter((l) => l.includes(`/run/${PREFIX}/`) || l.includes(`${PREFIX}-`));
  t.same(ps, [], 'no process of the lab left');
});
