/**
 * Issue 4 §7.8: lifecycle. SIGTERM exits 0 and removes the socket, lock and readiness files;
 * `-k` stops the daemon the same way; a second daemon on the same lock (or the same control
 * socket) refuses to start with a clear message and leaves the first one intact; a lock left by a
 * killed daemon (dead PID, stale socket file) is taken over; `-d` detaches and `-k` stops it;
 * SIGHUP with a broken config keeps the daemon running; LogFile is honoured in the foreground.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, type LabNode, SyncLab, sleep, waitFor } from '../helpers/sync-lab';

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.NODE_OPTIONS;
  return e;
}

/** Starts `ctsyncd -C conf [...]` in the node's namespace without the lab's clean-up of old files. */
function launch(n: LabNode, conf: string, extra: string[] = []): { p: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const p = spawn('ip', ['netns', 'exec', n.ns, process.execPath, CTSYNCD, '-C', conf, ...extra], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  return { p, out: () => out, exit };
}

function killIfAlive(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

const files = (n: LabNode) => ['lock', 'ctl', 'ctl.ready'].filter((f) => fs.existsSync(path.join(n.dir, f)));
/** After a stop: lock and socket gone, the readiness file left saying 1 (keepalived takes a missing file as OK). */
const stoppedFiles = (n: LabNode) => {
  const ready = path.join(n.dir, 'ctl.ready');
  return ['lock', 'ctl'].filter((f) => fs.existsSync(path.join(n.dir, f))).concat(fs.existsSync(ready) ? [`ready=${fs.readFileSync(ready, 'utf8').trim()}`] : []);
};

t.test('lifecycle', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const a = lab.nodes[0]!;

  // SIGTERM
  await a.start();
  t.same(files(a).sort(), ['ctl', 'ctl.ready', 'lock'], 'running: socket, lock and readiness file exist');
  t.equal(fs.readFileSync(path.join(a.dir, 'lock'), 'utf8').trim(), String(a.proc!.pid), 'the lock holds the daemon PID');
  t.equal(await a.stop('SIGTERM'), 0, 'SIGTERM: exit 0');
  t.same(stoppedFiles(a), ['ready=1'], 'SIGTERM: socket and lock removed, readiness file says not ready');

  // -k
  await a.start();
  const exited = new Promise<number | null>((r) => a.proc!.once('exit', (c) => r(c)));
  const k = a.client(['-k']);
  t.equal(k.code, 0, `-k exits 0 ${k.stderr}`);
  t.equal(await Promise.race([exited, sleep(10_000).then(() => 'timeout')]), 0, '-k: the daemon exits 0');
  t.same(stoppedFiles(a), ['ready=1'], '-k: socket and lock removed, readiness file says not ready');

  // a second daemon on the same lock
  await a.start();
  const second = launch(a, a.confFile);
  const code2 = await Promise.race([second.exit, sleep(20_000).then(() => 'timeout')]);
  if (code2 === 'timeout') killIfAlive(second.p.pid);
  t.not(code2, 0, 'second daemon: exits non-zero');
  t.match(second.out(), new RegExp(`lock file .*held by running process ${a.proc!.pid}`), 'second daemon: says who holds the lock');
  t.same(files(a).sort(), ['ctl', 'ctl.ready', 'lock'], 'the first daemon keeps its files');
  t.equal(a.client(['-s', 'cache']).code, 0, 'the first daemon still answers');

  // a second daemon with its own lock but the first one's control socket
  const conf3 = path.join(a.dir, 'other-lock.conf');
  fs.writeFileSync(conf3, a.conf.replace(/LockFile \S+/, `LockFile ${a.dir}/lock3`).replace(/Port 3780/, 'Port 3781'));
  const third = launch(a, conf3);
  const code3 = await Promise.race([third.exit, sleep(20_000).then(() => 'timeout')]);
  if (code3 === 'timeout') killIfAlive(third.p.pid);
  t.not(code3, 0, `same socket: exits non-zero (${third.out().trim().split('\n').pop()})`);
  t.match(third.out(), /ctl/, 'same socket: names the socket');
  t.notOk(fs.existsSync(path.join(a.dir, 'lock3')), 'same socket: its own lock removed');
  t.equal(a.client(['-s', 'cache']).code, 0, 'the first daemon still answers on its socket');

  // crash (SIGKILL) leaves a stale lock and socket: the next start takes them over
  await a.stop('SIGKILL');
  t.ok(fs.existsSync(path.join(a.dir, 'lock')), 'after SIGKILL the lock (dead PID) is left');
  t.ok(fs.existsSync(path.join(a.dir, 'ctl')), 'after SIGKILL the socket file is left');
  const again = launch(a, a.confFile);
  t.teardown(() => killIfAlive(again.p.pid));
  t.ok(
    await waitFor(() => a.client(['-s', 'cache']).code === 0, 20_000, 200),
    `restart over a stale lock and socket: the daemon answers (${again.out().slice(-300)})`,
  );
  t.equal(fs.readFileSync(path.join(a.dir, 'lock'), 'utf8').trim(), String(again.p.pid), 'the lock now holds the new PID');

  // SIGHUP with a broken config: refused, daemon keeps running
  const saved = fs.readFileSync(a.confFile, 'utf8');
  fs.writeFileSync(a.confFile, saved.replace('General {', 'General {{'));
  process.kill(again.p.pid!, 'SIGHUP');
  await sleep(1000);
  fs.writeFileSync(a.confFile, saved);
  t.equal(again.p.exitCode, null, 'SIGHUP with a broken config: still running');
  t.match(again.out(), /reload refused/, 'SIGHUP with a broken config: says the reload was refused');
  t.equal(a.client(['-s', 'cache']).code, 0, 'and still answers');
  process.kill(again.p.pid!, 'SIGTERM');
  t.equal(await again.exit, 0, 'SIGTERM: exit 0');
  t.same(stoppedFiles(a), ['ready=1'], 'lock and socket removed, not ready');

  // -d: the parent returns once the daemon is ready; -k stops the detached daemon
  const t0 = Date.now();
  const d = spawnSync('ip', ['netns', 'exec', a.ns, process.execPath, CTSYNCD, '-C', a.confFile, '-d'], { env: env(), encoding: 'utf8', timeout: 40_000 });
  const detachedPid = Number(fs.existsSync(path.join(a.dir, 'lock')) ? fs.readFileSync(path.join(a.dir, 'lock'), 'utf8').trim() : 0);
  t.teardown(() => killIfAlive(detachedPid));
  t.equal(d.status, 0, `-d: the parent exits 0 in ${Date.now() - t0} ms ${d.stderr}`);
  t.ok(detachedPid > 0, `-d: the detached daemon holds the lock (PID ${detachedPid})`);
  t.equal(a.client(['-s', 'cache']).code, 0, '-d: the detached daemon answers');
  t.equal(a.client(['-k']).code, 0, '-d: -k accepted');
  t.ok(
    await waitFor(() => {
      try {
        process.kill(detachedPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000),
    '-d: the detached daemon is gone after -k',
  );
  t.same(stoppedFiles(a), ['ready=1'], '-d: lock and socket removed, not ready');

  // LogFile in the foreground (systemd runs us so): the lines go to the file, not stdout
  const logFile = path.join(a.dir, 'ctsyncd.log');
  const confLog = path.join(a.dir, 'logfile.conf');
  fs.writeFileSync(confLog, a.conf.replace('LogFile off', `LogFile ${logFile}`));
  const fg = launch(a, confLog);
  t.teardown(() => killIfAlive(fg.p.pid));
  t.ok(await waitFor(() => a.client(['-s', 'cache']).code === 0, 20_000, 200), 'LogFile: the daemon answers');
  process.kill(fg.p.pid!, 'SIGTERM');
  t.equal(await fg.exit, 0, 'LogFile: SIGTERM exit 0');
  const logged = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  t.match(logged, /ctsyncd started[\s\S]*ctsyncd stopping/, 'LogFile: start and stop lines are in the file');
  t.notMatch(fg.out(), /ctsyncd started/, 'LogFile: nothing on stdout');
});
