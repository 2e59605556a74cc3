/**
 * systemd/ctsyncd.service: `systemd-analyze verify`, offline `systemd-analyze security` exposure,
 * key directives; systemd/install.sh into a DESTDIR; the installed example config loads and
 * keeps its lock and socket inside the unit's RuntimeDirectory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config';

const root = path.resolve(__dirname, '../..');
const unitPath = path.join(root, 'systemd/ctsyncd.service');
const unit = fs.readFileSync(unitPath, 'utf8');

function tmpdir(t: { teardown(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsyncd-systemd-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The shipped unit with ExecStart pointed at this checkout's bin/ctsyncd (verify needs it to exist). */
function unitCopy(dir: string, edit: (s: string) => string = (s) => s): string {
  const p = path.join(dir, 'ctsyncd.service');
  fs.writeFileSync(p, edit(unit.replace(/^ExecStart=\/usr\/bin\/ctsyncd /m, `ExecStart=${root}/bin/ctsyncd `)));
  return p;
}

function directive(name: string): string[] {
  return [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]!);
}

t.test('key directives', async (t) => {
  t.same(directive('Type'), ['notify']);
  t.same(directive('NotifyAccess'), ['main']);
  t.same(directive('ExecStart'), ['/usr/bin/ctsyncd -C /etc/ctsyncd/ctsyncd.conf']);
  t.same(directive('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  t.same(directive('WatchdogSec'), ['30s']);
  t.same(directive('CapabilityBoundingSet'), ['CAP_NET_ADMIN']);
  t.same(directive('RestrictAddressFamilies'), ['AF_NETLINK AF_INET AF_INET6 AF_UNIX']);
  t.same(directive('RuntimeDirectory'), ['ctsyncd']);
  t.same(directive('NoNewPrivileges'), ['yes']);
  t.same(directive('ProtectSystem'), ['strict']);
  t.same(directive('MemoryDenyWriteExecute'), ['no'], 'V8 JIT needs W+X (documented in the unit)');
});

t.test('systemd-analyze verify', async (t) => {
  const dir = tmpdir(t);
  const r = spawnSync('systemd-analyze', ['verify', unitCopy(dir)], { encoding: 'utf8' });
  t.equal(r.status, 0, `verify: ${r.stderr}`);
  t.equal(r.stderr.trim(), '', 'no warnings');
  // negative control: verify does catch a broken unit
  const bad = spawnSync('systemd-analyze', ['verify', unitCopy(dir, (s) => s.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/ctsyncd'))], { encoding: 'utf8' });
  t.not(bad.status, 0, 'a missing ExecStart binary fails verification');
  if (fs.existsSync('/usr/bin/ctsyncd')) {
    const real = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
    t.equal(real.status, 0, `shipped unit verifies as is: ${real.stderr}`);
  }
});

t.test('systemd-analyze security (offline) exposure', async (t) => {
  const dir = tmpdir(t);
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', unitCopy(dir)], { encoding: 'utf8' });
  const m = /Overall exposure level for ctsyncd\.service: ([\d.]+) (\w+)/.exec(r.stdout);
  t.ok(m, 'exposure line printed');
  const score = Number(m![1]);
  t.comment(`systemd-analyze security --offline exposure: ${score} ${m![2]}`);
  t.ok(score <= 2.5, `exposure ${score} <= 2.5`);
  t.match(r.stdout, /✓ RestrictAddressFamilies=~AF_PACKET/);
  t.match(r.stdout, /✓ CapabilityBoundingSet=~CAP_SYS_ADMIN/);
});

t.test('install.sh into DESTDIR', async (t) => {
  const dest = tmpdir(t);
  const env = { ...process.env, DESTDIR: dest };
  const out = execFileSync('bash', [path.join(root, 'systemd/install.sh')], { env, encoding: 'utf8' });
  t.match(out, /staged into/);
  const f = (p: string) => path.join(dest, p);
  t.equal(fs.readFileSync(f('etc/systemd/system/ctsyncd.service'), 'utf8'), unit);
  const mode = (p: string) => fs.statSync(f(p)).mode & 0o777;
  t.equal(mode('etc/ctsyncd/ctsyncd.conf'), 0o640);
  t.equal(mode('etc/ctsyncd'), 0o750);
  t.equal(mode('etc/keepalived/ctsyncd-notify.sh'), 0o755);
  t.ok(fs.existsSync(f('etc/keepalived/ctsyncd.keepalived.conf.example')));
  t.match(fs.readFileSync(f('etc/modules-load.d/ctsyncd.conf'), 'utf8'), /^nf_conntrack_netlink$/m);
  t.equal(spawnSync('sh', ['-n', f('etc/keepalived/ctsyncd-notify.sh')]).status, 0, 'notify script parses');

  // the example config loads, and its lock + socket sit in RuntimeDirectory=ctsyncd
  const cfg = loadConfig(f('etc/ctsyncd/ctsyncd.conf')).config;
  t.match(cfg.general.lockFile, /^\/run\/ctsyncd\//);
  t.match(cfg.general.unixPath, /^\/run\/ctsyncd\//);

  // a second run keeps the admin's config
  fs.writeFileSync(f('etc/ctsyncd/ctsyncd.conf'), '# mine\n');
  const out2 = execFileSync('bash', [path.join(root, 'systemd/install.sh')], { env, encoding: 'utf8' });
  t.match(out2, /kept existing/);
  t.equal(fs.readFileSync(f('etc/ctsyncd/ctsyncd.conf'), 'utf8'), '# mine\n');

  // paths are overridable
  const out3 = execFileSync('bash', [path.join(root, 'systemd/install.sh')], { env: { ...env, UNITDIR: '/lib/systemd/system' }, encoding: 'utf8' });
  t.match(out3, /staged/);
  t.ok(fs.existsSync(f('lib/systemd/system/ctsyncd.service')));
});
