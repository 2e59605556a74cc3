/**
 * Issue 4 §7.7: bad configurations. `ctsyncd -C bad` must print one clear line on stderr, exit
 * non-zero, and leave nothing behind (no control socket, no lock file, no readiness file, no
 * process). Config errors are caught before anything starts; the last cases fail only at
 * start-up (address not on this host, socket path under a regular file, in use by another
 * program) and must undo what was already started. Run inside a lab namespace so nothing can
 * touch the root namespace even if a case unexpectedly starts.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, type LabNode, SyncLab, sh } from '../helpers/sync-lab';

interface Case {
  name: string;
  /** File name (the extension selects the format) and text; `dir` is the case's own directory. */
  file: string;
  text: (dir: string, good: string) => string;
  /** What the one stderr line must mention. */
  says: RegExp;
  prepare?: (dir: string) => void;
  args?: string[];
}

function run(node: LabNode, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stderr: string; stdout: string; pid: number }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', node.ns, process.execPath, CTSYNCD, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => process.kill(p.pid!, 'SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout, pid: p.pid! });
    });
  });
}

/** Rewrites the lab's valid conntrackd.conf so lock and socket live in the case's directory. */
function relocate(good: string, dir: string): string {
  return good.replace(/LockFile \S+/, `LockFile ${dir}/lock`).replace(/Path \S+ \}/, `Path ${dir}/ctl }`);
}

t.test('bad configurations: one clear stderr line, non-zero exit, nothing left behind', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const a = lab.nodes[0]!;
  const good = a.conf;
  const native = (dir: string, extra: Record<string, unknown>) =>
    JSON.stringify({
      channels: [{ kind: 'udp', localAddress: a.addr, peers: [lab.nodes[1]!.addr], port: 3780, interface: a.dev }],
      general: { lockFile: `${dir}/lock`, unixPath: `${dir}/ctl`, systemd: false },
      ...extra,
    });
  const cases: Case[] = [
    { name: 'syntax error (unbalanced brace)', file: 'c.conf', text: (d, g) => relocate(g, d).replace('General {', 'General {{'), says: /line \d+|syntax/i },
    // An unknown word in a conntrackd.conf is a warning by design (src/config: "conntrackd 1.4.7
    // would refuse this file"); a known option in the wrong block is an error, as in conntrackd.
    { name: 'option in the wrong block', file: 'c.conf', text: (d, g) => relocate(g, d).replace('Systemd off', 'Systemd off\n Port 3780'), says: /line.*Port|Port.*line/ },
    { name: 'missing channel', file: 'c.conf', text: (d, g) => relocate(g, d).replace(/UDP \{[^}]*\}/, ''), says: /channel|UDP|Multicast/i },
    { name: 'bad port', file: 'c.conf', text: (d, g) => relocate(g, d).replace('Port 3780', 'Port 70000'), says: /70000|port/i },
    { name: 'bad CIDR', file: 'c.conf', text: (d, g) => relocate(g, d).replace('IPv4_address 127.0.0.1', 'IPv4_address 10.0.0.0/33'), says: /10\.0\.0\.0\/33|CIDR|prefix/i },
    { name: 'bad mode', file: 'c.conf', text: (d, g) => relocate(g, d).replace('Mode FTFW', 'Mode TURBO'), says: /TURBO|mode/i },
    // conntrackd's grammar has no token for a relative path: a syntax error naming the line
    { name: 'relative lock path', file: 'c.conf', text: (d, g) => relocate(g, d).replace(/LockFile \S+/, 'LockFile run/ctsyncd.lock'), says: /line \(\d+\), symbol 'run'/ },
    {
      name: 'relative lock path (native)',
      file: 'c.json',
      text: (d) => native(d, {}).replace(`"lockFile":"${d}/lock"`, '"lockFile":"run/ctsyncd.lock"'),
      says: /lockFile.*absolute|absolute.*lockFile/i,
    },
    { name: 'config file missing', file: 'c.conf', text: () => '', says: /cannot read|ENOENT/, prepare: (d) => fs.rmSync(path.join(d, 'c.conf')) },
    { name: 'invalid JSON', file: 'c.json', text: (d) => native(d, {}).slice(0, -5), says: /invalid JSON/i },
    { name: 'unknown native key', file: 'c.json', text: (d) => native(d, { modee: 'ftfw' }), says: /modee/ },
    { name: 'invalid YAML', file: 'c.yaml', text: () => 'mode: ftfw\nchannels: [\n', says: /YAML/i },
    { name: 'missing key file', file: 'c.json', text: (d) => native(d, { envelope: { nodeId: 1, keyFiles: [`${d}/none.key`] } }), says: /none\.key/ },
    {
      name: 'key file readable by others',
      file: 'c.json',
      text: (d) => native(d, { envelope: { nodeId: 1, keyFiles: [`${d}/open.key`] } }),
      prepare: (d) => fs.writeFileSync(path.join(d, 'open.key'), 'ab'.repeat(32), { mode: 0o644 }),
      says: /open\.key.*(chmod|group|others)/,
    },
    { name: 'start-up: address not on this host', file: 'c.conf', text: (d, g) => relocate(g, d).replace(`IPv4_address ${a.addr}`, `IPv4_address 10.253.1.1`), says: /10\.253\.1\.1|address|bind/i },
    {
      name: 'start-up: socket path under a regular file',
      file: 'c.conf',
      text: (d, g) => relocate(g, d).replace(/Path \S+ \}/, `Path ${d}/afile/ctl }`),
      prepare: (d) => fs.writeFileSync(path.join(d, 'afile'), 'x'),
      says: /afile|ENOTDIR|control|socket/i,
    },
    { name: 'log file cannot be opened', file: 'c.conf', text: (d, g) => relocate(g, d).replace('LogFile off', `LogFile ${d}/no/such/dir/ctsyncd.log`), says: /cannot open log file .*ENOENT/ },
    {
      name: 'detached (-d): start-up fails in the child',
      file: 'c.conf',
      text: (d, g) => relocate(g, d).replace(`IPv4_address ${a.addr}`, `IPv4_address 10.253.1.1`),
      says: /10\.253\.1\.1|EADDRNOTAVAIL/,
      args: ['-d'],
    },
    { name: 'detached (-d) with a bad option', file: 'c.conf', text: (d, g) => relocate(g, d).replace('Port 3780', 'Port 0'), says: /port/i, args: ['-d'] },
  ];

  const results = await Promise.all(
    cases.map(async (c, i) => {
      const dir = path.join(lab.dir, `bad${i}`);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, c.file);
      fs.writeFileSync(file, c.text(dir, good));
      c.prepare?.(dir);
      const r = await run(a, ['-C', file, ...(c.args ?? [])]);
      return { c, dir, r };
    }),
  );
  for (const { c, dir, r } of results) {
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    t.not(r.code, 0, `${c.name}: exits non-zero (${r.code})`);
    t.equal(lines.length, 1, `${c.name}: one stderr line: ${JSON.stringify(r.stderr.slice(0, 300))}`);
    t.match(lines[0] ?? '', c.says, `${c.name}: says what is wrong`);
    t.ok(/^ctsyncd: /.test(lines[0] ?? ''), `${c.name}: the line starts with "ctsyncd: "`);
    const left = ['lock', 'ctl', 'ctl.ready', 'afile/ctl'].filter((f) => fs.existsSync(path.join(dir, f)));
    t.same(left, [], `${c.name}: no lock, socket or readiness file left`);
  }
  // nothing of ours keeps running in the namespace (a detached child would show up here)
  const pids = sh('ip', ['netns', 'pids', a.ns]).split('\n').filter(Boolean);
  t.same(pids, [], 'no process left in the namespace');
});
