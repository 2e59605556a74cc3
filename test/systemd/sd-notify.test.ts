/**
 * sd_notify against a real AF_UNIX datagram socket (python3 plays systemd, with SO_PASSCRED so
 * we also see the sender pid that NotifyAccess=main checks), through the native addon's
 * unixDgramSend; plus the watchdog timing rules.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import t from 'tap';
import { formatNotify, SdNotifier } from '../../src/daemon/sd-notify';
import { Watchdog, watchdogIntervalMs } from '../../src/daemon/watchdog';

interface Msg {
  text: string;
  pid: number | null;
  /** listener's CLOCK_MONOTONIC (µs) at receipt */
  mono: number;
}

class Listener {
  readonly msgs: Msg[] = [];
  private readonly child: ChildProcess;
  private wake: (() => void) | undefined;
  readonly listening: Promise<void>;
  constructor(sockPath: string) {
    this.child = spawn('python3', [path.join(__dirname, 'fixtures/notify-listener.py'), sockPath], { stdio: ['pipe', 'pipe', 'inherit'] });
    let onListen: () => void = () => {};
    this.listening = new Promise((r) => {
      onListen = r;
    });
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as Msg & { listening?: string };
      if (o.listening) return onListen();
      this.msgs.push(o);
      this.wake?.();
    });
  }
  async waitCount(n: number, timeoutMs = 3000): Promise<Msg[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.msgs.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${this.msgs.length} of ${n} notifications`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    return this.msgs;
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      if (this.child.exitCode !== null) return r();
      this.child.once('exit', () => r());
      this.child.stdin!.end();
    });
  }
}

t.test('formatNotify', async (t) => {
  t.equal(formatNotify({ READY: 1, STATUS: 'syncing\nwith peer' }), 'READY=1\nSTATUS=syncing with peer');
  t.throws(() => formatNotify({ 'bad key': 1 }));
});

t.test('messages reach a unix datagram socket (path), sender pid is ours', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsyncd-notify-'));
  const sock = path.join(dir, 'notify');
  const l = new Listener(sock);
  t.teardown(async () => {
    await l.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await l.listening;
  const n = new SdNotifier({ socketPath: sock });
  t.equal(n.enabled, true);
  t.ok(n.status('starting: dumping kernel table'));
  t.ok(n.ready('synced 0 peers'));
  t.ok(n.watchdog());
  t.ok(n.reloading());
  t.ok(n.mainPid(1234));
  t.ok(n.stopping('bye'));
  const msgs = await l.waitCount(6);
  t.same(
    msgs.map((m) => m.text.replace(/MONOTONIC_USEC=\d+/, 'MONOTONIC_USEC=N')),
    ['STATUS=starting: dumping kernel table', 'READY=1\nSTATUS=synced 0 peers', 'WATCHDOG=1', 'RELOADING=1\nMONOTONIC_USEC=N', 'MAINPID=1234', 'STOPPING=1\nSTATUS=bye'],
  );
  const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(msgs[3]!.text)![1]!);
  const lag = msgs[3]!.mono - usec;
  t.ok(lag >= 0 && lag < 2_000_000, `MONOTONIC_USEC is CLOCK_MONOTONIC (listener saw it ${lag} µs later)`);
  for (const m of msgs) t.equal(m.pid, process.pid, 'SCM_CREDENTIALS pid = our pid (NotifyAccess=main)');
  t.same(n.stats, { sent: 6, failed: 0 });
});

t.test('abstract socket (@name) and env default', async (t) => {
  const name = `@ctsyncd-test-${process.pid}`;
  const l = new Listener(name);
  t.teardown(() => l.stop());
  await l.listening;
  const n = new SdNotifier({ socketPath: undefined, send: undefined });
  t.equal(n.enabled, Boolean(process.env.NOTIFY_SOCKET), 'enabled follows $NOTIFY_SOCKET');
  const saved = process.env.NOTIFY_SOCKET;
  process.env.NOTIFY_SOCKET = name;
  t.teardown(() => {
    if (saved === undefined) delete process.env.NOTIFY_SOCKET;
    else process.env.NOTIFY_SOCKET = saved;
  });
  const n2 = new SdNotifier();
  t.ok(n2.ready());
  const msgs = await l.waitCount(1);
  t.equal(msgs[0]!.text, 'READY=1');
});

t.test('no socket: no-op; send failure: counted, not thrown', async (t) => {
  const off = new SdNotifier({ socketPath: '' });
  t.equal(off.enabled, false);
  t.equal(off.ready(), false);
  const errors: string[] = [];
  const bad = new SdNotifier({ socketPath: '/nonexistent/ctsyncd/notify', onError: (_e, m) => errors.push(m) });
  t.equal(bad.watchdog(), false);
  t.same(bad.stats, { sent: 0, failed: 1 });
  t.same(errors, ['WATCHDOG=1']);
  const injected: string[] = [];
  const inj = new SdNotifier({ socketPath: '/x', send: (p, b) => injected.push(`${p}:${b.toString()}`) });
  inj.status('hi');
  t.same(injected, ['/x:STATUS=hi']);
});

t.test('watchdogIntervalMs', async (t) => {
  t.equal(watchdogIntervalMs({}), undefined);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }), 15000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined, 'for another pid');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'junk' }), undefined);
});

t.test('watchdog pings every WATCHDOG_USEC/2 on a live loop, skips after a stall', async (t) => {
  const at: number[] = [];
  const wd = new Watchdog({ env: { WATCHDOG_USEC: '200000' }, ping: () => at.push(performance.now()) > 0 });
  t.equal(wd.intervalMs, 100);
  wd.start();
  await new Promise((r) => setTimeout(r, 550));
  // ~6 ticks in 550 ms; on a loaded machine some may be late (skipped), none may be invented
  const ticks = wd.stats.pings + wd.stats.skippedLate;
  t.ok(ticks >= 3 && ticks <= 7, `ticks in 550 ms at 100 ms: ${ticks}`);
  t.ok(wd.stats.pings >= 2, `pings: ${wd.stats.pings}`);
  t.equal(at.length, wd.stats.pings);
  for (let i = 1; i < at.length; i++) t.ok(at[i]! - at[i - 1]! >= 95, 'pings never closer than the interval');
  // block the loop for 250 ms (> interval + maxLag): the late tick must not ping
  const before = wd.stats.skippedLate;
  const pingsBefore = wd.stats.pings;
  const end = performance.now() + 250;
  while (performance.now() < end) {
    // deliberate stall, bounded to 250 ms
  }
  await new Promise((r) => setTimeout(r, 5));
  t.ok(wd.stats.skippedLate >= before + 1, 'late tick skipped');
  t.equal(wd.stats.pings, pingsBefore, 'no ping for the stalled tick');
  wd.stop();
  const n = at.length;
  await new Promise((r) => setTimeout(r, 250));
  t.equal(at.length, n, 'no pings after stop()');
});

t.test('watchdog: unhealthy predicate suppresses pings; disabled without WATCHDOG_USEC', async (t) => {
  let healthy = false;
  let pings = 0;
  // maxLagMs large: this test is about the health predicate, not timing
  const wd = new Watchdog({ env: { WATCHDOG_USEC: '60000' }, ping: () => ++pings > 0, healthy: () => healthy, maxLagMs: 10_000 });
  wd.start();
  await new Promise((r) => setTimeout(r, 150));
  t.equal(pings, 0);
  t.ok(wd.stats.skippedUnhealthy >= 2);
  healthy = true;
  await new Promise((r) => setTimeout(r, 150));
  t.ok(pings >= 2);
  wd.stop();
  const off = new Watchdog({ env: {}, ping: () => true });
  off.start();
  t.equal(off.enabled, false);
  t.same(off.stats, { pings: 0, skippedLate: 0, skippedUnhealthy: 0, failed: 0 });
});
