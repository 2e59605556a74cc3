/**
 * `npm pack` produces a package whose `ctsyncd` works after `npm install -g` (issue 7 §3): the
 * tarball carries the compiled JavaScript and the addon's source, and the install step builds
 * the addon on the target (Node's headers from the running node's prefix, never downloaded).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';

const ROOT = path.join(__dirname, '..', '..');

t.test('npm pack → npm install -g → ctsyncd runs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsyncd-pack-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_nodedir: '/usr' };
  delete env.NODE_OPTIONS;
  const out = execFileSync('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  const files = info[0]!.files.map((f) => f.path);
  t.ok(files.includes('dist/src/main.js'), 'compiled entry point packed');
  t.ok(files.includes('native/nlsock.cc') && files.includes('binding.gyp'), 'addon source packed');
  t.ok(files.includes('systemd/ctsyncd.service'), 'systemd unit packed');
  t.notOk(files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), 'no tests or node_modules');

  const prefix = path.join(dir, 'prefix');
  const inst = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--allow-scripts=ctsyncd', path.join(dir, info[0]!.filename)], {
    env,
    encoding: 'utf8',
    timeout: 240_000,
  });
  t.equal(inst.status, 0, `npm install -g succeeds ${inst.stderr.slice(-400)}`);
  const bin = path.join(prefix, 'bin', 'ctsyncd');
  const v = spawnSync(bin, ['--version'], { env, encoding: 'utf8' });
  t.match(v.stdout, /^ctsyncd v\d+\.\d+\.\d+/, 'installed ctsyncd prints its version');
  t.ok(fs.existsSync(path.join(prefix, 'lib', 'node_modules', 'ctsyncd', 'build', 'Release', 'nlsock.node')), 'addon built at install');
  const chk = spawnSync(bin, ['config', 'check', path.join(ROOT, 'config', 'primary-backup.conf')], { env, encoding: 'utf8' });
  t.equal(chk.status, 0, 'installed ctsyncd loads a config');
  const addon = path.join(prefix, 'lib', 'node_modules', 'ctsyncd', 'build', 'Release', 'nlsock.node');
  const load = spawnSync(process.execPath, ['-e', `process.stdout.write(Object.keys(require(${JSON.stringify(addon)})).sort().join(','))`], {
    env,
    encoding: 'utf8',
  });
  t.match(load.stdout, /unixDgramSend/, 'the installed addon loads');
});
