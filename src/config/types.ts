/**
 * The resolved configuration the daemon consumes (one type, `DaemonConfig`), and the native
 * input shape (`NativeConfig`: what a JSON/YAML file holds, and what `config convert` prints for a
 * conntrackd.conf). Input and resolved shapes differ only where text is parsed: protocol names,
 * CIDRs and TCP state names become numbers / Cidr objects; everything else is copied after
 * validation with defaults filled in (see schema.ts).
 */
import type { Cidr } from '../flow/address';

export type SyncMode = 'ftfw' | 'notrack' | 'alarm';
export type FilterPolicy = 'accept' | 'ignore';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** One dedicated link (spec §1.1, §7.1). conntrackd allows at most 4, all of one kind. */
export interface ChannelConfig {
  kind: 'multicast' | 'udp';
  family: 'ipv4' | 'ipv6';
  /** multicast only: the group address (IPv4_address / IPv6_address inside `Multicast`). */
  group?: string;
  /**
   * multicast: local address used for membership and sending (`IPv4_interface`);
   * udp: local bind address (`IPv4_address` / `IPv6_address` inside `UDP`).
   */
  localAddress?: string;
  /** udp only: unicast destinations. conntrackd has exactly one per link; ctsyncd allows several. */
  peers: string[];
  /** UDP port (`Group` for multicast, `Port` for udp). */
  port: number;
  /** Link name: MTU, link monitoring, IPv6 scope/index. Required for multicast. */
  interface?: string;
  sndBuf?: number;
  rcvBuf?: number;
  /** Fill the UDP checksum (spec §1.6). conntrackd default: on. */
  checksum: boolean;
  /** The link used first (`Default` keyword). */
  default: boolean;
}

/** Same field names as src/filter/flow-filter.ts FlowFilterConfig, plus where it applies. */
export interface FilterConfig {
  /** `Filter From Kernelspace` asks for a BPF filter; ctsyncd filters in user space either way. */
  from: 'userspace' | 'kernelspace';
  protocol?: { mode: FilterPolicy; protos: number[] };
  address?: { mode: FilterPolicy; cidrs: Cidr[] };
  state?: { mode: FilterPolicy; states: number[] };
}

export interface GeneralConfig {
  /** Max objects per cache (spec §5.1 "no space"). Default max(262144, 2 x nf_conntrack_max). */
  hashLimit: number;
  lockFile: string;
  unixPath: string;
  unixBacklog: number;
  /** SO_RCVBUFFORCE argument for the event socket (the kernel doubles it). */
  netlinkBufferSize: number;
  /** Cap for doubling on overrun (spec §5.1). */
  netlinkBufferSizeMax: number;
  /** Seconds after an overrun before the kernel resync; 0 = off. */
  netlinkOverrunResync: number;
  netlinkEventsReliable: boolean;
  /** Polling mode period in seconds; 0 = event mode. */
  pollSecs: number;
  eventIterationLimit: number;
  /** '' = no log file. */
  logFile: string;
  /** '' = off, else a syslog facility name ('daemon', 'local0'..'local7'). */
  syslog: string;
  logLevel: LogLevel;
  systemd: boolean;
}

export interface EnvelopeConfig {
  /** This node's id inside the authenticated envelope (1 .. 2^32-1). */
  nodeId: number;
  /** Absolute paths of pre-shared key files (first = current key; others accepted on receive). */
  keyFiles: string[];
  /** Node ids accepted from the network; absent = any node holding the key. */
  peers?: number[];
}

export interface DaemonConfig {
  mode: SyncMode;
  /** Human name of this node (logs, metrics labels). Default: the host name. */
  nodeName: string;
  ftfw: { ackWindow: number; resendQueueSize: number; startupResync: boolean };
  notrack: { startupResync: boolean };
  alarm: { refreshTime: number; cacheTimeout: number };
  /** Seconds; 0 = unset (spec §5.3: when set, NTA_TIMEOUT is not sent either). */
  commitTimeout: number;
  purgeTimeout: number;
  disableExternalCache: boolean;
  disableInternalCache: boolean;
  tcpWindowTracking: boolean;
  /** false = off, true = all helpers, list = helper-name prefixes (spec §6). */
  expectationSync: boolean | string[];
  channels: ChannelConfig[];
  general: GeneralConfig;
  filter: FilterConfig;
  envelope?: EnvelopeConfig;
  metrics?: { address: string; port: number };
  wire: {
    /**
     * spec §3.6: 1.4.7 on x86 sends SPAT/DPAT/ICMP_ID little-endian. true = talk to such peers.
     */
    portsHostLE: boolean;
  };
}

/** A warning about the input: an option honoured differently or ignored, with its line. */
export interface ConfigWarning {
  line?: number;
  message: string;
}

// ---- native input shape (JSON / YAML); every field optional except channels -------------------

export interface NativeChannel {
  kind?: 'multicast' | 'udp';
  family?: 'ipv4' | 'ipv6';
  group?: string;
  localAddress?: string;
  peers?: string[];
  port?: number;
  interface?: string;
  sndBuf?: number;
  rcvBuf?: number;
  checksum?: boolean;
  default?: boolean;
}

export interface NativeFilter {
  from?: 'userspace' | 'kernelspace';
  protocol?: { mode: FilterPolicy; protos: (string | number)[] };
  address?: { mode: FilterPolicy; cidrs: string[] };
  state?: { mode: FilterPolicy; states: string[] };
}

export interface NativeConfig {
  mode?: SyncMode;
  nodeName?: string;
  ftfw?: Partial<DaemonConfig['ftfw']>;
  notrack?: Partial<DaemonConfig['notrack']>;
  alarm?: Partial<DaemonConfig['alarm']>;
  commitTimeout?: number;
  purgeTimeout?: number;
  disableExternalCache?: boolean;
  disableInternalCache?: boolean;
  tcpWindowTracking?: boolean;
  expectationSync?: boolean | string[];
  channels?: NativeChannel[];
  general?: Partial<GeneralConfig>;
  filter?: NativeFilter;
  envelope?: Partial<EnvelopeConfig>;
  metrics?: { address?: string; port?: number };
  wire?: { portsHostLE?: boolean };
}
