import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { detectFormat, loadConfig } from '../../src/config/load';
import { DEFAULT_NETLINK_BUFFER, DEFAULT_NETLINK_BUFFER_MAX, defaultHashLimit, resolveNative } from '../../src/config/schema';
import { parseAddr } from '../../src/flow/address';
import { runConfigCommand } from '../../src/cli/config-cmd';
import { APPENDIX_B, load, loadError, MACHINE, VECTORS_A } from './fixtures/helpers';

const dir = mkdtempSync(join(tmpdir(), 'ctsy-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const KEY = join(dir, 'sync.key');
writeFileSync(KEY, 'ab'.repeat(32));
chmodSync(KEY, 0o600);

const NATIVE = {
  mode: 'ftfw',
  nodeName: 'fw-a',
  ftfw: { ackWindow: 100, startupResync: true },
  channels: [{ kind: 'udp', localAddress: '10.0.0.1', peers: ['10.0.0.2'], port: 3780, interface: 'sync0' }],
  general: { unixPath: '/run/x.ctl', logLevel: 'debug' },
  filter: {
    protocol: { mode: 'accept', protos: ['tcp', 'UDP', 132] },
    address: { mode: 'ignore', cidrs: ['10.0.0.0/24', 'fe80::/10'] },
    state: { mode: 'ignore', states: ['time_wait', 'CLOSE'] },
  },
  envelope: { nodeId: 7, keyFiles: [KEY], peers: [8] },
  metrics: { address: '127.0.0.1', port: 9100 },
  wire: { portsHostLE: false },
};

t.test('native JSON resolves with defaults filled', async (t) => {
  const { config, warnings, format } = load('n.json', JSON.stringify(NATIVE));
  t.equal(format, 'json');
  t.same(warnings, []);
  t.equal(config.nodeName, 'fw-a');
  t.same(config.ftfw, { ackWindow: 100, resendQueueSize: 131072, startupResync: true });
  t.same(config.alarm, { refreshTime: 60, cacheTimeout: 180 });
  t.same(config.channels, [
    { kind: 'udp', family: 'ipv4', localAddress: '10.0.0.1', peers: ['10.0.0.2'], port: 3780, interface: 'sync0', checksum: true, default: false },
  ]);
  t.same(config.filter.protocol, { mode: 'accept', protos: [6, 17, 132] });
  t.same(config.filter.address?.cidrs, [
    { addr: parseAddr('10.0.0.0'), prefix: 24 },
    { addr: parseAddr('fe80::'), prefix: 10 },
  ]);
  t.same(config.filter.state, { mode: 'ignore', states: [7, 8] });
  t.same(config.envelope, { nodeId: 7, keyFiles: [KEY], peers: [8] });
  t.same(config.metrics, { address: '127.0.0.1', port: 9100 });
  t.equal(config.wire.portsHostLE, false);
  t.equal(config.general.logLevel, 'debug');
  t.equal(config.general.lockFile, '/run/ctsyncd.lock');
  t.equal(config.general.netlinkBufferSize, DEFAULT_NETLINK_BUFFER);
  t.equal(config.general.netlinkBufferSizeMax, DEFAULT_NETLINK_BUFFER_MAX);
  t.equal(config.general.hashLimit, 524288);
});

t.test('native YAML gives the same result as JSON', async (t) => {
  const yamlText = `# comment\nmode: ftfw\nnodeName: fw-a\nftfw: { ackWindow: 100, startupResync: true }\nchannels:\n  - kind: udp\n    localAddress: 10.0.0.1\n    peers: [10.0.0.2]\n    port: 3780\n    interface: sync0\ngeneral: { unixPath: /run/x.ctl, logLevel: debug }\nfilter:\n  protocol: { mode: accept, protos: [tcp, UDP, 132] }\n  address: { mode: ignore, cidrs: [10.0.0.0/24, "fe80::/10"] }\n  state: { mode: ignore, states: [time_wait, CLOSE] }\nenvelope: { nodeId: 7, keyFiles: [${KEY}], peers: [8] }\nmetrics: { address: 127.0.0.1, port: 9100 }\nwire: { portsHostLE: false }\n`;
  const y = load('n.yaml', yamlText);
  t.equal(y.format, 'yaml');
  t.same(y.config, load('n.json', JSON.stringify(NATIVE)).config);
});

t.test('machine-sized defaults', async (t) => {
  t.equal(defaultHashLimit({ hostname: 'h' }), 262144, 'no nf_conntrack_max: conntrackd default');
  t.equal(defaultHashLimit({ hostname: 'h', nfConntrackMax: 1000 }), 262144, 'never below conntrackd');
  t.equal(defaultHashLimit({ hostname: 'h', nfConntrackMax: 1_000_000 }), 2_000_000);
  const r = resolveNative({ channels: NATIVE.channels }, { hostname: 'box1' });
  t.equal(r.config.nodeName, 'box1');
  t.equal(r.config.general.hashLimit, 262144);
});

t.test('format detection', async (t) => {
  t.equal(detectFormat('/etc/x.conf', '{'), 'conntrackd');
  t.equal(detectFormat('/etc/x', '# c\nSync {\n}'), 'conntrackd');
  t.equal(detectFormat('/etc/x', '  {"mode":"ftfw"}'), 'json');
  t.equal(detectFormat('/etc/x', 'mode: ftfw'), 'yaml');
  t.equal(detectFormat('/etc/x.yml', 'General {'), 'yaml');
});

t.test('warnings: buffer cap raised, CommitTimeout forced off, ALARM timing', async (t) => {
  const base = { channels: NATIVE.channels };
  const a = resolveNative({ ...base, general: { netlinkBufferSize: 8 << 20, netlinkBufferSizeMax: 4 << 20 } }, MACHINE);
  t.equal(a.config.general.netlinkBufferSizeMax, 8 << 20);
  t.match(a.warnings[0]?.message, /netlinkBufferSizeMax/);
  const b = resolveNative({ ...base, disableExternalCache: true, commitTimeout: 30 }, MACHINE);
  t.equal(b.config.commitTimeout, 0);
  t.match(b.warnings[0]?.message, /commitTimeout is ignored with disableExternalCache/);
  const c = resolveNative({ ...base, mode: 'alarm', alarm: { refreshTime: 100, cacheTimeout: 50 } }, MACHINE);
  t.match(c.warnings[0]?.message, /alarm.cacheTimeout \(50\) should be larger/);
});

/** Native bad configs: one line each naming the key, the value and what is allowed. */
const CH = NATIVE.channels;
const BAD: [string, unknown, RegExp][] = [
  ['enum', { channels: CH, mode: 'fast' }, /^mode: must be one of ftfw, notrack, alarm: value was "fast"$/],
  ['boolean type', { channels: CH, general: { systemd: 'yes' } }, /^general\.systemd: must be true or false: value was "yes"$/],
  ['negative number', { channels: CH, general: { hashLimit: -5 } }, /^general\.hashLimit: must be an integer from 1 to 4294967295: value was -5$/],
  ['zero (falsy) value shown', { channels: CH, ftfw: { ackWindow: 0 } }, /^ftfw\.ackWindow: must be an integer from 1 to 4294967295: value was 0$/],
  ['string for number', { channels: CH, purgeTimeout: '60' }, /^purgeTimeout: must be an integer from 0 to 4294967295: value was "60"$/],
  ['unknown key', { channels: CH, genral: {} }, /^genral: unknown key \(allowed here: mode, nodeName, .*general.*\)$/],
  ['unknown nested key', { channels: CH, general: { unixpath: '/x' } }, /^general\.unixpath: unknown key \(allowed here: hashLimit, .*unixPath.*\)$/],
  ['relative path', { channels: CH, general: { lockFile: 'run/x.lock' } }, /^general\.lockFile: must be an absolute path \(starting with \/\): value was "run\/x\.lock"$/],
  ['no channel', {}, /^channels: at least one dedicated link is required/],
  ['channel kind', { channels: [{ ...CH[0], kind: 'tcp' }] }, /^channels\[0\]\.kind: must be one of multicast, udp: value was "tcp"$/],
  ['channel port missing', { channels: [{ kind: 'udp', peers: ['10.0.0.2'] }] }, /^channels\[0\]\.port: missing: the UDP port is required/],
  ['udp without peers', { channels: [{ kind: 'udp', port: 1 }] }, /^channels\[0\]\.peers: missing: a udp link needs at least one peer/],
  ['family mix', { channels: [{ kind: 'udp', port: 1, localAddress: '10.0.0.1', peers: ['fd00::2'] }] }, /^channels\[0\]\.peers\[0\]: must be an IPv4 address like the rest of this link: value was "fd00::2"$/],
  ['multicast without interface', { channels: [{ kind: 'multicast', group: '225.0.0.1', port: 1 }] }, /^channels\[0\]\.interface: missing/],
  ['too many links', { channels: [CH[0], CH[0], CH[0], CH[0], CH[0]] }, /^channels: must hold at most 4 links \(spec §7\.1\): value was "5 links"$/],
  ['bad CIDR', { channels: CH, filter: { address: { mode: 'ignore', cidrs: ['10.0.0.0/33'] } } }, /^filter\.address\.cidrs\[0\]: must be an IPv4 or IPv6 address with an optional \/prefix .*: value was "10\.0\.0\.0\/33"$/],
  ['unknown protocol', { channels: CH, filter: { protocol: { mode: 'accept', protos: ['tcpp'] } } }, /^filter\.protocol\.protos\[0\]: must be a protocol name from \/etc\/protocols or a number 0-255: value was "tcpp"$/],
  ['bad filter mode', { channels: CH, filter: { state: { mode: 'drop', states: ['CLOSE'] } } }, /^filter\.state\.mode: must be one of accept, ignore: value was "drop"$/],
  ['unknown TCP state', { channels: CH, filter: { state: { mode: 'accept', states: ['OPEN'] } } }, /^filter\.state\.states\[0\]: must be a TCP state: SYN_SENT, .*: value was "OPEN"$/],
  ['missing key file', { channels: CH, envelope: { nodeId: 1, keyFiles: ['/nonexistent/ctsyncd.key'] } }, /^envelope\.keyFiles\[0\]: must be a readable key file \(ENOENT\): value was "\/nonexistent\/ctsyncd\.key"$/],
  ['relative key file', { channels: CH, envelope: { nodeId: 1, keyFiles: ['k.key'] } }, /^envelope\.keyFiles\[0\]: must be an absolute path/],
  ['envelope node id', { channels: CH, envelope: { nodeId: 0, keyFiles: [KEY] } }, /^envelope\.nodeId: must be an integer from 1 to 4294967295: value was 0$/],
  ['conflicting modes (internal cache)', { channels: CH, mode: 'ftfw', disableInternalCache: true }, /^disableInternalCache: only allowed in notrack mode/],
  ['conflicting modes (alarm + external)', { channels: CH, mode: 'alarm', disableExternalCache: true }, /^disableExternalCache: not allowed in alarm mode/],
  ['expectation list', { channels: CH, expectationSync: 'ftp' }, /^expectationSync: must be true, false or a list of helper names .*: value was "ftp"$/],
  ['metrics port', { channels: CH, metrics: { port: 0 } }, /^metrics\.port: must be an integer from 1 to 65535: value was 0$/],
  ['socket path too long', { channels: CH, general: { unixPath: `/${'x'.repeat(120)}` } }, /^general\.unixPath: must be at most 107 bytes \(sun_path limit\)/],
];

for (const [what, obj, re] of BAD) {
  t.test(`bad native config: ${what}`, async (t) => {
    const msg = loadError('bad.json', JSON.stringify(obj));
    t.match(msg, new RegExp(re.source.replace('^', '^bad\\.json: ')));
    t.notOk(msg.includes('\n'), `one line: ${msg}`);
  });
}

t.test('key file with group access is refused (checked by the envelope loader)', async (t) => {
  const loose = join(dir, 'loose.key');
  writeFileSync(loose, 'cd'.repeat(32));
  chmodSync(loose, 0o644);
  const msg = loadError('k.json', JSON.stringify({ channels: CH, envelope: { nodeId: 1, keyFiles: [loose] } }));
  t.match(msg, /envelope\.keyFiles\[0\]: must be a valid key file: .*accessible by group\/others/);
});

t.test('invalid JSON / YAML text', async (t) => {
  t.match(loadError('x.json', '{"mode": '), /^x\.json: invalid JSON: /);
  t.match(loadError('x.yaml', 'mode: [unclosed'), /^x\.yaml: invalid YAML: /);
  t.match(loadError('x.yaml', '- a\n- b\n'), /the configuration must be an object/);
});

t.test('every example in config/ loads (key files pointed at a temp key)', async (t) => {
  const cfgDir = join(__dirname, '..', '..', 'config');
  const files = readdirSync(cfgDir).filter((f) => /\.(conf|json|ya?ml)$/.test(f));
  t.ok(files.length >= 6, `found ${files.length} examples`);
  for (const f of files) {
    const text = readFileSync(join(cfgDir, f), 'utf8').replaceAll('/etc/ctsyncd/sync.key', KEY);
    const r = loadConfig(f, { text, machine: MACHINE });
    t.ok(r.config.channels.length > 0, `${f}: loads (${r.format}, ${r.config.mode}, ${r.warnings.length} warnings)`);
  }
  const pb = loadConfig('primary-backup.conf', { text: readFileSync(join(cfgDir, 'primary-backup.conf'), 'utf8'), machine: MACHINE });
  t.same(pb.warnings, []);
  t.same(pb.config.expectationSync, ['ftp', 'sip']);
  const v6 = loadConfig('ipv6-link.yaml', { text: readFileSync(join(cfgDir, 'ipv6-link.yaml'), 'utf8'), machine: MACHINE });
  t.equal(v6.config.channels[0]!.family, 'ipv6');
});

async function runCmd(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runConfigCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test('config convert: conntrackd.conf → JSON/YAML that loads to the same DaemonConfig', async (t) => {
  for (const [name, text] of [
    ['appendix-b.conf', APPENDIX_B],
    ['vectors-a.conf', VECTORS_A],
    ['primary-backup.conf', readFileSync(join(__dirname, '..', '..', 'config', 'primary-backup.conf'), 'utf8')],
  ] as const) {
    const src = join(dir, name);
    writeFileSync(src, text);
    const want = loadConfig(src).config;
    const j = await runCmd(['convert', src, '--json']);
    t.equal(j.code, 0, j.err);
    const jf = join(dir, `${name}.json`);
    writeFileSync(jf, j.out);
    t.same(loadConfig(jf).config, want, `${name}: JSON round trip`);
    const y = await runCmd(['convert', src]);
    t.equal(y.code, 0);
    t.match(y.out, /^# converted from /);
    t.ok(parseYaml(y.out), 'valid YAML');
    const yf = join(dir, `${name}.yaml`);
    writeFileSync(yf, y.out);
    t.same(loadConfig(yf).config, want, `${name}: YAML round trip`);
  }
});

t.test('config check: OK line, warnings with lines, errors exit 1', async (t) => {
  const good = join(dir, 'good.conf');
  writeFileSync(good, APPENDIX_B.replace('Systemd off', 'Nice 5'));
  const r = await runCmd(['check', good]);
  t.equal(r.code, 0);
  t.match(r.out, /good\.conf: OK \(conntrackd, mode ftfw, 1 udp link, socket \/run\/ctd-a\/ctl, 1 warning\)/);
  t.match(r.err, /good\.conf:13: warning: Nice is deprecated/);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, APPENDIX_B.replace('Port 3780', 'Port x'));
  const b = await runCmd(['check', bad]);
  t.equal(b.code, 1);
  t.equal(b.err, `${bad}: parsing config file in line (6), symbol 'x': syntax error\n`);
  const bj = await runCmd(['check', bad, '--json']);
  t.same(JSON.parse(bj.out).ok, false);
  const u = await runCmd(['frob']);
  t.equal(u.code, 2);
  const missing = await runCmd(['check', join(dir, 'nope.conf')]);
  t.equal(missing.code, 1);
  t.match(missing.err, /cannot read config file .*nope\.conf: ENOENT/);
});

t.test('a section of the wrong type is one clear line', async (t) => {
  t.equal(loadError('w.json', JSON.stringify({ channels: CH, general: 5 })), 'w.json: general: must be an object (mapping): value was 5');
  t.equal(loadError('w.json', JSON.stringify({ channels: 'eth0' })), 'w.json: channels: must be a list of links: value was "eth0"');
});
