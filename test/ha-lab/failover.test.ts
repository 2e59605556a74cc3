// ha-lab fail-over suite (issue 6): connections through an active/backup firewall pair survive a
// fail-over when the sync daemon replicates and the backup commits; they must NOT survive without
// the daemon, or without the commit (negative controls: they prove the lab really depends on the
// replicated state, see ha-lab/README.md on nf_conntrack_tcp_loose=0).
//
// The daemons under test come from HA_LAB_DAEMONS (comma separated, default "conntrackd");
// `HA_LAB_DAEMONS=conntrackd,ctsyncd npx tap test/ha-lab` runs every scenario for both.
// Mixed pairs (fwA's daemon:fwB's daemon) come from HA_LAB_PAIRS, e.g. "conntrackd:ctsyncd,
// ctsyncd:conntrackd" (default: none).
import { spawn } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';

const LAB = path.resolve(__dirname, '../../ha-lab');
const DAEMONS = (process.env.HA_LAB_DAEMONS ?? 'conntrackd')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s.length > 0);
// Unique per test process, so this file never collides with a demo or another lab.
const PAIRS = (process.env.HA_LAB_PAIRS ?? '')
  .split(',')
  .map((s) => s.trim().split(':'))
  .filter((p): p is [string, string] => p.length === 2 && p[0] !== '' && p[1] !== '');
const PREFIX = `hlf${process.pid % 100000}`;

interface Result {
  daemon: string | null;
  mode: string;
  driver: string;
  firewall: string;
  ipv6: boolean;
  conns: number;
  connected: number;
  survived: number;
  resets: number;
  closed: number;
  stalled: number;
  gaps: number;
  dups: number;
  sent: number;
  echoed: number;
  outageMaxMs: number | null;
  outageP50Ms: number | null;
  syncLagMs: number | null;
  externalEntries: number | null;
  committedEntries: number | null;
  commitMs: number | null;
  promoteMs: number | null;
  idleFlows: number | null;
  fwBKernelEntries: number | null;
  pass: boolean;
}

interface Run {
  code: number | null;
  result: Result | null;
  output: string;
}

function labEnv(daemon: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, HL_PREFIX: PREFIX, SYNC_DAEMON: daemon, ...extra };
}

// Runs one experiment (failover.sh builds and tears down its own lab); bounded by a timeout that
// stops the script by its PID (its trap then removes the lab).
function failover(daemon: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(LAB, 'failover.sh'), ...args], {
      env: labEnv(daemon, extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      const result = line ? (JSON.parse(line.slice('RESULT '.length)) as Result) : null;
      resolve({ code, result, output });
    });
  });
}

function labDown(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('bash', [path.join(LAB, 'lab.sh'), 'down'], { env: labEnv('conntrackd'), stdio: 'ignore' });
    child.on('close', () => resolve());
  });
}

t.teardown(labDown);

// The positive case: every connection continued on the same socket with nothing lost.
function assertSurvived(t: Test, run: Run, conns: number): void {
  const r = run.result;
  if (!r) {
    t.fail(`no RESULT line; output:\n${run.output}`);
    return;
  }
  t.equal(run.code, 0, 'failover.sh reports pass');
  t.equal(r.connected, conns, 'all connections established through fwA');
  t.equal(r.survived, conns, 'every connection survived on the same socket');
  t.equal(r.resets, 0, 'no reset');
  t.equal(r.closed, 0, 'no connection closed');
  t.equal(r.gaps + r.dups, 0, 'no gap or duplicate in the numbering');
  t.equal(r.echoed, r.sent, 'every message echoed');
  t.ok((r.externalEntries ?? 0) >= conns, `fwB learned the flows (${r.externalEntries} external entries)`);
  t.ok((r.committedEntries ?? 0) >= conns, `fwB kernel holds the flows (${r.committedEntries})`);
  t.ok(r.outageMaxMs !== null && r.outageMaxMs < 10_000, `outage gap bounded (${r.outageMaxMs} ms)`);
  t.comment(JSON.stringify(r));
}

// The negative controls: nothing survives; the connections stall (the backup drops their
// mid-stream packets as INVALID) rather than carrying on.
function assertBroken(t: Test, run: Run, conns: number): void {
  const r = run.result;
  if (!r) {
    t.fail(`no RESULT line; output:\n${run.output}`);
    return;
  }
  t.equal(run.code, 1, 'failover.sh reports failure');
  t.equal(r.connected, conns, 'all connections were established before the failure');
  t.equal(r.survived, 0, 'no connection survived');
  t.equal(r.stalled + r.resets, conns, 'every connection stalled or was reset');
  t.ok(r.echoed < r.sent, 'messages sent after the failure were never echoed');
  t.equal(r.committedEntries, 0, 'fwB kernel has no entry for the flows');
  t.comment(JSON.stringify(r));
}

// Daemon-independent negative control: no sync daemon at all.
t.test('negative control: without a sync daemon the connections do not survive', async (t) => {
  const run = await failover('conntrackd', ['--mode', 'nosync', '--conns', '5', '--interval', '50', '--after', '3']);
  assertBroken(t, run, 5);
});

for (const daemon of DAEMONS) {
  t.test(`${daemon}: 1 connection survives a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '1', '--interval', '50', '--after', '4']);
    assertSurvived(t, run, 1);
    t.equal(run.result?.daemon, daemon);
  });

  t.test(`${daemon}: 500 connections survive a scripted failover`, async (t) => {
    const run = await failover(daemon, ['--conns', '500', '--interval', '100', '--after', '5']);
    assertSurvived(t, run, 500);
  });

  t.test(`${daemon}: negative control: synced but not committed, the connections do not survive`, async (t) => {
    const run = await failover(daemon, ['--mode', 'nocommit', '--conns', '5', '--interval', '50', '--after', '3']);
    assertBroken(t, run, 5);
    t.ok((run.result?.externalEntries ?? 0) >= 5, 'the flows were replicated to fwB (only the commit is missing)');
  });

  t.test(`${daemon}: keepalived (VRRPv3) drives the failover through its notify hook`, async (t) => {
    const run = await failover(daemon, ['--driver', 'keepalived', '--conns', '20', '--interval', '100', '--after', '6']);
    assertSurvived(t, run, 20);
    t.equal(run.result?.driver, 'keepalived');
    t.ok(run.result?.commitMs !== null, 'notify_master ran the commit');
  });

  t.test(`${daemon}: iptables-nft firewall variant`, async (t) => {
    const run = await failover(daemon, ['--conns', '5', '--interval', '50', '--after', '3'], { HL_FW: 'iptables' });
    assertSurvived(t, run, 5);
    t.equal(run.result?.firewall, 'iptables');
  });

  t.test(`${daemon}: IPv6 variant`, async (t) => {
    const run = await failover(daemon, ['--ipv6', '--conns', '5', '--interval', '50', '--after', '4']);
    assertSurvived(t, run, 5);
    t.equal(run.result?.ipv6, true);
  });
}

for (const daemon of DAEMONS) {
  t.test(`${daemon}: 100k idle background flows are synced and committed; live ones survive`, async (t) => {
    const run = await failover(daemon, ['--idle', '100000', '--conns', '20', '--interval', '100', '--after', '4']);
    assertSurvived(t, run, 20);
    t.equal(run.result?.idleFlows, 100000);
    t.ok((run.result?.fwBKernelEntries ?? 0) >= 100020, `fwB kernel holds idle + live flows (${run.result?.fwBKernelEntries})`);
  });
}

for (const [a, b] of PAIRS) {
  t.test(`mixed pair: ${a} on fwA, ${b} on fwB`, async (t) => {
    const run = await failover(a, ['--conns', '20', '--interval', '100', '--after', '4'], {
      SYNC_DAEMON_A: a,
      SYNC_DAEMON_B: b,
    });
    assertSurvived(t, run, 20);
    t.equal(run.result?.daemon, b);
  });
}
