import t from 'tap';
import { parseConntrackdConf, tokenize } from '../../src/config/conntrackd-conf';
import { ConfigError, ConfigSyntaxError } from '../../src/config/errors';
import { loadConfig } from '../../src/config/load';
import { parseAddr } from '../../src/flow/address';
import { APPENDIX_B, load, loadError, MACHINE, VECTORS_A, VECTORS_NOTRACK_B } from './fixtures/helpers';

t.test('lexer: longest match like flex (paths, addresses, words)', async (t) => {
  const toks = tokenize('LockFile tmp/x # c\nIPv4_address 10.0.0.0/8 IPv6_address fe80::1 cafe 42 -5 {}');
  t.same(
    toks.map((x) => `${x.kind}:${x.text}:${x.line}`),
    [
      'word:LockFile:1',
      'word:tmp:1',
      'path:/x:1',
      'word:IPv4_address:2',
      'ip:10.0.0.0/8:2',
      'word:IPv6_address:2',
      'ip:fe80::1:2',
      'word:cafe:2',
      'int:42:2',
      'sint:-5:2',
      'lbrace:{:2',
      'rbrace:}:2',
      'eof::2',
    ],
  );
});

t.test('spec Appendix B parses to the expected DaemonConfig', async (t) => {
  const { config, warnings, format } = load('a.conf', APPENDIX_B);
  t.equal(format, 'conntrackd');
  t.same(warnings, []);
  t.equal(config.mode, 'ftfw');
  t.equal(config.ftfw.startupResync, true);
  t.equal(config.ftfw.ackWindow, 300);
  t.equal(config.ftfw.resendQueueSize, 131072);
  t.equal(config.expectationSync, true);
  t.same(config.channels, [
    { kind: 'udp', family: 'ipv4', localAddress: '10.99.0.1', peers: ['10.99.0.2'], port: 3780, interface: 'va', checksum: true, default: false },
  ]);
  t.equal(config.general.systemd, false);
  t.equal(config.general.logFile, '/run/ctd-a/conntrackd.log');
  t.equal(config.general.lockFile, '/run/ctd-a/lock');
  t.equal(config.general.unixPath, '/run/ctd-a/ctl');
  t.equal(config.general.netlinkBufferSize, 2097152);
  t.equal(config.general.netlinkBufferSizeMax, 8388608);
  t.equal(config.general.netlinkOverrunResync, 30);
  // machine-sized default: 2 x nf_conntrack_max (262144) > conntrackd's 262144
  t.equal(config.general.hashLimit, 524288);
  t.same(config.filter, { from: 'userspace', address: { mode: 'ignore', cidrs: [{ addr: parseAddr('10.99.0.0'), prefix: 24 }] } });
  t.equal(config.wire.portsHostLE, true);
});

t.test('golden-vector configs (multicast FTFW and NOTRACK)', async (t) => {
  const a = load('A.conf', VECTORS_A).config;
  t.equal(a.mode, 'ftfw');
  t.same(a.channels, [
    {
      kind: 'multicast',
      family: 'ipv4',
      group: '225.0.0.50',
      localAddress: '172.31.255.1',
      peers: [],
      port: 3780,
      interface: 'ab-syncA',
      sndBuf: 1249280,
      rcvBuf: 1249280,
      checksum: true,
      default: false,
    },
  ]);
  t.same(a.filter.protocol, { mode: 'accept', protos: [6, 132, 33] });
  const b = load('B.conf', VECTORS_NOTRACK_B).config;
  t.equal(b.mode, 'notrack');
  t.equal(b.channels[0]!.interface, 'ab-syncB');
  t.equal(b.general.unixPath, '/tmp/ab/B.ctl');
});

t.test('every option of spec §7 is honoured or warned about', async (t) => {
  const text = `# everything
General {
  HashSize 8192
  HashLimit 1000000
  LogFile on
  Syslog local3
  LockFile /run/l
  UNIX { Path /run/c  Backlog 20 }
  SocketBufferSize 4194304
  SocketBufferSizeMaxGrown 16777216
  NetlinkOverrunResync off
  NetlinkEventsReliable on
  PollSecs 15
  EventIterationLimit 200
  Nice -10
  Scheduler { Type FIFO Priority 50 }
  Systemd no
  Filter From Kernelspace {
    Protocol Ignore { udp icmp 47 }
    State Accept { ESTABLISHED CLOSED TIME_WAIT for TCP }
    Address Accept { IPv4_address 192.168.0.0/16 IPv6_address 2001:db8::/32 }
  }
}
Sync {
  Mode NOTRACK { DisableInternalCache on DisableExternalCache off StartupResync on CommitTimeout 10 PurgeTimeout 15 }
  UDP Default {
    IPv6_address fd00::1
    IPv6_Destination_Address fd00::2
    Port 3781
    Interface sync0
    SndSocketBuffer 100000
    RcvSocketBuffer 200000
    Checksum off
  }
  Options { TCPWindowTracking on ExpectationSync { ftp sip h.245 } }
}
Helper {
  Type ftp inet tcp { QueueNum 5 Policy ftp { ExpectMax 1 ExpectTimeout 300 } }
}
`;
  const { config, warnings } = load('all.conf', text);
  t.equal(config.mode, 'notrack');
  t.equal(config.disableInternalCache, true);
  t.equal(config.notrack.startupResync, true);
  t.equal(config.commitTimeout, 10);
  t.equal(config.purgeTimeout, 15);
  t.equal(config.tcpWindowTracking, true);
  t.same(config.expectationSync, ['ftp', 'sip', 'h.245']);
  t.same(config.channels[0], {
    kind: 'udp',
    family: 'ipv6',
    localAddress: 'fd00::1',
    peers: ['fd00::2'],
    port: 3781,
    interface: 'sync0',
    sndBuf: 100000,
    rcvBuf: 200000,
    checksum: false,
    default: true,
  });
  const g = config.general;
  t.same(
    [g.hashLimit, g.logFile, g.syslog, g.lockFile, g.unixPath, g.unixBacklog, g.netlinkBufferSize, g.netlinkBufferSizeMax],
    [1000000, '/var/log/conntrackd.log', 'local3', '/run/l', '/run/c', 20, 4194304, 16777216],
  );
  t.same([g.netlinkOverrunResync, g.netlinkEventsReliable, g.pollSecs, g.eventIterationLimit, g.systemd], [0, true, 15, 200, false]);
  t.equal(config.filter.from, 'kernelspace');
  t.same(config.filter.protocol, { mode: 'ignore', protos: [17, 1, 47] });
  t.same(config.filter.state, { mode: 'accept', states: [3, 8, 7] });
  t.equal(config.filter.address?.cidrs.length, 2);
  const byLine = warnings.map((w) => `${w.line}:${w.message.split(' ')[0]}`);
  const lineOf = (prefix: string) => text.split('\n').findIndex((l) => l.trimStart().startsWith(prefix)) + 1;
  t.equal(lineOf('HashSize'), 3);
  for (const [prefix, word] of [
    ['HashSize', 'HashSize'],
    ['Nice', 'Nice'],
    ['Scheduler', 'Scheduler'],
    ['Filter From', 'Filter'],
    ['Helper', 'Helper'],
  ]) {
    t.ok(byLine.includes(`${lineOf(prefix!)}:${word}`), `${word} warned at its line`);
  }
  t.equal(warnings.length, 5, 'nothing else warned');
});

t.test('legacy mode names and NetlinkOverrunResync forms', async (t) => {
  const nack = load('n.conf', APPENDIX_B.replace('Mode FTFW', 'Mode NACK'));
  t.equal(nack.config.mode, 'ftfw');
  t.match(nack.warnings[0]?.message, /NACK is the old name of Mode FTFW/);
  t.equal(nack.warnings[0]?.line, 2);
  const pers = load('p.conf', APPENDIX_B.replace('Mode FTFW { StartupResync on }', 'Mode persistent { RefreshTime 5 CacheTimeout 20 }'));
  t.equal(pers.config.mode, 'alarm');
  t.same(pers.config.alarm, { refreshTime: 5, cacheTimeout: 20 });
  const secs = load('s.conf', APPENDIX_B.replace('Systemd off', 'NetlinkOverrunResync 7'));
  t.equal(secs.config.general.netlinkOverrunResync, 7);
  const on = load('s.conf', APPENDIX_B.replace('Systemd off', 'NetlinkOverrunResync on'));
  t.equal(on.config.general.netlinkOverrunResync, 30);
  const noMode = load('m.conf', APPENDIX_B.replace('Mode FTFW { StartupResync on }', ''));
  t.equal(noMode.config.mode, 'ftfw', 'FTFW when no Mode is given (spec §7.1)');
});

t.test('TCP transport, Stats block and unknown options are warnings with their line', async (t) => {
  const tcp = APPENDIX_B.replace('Options {', 'TCP { IPv4_address 10.98.0.1 IPv4_Destination_Address 10.98.0.2 Port 3790 ErrorQueueLength 64 }\n    Options {');
  const e = loadError('t.conf', tcp);
  t.match(e, /cannot use 'TCP' with other dedicated link protocols/);
  const onlyTcp = APPENDIX_B.replace(/UDP \{[^}]*\}/, 'TCP { IPv4_address 10.98.0.1 IPv4_Destination_Address 10.98.0.2 Port 3790 }');
  const r = parseConntrackdConf(onlyTcp);
  t.match(r.warnings[0], { line: 3, message: /TCP transport is not supported/ });
  const unk = parseConntrackdConf(APPENDIX_B.replace('Checksum on', 'Checksum on\n        Frobnicate 12 { a b }'));
  t.same(unk.warnings, [{ line: 9, message: "UDP: unknown option 'Frobnicate' ignored (conntrackd 1.4.7 would refuse this file)" }]);
  t.equal(load('u.conf', APPENDIX_B.replace('Checksum on', 'Checksum on\n        Frobnicate 12')).config.channels[0]!.checksum, true);
  t.match(loadError('t.conf', onlyTcp), /^t\.conf:3: channels: at least one dedicated link is required/, 'a TCP-only file has no usable link');
});

t.test('an unknown protocol leaves an empty accept list: warned twice (name, effect)', async (t) => {
  const r = load('p.conf', APPENDIX_B.replace('Systemd off', 'Filter { Protocol Accept { foobar } }'));
  t.same(r.config.filter.protocol, { mode: 'accept', protos: [] });
  t.match(r.warnings, [{ line: 13, message: /unknown protocol 'foobar'/ }, { message: /empty accept list filters out every flow/ }]);
});

t.test('nested options report their own line', async (t) => {
  const text = APPENDIX_B.replace('UNIX { Path /run/ctd-a/ctl }', `UNIX {\n        Backlog 5\n        Path /${'x'.repeat(120)}\n    }`);
  t.match(loadError('n.conf', text), /^n\.conf:18: general\.unixPath: must be at most 107 bytes/);
});

/**
 * Bad configs: one clear line each. Syntax-error lines and symbols are what conntrackd 1.4.7
 * printed for the same files (checked with the real binary).
 */
const BAD: [string, string, string, RegExp][] = [
  ['non-number', 'x.conf', APPENDIX_B.replace('Port 3780', 'Port abc'), /^parsing config file in line \(6\), symbol 'abc': syntax error$/],
  ['RefreshTime inside FTFW', 'x.conf', APPENDIX_B.replace('StartupResync on', 'RefreshTime 5'), /^parsing config file in line \(2\), symbol 'RefreshTime': syntax error$/],
  ['relative path', 'x.conf', APPENDIX_B.replace('LockFile /run', 'LockFile run'), /^parsing config file in line \(15\), symbol 'run': syntax error$/],
  ['stray semicolon', 'x.conf', APPENDIX_B.replace('Port 3780', 'Port 3780;'), /^parsing config file in line \(6\), symbol ';': syntax error$/],
  ['comma in a list', 'x.conf', APPENDIX_B.replace('IPv4_address 10.99.0.0/24 }', 'IPv4_address 10.99.0.0/24, IPv4_address 10.1.0.0/16 }'), /symbol ',': syntax error$/],
  ['missing closing brace', 'x.conf', APPENDIX_B.trimEnd().slice(0, -1), /^parsing config file in line \(20\), symbol '': syntax error$/],
  ['unknown TCP state', 'x.conf', APPENDIX_B.replace('Systemd off', 'Filter { State Accept { FOO for TCP } }'), /^parsing config file in line \(13\), symbol 'FOO': syntax error$/],
  ['stats-mode file (Debian default)', 'x.conf', 'General {\n  HashSize 8192\n  UNIX { Path /var/run/conntrackd.sock }\n}\nStats {\n  LogFile on\n}\n', /^x\.conf:5: no Sync block: conntrackd's statistics-only mode \(Stats block\) is not supported/],
  ['no Sync block', 'x.conf', 'General { UNIX { Path /run/x } }\n', /^x\.conf: no Sync block: ctsyncd needs a Sync block/],
  ['no channel', 'x.conf', 'Sync { Mode FTFW { } }\nGeneral { UNIX { Path /run/x } }\n', /^x\.conf: channels: at least one dedicated link is required/],
  ['multicast without interface', 'x.conf', VECTORS_A.replace('Interface ab-syncA', ''), /^x\.conf:6: channels\[0\]\.interface: missing: a multicast link needs the interface name/],
  ['multicast group not multicast', 'x.conf', VECTORS_A.replace('225.0.0.50', '10.0.0.50'), /^x\.conf:7: channels\[0\]\.group: must be a multicast address .*: value was "10\.0\.0\.50"$/],
  ['port out of range', 'x.conf', APPENDIX_B.replace('Port 3780', 'Port 70000'), /^x\.conf:6: channels\[0\]\.port: must be an integer from 1 to 65535: value was 70000$/],
  ['bad CIDR prefix', 'x.conf', APPENDIX_B.replace('10.99.0.0/24', '10.99.0.0/40'), /^x\.conf:19: filter\.address\.cidrs\[0\]: must be an IPv4 or IPv6 address with an optional \/prefix .*: value was "10\.99\.0\.0\/40"$/],
  ['bad IPv4 address', 'x.conf', APPENDIX_B.replace('IPv4_Destination_Address 10.99.0.2', 'IPv4_Destination_Address 10.99.0.300'), /^x\.conf:5: channels\[0\]\.peers\[0\]: must be an IPv4 or IPv6 address: value was "10\.99\.0\.300"$/],
  ['conflicting modes', 'x.conf', APPENDIX_B.replace('Mode FTFW { StartupResync on }', 'Mode FTFW { }\n    Mode ALARM { RefreshTime 5 }'), /^x\.conf:3: conflicting sync modes: Mode ALARM \(line 3\) and Mode FTFW \(line 2\)/],
  ['mixed transports', 'x.conf', VECTORS_A.replace('Multicast {', 'UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 1 Interface x }\n    Multicast {'), /^x\.conf:\d+: channels: multicast and udp links cannot be mixed/],
  ['ACK window of zero (line of the option)', 'x.conf', APPENDIX_B.replace('StartupResync on', 'ACKWindowSize 0'), /^x\.conf:2: ftfw\.ackWindow: must be an integer from 1 to 4294967295: value was 0$/],
  ['number too large', 'x.conf', APPENDIX_B.replace('Systemd off', 'HashLimit 99999999999'), /^parsing config file in line \(13\), symbol '99999999999': syntax error \(number out of range\)$/],
];

for (const [what, name, text, re] of BAD) {
  t.test(`bad conntrackd.conf: ${what}`, async (t) => {
    const msg = loadError(name, text);
    t.match(msg, re);
    t.notOk(msg.includes('\n'), `one line: ${msg}`);
  });
}

t.test('typed errors', async (t) => {
  t.throws(() => load('x.conf', APPENDIX_B.replace('Port 3780', 'Port abc')), ConfigSyntaxError);
  try {
    load('x.conf', 'Sync { }');
    t.fail('should throw');
  } catch (e) {
    t.type(e, ConfigError);
    t.equal((e as ConfigError).code, 'CTSYNC_ERR_CONFIG_INVALID');
    t.equal((e as ConfigError).problems.length, 1);
  }
  const se = new ConfigSyntaxError(3, 'x');
  t.equal(se.code, 'CTSYNC_ERR_CONFIG_SYNTAX');
  t.equal(se.line, 3);
});

t.test("conntrackd's own example files (Debian package conntrackd) load", async (t) => {
  const base = '/usr/share/doc/conntrackd/examples/sync';
  for (const mode of ['ftfw', 'alarm', 'notrack'] as const) {
    const file = `${base}/${mode}/conntrackd.conf`;
    const r = loadConfig(file, { machine: MACHINE });
    t.equal(r.config.mode, mode, `${file}: mode`);
    t.equal(r.config.channels[0]?.kind, 'multicast');
    t.same(
      r.warnings.map((w) => w.message.split(' ')[0]),
      ['HashSize'],
      `${file}: only HashSize is not honoured`,
    );
  }
});
