/**
 * Our own operator subcommands, talking JSON to the daemon's control socket:
 *   status [--json] [--ready]   stats [--json]   cache internal|external [--json]
 *   promote [--hold-ms N] [--no-hold]   demote
 * `promote` exists because keepalived raises the VIP before a notify script has committed, so
 * the first packets of synced flows meet an empty table (keepalived issues 2254, 2414): we hold
 * new/invalid forwarded traffic with an nft table while committing, fail-open after a bound.
 */
import { spawnSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { loadConfig } from '../config/load';
import { controlJson } from '../control/client';

interface OpsArgs {
  configFile: string;
  json: boolean;
  ready: boolean;
  which?: string;
  holdMs: number;
  hold: boolean;
}

const HELP: Record<string, string> = {
  status: 'ctsyncd status [-C FILE] [--json] [--ready]\n  Sync state. --ready: exit 0 when the first bulk sync from the peer is done, 1 otherwise.\n',
  stats: 'ctsyncd stats [-C FILE] [--json]\n  Every counter of the running daemon.\n',
  cache: 'ctsyncd cache internal|external [-C FILE] [--json]\n  The cache contents.\n',
  promote:
    'ctsyncd promote [-C FILE] [--hold-ms N] [--no-hold]\n  Become active: hold new/invalid forwarded traffic (nft, fail-open after N ms, default 2000),\n  commit the external cache, release, flush caches, resync with the kernel, bulk-send to peers.\n  Exit 0 when every entry was committed.\n',
  demote: 'ctsyncd demote [-C FILE]\n  Become backup: request a full resync from the peer (primary-backup.sh backup branch).\n',
};

function parse(sub: string, argv: string[]): OpsArgs | string {
  const a: OpsArgs = { configFile: '/etc/conntrackd/conntrackd.conf', json: false, ready: false, holdMs: 2000, hold: true };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '-C') a.configFile = argv[++i] ?? '';
    else if (x === '--json') a.json = true;
    else if (x === '--ready' && sub === 'status') a.ready = true;
    else if (x === '--hold-ms' && sub === 'promote') a.holdMs = Number(argv[++i]);
    else if (x === '--no-hold' && sub === 'promote') a.hold = false;
    else if (sub === 'cache' && (x === 'internal' || x === 'external') && !a.which) a.which = x;
    else return `unknown argument '${x}'`;
  }
  if (!a.configFile) return 'option -C needs a file name';
  if (sub === 'cache' && !a.which) return "cache needs 'internal' or 'external'";
  if (!Number.isFinite(a.holdMs) || a.holdMs < 0) return '--hold-ms needs a number of milliseconds';
  return a;
}

export async function runOpsCommand(sub: string, argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP[sub] ?? '');
    return 0;
  }
  const a = parse(sub, argv);
  if (typeof a === 'string') {
    process.stderr.write(`ctsyncd ${sub}: ${a}\n${HELP[sub] ?? ''}`);
    return 2;
  }
  let socketPath: string;
  try {
    socketPath = loadConfig(a.configFile).config.general.unixPath;
  } catch (err) {
    process.stderr.write(`ctsyncd: ${(err as Error).message}\n`);
    return 1;
  }
  const ask = (req: unknown, timeoutMs = 30_000) => controlJson(socketPath, req, { timeoutMs });
  try {
    switch (sub) {
      case 'status': {
        const s = (await ask({ cmd: 'status' })) as Record<string, unknown>;
        if (a.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        else process.stdout.write(formatStatus(s));
        return a.ready && s.ready !== true ? 1 : 0;
      }
      case 'stats':
        process.stdout.write(`${JSON.stringify(await ask({ cmd: 'stats' }), null, a.json ? 0 : 2)}\n`);
        return 0;
      case 'cache': {
        const rows = (await ask({ cmd: 'cache', which: a.which })) as unknown[];
        if (a.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
        return 0;
      }
      case 'promote':
        return await promote(a, ask);
      case 'demote': {
        const t0 = performance.now();
        await ask({ cmd: 'request-resync' });
        process.stdout.write(`demote: resync requested from the peer (${ms(t0)} ms)\n`);
        return 0;
      }
      default:
        return 2;
    }
  } catch (err) {
    process.stderr.write(`ctsyncd ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
}

const HOLD_TABLE = 'ctsyncd_promote_hold';

async function promote(a: OpsArgs, ask: (req: unknown, timeoutMs?: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let held = false;
  let failOpen: NodeJS.Timeout | undefined;
  const release = (why: string) => {
    if (!held) return;
    held = false;
    const r = nft(`delete table inet ${HOLD_TABLE}\n`);
    process.stdout.write(`promote: hold released (${why}) after ${ms(t0)} ms${r ? `: ${r}` : ''}\n`);
  };
  // keepalived or an operator may stop us mid-commit: never leave the hold behind on a signal
  // we can catch (SIGKILL cannot be caught: docs/operations.md says how to remove it by hand).
  const onSignal = (sig: NodeJS.Signals) => {
    release(`${sig} received`);
    process.stdout.write(`promote: interrupted by ${sig}; the commit may still finish in the daemon\n`);
    process.exit(128 + (osConstants.signals[sig] ?? 0));
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const sig of signals) process.once(sig, onSignal);
  if (a.hold) {
    // Priority -300 on forward: before the firewall's own rules. conntrack has already run in
    // prerouting, so unconfirmed entries created by mid-stream packets are dropped unconfirmed.
    const err = nft(
      `table inet ${HOLD_TABLE} {\n chain forward { type filter hook forward priority -300; policy accept; ct state new,invalid drop; }\n}\n`,
    );
    if (err) process.stdout.write(`promote: could not install the traffic hold (${err}); committing without it\n`);
    else {
      held = true;
      process.stdout.write(`promote: holding new/invalid forwarded traffic (fail-open after ${a.holdMs} ms)\n`);
      failOpen = setTimeout(() => release('fail-open bound reached'), a.holdMs);
    }
  }
  let ok = false;
  try {
    const tc = performance.now();
    const r = (await ask({ cmd: 'commit' }, 0)) as { outcome: string; ct: number; exp: number; failed: number; reason?: string; report?: { failedByReason?: Record<string, number> } };
    ok = r.outcome === 'ok';
    const reasons = Object.entries(r.report?.failedByReason ?? {})
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    process.stdout.write(
      `promote: commit ${r.outcome}: ${r.ct} entries, ${r.exp} expectations, ${r.failed} failed${reasons ? ` (${reasons})` : ''}${r.reason ? ` (${r.reason})` : ''} in ${ms(tc)} ms\n`,
    );
  } finally {
    if (failOpen) clearTimeout(failOpen);
    release('commit finished');
    for (const sig of signals) process.removeListener(sig, onSignal);
  }
  for (const [cmd, label] of [
    ['flush-external', 'external cache flushed'],
    ['resync-kernel', 'internal cache resynced with the kernel'],
    ['bulk', 'bulk update sent to peers'],
  ] as const) {
    const ts = performance.now();
    await ask({ cmd });
    process.stdout.write(`promote: ${label} (${ms(ts)} ms)\n`);
  }
  process.stdout.write(`promote: ${ok ? 'done' : 'done with a PARTIAL commit'} in ${ms(t0)} ms\n`);
  return ok ? 0 : 1;
}

function nft(script: string): string | undefined {
  const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' });
  if (r.error) return r.error.message;
  if (r.status !== 0) return (r.stderr || `nft exited ${r.status}`).trim();
  return undefined;
}

function ms(t0: number): number {
  return Math.round(performance.now() - t0);
}

function formatStatus(s: Record<string, unknown>): string {
  const peers = (s.peers as { id: number; lastMessageAgeMs: number | null; gaps: number }[]) ?? [];
  const links = (s.links as { name: string; up: boolean; active: boolean }[]) ?? [];
  let out = `node ${s.node}: mode ${s.mode}, ${s.ready ? 'READY' : 'NOT READY (first sync from the peer not complete)'}\n`;
  out += `uptime ${s.uptimeSeconds} s; internal cache ${s.internal}, external cache ${s.external}\n`;
  out += `queues: tx ${s.txQueue}, resend ${s.rsQueue}; oldest unacked ${s.oldestUnackedMs} ms\n`;
  for (const p of peers) out += `peer ${p.id || '(conntrackd-compatible)'}: last message ${p.lastMessageAgeMs === null ? 'never' : `${p.lastMessageAgeMs} ms ago`}, gaps ${p.gaps}\n`;
  for (const l of links) out += `link ${l.name}: ${l.up ? 'up' : 'DOWN'}${l.active ? ', active' : ''}\n`;
  return out;
}
