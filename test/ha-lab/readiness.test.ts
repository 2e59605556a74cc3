// ha-lab readiness (issue 6 §3): ctsyncd writes "<UNIX Path>.ready" = 1 until its first bulk sync
// from the peer is complete, then 0; keepalived tracks it with a weight-0 track_file, so a node
// whose first sync is not complete is in FAULT and cannot become master.
//   1. track_file pointed at a file the test controls (HL_TRACK_FILE_B): 1 -> fwB in FAULT, and
//      it stays there (no VIPs, no promote) even when fwA's keepalived is gone; 0 -> fwB becomes
//      master and its notify hook runs ctsyncd promote; 1 again -> FAULT, VIPs dropped.
//   2. track_file on the daemon's real file: fwB's daemon restarts while fwA holds 3000 flows and
//      fwA's sync sends are throttled (tc tbf), so the bulk takes seconds; `ctsyncd status
//      --ready` exits 1 until fwB's external cache is complete, 0 after, and keepalived on fwB is
//      in FAULT while the file says 1, BACKUP once it says 0.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';

const LAB = path.resolve(__dirname, '../../ha-lab/lab.sh');
const CTSYNCD = path.resolve(__dirname, '../../bin/ctsyncd');
const PREFIX = `hlr${process.pid % 100000}`;
const RUN = `/run/${PREFIX}`;
const env = { ...process.env, HL_PREFIX: PREFIX, SYNC_DAEMON: 'ctsyncd' };

function sh(cmd: string, args: string[], extraEnv: Record<string, string> = {}, timeout = 60_000) {
  const r = spawnSync(cmd, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}
const lab = (args: string[], extraEnv: Record<string, string> = {}) => sh('bash', [LAB, ...args], extraEnv);
const vrrp = (fw: 'A' | 'B') => lab(['vrrp-state', fw]).stdout.trim();
const vipsOn = (fw: 'A' | 'B') =>
  sh('ip', ['-n', `${PREFIX}-fw${fw}`, '-o', 'addr', 'show']).out.split('\n').filter((l) => / (10\.77\.1\.1|10\.77\.2\.1)\//.test(l)).length;
const readFile = (f: string) => {
  try {
    return fs.readFileSync(f, 'utf8').trim();
  } catch {
    return 'missing';
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}
// `ctsyncd status --json --ready` on fwB: exit code (0 ready, 1 not) and the reported state.
function statusB(): { rc: number | null; ready: boolean | null; external: number | null } {
  const r = sh('ip', ['netns', 'exec', `${PREFIX}-fwB`, CTSYNCD, 'status', '--json', '--ready', '-C', `${RUN}/fwB/conntrackd.conf`], {}, 20_000);
  try {
    const s = JSON.parse(r.stdout) as { ready: boolean; external: number };
    return { rc: r.code, ready: s.ready, external: s.external };
  } catch {
    return { rc: r.code, ready: null, external: null };
  }
}

t.teardown(() => {
  lab(['down']);
});

t.test('track_file on a file we control: FAULT while it says 1, fwB cannot become master', async (t) => {
  const track = `${RUN}/track.test`;
  const xenv = { HL_TRACK_FILE_B: track };
  t.equal(lab(['up'], xenv).code, 0, 'lab up');
  t.match(readFile(`${RUN}/fwB/keepalived.conf`), new RegExp(`track_file hl_ready \\{\\s+file "${track}"\\s+weight 0`), 'fwB tracks our file, weight 0');
  t.equal(lab(['daemon', 'start', 'A']).code, 0, 'daemon on fwA');
  t.equal(lab(['daemon', 'start', 'B']).code, 0, 'daemon on fwB');
  fs.writeFileSync(track, '1\n');
  t.equal(lab(['keepalived', 'start', 'A']).code, 0);
  t.ok(await waitFor(() => vrrp('A') === 'MASTER', 15_000), `fwA master (${vrrp('A')})`);
  t.equal(lab(['keepalived', 'start', 'B']).code, 0);
  t.ok(await waitFor(() => vrrp('B') === 'FAULT', 10_000), `fwB in FAULT while the file says 1 (${vrrp('B')})`);

  // fwA's keepalived goes away: a BACKUP fwB would take over within ~1 s (3 x advert_int 0.3 s).
  t.equal(lab(['keepalived', 'stop', 'A']).code, 0, "fwA's keepalived stopped");
  await sleep(2000);
  t.equal(vrrp('B'), 'FAULT', 'fwB stays in FAULT with no master around');
  t.equal(vipsOn('B'), 0, 'fwB did not take the VIPs');
  t.notOk(fs.existsSync(`${RUN}/fwB/notify-primary.done`), 'fwB did not run the primary branch');

  fs.writeFileSync(track, '0\n');
  t.ok(await waitFor(() => vrrp('B') === 'MASTER', 10_000), `file says 0: fwB becomes master (${vrrp('B')})`);
  t.ok(await waitFor(() => fs.existsSync(`${RUN}/fwB/notify-primary.done`), 15_000), 'notify_master finished');
  t.match(readFile(`${RUN}/fwB/notify-primary.done`), /rc=0 way=promote/, 'it ran ctsyncd promote, exit 0');
  t.match(readFile(`${RUN}/fwB/promote.out`), /promote: commit ok: .*\n(.*\n)*promote: done in \d+ ms/, 'promote printed its steps');
  t.equal(vipsOn('B'), 2, 'fwB holds the VIPs');

  fs.writeFileSync(track, '1\n');
  t.ok(await waitFor(() => vrrp('B') === 'FAULT', 10_000), `file says 1 again: FAULT (${vrrp('B')})`);
  t.ok(await waitFor(() => vipsOn('B') === 0, 5_000), 'fwB dropped the VIPs');
  t.equal(lab(['down']).code, 0);
});

t.test("track_file on the daemon's readiness file: fwB's daemon restarts while fwA holds 3000 flows", async (t) => {
  const N = 3000;
  const ready = `${RUN}/fwB/daemon.ctl.ready`;
  t.equal(lab(['up']).code, 0, 'lab up');
  t.match(readFile(`${RUN}/fwB/keepalived.conf`), new RegExp(`file "${ready}"`), "fwB tracks the daemon's readiness file");
  t.equal(lab(['daemon', 'start', 'A']).code, 0);
  t.equal(lab(['daemon', 'start', 'B']).code, 0);
  // N idle ESTABLISHED flows in fwA's table (as failover.sh --idle does); fwA replicates them.
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(`-I -s 10.77.${128 + (i >> 14)}.${(i >> 6) & 255} -d 10.77.2.100 -p tcp --sport ${10000 + (i & 63)} --dport 6000 --state ESTABLISHED -u ASSURED -t 3600`);
  }
  fs.writeFileSync(`${RUN}/idle.txt`, `${lines.join('\n')}\n`);
  sh('ip', ['netns', 'exec', `${PREFIX}-fwA`, 'conntrack', '-R', `${RUN}/idle.txt`]);
  t.ok(await waitFor(() => (statusB().external ?? 0) >= N, 20_000, 200), 'fwB synced the flows');

  t.equal(lab(['keepalived', 'start', 'A']).code, 0);
  t.ok(await waitFor(() => vrrp('A') === 'MASTER', 15_000), `fwA master (${vrrp('A')})`);
  t.equal(lab(['keepalived', 'start', 'B']).code, 0);
  t.ok(await waitFor(() => vrrp('B') === 'BACKUP', 10_000), `fwB backup (${vrrp('B')})`);
  t.equal(readFile(ready), '0', 'ready file says 0');

  // 768 kbit/s from fwA to fwB: the bulk answering fwB's start-up resync takes about 4 s (about
  // 125 bytes per entry), long enough to sample `status --ready` (a node process: 0.3 to 2 s on a
  // loaded machine) while it arrives.
  t.equal(lab(['sync-rate', 'A', '768kbit']).code, 0, "fwA's sync sends throttled");
  t.equal(lab(['daemon', 'stop', 'B']).code, 0, "fwB's daemon stopped");
  t.comment(`while stopped: ready file ${readFile(ready)}, fwB ${vrrp('B')}`);
  // Not waiting for the control socket (lab.sh daemon start polls it with client calls, which
  // costs seconds under load): sampling starts at once; samples before the socket is up have no
  // status (external null).
  t.equal(lab(['daemon', 'spawn', 'B']).code, 0, "fwB's daemon restarted");
  const t0 = Date.now();
  const samples: { ms: number; rc: number | null; external: number | null; file: string; state: string; fileAfter: string }[] = [];
  const end = t0 + 40_000;
  while (Date.now() < end) {
    const s = statusB();
    const file = readFile(ready);
    const state = vrrp('B');
    samples.push({ ms: Date.now() - t0, rc: s.rc, external: s.external, file, state, fileAfter: readFile(ready) });
    if (s.rc === 0) break;
    if (s.external === null) await sleep(100);
  }
  t.comment(`samples (ms after start: rc/external/file/vrrp): ${samples.map((s) => `${s.ms}:${s.rc}/${s.external}/${s.file}/${s.state}`).join(' ')}`);
  const up = samples.filter((s) => s.external !== null);
  t.ok(up.length >= 2, 'sampled before and after readiness');
  t.ok(
    samples.some((s) => s.rc === 1 && s.external !== null && s.external < N),
    'status --ready exited 1 while the first sync from fwA was still arriving',
  );
  for (const s of up) {
    t.ok(s.rc === 0 || s.rc === 1, `status --ready exit code is 0 or 1 (${s.rc})`);
    if (s.rc === 0) t.ok((s.external ?? 0) >= N, `ready only with the whole table (${s.external} >= ${N})`);
    if (s.rc === 1 && s.file === '1' && s.fileAfter === '1') t.equal(s.state, 'FAULT', 'keepalived in FAULT while the file says 1');
  }
  t.equal(samples.at(-1)?.rc, 0, 'status --ready exits 0 once the sync is complete');
  t.equal(readFile(ready), '0', 'ready file says 0');
  t.ok(await waitFor(() => vrrp('B') === 'BACKUP', 10_000), `fwB back to BACKUP (${vrrp('B')})`);
  t.match(readFile(`${RUN}/fwB/keepalived.log`), /tracked file hl_ready now FAULT state/, 'keepalived logged the FAULT from the track file');
  t.notMatch(readFile(`${RUN}/fwB/vrrp.states`), /primary/, 'fwB never became master');
  t.equal(vrrp('A'), 'MASTER', 'fwA stayed master');
  t.equal(lab(['down']).code, 0);
});
