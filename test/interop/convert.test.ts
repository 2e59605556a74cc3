/**
 * Issue 5 §3: `ctsyncd config convert conntrackd.conf` prints the native equivalent, and ctsyncd
 * run on the converted JSON behaves as on the original file: same control socket and lock file,
 * same Filter (the sync link's own flows stay out of the internal cache), and a round trip of
 * flows with a conntrackd 1.4.7 peer still running on the original conntrackd.conf.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, type LabNode } from '../helpers/sync-lab';
import { dump } from './fixtures/interop';
import { assertConverged, startPair } from './fixtures/scenario';

function ctsyncd(args: string[]): { code: number; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [CTSYNCD, ...args], { encoding: 'utf8', env, timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

t.test('config convert: the lab conntrackd.conf as JSON drives ctsyncd against conntrackd', async (t) => {
  const p = await startPair(t, ['ctsyncd', 'conntrackd'], { mode: 'ftfw', transport: 'udp', start: [false, true] });
  const n: LabNode = p.a;
  const orig = path.join(n.dir, 'original.conf');
  fs.writeFileSync(orig, n.conf);

  const yaml = ctsyncd(['config', 'convert', orig]);
  t.equal(yaml.code, 0, `convert (YAML) exits 0 ${yaml.stderr}`);
  t.match(yaml.stdout, /^# converted from /, 'YAML output says where it came from');
  const conv = ctsyncd(['config', 'convert', orig, '--json']);
  t.equal(conv.code, 0, `convert --json exits 0 ${conv.stderr}`);
  const native = JSON.parse(conv.stdout) as Record<string, unknown>;
  t.ok(native && typeof native === 'object', 'the JSON parses');
  const jsonFile = path.join(n.dir, 'ctsyncd.json');
  const yamlFile = path.join(n.dir, 'ctsyncd.yaml');
  fs.writeFileSync(jsonFile, conv.stdout);
  fs.writeFileSync(yamlFile, yaml.stdout);
  const checks = [orig, jsonFile, yamlFile].map((f) => ctsyncd(['config', 'check', f]));
  for (const c of checks) t.equal(c.code, 0, `config check exits 0: ${c.stdout.trim()}${c.stderr.trim()}`);
  // the same summary (mode, link, socket, warnings) for the original and both conversions
  const summary = (s: string) => s.replace(/^\S+: OK \((conntrackd|json|yaml), /, '');
  t.equal(summary(checks[1]!.stdout), summary(checks[0]!.stdout), 'JSON: same resolved summary as the original');
  t.equal(summary(checks[2]!.stdout), summary(checks[0]!.stdout), 'YAML: same resolved summary as the original');

  // a rule that uses conntrack makes the kernel track the namespace's own traffic (conntrack
  // hooks are registered on demand), so the sync link's flows exist for the Filter to ignore
  n.exec('nft', ['-f', '-'], 'table inet ixct {\n chain o { type filter hook output priority 0; ct state new counter; }\n}\n');
  // run the node on the converted JSON (LabNode starts and queries whatever confFile names)
  n.conf = conv.stdout;
  Object.defineProperty(n, 'confFile', { get: () => jsonFile });
  await n.start();
  t.ok(fs.existsSync(path.join(n.dir, 'lock')), 'the lock file from the conntrackd.conf LockFile');
  t.ok(fs.existsSync(path.join(n.dir, 'ctl')), 'the control socket from UNIX { Path }');
  const s = n.client(['-s']);
  t.equal(s.code, 0, 'the conntrackd-style client finds the socket through the JSON file');
  t.match(s.stdout, /UDP traffic \(active device=sy0\):/, 'the UDP link on the configured interface');

  n.conntrack('-I -p tcp -s 10.31.0.1 -d 10.31.0.9 --sport 44000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m 11');
  p.b.conntrack('-I -p udp -s 10.31.0.2 -d 10.31.0.9 --sport 44001 --dport 53 -t 120 -u SEEN_REPLY');
  await assertConverged(t, n, p.b, 'converted ctsyncd → conntrackd');
  await assertConverged(t, p.b, n, 'conntrackd → converted ctsyncd');
  const internal = await dump(n, '-i');
  t.ok(internal.length >= 1, `internal cache: ${internal.length} entries`);
  t.ok(
    n.conntrack('-L').some((l) => /=10\.254\./.test(l)),
    'the kernel does track the sync link flows',
  );
  t.notOk(
    internal.some((l) => /=10\.254\./.test(l)),
    'the Filter survived the conversion: the sync link flows are not in the internal cache',
  );
  const ext = await dump(p.b, '-e');
  t.ok(
    ext.some((l) => /sport=44000 .*mark=11/.test(l)),
    'conntrackd received the flow with its mark',
  );
  t.equal(await n.stop(), 0, 'ctsyncd on the converted file exits 0');
});
