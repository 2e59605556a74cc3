/**
 * `ctsyncd -C FILE [-d]`: load the config, start the daemon, run until SIGTERM/SIGINT/`-k`.
 * Start-up errors print one clear line and exit 1, with nothing left running.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { loadConfig } from '../config/load';
import type { DaemonConfig } from '../config/types';
import { createLogger } from '../log/logger';
import type { DaemonArgs } from '../main';
import { Daemon } from './daemon';

export async function runDaemon(args: DaemonArgs): Promise<number> {
  let cfg: DaemonConfig;
  let warnings: { line?: number; message: string }[];
  try {
    ({ config: cfg, warnings } = loadConfig(args.configFile));
  } catch (err) {
    await startupFailed(`ctsyncd: ${(err as Error).message}`);
    return 1;
  }
  if (args.detach) return detach(args, cfg);

  let destination: ReturnType<typeof logFileSink>;
  try {
    destination = logFileSink(cfg);
  } catch (err) {
    await startupFailed(`ctsyncd: cannot open log file ${cfg.general.logFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return 1;
  }
  const log = createLogger({ level: cfg.general.logLevel, base: { node: cfg.nodeName }, destination });
  const daemon = new Daemon(cfg, args.configFile, log);
  const reload = () => {
    try {
      const next = loadConfig(args.configFile).config;
      daemon.reload(next).catch((err: unknown) =>
        log.error({ err: (err as Error).message }, 'reload incomplete: the metrics endpoint could not start (filters and log level were applied)'),
      );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload refused: the configuration is invalid; keeping the running one');
    }
  };
  // Signals are handled from here on, also during start-up (the kernel dump and the first sync
  // can take seconds on a big table): SIGHUP's default action would kill the daemon, and a
  // SIGTERM would leave the lock behind. During start-up both wait until it has finished.
  let started = false;
  let stopAfterStart: string | undefined;
  let reloadAfterStart = false;
  const onStop = (sig: string) => () => {
    if (started) void daemon.stop(sig);
    else stopAfterStart ??= sig;
  };
  process.on('SIGTERM', onStop('SIGTERM'));
  process.on('SIGINT', onStop('SIGINT'));
  process.on('SIGHUP', () => {
    if (started) return reload();
    reloadAfterStart = true;
    log.info({}, 'SIGHUP during start-up: the configuration is re-read once start-up has finished');
  });
  for (const w of warnings) log.warn({ file: args.configFile, line: w.line }, w.message);
  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    await startupFailed(`ctsyncd: start-up failed: ${(err as Error).message}`);
    return 1;
  }
  started = true;
  await startupDone();
  if (stopAfterStart) void daemon.stop(`${stopAfterStart} during start-up`);
  else if (reloadAfterStart) reload();
  // A bug in a callback must not take the firewall's state sync down: log it, count it, go on.
  let uncaught = 0;
  process.on('uncaughtException', (err) => {
    uncaught++;
    log.error({ err, uncaught }, 'uncaught exception (bug); continuing');
  });
  return daemon.stopped;
}

/**
 * `LogFile` (conntrackd: General/Stats LogFile): log lines are appended to it; without it they go
 * to stdout (the journal under systemd). A `-d` child needs nothing here: its stdout already is
 * the log file (CTSYNCD_DETACHED is set by detach()). Appends are synchronous writes to an
 * O_APPEND fd: the volume is small (rate-limited) and nothing is lost when the process dies, and
 * logrotate's copytruncate works.
 */
function logFileSink(cfg: DaemonConfig): { write(line: string): unknown } | undefined {
  const file = cfg.general.logFile;
  if (!file || process.env.CTSYNCD_DETACHED === '1') return undefined;
  const fd = fs.openSync(file, 'a', 0o640);
  return {
    write: (line: string) => {
      try {
        fs.writeSync(fd, line);
      } catch {
        // a full disk must not stop the sync
      }
    },
  };
}

/**
 * The one start-up error line. A detached child's stderr is /dev/null or the log file, so it also
 * hands the line to the waiting parent over the IPC channel (then closes it, or the channel
 * would keep this process alive) and the operator sees the reason, not just an exit code.
 */
async function startupFailed(line: string): Promise<void> {
  process.stderr.write(`${line}\n`);
  if (!process.send || !process.connected) return;
  await new Promise<void>((r) => process.send!({ startupError: line }, undefined, {}, () => r()));
  process.disconnect();
}

/** Tells a waiting `-d` parent that start-up is complete (no-op without the IPC channel). */
async function startupDone(): Promise<void> {
  if (!process.send || !process.connected) return;
  await new Promise<void>((r) => process.send!({ started: process.pid }, undefined, {}, () => r()));
  process.disconnect();
}

/**
 * `-d`: Node cannot fork, so re-run ourselves detached (new session, stdio to /dev/null or the
 * log file, an IPC channel for the start-up outcome) and wait until the child says it started,
 * or dies. Not the readiness file: one left behind by a killed daemon would make a failing
 * start look successful.
 */
async function detach(args: DaemonArgs, cfg: DaemonConfig): Promise<number> {
  const out = cfg.general.logFile ? fs.openSync(cfg.general.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [process.argv[1]!, '-C', args.configFile], {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, CTSYNCD_DETACHED: '1' },
  });
  let exited: number | null = null;
  let reason = '';
  let started = false;
  child.on('message', (m: { startupError?: unknown; started?: unknown }) => {
    if (typeof m?.startupError === 'string') reason = m.startupError;
    if (typeof m?.started === 'number') started = true;
  });
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      process.stderr.write(reason ? `${reason}\n` : `ctsyncd: the daemon exited during start-up (code ${exited})\n`);
      return 1;
    }
    if (started) {
      if (child.connected) child.disconnect();
      child.unref();
      return 0;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (child.connected) child.disconnect();
  child.unref(); // it may still come up; do not keep this process waiting for it
  process.stderr.write(`ctsyncd: the daemon (PID ${child.pid}) did not finish start-up within 30 s\n`);
  return 1;
}
