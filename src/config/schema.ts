/**
 * ctsyncd's native configuration: convict schema for the scalar tree, hand-written checks for
 * the structured parts (channels, filter, envelope, metrics), semantic checks across options,
 * and resolution into the one type the daemon consumes (`DaemonConfig`, types.ts).
 *
 * Every problem is one line naming the key, the value and what is allowed, e.g.
 *   `channels[0].port: must be an integer from 1 to 65535: value was 0`.
 *
 * Defaults follow conntrackd (spec §7) except where conntrackd's are too small for a busy
 * firewall (research/netlink-measurements.md): hashLimit from the machine's nf_conntrack_max and
 * a netlink buffer that holds a 100k-event burst.
 */
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import convict from 'convict';
import { loadKeyFile } from '../sync/envelope/keyfile';
import { addrFamily, AF_INET, parseAddr, parseCidr } from '../flow/address';
import type { ConfigProblem } from './errors';
import { ConfigError } from './errors';
import { resolveProtocol, TCP_STATE_BY_NAME } from './protocols';
import type {
  ChannelConfig,
  ConfigWarning,
  DaemonConfig,
  FilterConfig,
  NativeChannel,
  NativeConfig,
  NativeFilter,
} from './types';

export const U32_MAX = 0xffffffff;
const MiB = 1024 * 1024;
/** conntrackd's HashLimit default (spec §7.2). */
export const CONNTRACKD_HASH_LIMIT = 262144;
/**
 * SO_RCVBUFFORCE argument for the event socket: the kernel doubles it, so 64 MiB gives the
 * ≈128 MiB a 100k-event burst needs with no reader (netlink-measurements.md, ≈1280 B per event).
 */
export const DEFAULT_NETLINK_BUFFER = 64 * MiB;
export const DEFAULT_NETLINK_BUFFER_MAX = 256 * MiB;
/** sun_path is 108 bytes including the terminating NUL. */
const SUN_PATH_MAX = 107;
const MAX_CHANNELS = 4;

/** Facts about the host that size the defaults; injectable for tests. */
export interface MachineInfo {
  /** /proc/sys/net/netfilter/nf_conntrack_max when readable. */
  nfConntrackMax?: number;
  hostname: string;
}

export function readMachineInfo(): MachineInfo {
  let nfConntrackMax: number | undefined;
  try {
    const v = Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'ascii').trim());
    if (Number.isInteger(v) && v > 0) nfConntrackMax = v;
  } catch {
    // module not loaded or no procfs: keep conntrackd's default
  }
  return { nfConntrackMax, hostname: hostname() };
}

export function defaultHashLimit(m: MachineInfo): number {
  return Math.min(U32_MAX, Math.max(CONNTRACKD_HASH_LIMIT, 2 * (m.nfConntrackMax ?? 0)));
}

// ---- format helpers (throw "must be ..." — the key and the value are added around them) -------

function intIn(min: number, max: number) {
  return (x: unknown): void => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
  };
}
function bool(x: unknown): void {
  if (typeof x !== 'boolean') throw new Error('must be true or false');
}
function absPath(x: unknown): void {
  if (typeof x !== 'string' || !isAbsolute(x)) throw new Error('must be an absolute path (starting with /)');
}
function absPathOrEmpty(x: unknown): void {
  if (x !== '') absPath(x);
}
function oneOf(values: readonly string[]) {
  return (x: unknown): void => {
    if (typeof x !== 'string' || !values.includes(x)) throw new Error(`must be one of ${values.join(', ')}`);
  };
}
function str(x: unknown): void {
  if (typeof x !== 'string' || x === '') throw new Error('must be a non-empty string');
}
function linkList(x: unknown): void {
  if (!Array.isArray(x)) throw new Error('must be a list of links');
}
function objOrNull(x: unknown): void {
  if (x !== null && (typeof x !== 'object' || Array.isArray(x))) throw new Error('must be an object');
}
function expSync(x: unknown): void {
  if (typeof x === 'boolean') return;
  if (Array.isArray(x) && x.every((h) => typeof h === 'string' && /^[A-Za-z][A-Za-z0-9._-]*$/.test(h))) return;
  throw new Error('must be true, false or a list of helper names (e.g. ["ftp", "sip"])');
}

const SYSLOG_FACILITIES = ['', 'daemon', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

function schema(m: MachineInfo) {
  return {
    mode: { format: oneOf(['ftfw', 'notrack', 'alarm']), default: 'ftfw' },
    nodeName: { format: str, default: m.hostname || 'ctsyncd' },
    ftfw: {
      ackWindow: { format: intIn(1, U32_MAX), default: 300 },
      resendQueueSize: { format: intIn(1, U32_MAX), default: 131072 },
      startupResync: { format: bool, default: false },
    },
    notrack: { startupResync: { format: bool, default: false } },
    alarm: {
      refreshTime: { format: intIn(1, U32_MAX), default: 60 },
      cacheTimeout: { format: intIn(1, U32_MAX), default: 180 },
    },
    commitTimeout: { format: intIn(0, U32_MAX), default: 0 },
    purgeTimeout: { format: intIn(0, U32_MAX), default: 60 },
    disableExternalCache: { format: bool, default: false },
    disableInternalCache: { format: bool, default: false },
    tcpWindowTracking: { format: bool, default: false },
    expectationSync: { format: expSync, default: false as boolean | string[] },
    channels: { format: linkList, default: [] as NativeChannel[] },
    general: {
      hashLimit: { format: intIn(1, U32_MAX), default: defaultHashLimit(m) },
      lockFile: { format: absPath, default: '/run/ctsyncd.lock' },
      unixPath: { format: absPath, default: '/run/ctsyncd.ctl' },
      unixBacklog: { format: intIn(1, 65535), default: 100 },
      netlinkBufferSize: { format: intIn(4096, 0x7fffffff), default: DEFAULT_NETLINK_BUFFER },
      netlinkBufferSizeMax: { format: intIn(4096, 0x7fffffff), default: DEFAULT_NETLINK_BUFFER_MAX },
      netlinkOverrunResync: { format: intIn(0, U32_MAX), default: 30 },
      netlinkEventsReliable: { format: bool, default: false },
      pollSecs: { format: intIn(0, U32_MAX), default: 0 },
      eventIterationLimit: { format: intIn(1, U32_MAX), default: 100 },
      logFile: { format: absPathOrEmpty, default: '' },
      syslog: { format: oneOf(SYSLOG_FACILITIES), default: '' },
      logLevel: { format: oneOf(LOG_LEVELS), default: 'info' },
      systemd: { format: bool, default: true },
    },
    wire: { portsHostLE: { format: bool, default: true } },
  };
}

function lookup(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const k of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function keysAt(sch: Record<string, unknown>, dotted: string): string[] {
  const parts = dotted.split('.').slice(0, -1);
  let cur: unknown = sch;
  for (const p of parts) cur = (cur as Record<string, unknown>)[p];
  return Object.keys(cur as object);
}

/** Rewrites convict's messages into `key: must be ...: value was V` lines. */
function convictProblems(err: Error, input: unknown, sch: Record<string, unknown>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const line of err.message.split('\n')) {
    const undeclared = /^configuration param '([^']+)' not declared in the schema$/.exec(line);
    if (undeclared) {
      const key = undeclared[1]!;
      let allowed = '';
      try {
        allowed = ` (allowed here: ${keysAt(sch, key).join(', ')})`;
      } catch {
        // a key below a scalar: no list to offer
      }
      out.push({ message: `${key}: unknown key${allowed}` });
      continue;
    }
    const m = /^([\w.]+): (.*)$/.exec(line);
    if (m && !/: value was /.test(line)) {
      out.push({ message: `${line}: value was ${JSON.stringify(lookup(input, m[1]!))}` });
    } else {
      out.push({ message: line });
    }
  }
  return out;
}

/** Runs each schema leaf's format on the raw input value; returns the keys that failed. */
function prevalidate(c: Checker, sch: Record<string, unknown>, input: unknown, prefix: string): Set<string> {
  const bad = new Set<string>();
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return bad;
  for (const [k, node] of Object.entries(sch)) {
    const v = (input as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    const leaf = node as { format?: unknown };
    if (typeof leaf.format === 'function') {
      if (!c.check(key, v, leaf.format as (x: unknown) => void)) bad.add(key);
    } else if (leaf.format === undefined) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        c.fail(key, v, 'must be an object (mapping)');
        bad.add(key);
      } else for (const b of prevalidate(c, node as Record<string, unknown>, v, key)) bad.add(b);
    }
  }
  return bad;
}

// ---- structured parts ---------------------------------------------------------------------------

class Checker {
  readonly problems: ConfigProblem[] = [];
  fail(key: string, value: unknown, must: string): void {
    this.problems.push({ message: `${key}: ${must}: value was ${JSON.stringify(value)}` });
  }
  /** Runs a "must be" format check and records a failure. Returns true when valid. */
  check(key: string, value: unknown, fmt: (x: unknown) => void): boolean {
    try {
      fmt(value);
      return true;
    } catch (e) {
      this.fail(key, value, (e as Error).message);
      return false;
    }
  }
  plain(message: string): void {
    this.problems.push({ message });
  }
}

const CHANNEL_KEYS = ['kind', 'family', 'group', 'localAddress', 'peers', 'port', 'interface', 'sndBuf', 'rcvBuf', 'checksum', 'default'];

function familyOf(text: string): 'ipv4' | 'ipv6' | undefined {
  try {
    return addrFamily(parseAddr(text)) === AF_INET ? 'ipv4' : 'ipv6';
  } catch {
    return undefined;
  }
}

function isMulticast(text: string): boolean {
  const a = parseAddr(text);
  if (typeof a === 'number') return a >>> 28 === 0xe;
  return a.charCodeAt(0) === 0xff;
}

function resolveChannel(c: Checker, raw: unknown, i: number): ChannelConfig | undefined {
  const key = `channels[${i}]`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    c.fail(key, raw, 'must be an object');
    return undefined;
  }
  const ch = raw as Record<string, unknown>;
  for (const k of Object.keys(ch)) {
    if (!CHANNEL_KEYS.includes(k)) c.plain(`${key}.${k}: unknown key (allowed here: ${CHANNEL_KEYS.join(', ')})`);
  }
  const start = c.problems.length;
  c.check(`${key}.kind`, ch.kind, oneOf(['multicast', 'udp']));
  if (ch.family !== undefined) c.check(`${key}.family`, ch.family, oneOf(['ipv4', 'ipv6']));
  if (ch.port === undefined) {
    c.plain(`${key}.port: missing: the UDP port is required (conntrackd: ${ch.kind === 'multicast' ? 'Group' : 'Port'})`);
  } else c.check(`${key}.port`, ch.port, intIn(1, 65535));
  for (const k of ['sndBuf', 'rcvBuf'] as const) if (ch[k] !== undefined) c.check(`${key}.${k}`, ch[k], intIn(1, 0x7fffffff));
  for (const k of ['checksum', 'default'] as const) if (ch[k] !== undefined) c.check(`${key}.${k}`, ch[k], bool);
  if (ch.interface !== undefined) {
    c.check(`${key}.interface`, ch.interface, (x) => {
      if (typeof x !== 'string' || !/^[^\s/]{1,15}$/.test(x)) throw new Error('must be a network interface name (1-15 characters, no / or spaces)');
    });
  }
  const addrs: [string, unknown][] = [];
  if (ch.group !== undefined) addrs.push([`${key}.group`, ch.group]);
  if (ch.localAddress !== undefined) addrs.push([`${key}.localAddress`, ch.localAddress]);
  const peers = ch.peers ?? [];
  if (!Array.isArray(peers)) c.fail(`${key}.peers`, peers, 'must be a list of IP addresses');
  else for (const [j, p] of peers.entries()) addrs.push([`${key}.peers[${j}]`, p]);
  let family = ch.family as 'ipv4' | 'ipv6' | undefined;
  for (const [k, v] of addrs) {
    const f = typeof v === 'string' ? familyOf(v) : undefined;
    if (!f) {
      c.fail(k, v, 'must be an IPv4 or IPv6 address');
      continue;
    }
    if (family && f !== family) c.fail(k, v, `must be an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address like the rest of this link`);
    family ??= f;
  }
  if (ch.kind === 'multicast') {
    if (ch.group === undefined) c.plain(`${key}.group: missing: a multicast link needs a group address (conntrackd: IPv4_address / IPv6_address)`);
    else if (typeof ch.group === 'string' && familyOf(ch.group) && !isMulticast(ch.group)) {
      c.fail(`${key}.group`, ch.group, 'must be a multicast address (224.0.0.0/4 or ff00::/8)');
    }
    if (ch.interface === undefined) c.plain(`${key}.interface: missing: a multicast link needs the interface name (conntrackd: Interface)`);
    if (Array.isArray(peers) && peers.length > 0) c.fail(`${key}.peers`, peers, 'must be empty for a multicast link (peers are for udp)');
  } else if (ch.kind === 'udp') {
    if (ch.group !== undefined) c.fail(`${key}.group`, ch.group, 'must be absent for a udp link (use peers)');
    if (Array.isArray(peers) && peers.length === 0) c.plain(`${key}.peers: missing: a udp link needs at least one peer address (conntrackd: IPv4_Destination_Address)`);
  }
  if (c.problems.length > start) return undefined;
  const out: ChannelConfig = {
    kind: ch.kind as 'multicast' | 'udp',
    family: family ?? 'ipv4',
    peers: peers as string[],
    port: ch.port as number,
    checksum: (ch.checksum as boolean | undefined) ?? true,
    default: (ch.default as boolean | undefined) ?? false,
  };
  if (ch.group !== undefined) out.group = ch.group as string;
  if (ch.localAddress !== undefined) out.localAddress = ch.localAddress as string;
  if (ch.interface !== undefined) out.interface = ch.interface as string;
  if (ch.sndBuf !== undefined) out.sndBuf = ch.sndBuf as number;
  if (ch.rcvBuf !== undefined) out.rcvBuf = ch.rcvBuf as number;
  return out;
}

function resolveFilter(c: Checker, raw: NativeFilter | null): FilterConfig {
  const out: FilterConfig = { from: 'userspace' };
  if (!raw) return out;
  const allowed = ['from', 'protocol', 'address', 'state'];
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) c.plain(`filter.${k}: unknown key (allowed here: ${allowed.join(', ')})`);
  if (raw.from !== undefined && c.check('filter.from', raw.from, oneOf(['userspace', 'kernelspace']))) out.from = raw.from;
  const set = <T>(name: 'protocol' | 'address' | 'state', listKey: string, conv: (v: unknown, k: string) => T | undefined) => {
    const s = (raw as Record<string, unknown>)[name];
    if (s === undefined) return undefined;
    if (s === null || typeof s !== 'object') {
      c.fail(`filter.${name}`, s, `must be an object { mode: accept|ignore, ${listKey}: [...] }`);
      return undefined;
    }
    const o = s as Record<string, unknown>;
    const okMode = c.check(`filter.${name}.mode`, o.mode, oneOf(['accept', 'ignore']));
    const list = o[listKey];
    if (!Array.isArray(list)) {
      c.fail(`filter.${name}.${listKey}`, list, 'must be a list');
      return undefined;
    }
    const vals: T[] = [];
    list.forEach((v, i) => {
      const r = conv(v, `filter.${name}.${listKey}[${i}]`);
      if (r !== undefined) vals.push(r);
    });
    return okMode ? { mode: o.mode as 'accept' | 'ignore', vals } : undefined;
  };
  const p = set('protocol', 'protos', (v, k) => {
    const n = typeof v === 'string' || typeof v === 'number' ? resolveProtocol(v) : undefined;
    if (n === undefined) c.fail(k, v, 'must be a protocol name from /etc/protocols or a number 0-255');
    return n;
  });
  if (p) out.protocol = { mode: p.mode, protos: p.vals };
  const a = set('address', 'cidrs', (v, k) => {
    try {
      if (typeof v !== 'string') throw new Error('not a string');
      return parseCidr(v);
    } catch {
      c.fail(k, v, 'must be an IPv4 or IPv6 address with an optional /prefix (e.g. 10.0.0.0/8, fe80::/10)');
      return undefined;
    }
  });
  if (a) out.address = { mode: a.mode, cidrs: a.vals };
  const s = set('state', 'states', (v, k) => {
    const n = typeof v === 'string' ? TCP_STATE_BY_NAME[v.toUpperCase()] : undefined;
    if (n === undefined) c.fail(k, v, `must be a TCP state: ${Object.keys(TCP_STATE_BY_NAME).join(', ')}`);
    return n;
  });
  if (s) out.state = { mode: s.mode, states: s.vals };
  return out;
}

function resolveEnvelope(c: Checker, raw: Record<string, unknown>): DaemonConfig['envelope'] {
  const allowed = ['nodeId', 'keyFiles', 'peers'];
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) c.plain(`envelope.${k}: unknown key (allowed here: ${allowed.join(', ')})`);
  const start = c.problems.length;
  if (raw.nodeId === undefined) c.plain('envelope.nodeId: missing: this node\'s id (1 to 4294967295) is required');
  else c.check('envelope.nodeId', raw.nodeId, intIn(1, U32_MAX));
  const files = raw.keyFiles;
  if (!Array.isArray(files) || files.length === 0) c.fail('envelope.keyFiles', files, 'must be a non-empty list of absolute key file paths');
  else {
    files.forEach((f, i) => {
      const k = `envelope.keyFiles[${i}]`;
      if (!c.check(k, f, absPath)) return;
      try {
        accessSync(f as string, fsConstants.R_OK);
      } catch (e) {
        c.fail(k, f, `must be a readable key file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
        return;
      }
      try {
        loadKeyFile(f as string); // mode 0600 and 32 bytes / 64 hex digits (sync/envelope)
      } catch (e) {
        c.fail(k, f, `must be a valid key file: ${(e as Error).message}`);
      }
    });
  }
  if (raw.peers !== undefined) {
    if (!Array.isArray(raw.peers)) c.fail('envelope.peers', raw.peers, 'must be a list of node ids');
    else raw.peers.forEach((p, i) => {
      c.check(`envelope.peers[${i}]`, p, intIn(1, U32_MAX));
    });
  }
  if (c.problems.length > start) return undefined;
  const env: NonNullable<DaemonConfig['envelope']> = { nodeId: raw.nodeId as number, keyFiles: files as string[] };
  if (raw.peers !== undefined) env.peers = raw.peers as number[];
  return env;
}

function resolveMetrics(c: Checker, raw: Record<string, unknown>): DaemonConfig['metrics'] {
  const allowed = ['address', 'port'];
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) c.plain(`metrics.${k}: unknown key (allowed here: ${allowed.join(', ')})`);
  const address = raw.address ?? '127.0.0.1';
  const port = raw.port ?? 9477;
  const okA = c.check('metrics.address', address, (x) => {
    if (typeof x !== 'string' || !familyOf(x)) throw new Error('must be an IPv4 or IPv6 address');
  });
  const okP = c.check('metrics.port', port, intIn(1, 65535));
  return okA && okP ? { address: address as string, port: port as number } : undefined;
}

// ---- entry point -----------------------------------------------------------------------------

export interface ResolveResult {
  config: DaemonConfig;
  warnings: ConfigWarning[];
}

/**
 * Validates a native config object and resolves it. Throws ConfigError listing every problem.
 * `file` only labels the messages.
 */
export function resolveNative(input: unknown, machine: MachineInfo = readMachineInfo(), file?: string): ResolveResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError([{ message: `the configuration must be an object (mapping): value was ${JSON.stringify(input)}` }], file);
  }
  const sch = schema(machine);
  const problems: ConfigProblem[] = [];
  const warnings: ConfigWarning[] = [];
  // convict cannot overlay objects onto null defaults: the optional structured parts are taken
  // out here and checked by hand below.
  const { filter: rawFilter, envelope: rawEnvelope, metrics: rawMetrics, ...scalars } = input as Record<string, unknown>;
  const c = new Checker();
  // Type-check the raw leaves first: convict coerces strings by the default's type ("yes" → true,
  // "60" → 60), which a JSON/YAML file must not get away with.
  const rawBad = prevalidate(c, sch as unknown as Record<string, unknown>, scalars, '');
  if (rawBad.size > 0) throw new ConfigError(c.problems, file);
  const conf = convict(sch);
  conf.load(scalars);
  try {
    conf.validate({ allowed: 'strict', output: () => undefined });
  } catch (e) {
    const more = convictProblems(e as Error, input, sch as unknown as Record<string, unknown>);
    problems.push(...more);
  }
  const props = conf.getProperties() as unknown as Omit<DaemonConfig, 'channels' | 'filter' | 'envelope' | 'metrics'> & {
    channels: unknown;
  };
  for (const [k, v] of [['filter', rawFilter], ['envelope', rawEnvelope], ['metrics', rawMetrics]] as const) {
    if (v !== undefined) c.check(k, v, objOrNull);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

  // channels
  const rawChannels = Array.isArray(props.channels) ? (props.channels as unknown[]) : [];
  const channels: ChannelConfig[] = [];
  rawChannels.forEach((ch, i) => {
    const r = resolveChannel(c, ch, i);
    if (r) channels.push(r);
  });
  if (rawChannels.length === 0) c.plain('channels: at least one dedicated link is required (a Multicast or UDP block in Sync)');
  if (rawChannels.length > MAX_CHANNELS) c.fail('channels', `${rawChannels.length} links`, `must hold at most ${MAX_CHANNELS} links (spec §7.1)`);
  const kinds = new Set(channels.map((ch) => ch.kind));
  if (kinds.size > 1) c.plain('channels: multicast and udp links cannot be mixed (conntrackd: one transport type for all links)');
  if (channels.filter((ch) => ch.default).length > 1) c.plain('channels: only one link may be marked default');

  const filter = resolveFilter(c, isObj(rawFilter) ? (rawFilter as NativeFilter) : null);
  const envelope = isObj(rawEnvelope) ? resolveEnvelope(c, rawEnvelope) : undefined;
  const metrics = isObj(rawMetrics) ? resolveMetrics(c, rawMetrics) : undefined;

  // semantic checks across options (spec §7.1 "where allowed")
  const mode = props.mode;
  if (props.disableInternalCache && mode !== 'notrack') {
    c.plain(`disableInternalCache: only allowed in notrack mode (conntrackd: DisableInternalCache inside Mode NOTRACK): mode is ${mode}`);
  }
  if (props.disableExternalCache && mode === 'alarm') {
    c.plain('disableExternalCache: not allowed in alarm mode (conntrackd: only inside Mode FTFW or NOTRACK)');
  }
  const general = props.general;
  if (Buffer.byteLength(general.unixPath) > SUN_PATH_MAX) {
    c.fail('general.unixPath', general.unixPath, `must be at most ${SUN_PATH_MAX} bytes (sun_path limit)`);
  }
  problems.push(...c.problems);
  if (problems.length > 0) throw new ConfigError(problems, file);

  if (general.netlinkBufferSize > general.netlinkBufferSizeMax) {
    warnings.push({
      message: `general.netlinkBufferSize (${general.netlinkBufferSize}) is above general.netlinkBufferSizeMax (${general.netlinkBufferSizeMax}): the cap is raised to the size (conntrackd would ignore the size)`,
    });
    general.netlinkBufferSizeMax = general.netlinkBufferSize;
  }
  let commitTimeout = props.commitTimeout;
  if (props.disableExternalCache && commitTimeout !== 0) {
    // spec §5.2: CommitTimeout is forced to 0 with a warning in this mode
    warnings.push({ message: 'commitTimeout is ignored with disableExternalCache (forced to 0, as conntrackd does)' });
    commitTimeout = 0;
  }
  if (filter.protocol?.mode === 'accept' && filter.protocol.protos.length === 0) {
    warnings.push({ message: 'filter.protocol: an empty accept list filters out every flow: nothing will be replicated' });
  }
  if (filter.address?.mode === 'accept' && filter.address.cidrs.length === 0) {
    warnings.push({ message: 'filter.address: an empty accept list filters out every IPv4/IPv6 flow' });
  }
  if (mode === 'alarm' && props.alarm.cacheTimeout <= props.alarm.refreshTime) {
    warnings.push({
      message: `alarm.cacheTimeout (${props.alarm.cacheTimeout}) should be larger than alarm.refreshTime (${props.alarm.refreshTime}), or peers expire entries between refreshes`,
    });
  }
  if (mode === 'ftfw' && kinds.has('multicast') === false && channels.some((ch) => ch.peers.length > 1)) {
    warnings.push({ message: 'FTFW with several unicast peers: FTFW tracks one sequence space and is effectively a two-node protocol (spec §4.6)' });
  }

  const config: DaemonConfig = {
    mode,
    nodeName: props.nodeName,
    ftfw: { ...props.ftfw },
    notrack: { ...props.notrack },
    alarm: { ...props.alarm },
    commitTimeout,
    purgeTimeout: props.purgeTimeout,
    disableExternalCache: props.disableExternalCache,
    disableInternalCache: props.disableInternalCache,
    tcpWindowTracking: props.tcpWindowTracking,
    expectationSync: Array.isArray(props.expectationSync) ? [...props.expectationSync] : props.expectationSync,
    channels,
    general: { ...general },
    filter,
    wire: { ...props.wire },
  };
  if (envelope) config.envelope = envelope;
  if (metrics) config.metrics = metrics;
  return { config, warnings };
}

/** The native input shape with every default filled in (what `config convert` prints). */
export function nativeDefaults(machine: MachineInfo = readMachineInfo()): NativeConfig {
  const conf = convict(schema(machine));
  const p = conf.getProperties() as unknown as NativeConfig;
  return { ...p };
}
