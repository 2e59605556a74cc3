/** conntrackd-compatible flag parsing (spec §5.4) and the client's exit codes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_CONFIG_FILE, parseClientArgs } from '../../src/cli/args';
import { runClient, socketPathFromConfig } from '../../src/cli/client';
import { CTL_REQ } from '../../src/control/protocol';

const R = CTL_REQ;
/** argv → expected request code (config file -C x everywhere). */
const TABLE: [string, number][] = [
  ['-c', R.ALL_COMMIT],
  ['-c ct', R.CT_COMMIT],
  ['-c c', R.CT_COMMIT],
  ['-c expect', R.EXP_COMMIT],
  ['-c e', R.EXP_COMMIT],
  ['-f', R.ALL_FLUSH_CACHE],
  ['-f internal', R.CT_FLUSH_INT_CACHE],
  ['-f i', R.CT_FLUSH_INT_CACHE],
  ['-f ext', R.CT_FLUSH_EXT_CACHE],
  ['-F', R.ALL_FLUSH_MASTER],
  ['-F ct', R.CT_FLUSH_MASTER],
  ['-F expect', R.EXP_FLUSH_MASTER],
  ['-i', R.CT_DUMP_INTERNAL],
  ['-i ct', R.CT_DUMP_INTERNAL],
  ['-i e', R.EXP_DUMP_INTERNAL],
  ['-e', R.CT_DUMP_EXTERNAL],
  ['-e expect', R.EXP_DUMP_EXTERNAL],
  ['-i -x', R.CT_DUMP_INT_XML],
  ['-e -x', R.CT_DUMP_EXT_XML],
  ['-i expect -x', R.EXP_DUMP_INT_XML],
  ['-e exp -x', R.EXP_DUMP_EXT_XML],
  ['-R', R.ALL_RESYNC_MASTER],
  ['-R ct', R.CT_RESYNC_MASTER],
  ['-R expect', R.EXP_RESYNC_MASTER],
  ['-B', R.SEND_BULK],
  ['-n', R.REQUEST_DUMP],
  ['-t', R.RESET_TIMERS],
  ['-k', R.KILL],
  ['-s', R.STATS],
  ['-s network', R.STATS_NETWORK],
  ['-s n', R.STATS_NETWORK],
  ['-s c', R.STATS_CACHE],
  ['-s ca', R.STATS_CACHE],
  ['-s ct', R.STATS],
  ['-s r', R.STATS_RUNTIME],
  ['-s rs', R.STATS_RSQUEUE],
  ['-s link', R.STATS_LINK],
  ['-s multicast', R.STATS_LINK],
  ['-s m', R.STATS_LINK],
  ['-s p', R.STATS_PROCESS],
  ['-s q', R.STATS_QUEUE],
  ['-s e', R.EXP_STATS],
  ['-s expect', R.EXP_STATS],
  // only argv[i][1] is examined
  ['-stats', R.STATS],
  ['xs', R.STATS],
  ['-kill', R.KILL],
  // last option wins; -S is obsolete and ignored
  ['-s -k', R.KILL],
  ['-S -B', R.SEND_BULK],
];

for (const [args, code] of TABLE) {
  t.test(`args: ${args}`, async (t) => {
    const r = parseClientArgs(['-C', '/x.conf', ...args.split(' ')]);
    t.same(r, { kind: 'request', configFile: '/x.conf', code, warnings: args.includes('-S') ? ['-S option is obsolete; ignoring'] : [] });
  });
}

const ERRORS: [string, RegExp][] = [
  ['-s zz', /^unknown parameter 'zz' for option '-s'$/],
  ['-f bogus', /^unknown parameter 'bogus' for option '-f'$/],
  ['-Q', /^unknown option: -Q$/],
  ['--k', /^unknown option: --k$/],
  ['-', /^unknown option: -$/],
  ['-x', /-x needs a preceding -i or -e/],
  ['-s -x', /-x needs a preceding -i or -e/],
  ['-d -s', /-d cannot be combined with client options/],
  ['-c -d', /-d cannot be combined with client options/],
  ['-C', /missing config filename/],
  // a -i sub-argument that is neither ct nor expect is not consumed: it is then an option
  ['-i foo', /^unknown option: foo$/],
];

for (const [args, re] of ERRORS) {
  t.test(`args error: ${args}`, async (t) => {
    const r = parseClientArgs(args.split(' '));
    t.equal(r.kind, 'error');
    if (r.kind === 'error') t.match(r.message, re);
  });
}

t.test('daemon, version, help, defaults', async (t) => {
  t.same(parseClientArgs([]), { kind: 'daemon', configFile: DEFAULT_CONFIG_FILE, detach: false, warnings: [] });
  t.same(parseClientArgs(['-d', '-C', '/a']), { kind: 'daemon', configFile: '/a', detach: true, warnings: [] });
  t.same(parseClientArgs(['-C', '/a', '-v']), { kind: 'version' });
  t.same(parseClientArgs(['-h', '-Q']), { kind: 'help' });
  t.same(parseClientArgs(['-s']), { kind: 'request', configFile: DEFAULT_CONFIG_FILE, code: R.STATS, warnings: [] });
});

t.test('runClient exit codes and messages', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ctsy-args-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runClient(argv, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  const conf = join(dir, 'c.conf');
  const sock = join(dir, 'nobody.ctl');
  writeFileSync(conf, `Sync { UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 1 Interface lo } }\nGeneral { UNIX { Path ${sock} } }\n`);
  t.equal(socketPathFromConfig(conf), sock);
  const yamlConf = join(dir, 'c.yaml');
  writeFileSync(yamlConf, `general: { unixPath: ${sock}.y }\n`);
  t.equal(socketPathFromConfig(yamlConf), `${sock}.y`, 'native config: only the socket path is needed');

  let r = await run(['-C', conf, '-s']);
  t.equal(r.code, 1);
  t.match(r.err, `cannot connect to ctsyncd at ${sock}: is it running?`);
  r = await run(['-C', conf, '-Q']);
  t.equal(r.code, 1, 'unknown option exits 1 (conntrackd 1.4.7: 0)');
  t.match(r.err, /Usage:[\s\S]*unknown option: -Q/);
  r = await run(['-C', conf, '-s', 'zz']);
  t.equal(r.code, 1);
  t.equal(r.err, "ctsyncd: unknown parameter 'zz' for option '-s'\n");
  r = await run(['-C', join(dir, 'missing.conf'), '-s']);
  t.equal(r.code, 1);
  t.match(r.err, /cannot read config file .*missing\.conf: ENOENT/);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'Sync { Port x }\n');
  r = await run(['-C', bad, '-k']);
  t.equal(r.code, 1);
  t.match(r.err, /parsing config file in line \(1\), symbol 'Port': syntax error/);
  r = await run(['-v']);
  t.equal(r.code, 0);
  t.match(r.out, /^ctsyncd v/);
  r = await run(['-h']);
  t.equal(r.code, 0);
  t.match(r.out, /Client mode commands/);
});
