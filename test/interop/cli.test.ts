/**
 * Issue 5 §2: the client flags answer like conntrackd's. One mixed pair (ctsyncd on n0,
 * conntrackd 1.4.7 on n1) holds the same flows; each flag is run through both daemons' own
 * clients and compared: exit codes, and the text layouts of `-s`, `-s ct`, `-s network`,
 * `-s cache`, `-s link`, `-s runtime`, `-s queue`, `-s expect`, `-s rsqueue`, `-s process`
 * (numbers and device names masked: labels, tabs and line structure must match), the lines of
 * `-i`/`-e` and their XML (`-x`), and the error paths. The differences we keep on purpose are
 * asserted as such and documented in docs/migrating.md.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CTSYNCD, normalizeLine, waitFor } from '../helpers/sync-lab';
import { stopwatch } from './fixtures/interop';
import { startPair } from './fixtures/scenario';

/** Numbers and the node's device name masked; the layout (labels, tabs, newlines) stays. */
export function layout(text: string): string {
  return text.replace(/sy[01]\b/g, 'DEV').replace(/ *\d+/g, ' #');
}

const FLOWS = [
  '-I -p tcp -s 10.11.0.1 -d 10.11.1.1 --sport 40000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -m 5',
  '-I -p udp -s fd11::1 -d fd11::3 --sport 40008 --dport 4500 -t 120 -u SEEN_REPLY -m 9 --src-nat fd11::9',
  '-I -p tcp -s 10.11.0.1 -d 10.11.1.6 --sport 40005 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED -w 7',
];

t.test('client flags: ctsyncd vs conntrackd 1.4.7', async (t) => {
  const time = stopwatch();
  const p = await startPair(t, ['ctsyncd', 'conntrackd'], { mode: 'ftfw', transport: 'udp', expectations: true });
  const ours = p.a;
  const theirs = p.b;
  for (const n of [ours, theirs]) for (const f of FLOWS) n.conntrack(f);
  const both = (args: string[]) => ({ ours: ours.client(args), theirs: theirs.client(args) });
  t.ok(
    await waitFor(() => ours.cache('external').length === FLOWS.length && theirs.cache('external').length === FLOWS.length, 10_000, 250),
    'both external caches hold the flows',
  );

  await t.test('statistics layouts', async (t) => {
    for (const args of [['-s'], ['-s', 'ct'], ['-s', 'network'], ['-s', 'n'], ['-s', 'cache'], ['-s', 'link'], ['-s', 'multicast'], ['-s', 'runtime'], ['-s', 'queue'], ['-s', 'expect'], ['-s', 'process']]) {
      const r = both(args);
      t.equal(r.ours.code, 0, `ctsyncd ${args.join(' ')} exits 0`);
      t.equal(r.theirs.code, 0, `conntrackd ${args.join(' ')} exits 0`);
      t.equal(layout(r.ours.stdout), layout(r.theirs.stdout), `${args.join(' ')}: same layout (numbers and device masked)`);
    }
    // the resend queue lists entries that differ in number and kind; each line has the same shape
    const rs = both(['-s', 'rsqueue']);
    for (const [who, r] of [
      ['ctsyncd', rs.ours],
      ['conntrackd', rs.theirs],
    ] as const) {
      t.equal(r.code, 0, `${who} -s rsqueue exits 0`);
      const lines = r.stdout.split('\n').filter(Boolean);
      t.match(lines[0] ?? '', /^resent queue \(len=\d+\)$/, `${who} -s rsqueue header`);
      t.ok(
        lines.slice(1).every((l) => /^(control -> seq:\d+ flags:\d+|object -> seq:\d+)$/.test(l)),
        `${who} -s rsqueue entry lines`,
      );
      t.equal(lines.length - 1, Number(/len=(\d+)/.exec(lines[0] ?? '')?.[1]), `${who} -s rsqueue: len matches the entries`);
    }
  });

  await t.test('dumps', async (t) => {
    const norm = (s: string) => s.split('\n').filter(Boolean).map(normalizeLine).sort();
    for (const args of [['-i'], ['-e'], ['-i', 'ct'], ['-e', 'ct'], ['-i', 'expect'], ['-e', 'e']]) {
      const r = both(args);
      t.equal(r.ours.code, 0, `ctsyncd ${args.join(' ')} exits 0`);
      t.equal(r.theirs.code, 0, `conntrackd ${args.join(' ')} exits 0`);
      t.same(norm(r.ours.stdout), norm(r.theirs.stdout), `${args.join(' ')}: the same lines (active-since masked)`);
    }
    t.equal(norm(both(['-e']).ours.stdout).length, FLOWS.length, 'and they are not empty');
    // the raw text differs only in the [active since Ns] suffix
    const raw = both(['-e']);
    const strip = (s: string) => s.replace(/\[active since \d+s\]/g, '[active since Ns]').split('\n').sort().join('\n');
    t.equal(strip(raw.ours.stdout), strip(raw.theirs.stdout), '-e: byte-identical apart from the active-since seconds (column padding included)');
    const xml = (s: string) => s.replace(/<id>\d+<\/id>/g, '<id/>').split('\n').filter(Boolean).sort();
    for (const args of [
      ['-i', '-x'],
      ['-e', '-x'],
    ]) {
      const r = both(args);
      t.equal(r.ours.code, 0, `ctsyncd ${args.join(' ')} exits 0`);
      t.equal(r.theirs.code, 0, `conntrackd ${args.join(' ')} exits 0`);
      t.same(xml(r.ours.stdout), xml(r.theirs.stdout), `${args.join(' ')}: the same XML (node-local conntrack ids masked)`);
    }
  });

  await t.test('actions: exit 0, no output', async (t) => {
    for (const args of [['-t'], ['-R'], ['-B'], ['-n'], ['-c'], ['-c', 'ct'], ['-c', 'expect'], ['-f', 'internal'], ['-f', 'external'], ['-f'], ['-R', 'expect'], ['-F', 'expect']]) {
      const r = both(args);
      t.same(
        { code: r.ours.code, stdout: r.ours.stdout },
        { code: r.theirs.code, stdout: r.theirs.stdout },
        `${args.join(' ')}: ctsyncd answers like conntrackd (exit ${r.theirs.code}, stdout '${r.theirs.stdout}')`,
      );
      t.equal(r.ours.code, 0, `${args.join(' ')} exits 0`);
    }
  });

  await t.test('errors', async (t) => {
    const same: [string[], number, RegExp][] = [
      [['-s', 'bogus'], 1, /unknown parameter .bogus' for option .-s'/],
      [['-f', 'bogus'], 1, /unknown parameter .bogus' for option .-f'/],
      [['-x'], 1, /nvalid parameters/],
      [['-c', '-d'], 1, /nvalid parameters/],
    ];
    for (const [args, code, msg] of same) {
      const r = both(args);
      t.equal(r.theirs.code, code, `conntrackd ${args.join(' ')} exits ${code}`);
      t.equal(r.ours.code, code, `ctsyncd ${args.join(' ')} exits ${code}`);
      t.match(r.theirs.stderr, msg, `conntrackd ${args.join(' ')} says why`);
      t.match(r.ours.stderr, msg, `ctsyncd ${args.join(' ')} says why`);
    }
    for (const args of [['-v'], ['-h']]) {
      const r = both(args);
      t.equal(r.theirs.code, 0, `conntrackd ${args[0]} exits 0`);
      t.equal(r.ours.code, 0, `ctsyncd ${args[0]} exits 0`);
      t.ok(r.ours.stdout.length > 0 && r.theirs.stdout.length > 0, `${args[0]} prints on stdout`);
    }
    // deliberate difference (docs/migrating.md): an unknown option is an error for us
    const unk = both(['-Z']);
    t.equal(unk.theirs.code, 0, 'conntrackd 1.4.7: unknown option -Z prints the usage and exits 0');
    t.match(unk.theirs.stdout, /Client mode commands:/, 'conntrackd prints its usage');
    t.equal(unk.ours.code, 1, 'ctsyncd: unknown option -Z exits 1 (on purpose: a typo in a fail-over script must show)');
    t.match(unk.ours.stderr, /Client mode commands:[\s\S]*unknown option: -Z/, 'ctsyncd prints the conntrackd-style usage and the reason on stderr');

    // no daemon behind the socket / no config file: exit 1 for both
    for (const n of [ours, theirs]) {
      const conf = fs.readFileSync(n.confFile, 'utf8').replace(/Path \S+/, `Path ${path.join(n.dir, 'nobody-here.ctl')}`);
      const file = path.join(n.dir, 'no-socket.conf');
      fs.writeFileSync(file, conf);
      const bin = n.daemon === 'ctsyncd' ? [process.execPath, CTSYNCD] : ['conntrackd'];
      const run = (args: string[]) => {
        const r = spawnSync(bin[0]!, [...bin.slice(1), ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 });
        return { code: r.status ?? -1, stderr: r.stderr ?? '' };
      };
      const s = run(['-C', file, '-s']);
      t.equal(s.code, 1, `${n.daemon} -s with no daemon listening exits 1 (${s.stderr.trim().slice(0, 80)})`);
      const c = run(['-C', path.join(n.dir, 'missing.conf'), '-s']);
      t.equal(c.code, 1, `${n.daemon} -s with a missing config file exits 1`);
    }
  });

  await t.test('-k stops both daemons cleanly', async (t) => {
    for (const n of [ours, theirs]) {
      const exited = new Promise<number | null>((r) => n.proc!.once('exit', (c) => r(c)));
      const r = n.client(['-k']);
      t.equal(r.code, 0, `${n.daemon} -k exits 0`);
      t.equal(r.stdout, '', `${n.daemon} -k prints nothing`);
      t.equal(await exited, 0, `${n.daemon} exits 0`);
      t.notOk(fs.existsSync(path.join(n.dir, 'lock')), `${n.daemon} removed its lock file`);
      t.notOk(fs.existsSync(path.join(n.dir, 'ctl')), `${n.daemon} removed its socket`);
    }
  });
  t.comment(`cli: ${time()} ms`);
});

