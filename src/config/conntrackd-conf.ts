/**
 * conntrackd.conf reader (spec §7, §6): a flex-like lexer and a recursive-descent parser for the
 * grammar of conntrackd 1.4.7, producing ctsyncd's native input shape (types.ts NativeConfig)
 * plus warnings and semantic problems, each with its line number.
 *
 * Compatibility contract:
 *  - whatever 1.4.7 rejects as a syntax error (wrong value type, option in the wrong block such
 *    as RefreshTime inside Mode FTFW, unbalanced braces, stray characters like ';' or ',') is
 *    rejected here with conntrackd's message `parsing config file in line (N), symbol 'X':
 *    syntax error` — line numbers and symbols were checked against the real binary;
 *  - one deliberate difference: a word that is not a conntrackd keyword at all (a typo, an option
 *    from a newer version) is a *warning* with its line, and the option is skipped — conntrackd
 *    would refuse to start;
 *  - every recognised option is either mapped to the native config or reported as a warning
 *    saying why it is ignored (TCP transport, Helper block, Scheduler, Nice, ...).
 */
import { ConfigSyntaxError } from './errors';
import type { ConfigProblem } from './errors';
import { resolveProtocol, TCP_STATE_BY_NAME } from './protocols';
import type { ConfigWarning, FilterPolicy, NativeChannel, NativeConfig, NativeFilter, SyncMode } from './types';

// ---------------------------------------------------------------------------------------------
// Lexer (read_config_lex.l equivalents; longest match wins like flex)

type TokKind = 'lbrace' | 'rbrace' | 'int' | 'sint' | 'path' | 'ip' | 'word' | 'other' | 'eof';

export interface Token {
  kind: TokKind;
  text: string;
  line: number;
}

const RE_INT = /[0-9]+/y;
const RE_SINT = /[-+][0-9]+/y;
// conntrackd: \/[^\"\n ]* — we also stop at tabs, braces and '#', so `Path /x}` still closes.
const RE_PATH = /\/[^"\s{}#]*/y;
const RE_IP4 = /[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(\/[0-9]+)?/y;
const RE_IP6 = /[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/[0-9]+)?/y;
const RE_WORD = /[a-zA-Z][a-zA-Z0-9._-]*/y;

function matchAt(re: RegExp, text: string, pos: number): string {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : '';
}

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '{' || c === '}') {
      out.push({ kind: c === '{' ? 'lbrace' : 'rbrace', text: c, line });
      i++;
      continue;
    }
    // Longest match; on a tie a word beats an IPv6-looking token (`cafe`, `add`), an address
    // beats a number.
    const cands: [TokKind, string][] = [
      ['word', matchAt(RE_WORD, text, i)],
      ['ip', matchAt(RE_IP4, text, i)],
      ['ip', matchAt(RE_IP6, text, i)],
      ['int', matchAt(RE_INT, text, i)],
      ['sint', matchAt(RE_SINT, text, i)],
      ['path', matchAt(RE_PATH, text, i)],
    ];
    let best: [TokKind, string] = ['other', c];
    for (const cand of cands) if (cand[1].length > (best[0] === 'other' ? 0 : best[1].length)) best = cand;
    out.push({ kind: best[0], text: best[1], line });
    i += best[1].length;
  }
  out.push({ kind: 'eof', text: '', line });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keywords. A keyword that appears where it is not allowed is a syntax error (as in conntrackd);
// a word that is no keyword at all is an "unknown option" warning.

const KEYWORDS = new Set([
  'General', 'Sync', 'Stats', 'Helper', 'Mode', 'Multicast', 'UDP', 'TCP', 'Default', 'Options', 'UNIX',
  'Path', 'Backlog', 'IPv4_address', 'IPv6_address', 'IPv4_Destination_Address', 'IPv6_Destination_Address',
  'IPv4_interface', 'IPv6_interface', 'Interface', 'Group', 'Port', 'SndSocketBuffer', 'RcvSocketBuffer',
  'Checksum', 'ErrorQueueLength', 'HashSize', 'HashLimit', 'LogFile', 'Syslog', 'LockFile',
  'NetlinkBufferSize', 'NetlinkBufferSizeMaxGrowth', 'SocketBufferSize', 'SocketBufferSizeMaxGrown',
  'SocketBufferSizeMaxGrowth', 'NetlinkOverrunResync', 'NetlinkEventsReliable', 'PollSecs',
  'EventIterationLimit', 'Filter', 'From', 'Userspace', 'Kernelspace', 'Protocol', 'Address', 'State',
  'Accept', 'Ignore', 'for', 'Scheduler', 'Type', 'Priority', 'Nice', 'Systemd', 'ResendQueueSize',
  'ResendBufferSize', 'ACKWindowSize', 'CommitTimeout', 'PurgeTimeout', 'RefreshTime', 'CacheTimeout',
  'DisableExternalCache', 'DisableInternalCache', 'StartupResync', 'TCPWindowTracking', 'ExpectationSync',
  'CacheWriteThrough', 'DelayDestroyMessages', 'IgnoreTrafficFor', 'IgnoreProtocol', 'StripNAT',
  'RelaxTransitions', 'ListenTo', 'QueueNum', 'QueueLen', 'Policy', 'ExpectMax', 'ExpectTimeout',
  'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE',
  'CLOSED', 'LISTEN',
]);

/** Options of older versions: skipped with a warning saying what replaced them. */
const LEGACY: Record<string, string> = {
  ResendBufferSize: 'ResendBufferSize is obsolete (replaced by ResendQueueSize); ignored',
  CacheWriteThrough: 'CacheWriteThrough is obsolete (use DisableExternalCache); ignored',
  DelayDestroyMessages: 'DelayDestroyMessages is obsolete; ignored',
  IgnoreTrafficFor: 'IgnoreTrafficFor is obsolete (use Filter { Address Ignore { ... } }); ignored',
  IgnoreProtocol: 'IgnoreProtocol is obsolete (use Filter { Protocol Ignore { ... } }); ignored',
  StripNAT: 'StripNAT is obsolete; ignored',
  RelaxTransitions: 'RelaxTransitions is obsolete; ignored',
  ListenTo: 'ListenTo is obsolete; ignored',
};

const CONNTRACKD_LOG_FILE = '/var/log/conntrackd.log';
const CONNTRACKD_LOCK_FILE = '/var/lock/conntrackd.lock';
/** conntrackd has no default for UNIX Path; every example (and Debian's file) uses this one. */
export const CONNTRACKD_DEFAULT_UNIX_PATH = '/var/run/conntrackd.ctl';

/** Leaves of a native object as `a.b[0].c` → JSON text. */
function flatten(obj: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (obj !== null && typeof obj === 'object') {
    const entries = Array.isArray(obj) ? obj.map((v, i) => [`${prefix}[${i}]`, v] as const) : Object.entries(obj).map(([k, v]) => [prefix ? `${prefix}.${k}` : k, v] as const);
    for (const [k, v] of entries) flatten(v, k, out);
    if (entries.length === 0 && prefix) out.set(prefix, JSON.stringify(obj));
  } else if (prefix) out.set(prefix, JSON.stringify(obj));
  return out;
}

/**
 * The line that set a native key, for messages about a converted conntrackd.conf: the key
 * itself, else the first line of anything below it, else its parent's.
 */
export function lineOfKey(keyLines: Map<string, number>, key: string): number | undefined {
  for (let k = key; k; ) {
    const exact = keyLines.get(k);
    if (exact !== undefined) return exact;
    let best: number | undefined;
    for (const [kk, line] of keyLines) {
      if ((kk.startsWith(`${k}.`) || kk.startsWith(`${k}[`)) && (best === undefined || line < best)) best = line;
    }
    if (best !== undefined) return best;
    const cut = Math.max(k.lastIndexOf('.'), k.lastIndexOf('['));
    k = cut > 0 ? k.slice(0, cut) : '';
  }
  return undefined;
}

export interface ConntrackdConfResult {
  native: NativeConfig;
  warnings: ConfigWarning[];
  /** Semantic problems found while reading (mixed transports, conflicting modes, ...). */
  problems: ConfigProblem[];
  /** Where each native key came from (for line numbers in validation messages). */
  keyLines: Map<string, number>;
  /** The file has no Sync block (e.g. Debian's default stats-mode file). */
  noSync: boolean;
}

type Handler = (tok: Token) => void;

class Parser {
  private pos = 0;
  readonly warnings: ConfigWarning[] = [];
  readonly problems: ConfigProblem[] = [];
  readonly native: NativeConfig = {};
  private modes: { mode: SyncMode; line: number }[] = [];
  private transportKind: { name: string; line: number } | undefined;
  /** native key (dotted, `channels[0].port`) → line of the option that set it. */
  readonly keyLines = new Map<string, number>();
  private sawSync = false;
  private sawStats = false;
  private statsLine: number | undefined;
  /** No Sync block at all: validation of the rest would only add noise. */
  noSync = false;

  constructor(private readonly toks: Token[]) {}

  // ---- token helpers
  private peek(): Token {
    return this.toks[this.pos]!;
  }
  private next(): Token {
    const t = this.toks[this.pos]!;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }
  private fail(t: Token, hint?: string): never {
    throw new ConfigSyntaxError(t.line, t.text, hint);
  }
  private warn(line: number, message: string): void {
    this.warnings.push({ line, message });
  }
  private expect(kind: TokKind): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(t);
    return t;
  }
  private bool(): boolean {
    const t = this.next();
    if (t.kind === 'word') {
      const w = t.text.toLowerCase();
      if (w === 'on' || w === 'yes') return true;
      if (w === 'off' || w === 'no') return false;
    }
    this.fail(t);
  }
  private uint(): number {
    const t = this.next();
    if (t.kind !== 'int') this.fail(t);
    const v = Number(t.text);
    if (v > 0xffffffff) this.fail(t, 'number out of range');
    return v;
  }
  private path(): string {
    const t = this.next();
    if (t.kind !== 'path') this.fail(t);
    return t.text;
  }
  private ip(): string {
    const t = this.next();
    if (t.kind === 'ip' || (t.kind === 'word' && /^[0-9a-fA-F]+$/.test(t.text))) return t.text;
    this.fail(t);
  }
  private name(): string {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t);
    return t.text;
  }

  /** Skips an unknown option: the rest of its line, and a `{ ... }` block if one follows. */
  private skipOption(line: number): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof' || t.kind === 'rbrace') return;
      if (t.kind === 'lbrace') {
        this.skipBlock();
        return;
      }
      if (t.line !== line) return;
      this.next();
    }
  }
  /** Skips a balanced `{ ... }` (Helper block, unknown blocks). */
  private skipBlock(): void {
    this.expect('lbrace');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind === 'eof') this.fail(t);
      if (t.kind === 'lbrace') depth++;
      else if (t.kind === 'rbrace') depth--;
    }
  }

  /** `{ option... }` with a handler table; unknown words warn, misplaced keywords fail. */
  private block(where: string, handlers: Record<string, Handler>): void {
    this.expect('lbrace');
    for (;;) {
      const t = this.next();
      if (t.kind === 'rbrace') return;
      if (t.kind !== 'word') this.fail(t);
      const h = handlers[t.text];
      if (h) {
        const before = flatten(this.native);
        h(t);
        for (const [k, v] of flatten(this.native)) {
          // nested blocks record their own (later) lines first; keep the innermost
          if (before.get(k) !== v) this.keyLines.set(k, Math.max(this.keyLines.get(k) ?? 0, t.line));
        }
        continue;
      }
      if (LEGACY[t.text] !== undefined) {
        this.warn(t.line, `${where}: ${LEGACY[t.text]}`);
        this.skipOption(t.line);
        continue;
      }
      if (KEYWORDS.has(t.text)) this.fail(t);
      this.warn(t.line, `${where}: unknown option '${t.text}' ignored (conntrackd 1.4.7 would refuse this file)`);
      this.skipOption(t.line);
    }
  }

  // ---- top level
  parse(): void {
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') break;
      if (t.kind !== 'word') this.fail(t);
      switch (t.text) {
        case 'General':
          this.general();
          break;
        case 'Sync':
          this.sawSync = true;
          this.sync();
          break;
        case 'Stats':
          this.sawStats = true;
          this.statsLine ??= t.line;
          this.warn(t.line, 'Stats block (statistics-only mode) is not supported by ctsyncd; ignored');
          this.block('Stats', { LogFile: () => this.logFileValue(), Syslog: () => this.syslogValue() });
          break;
        case 'Helper':
          this.warn(t.line, 'Helper block ignored: ctsyncd does not run user-space conntrack helpers (NFQUEUE)');
          this.skipBlock();
          break;
        default:
          if (KEYWORDS.has(t.text)) this.fail(t);
          this.warn(t.line, `unknown top-level block '${t.text}' ignored (conntrackd 1.4.7 would refuse this file)`);
          this.skipOption(t.line);
      }
    }
    if (this.sawSync && this.sawStats) {
      this.problems.push({ message: 'Sync and Stats blocks are mutually exclusive (spec §7)' });
    }
    if (!this.sawSync) {
      this.noSync = true;
      this.problems.push({
        line: this.statsLine,
        message: this.sawStats
          ? "no Sync block: conntrackd's statistics-only mode (Stats block) is not supported; ctsyncd needs a Sync block with a Multicast or UDP link"
          : 'no Sync block: ctsyncd needs a Sync block with a Mode and a Multicast or UDP link',
      });
    }
    this.finishModes();
  }

  private gen() {
    this.native.general ??= {};
    return this.native.general;
  }

  private logFileValue(): string {
    const t = this.peek();
    if (t.kind === 'path') return this.path();
    return this.bool() ? CONNTRACKD_LOG_FILE : '';
  }
  private syslogValue(): string {
    const t = this.next();
    if (t.kind === 'word') {
      const w = t.text.toLowerCase();
      if (w === 'on' || w === 'yes') return 'daemon';
      if (w === 'off' || w === 'no') return '';
      if (w === 'daemon' || /^local[0-7]$/.test(w)) return w;
      this.fail(t, "Syslog takes on, off, daemon or local0..local7");
    }
    this.fail(t);
  }

  // ---- General { ... } (spec §7.2)
  private general(): void {
    const g = () => this.gen();
    this.block('General', {
      HashSize: (t) => {
        this.uint();
        this.warn(t.line, 'HashSize ignored: ctsyncd caches are hash maps that size themselves (HashLimit is honoured)');
      },
      HashLimit: () => {
        g().hashLimit = this.uint();
      },
      LogFile: () => {
        g().logFile = this.logFileValue();
      },
      Syslog: () => {
        g().syslog = this.syslogValue();
      },
      LockFile: () => {
        g().lockFile = this.path();
      },
      UNIX: () =>
        this.block('UNIX', {
          Path: () => {
            g().unixPath = this.path();
          },
          Backlog: () => {
            g().unixBacklog = this.uint();
          },
        }),
      NetlinkBufferSize: () => {
        g().netlinkBufferSize = this.uint();
      },
      SocketBufferSize: () => {
        g().netlinkBufferSize = this.uint();
      },
      NetlinkBufferSizeMaxGrowth: () => {
        g().netlinkBufferSizeMax = this.uint();
      },
      SocketBufferSizeMaxGrown: () => {
        g().netlinkBufferSizeMax = this.uint();
      },
      SocketBufferSizeMaxGrowth: () => {
        g().netlinkBufferSizeMax = this.uint();
      },
      NetlinkOverrunResync: () => {
        const t = this.peek();
        g().netlinkOverrunResync = t.kind === 'int' ? this.uint() : this.bool() ? 30 : 0;
      },
      NetlinkEventsReliable: () => {
        g().netlinkEventsReliable = this.bool();
      },
      PollSecs: (t) => {
        const v = this.uint();
        if (v === 0) this.warn(t.line, 'PollSecs 0 means event mode');
        g().pollSecs = v;
      },
      EventIterationLimit: () => {
        g().eventIterationLimit = this.uint();
      },
      Systemd: () => {
        g().systemd = this.bool();
      },
      Nice: (t) => {
        const v = this.next();
        if (v.kind !== 'int' && v.kind !== 'sint') this.fail(v);
        this.warn(t.line, 'Nice is deprecated and ignored (as in conntrackd); use nice(1) or the systemd unit');
      },
      Scheduler: (t) => {
        this.block('Scheduler', {
          Type: () => {
            const v = this.name();
            if (v !== 'RR' && v !== 'FIFO' && v !== 'rr' && v !== 'fifo') this.fail(this.toks[this.pos - 1]!);
          },
          Priority: () => {
            this.uint();
          },
        });
        this.warn(t.line, 'Scheduler ignored: ctsyncd runs with the default policy (use chrt(1) or CPUSchedulingPolicy= in systemd)');
      },
      Filter: (t) => this.filter(t),
    });
  }

  // ---- Filter [From Userspace|Kernelspace] { Protocol/Address/State ... } (spec §6)
  private filter(start: Token): void {
    const f: NativeFilter = this.native.filter ?? {};
    this.native.filter = f;
    f.from = 'userspace';
    if (this.peek().kind === 'word' && this.peek().text === 'From') {
      this.next();
      const w = this.next();
      if (w.kind !== 'word' || (w.text !== 'Userspace' && w.text !== 'Kernelspace')) this.fail(w);
      if (w.text === 'Kernelspace') {
        f.from = 'kernelspace';
        this.warn(start.line, 'Filter From Kernelspace: ctsyncd applies the same filter in user space (no BPF)');
      }
    }
    const policy = (): FilterPolicy => {
      const w = this.next();
      if (w.kind === 'word' && w.text === 'Accept') return 'accept';
      if (w.kind === 'word' && w.text === 'Ignore') return 'ignore';
      this.fail(w);
    };
    const samePolicy = (what: string, prev: FilterPolicy | undefined, now: FilterPolicy, line: number) => {
      if (prev !== undefined && prev !== now) {
        this.problems.push({ line, message: `Filter: ${what} Accept and ${what} Ignore cannot be combined` });
      }
    };
    this.block('Filter', {
      Protocol: (t) => {
        const mode = policy();
        samePolicy('Protocol', f.protocol?.mode, mode, t.line);
        const protos = f.protocol?.protos ?? [];
        this.expect('lbrace');
        for (;;) {
          const p = this.next();
          if (p.kind === 'rbrace') break;
          if (p.kind !== 'word' && p.kind !== 'int') this.fail(p);
          const name = p.kind === 'word' ? p.text.toLowerCase() : p.text;
          if (resolveProtocol(name) === undefined) {
            // conntrackd: "getprotobyname() cannot find protocol" warning, entry skipped
            this.warn(p.line, `Filter: unknown protocol '${p.text}' (not in /etc/protocols) ignored`);
            continue;
          }
          protos.push(p.kind === 'int' ? Number(p.text) : name);
        }
        f.protocol = { mode, protos };
      },
      Address: (t) => {
        const mode = policy();
        samePolicy('Address', f.address?.mode, mode, t.line);
        const cidrs = f.address?.cidrs ?? [];
        this.expect('lbrace');
        for (;;) {
          const k = this.next();
          if (k.kind === 'rbrace') break;
          if (k.kind !== 'word' || (k.text !== 'IPv4_address' && k.text !== 'IPv6_address')) this.fail(k);
          const a = this.next();
          if (a.kind !== 'ip' && !(a.kind === 'word' && /^[0-9a-fA-F]+$/.test(a.text))) this.fail(a);
          const isV6 = a.text.includes(':');
          if (isV6 !== (k.text === 'IPv6_address')) this.fail(a, `${k.text} given a ${isV6 ? 'IPv6' : 'IPv4'} address`);
          cidrs.push(a.text);
        }
        f.address = { mode, cidrs };
      },
      State: (t) => {
        const mode = policy();
        samePolicy('State', f.state?.mode, mode, t.line);
        const states = f.state?.states ?? [];
        this.expect('lbrace');
        let sawFor = false;
        for (;;) {
          const s = this.next();
          if (s.kind === 'rbrace') {
            // conntrackd requires `... for TCP }`
            if (!sawFor) this.fail(s);
            break;
          }
          if (sawFor) this.fail(s);
          if (s.kind === 'word' && s.text === 'for') {
            const p = this.next();
            if (p.kind !== 'word' || p.text !== 'TCP' || states.length === 0) this.fail(p);
            sawFor = true;
            continue;
          }
          if (s.kind !== 'word' || TCP_STATE_BY_NAME[s.text] === undefined) this.fail(s);
          states.push(s.text);
        }
        f.state = { mode, states };
      },
    });
  }

  // ---- Sync { ... } (spec §7.1)
  private sync(): void {
    const n = this.native;
    const commit = () => {
      n.commitTimeout = this.uint();
    };
    const purge = () => {
      n.purgeTimeout = this.uint();
    };
    const refresh = () => {
      n.alarm = { ...n.alarm, refreshTime: this.uint() };
    };
    const cacheTimeout = () => {
      n.alarm = { ...n.alarm, cacheTimeout: this.uint() };
    };
    this.block('Sync', {
      Mode: (t) => this.mode(t),
      CommitTimeout: commit,
      PurgeTimeout: purge,
      RefreshTime: refresh,
      CacheTimeout: cacheTimeout,
      Multicast: (t) => this.channel('Multicast', t),
      UDP: (t) => this.channel('UDP', t),
      TCP: (t) => this.channel('TCP', t),
      Options: () =>
        this.block('Options', {
          TCPWindowTracking: () => {
            n.tcpWindowTracking = this.bool();
          },
          ExpectationSync: () => {
            if (this.peek().kind === 'lbrace') {
              this.next();
              const names: string[] = [];
              for (;;) {
                const h = this.next();
                if (h.kind === 'rbrace') break;
                if (h.kind !== 'word') this.fail(h);
                names.push(h.text);
              }
              n.expectationSync = names;
            } else {
              n.expectationSync = this.bool();
            }
          },
        }),
    });
  }

  private mode(t: Token): void {
    const w = this.next();
    if (w.kind !== 'word') this.fail(w);
    let mode: SyncMode;
    switch (w.text.toLowerCase()) {
      case 'ftfw':
        mode = 'ftfw';
        break;
      case 'nack':
        mode = 'ftfw';
        this.warn(w.line, "Mode NACK is the old name of Mode FTFW (as conntrackd: 'nack' mode is now called 'ftfw')");
        break;
      case 'alarm':
        mode = 'alarm';
        break;
      case 'persistent':
        mode = 'alarm';
        this.warn(w.line, "Mode PERSISTENT is the old name of Mode ALARM (as conntrackd: 'persistent' mode is now called 'alarm')");
        break;
      case 'notrack':
        mode = 'notrack';
        break;
      default:
        this.fail(w);
    }
    this.modes.push({ mode, line: t.line });
    const n = this.native;
    const uint = (): number => this.uint();
    const common: Record<string, Handler> = {
      CommitTimeout: () => {
        n.commitTimeout = uint();
      },
      PurgeTimeout: () => {
        n.purgeTimeout = uint();
      },
    };
    const startupResync = () => {
      const v = this.bool();
      if (mode === 'ftfw') n.ftfw = { ...n.ftfw, startupResync: v };
      else n.notrack = { ...n.notrack, startupResync: v };
    };
    if (mode === 'ftfw') {
      this.block('Mode FTFW', {
        ...common,
        ResendQueueSize: () => {
          n.ftfw = { ...n.ftfw, resendQueueSize: uint() };
        },
        ACKWindowSize: () => {
          n.ftfw = { ...n.ftfw, ackWindow: uint() };
        },
        DisableExternalCache: () => {
          n.disableExternalCache = this.bool();
        },
        StartupResync: startupResync,
      });
    } else if (mode === 'alarm') {
      this.block('Mode ALARM', {
        ...common,
        RefreshTime: () => {
          n.alarm = { ...n.alarm, refreshTime: uint() };
        },
        CacheTimeout: () => {
          n.alarm = { ...n.alarm, cacheTimeout: uint() };
        },
      });
    } else {
      this.block('Mode NOTRACK', {
        ...common,
        DisableExternalCache: () => {
          n.disableExternalCache = this.bool();
        },
        DisableInternalCache: () => {
          n.disableInternalCache = this.bool();
        },
        StartupResync: startupResync,
      });
    }
  }

  private finishModes(): void {
    if (this.modes.length === 0) {
      if (this.sawSync) this.native.mode = 'ftfw'; // spec §7.1: FTFW if no Mode
      return;
    }
    const kinds = new Set(this.modes.map((m) => m.mode));
    // conntrackd accepts several Mode blocks and silently prefers FTFW > ALARM > NOTRACK;
    // ctsyncd refuses the ambiguity.
    if (kinds.size > 1) {
      const [a, b] = this.modes.filter((m, i, all) => all.findIndex((x) => x.mode === m.mode) === i);
      this.problems.push({
        line: b!.line,
        message: `conflicting sync modes: Mode ${b!.mode.toUpperCase()} (line ${b!.line}) and Mode ${a!.mode.toUpperCase()} (line ${a!.line}); use exactly one (conntrackd would silently pick FTFW > ALARM > NOTRACK)`,
      });
    }
    this.native.mode = kinds.has('ftfw') ? 'ftfw' : kinds.has('alarm') ? 'alarm' : 'notrack';
  }

  // ---- Multicast / UDP / TCP [Default] { ... }
  private channel(kindName: 'Multicast' | 'UDP' | 'TCP', t: Token): void {
    let isDefault = false;
    if (this.peek().kind === 'word' && this.peek().text === 'Default') {
      this.next();
      isDefault = true;
    }
    // Multicast/UDP mixes are reported by the schema check; TCP links are dropped (warning), so
    // their mix with others is reported here, as conntrackd would refuse it.
    if (this.transportKind && this.transportKind.name !== kindName && (kindName === 'TCP' || this.transportKind.name === 'TCP')) {
      // conntrackd: "cannot use `UDP' with other dedicated link protocols!"
      this.problems.push({
        line: t.line,
        message: `cannot use '${kindName}' with other dedicated link protocols (line ${this.transportKind.line} uses '${this.transportKind.name}')`,
      });
    }
    this.transportKind ??= { name: kindName, line: t.line };
    const ch: NativeChannel = { kind: kindName === 'Multicast' ? 'multicast' : 'udp', default: isDefault };
    const peers: string[] = [];
    if (kindName !== 'Multicast') ch.peers = peers;
    // attached now so the line of each option is recorded under channels[i].* (keyLines)
    this.native.channels ??= [];
    const index = this.native.channels.push(ch) - 1;
    const setFamily = (fam: 'ipv4' | 'ipv6', line: number) => {
      if (ch.family && ch.family !== fam) {
        this.problems.push({ line, message: `${kindName}: IPv4 and IPv6 addresses mixed in one link` });
      }
      ch.family = fam;
    };
    const sockOpts: Record<string, Handler> = {
      Interface: () => {
        ch.interface = this.name();
      },
      SndSocketBuffer: () => {
        ch.sndBuf = this.uint();
      },
      RcvSocketBuffer: () => {
        ch.rcvBuf = this.uint();
      },
      Checksum: () => {
        ch.checksum = this.bool();
      },
    };
    if (kindName === 'Multicast') {
      this.block('Multicast', {
        ...sockOpts,
        IPv4_address: (k) => {
          ch.group = this.ip();
          setFamily('ipv4', k.line);
        },
        IPv6_address: (k) => {
          ch.group = this.ip();
          setFamily('ipv6', k.line);
        },
        Group: () => {
          ch.port = this.uint();
        },
        IPv4_interface: () => {
          ch.localAddress = this.ip();
        },
        IPv6_interface: (k) => {
          this.ip();
          this.warn(k.line, 'Multicast: IPv6_interface is accepted and ignored (as in conntrackd); Interface selects the link');
        },
      });
    } else {
      this.block(kindName, {
        ...sockOpts,
        IPv4_address: (k) => {
          ch.localAddress = this.ip();
          setFamily('ipv4', k.line);
        },
        IPv6_address: (k) => {
          ch.localAddress = this.ip();
          setFamily('ipv6', k.line);
        },
        IPv4_Destination_Address: (k) => {
          peers.push(this.ip());
          setFamily('ipv4', k.line);
        },
        IPv6_Destination_Address: (k) => {
          peers.push(this.ip());
          setFamily('ipv6', k.line);
        },
        Port: () => {
          ch.port = this.uint();
        },
        ...(kindName === 'TCP'
          ? {
              ErrorQueueLength: () => {
                this.uint();
              },
            }
          : {}),
      });
    }
    if (kindName === 'TCP') {
      this.warn(t.line, 'TCP transport is not supported by ctsyncd yet; this link is ignored (use UDP or Multicast)');
      this.native.channels.splice(index, 1);
      if (this.native.channels.length === 0) delete this.native.channels;
    }
  }
}

/** Parses conntrackd.conf text. Throws ConfigSyntaxError on grammar violations. */
export function parseConntrackdConf(text: string): ConntrackdConfResult {
  const p = new Parser(tokenize(text));
  p.parse();
  const native = p.native;
  // conntrackd's defaults that differ from ctsyncd's native ones (the file means these values).
  if (native.general?.lockFile === undefined) {
    native.general = { ...native.general, lockFile: CONNTRACKD_LOCK_FILE };
  }
  if (native.general.unixPath === undefined && native.mode !== undefined) {
    native.general.unixPath = CONNTRACKD_DEFAULT_UNIX_PATH;
    p.warnings.push({ message: `General: UNIX { Path } not set; using ${CONNTRACKD_DEFAULT_UNIX_PATH}` });
  }
  return { native, warnings: p.warnings, problems: p.problems, keyLines: p.keyLines, noSync: p.noSync };
}

/** True when the text looks like conntrackd.conf rather than JSON/YAML. */
export function looksLikeConntrackdConf(text: string): boolean {
  const stripped = text.replace(/#.*$/gm, '').trimStart();
  return /^(General|Sync|Stats|Helper)\s*\{/.test(stripped);
}
