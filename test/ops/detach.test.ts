/**
 * Issue 7 §4: `ctsyncd -C FILE -d`. It returns 0 once the daemon is up and the daemon keeps
 * running in the background (its PID is in the lock file; it is stopped by that PID and cleans
 * up); logs go to `LogFile`. It returns non-zero, with the reason, for a bad config, for a
 * start-up failure after the fork (the lock is held), and also when a killed daemon left its
 * readiness file behind (the parent must not take a stale file for success).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, type LabNode, SyncLab, waitFor } from '../helpers/sync-lab';
import { childEnv, killIfAlive, pidAlive } from './fixtures/ops';

function detach(n: LabNode, conf: string): { code: number; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync('ip', ['netns', 'exec', n.ns, process.execPath, CTSYNCD, '-C', conf, '-d'], { encoding: 'utf8', timeout: 40_000, env: childEnv() });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

const lockPid = (n: LabNode): number => Number.parseInt(fs.readFileSync(path.join(n.dir, 'lock'), 'utf8'), 10);

t.test('-d: detach, run in the background, stop by the lock file PID', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  const pids: number[] = [];
  t.teardown(async () => {
    for (const p of pids) killIfAlive(p);
    await lab.destroy();
  });
  const a = lab.nodes[0]!;
  const logFile = path.join(a.dir, 'ctsyncd.log');
  a.conf = a.conf.replace('LogFile off', `LogFile ${logFile}`);
  fs.writeFileSync(a.confFile, a.conf);

  const r = detach(a, a.confFile);
  t.equal(r.code, 0, `-d exits 0 (${r.stderr.trim()})`);
  t.comment(`-d returned after ${r.ms} ms`);
  const pid = lockPid(a);
  pids.push(pid);
  t.ok(pid > 0 && pidAlive(pid), `the daemon runs in the background (PID ${pid} from the lock file)`);
  t.equal(fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').includes(a.dev), true, "it runs in the node's namespace");
  t.equal(a.client(['-s', 'cache']).code, 0, 'its control socket answers');
  t.ok(fs.existsSync(path.join(a.dir, 'ctl.ready')), 'readiness file written');
  t.ok(await waitFor(() => fs.existsSync(logFile) && /ctsyncd started/.test(fs.readFileSync(logFile, 'utf8')), 5000), 'logs go to LogFile');

  // a second -d while it runs: the child fails on the lock, the parent reports why
  const second = detach(a, a.confFile);
  t.not(second.code, 0, '-d while another daemon holds the lock: non-zero');
  t.match(second.stderr, new RegExp(`held by running process ${pid}`), `the reason reaches the terminal: ${second.stderr.trim()}`);
  t.ok(pidAlive(pid), 'the running daemon is untouched');

  process.kill(pid, 'SIGTERM');
  t.ok(await waitFor(() => !pidAlive(pid), 10_000), 'SIGTERM to the lock file PID stops it');
  for (const f of ['lock', 'ctl']) t.notOk(fs.existsSync(path.join(a.dir, f)), `${f} removed`);
  t.equal(fs.readFileSync(path.join(a.dir, 'ctl.ready'), 'utf8').trim(), '1', 'readiness file left saying not ready');

  // a killed daemon leaves its readiness file; a failing -d must not take it for success
  const r2 = detach(a, a.confFile);
  t.equal(r2.code, 0, '-d again');
  const pid2 = lockPid(a);
  pids.push(pid2);
  process.kill(pid2, 'SIGKILL');
  t.ok(await waitFor(() => !pidAlive(pid2), 5000), 'SIGKILL');
  t.ok(fs.existsSync(path.join(a.dir, 'ctl.ready')), 'a stale readiness file is left behind');
  // make the next start fail after the fork: the lock names a live process (this test)
  fs.writeFileSync(path.join(a.dir, 'lock'), `${process.pid}\n`);
  const r3 = detach(a, a.confFile);
  t.not(r3.code, 0, `-d whose daemon fails at start-up exits non-zero despite the stale readiness file (${r3.stderr.trim()})`);
  t.match(r3.stderr, /lock file .* held by running process/, 'with the reason');
  fs.rmSync(path.join(a.dir, 'lock'), { force: true });

  // a bad config with -d
  const bad = path.join(a.dir, 'bad.conf');
  fs.writeFileSync(bad, a.conf.replace('Mode FTFW', 'Mode FROBNICATE'));
  const r4 = detach(a, bad);
  t.not(r4.code, 0, 'bad config with -d: non-zero');
  t.match(r4.stderr, /^ctsyncd: .+/, `one error line: ${r4.stderr.trim()}`);
  t.notOk(fs.existsSync(path.join(a.dir, 'lock')), 'no lock left behind');
});
