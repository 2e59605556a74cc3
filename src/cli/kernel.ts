/**
 * `ctsyncd kernel <cmd>`: direct access to this network namespace's conntrack table through the
 * daemon's own kernel layer (ConntrackClient), a small conntrack(8) work-alike for operators and
 * tests. Text output uses conntrack -L's line format; --json prints one JSON object per line.
 *
 *   kernel list   [filters] [--json]          like conntrack -L
 *   kernel count                              entries in the table
 *   kernel events [filters] [--json] [-c N] [--timeout S]   like conntrack -E
 *   kernel get    TUPLE [--json]              like conntrack -G
 *   kernel create TUPLE -t SECS [--state S] [-u STATUS] [-m MARK] [-w ZONE]   like conntrack -I
 *   kernel delete [filters]                   like conntrack -D (deletes every match)
 *   kernel flush                              like conntrack -F
 *   kernel stats  [--json]                    CT_GET_STATS(_CPU)
 *
 * Filters / tuple: -f ipv4|ipv6, -p PROTO, -s SRC, -d DST, --sport N, --dport N, -w ZONE,
 * -m MARK[/MASK], --state NAME; ICMP: --icmp-type, --icmp-code, --icmp-id.
 */
import { ConntrackClient, type CtEventKind, errnoError } from '../ctnetlink/client';
import type { CtFlow } from '../ctnetlink/codec';
import { flowToJson, formatConntrackLine } from '../ctnetlink/format';
import { AF_INET, AF_INET6, type Addr, addrFamily, type Family, parseAddr } from '../flow/address';
import { type Flow, hasPorts, IPPROTO, IPS, invertTuple, isIcmp, makeTuple, TCP_STATE_NAMES } from '../flow/flow';

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

interface Parsed {
  cmd: string;
  json: boolean;
  family?: Family;
  proto?: number;
  src?: Addr;
  dst?: Addr;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  zone?: number;
  mark?: number;
  markMask: number;
  state?: number;
  status?: number;
  timeout?: number;
  count?: number;
  waitSec?: number;
}

const PROTOS: Record<string, number> = {
  tcp: IPPROTO.TCP,
  udp: IPPROTO.UDP,
  icmp: IPPROTO.ICMP,
  icmpv6: IPPROTO.ICMPV6,
  sctp: IPPROTO.SCTP,
  dccp: IPPROTO.DCCP,
  gre: IPPROTO.GRE,
  udplite: IPPROTO.UDPLITE,
};

const USAGE =
  'usage: ctsyncd kernel list|count|events|get|create|delete|flush|stats [-f ipv4|ipv6] [-p proto] ' +
  '[-s addr] [-d addr] [--sport n] [--dport n] [-w zone] [-m mark[/mask]] [--state name] ' +
  '[-t secs] [-u status,...] [-c n] [--timeout secs] [--json]';

class UsageError extends Error {}

function num(v: string | undefined, what: string, max = 0xffffffff): number {
  if (v === undefined) throw new UsageError(`${what}: missing value`);
  const n = v.startsWith('0x') ? Number.parseInt(v, 16) : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`${what}: bad value '${v}'`);
  return n;
}

export function parseKernelArgs(argv: readonly string[]): Parsed {
  const p: Parsed = { cmd: argv[0] ?? '', json: false, markMask: 0xffffffff };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new UsageError(`${a}: missing value`);
      return x;
    };
    switch (a) {
      case '--json':
        p.json = true;
        break;
      case '-f':
      case '--family': {
        const f = v();
        if (f !== 'ipv4' && f !== 'ipv6') throw new UsageError(`-f: expected ipv4 or ipv6, got '${f}'`);
        p.family = f === 'ipv4' ? AF_INET : AF_INET6;
        break;
      }
      case '-p':
      case '--proto': {
        const x = v().toLowerCase();
        p.proto = PROTOS[x] ?? num(x, '-p', 255);
        break;
      }
      case '-s':
      case '--src':
      case '--orig-src':
        p.src = parseAddrArg(v());
        break;
      case '-d':
      case '--dst':
      case '--orig-dst':
        p.dst = parseAddrArg(v());
        break;
      case '--sport':
      case '--orig-port-src':
        p.sport = num(v(), a, 65535);
        break;
      case '--dport':
      case '--orig-port-dst':
        p.dport = num(v(), a, 65535);
        break;
      case '--icmp-type':
        p.icmpType = num(v(), a, 255);
        break;
      case '--icmp-code':
        p.icmpCode = num(v(), a, 255);
        break;
      case '--icmp-id':
        p.icmpId = num(v(), a, 65535);
        break;
      case '-w':
      case '--zone':
        p.zone = num(v(), a, 65535);
        break;
      case '-m':
      case '--mark': {
        const [m, mask] = v().split('/');
        p.mark = num(m, a);
        if (mask !== undefined) p.markMask = num(mask, a);
        break;
      }
      case '--state': {
        const s = v().toUpperCase();
        const idx = (TCP_STATE_NAMES as readonly string[]).indexOf(s);
        if (idx < 0) throw new UsageError(`--state: unknown TCP state '${s}'`);
        p.state = idx;
        break;
      }
      case '-u':
      case '--status': {
        let st = 0;
        for (const name of v().split(',')) {
          const bit = (IPS as Record<string, number>)[name.toUpperCase()];
          if (bit === undefined) throw new UsageError(`-u: unknown status '${name}'`);
          st |= bit;
        }
        p.status = st;
        break;
      }
      case '-t':
        p.timeout = num(v(), a);
        break;
      case '-c':
      case '--count':
        p.count = num(v(), a);
        break;
      case '--timeout':
        p.waitSec = Number(v());
        if (!(p.waitSec > 0)) throw new UsageError('--timeout: expected seconds > 0');
        break;
      default:
        throw new UsageError(`unknown option '${a}'`);
    }
  }
  if (p.src !== undefined && p.dst !== undefined && addrFamily(p.src) !== addrFamily(p.dst)) {
    throw new UsageError('-s and -d must be the same address family');
  }
  return p;
}

function parseAddrArg(s: string): Addr {
  try {
    return parseAddr(s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** True when the flow matches every filter given (conntrack -L filter semantics, orig tuple). */
export function matchesFilter(f: Flow, p: Parsed): boolean {
  const o = f.orig;
  if (p.family !== undefined && o.family !== p.family) return false;
  if (p.proto !== undefined && o.proto !== p.proto) return false;
  if (p.src !== undefined && o.src !== p.src) return false;
  if (p.dst !== undefined && o.dst !== p.dst) return false;
  if (p.sport !== undefined && (!hasPorts(o.proto) || o.sport !== p.sport)) return false;
  if (p.dport !== undefined && (!hasPorts(o.proto) || o.dport !== p.dport)) return false;
  if (p.zone !== undefined && (f.zone ?? 0) !== p.zone) return false;
  if (p.mark !== undefined && (((f.mark ?? 0) & p.markMask) >>> 0) !== ((p.mark & p.markMask) >>> 0)) return false;
  if (p.state !== undefined && f.tcp?.state !== p.state) return false;
  return true;
}

/** A flow from a full tuple on the command line (get / create). */
function flowFromArgs(p: Parsed, forCreate: boolean): Flow {
  if (p.src === undefined || p.dst === undefined || p.proto === undefined) {
    throw new UsageError('need -p, -s and -d');
  }
  const family = addrFamily(p.src);
  const orig = makeTuple({ family, src: p.src, dst: p.dst, proto: p.proto });
  if (hasPorts(p.proto)) {
    if (p.sport === undefined || p.dport === undefined) throw new UsageError('need --sport and --dport');
    orig.sport = p.sport;
    orig.dport = p.dport;
  } else if (isIcmp(p.proto)) {
    if (p.icmpType === undefined || p.icmpId === undefined) throw new UsageError('need --icmp-type and --icmp-id');
    orig.icmpType = p.icmpType;
    orig.icmpCode = p.icmpCode ?? 0;
    orig.icmpId = p.icmpId;
  }
  const flow: Flow = { orig };
  if (p.zone !== undefined) flow.zone = p.zone;
  if (!forCreate) return flow;
  if (p.timeout === undefined) throw new UsageError('create needs -t TIMEOUT');
  flow.reply = invertTuple(orig);
  flow.timeout = p.timeout;
  flow.status = p.status ?? 0;
  if (p.mark !== undefined) flow.mark = p.mark;
  if (p.proto === IPPROTO.TCP) flow.tcp = { state: p.state ?? 3 };
  return flow;
}

function printFlow(io: Io, f: CtFlow, json: boolean, event?: CtEventKind): void {
  if (json) {
    const o = flowToJson(f);
    io.out(JSON.stringify(event ? { event, ...o } : o));
  } else io.out(formatConntrackLine(f, event ? { event } : {}));
}

/**
 * Runs one `kernel` subcommand; returns the exit code (0 ok, 1 error, 2 usage). `io` defaults to
 * stdout/stderr; `clientFactory` lets tests inject a client.
 */
export async function runKernelCommand(
  argv: string[],
  io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
  clientFactory: () => ConntrackClient = () => new ConntrackClient(),
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  let p: Parsed;
  try {
    p = parseKernelArgs(argv);
  } catch (e) {
    io.err(`ctsyncd kernel: ${(e as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  let client: ConntrackClient | undefined;
  try {
    switch (p.cmd) {
      case 'list': {
        client = clientFactory();
        let n = 0;
        for await (const chunk of client.dump(p.family ?? 0)) {
          for (const f of chunk) {
            if (!matchesFilter(f, p)) continue;
            printFlow(io, f, p.json);
            n++;
          }
        }
        if (!p.json) io.err(`ctsyncd kernel: ${n} flow entries have been shown.`);
        return 0;
      }
      case 'count':
        client = clientFactory();
        io.out(String(client.count()));
        return 0;
      case 'get': {
        client = clientFactory();
        const f = client.get(flowFromArgs(p, false));
        if (!f) {
          io.err('ctsyncd kernel: no such entry');
          return 1;
        }
        printFlow(io, f, p.json);
        return 0;
      }
      case 'create': {
        client = clientFactory();
        const res = client.createBatch([flowFromArgs(p, true)]);
        const e = res.errnos[0]!;
        if (e !== 0) throw errnoError(e, 'create');
        io.err('ctsyncd kernel: 1 flow entries have been created.');
        return 0;
      }
      case 'delete': {
        client = clientFactory();
        const victims: Flow[] = [];
        for await (const chunk of client.dump(p.family ?? 0)) {
          for (const f of chunk) if (matchesFilter(f, p)) victims.push({ orig: f.orig, zone: f.zone });
        }
        const res = client.deleteBatch(victims);
        io.err(`ctsyncd kernel: ${res.ok} flow entries have been deleted.`);
        return 0;
      }
      case 'flush':
        client = clientFactory();
        client.flush(p.family ?? 0);
        io.err('ctsyncd kernel: connection tracking table has been emptied.');
        return 0;
      case 'stats': {
        client = clientFactory();
        const s = client.kernelStats();
        if (p.json) io.out(JSON.stringify(s));
        else for (const [k, v] of Object.entries(s)) io.out(`${k.padEnd(14)} ${v}`);
        return 0;
      }
      case 'events':
        client = clientFactory();
        return await runEvents(client, p, io);
      default:
        io.err(`ctsyncd kernel: unknown command '${p.cmd}'`);
        io.err(USAGE);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ctsyncd kernel: ${e.message}`);
      return 2;
    }
    io.err(`ctsyncd kernel ${p.cmd}: ${(e as Error).message}`);
    return 1;
  } finally {
    client?.close();
  }
}

/** Prints events until -c N were printed, --timeout expired, or SIGINT/SIGTERM. */
function runEvents(client: ConntrackClient, p: Parsed, io: Io): Promise<number> {
  return new Promise<number>((resolve) => {
    let printed = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number): void => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      client.unsubscribe();
      resolve(code);
    };
    const onSig = (): void => finish(0);
    process.on('SIGINT', onSig);
    process.on('SIGTERM', onSig);
    if (p.waitSec !== undefined) timer = setTimeout(() => finish(0), p.waitSec * 1000);
    client.subscribe({
      onEvent: (kind, flow) => {
        if (!matchesFilter(flow, p)) return;
        printFlow(io, flow, p.json, kind);
        printed++;
        if (p.count !== undefined && printed >= p.count) finish(0);
      },
      onOverrun: (n) => io.err(`ctsyncd kernel events: receive overrun (${n}), events were lost`),
    });
    // the subscription is live now: tell a waiting parent (tests) it can start producing
    io.err('ctsyncd kernel events: listening');
  });
}
