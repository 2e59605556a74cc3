/**
 * Small process helpers for the benchmark harness (root, outside the namespaces).
 * Everything is bounded: every command has a timeout, every wait a deadline.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Epoch milliseconds with sub-ms resolution: comparable with inject.ts and pcap stamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The environment for every child: without NODE_OPTIONS, so a parent's loader hooks (tap's)
 * never leak into a Node child (ctsyncd, its client, the injector).
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs a command, never throws; a timeout shows up as code 124 (like timeout(1)). */
export function run(cmd: string, args: readonly string[], timeoutMs = 60_000): RunResult {
  const t0 = nowMs();
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 512 << 20, env: childEnv() });
  const ms = nowMs() - t0;
  const code = r.error ? 124 : (r.status ?? 128 + 1);
  return { code, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''), ms };
}

/** Runs a command and throws with its stderr when it fails (setup steps). */
export function must(cmd: string, args: readonly string[], timeoutMs = 30_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${err.stderr || err.message}`);
  }
}

/** `ip netns exec NS cmd args` (never throws). */
export function nsRun(ns: string, cmd: string, args: readonly string[], timeoutMs = 60_000): RunResult {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}

export function nsMust(ns: string, cmd: string, args: readonly string[], timeoutMs = 30_000): string {
  return must('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}

/** Polls `probe` every `everyMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(probe: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = nowMs() + timeoutMs;
  for (;;) {
    if (probe()) return true;
    if (nowMs() >= end) return false;
    await sleep(everyMs);
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** The TypeScript loader the tests use (tap ships this ts-node fork; no extra dependency). */
export const TS_LOADER = require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only');

/**
 * `ip netns exec NS env -u NODE_OPTIONS node -r LOADER script args` (never throws). NODE_OPTIONS
 * is dropped so a parent's loader hooks (tap) do not leak into the child.
 */
export function nsNode(ns: string, script: string, args: readonly string[], timeoutMs: number): RunResult {
  return run('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-r', TS_LOADER, script, ...args], timeoutMs);
}

/** Async variant of nsNode for workloads that run while we poll (resolves, never rejects). */
export function nsNodeAsync(ns: string, script: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  const t0 = nowMs();
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-r', TS_LOADER, script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`;
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 124, stdout: out, stderr: err, ms: nowMs() - t0 });
    });
  });
}

/** Parses the last stdout line of an inject.ts run as JSON (undefined when it failed). */
export function lastJson<T>(r: RunResult): T | undefined {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}
