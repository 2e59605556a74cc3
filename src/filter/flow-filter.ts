/**
 * Event filter (spec §6, `Filter From Userspace`). Pure: a compiled config tested per flow.
 * Every configured set must pass (logical AND); an absent set passes everything.
 *
 * Applied to kernel events, the start-up dump and kernel resyncs — never to messages received
 * from peers nor to commits (spec §6).
 */
import { type Addr, type Cidr, cidrContains } from '../flow/address';
import { type Flow, IPPROTO } from '../flow/flow';

export type FilterMode = 'accept' | 'ignore';

export interface FlowFilterConfig {
  protocol?: { mode: FilterMode; protos: number[] };
  address?: { mode: FilterMode; cidrs: Cidr[] };
  state?: { mode: FilterMode; states: number[] };
}

/** Why a flow was filtered out (counters per reason). */
export type FilterVerdict = 'pass' | 'protocol' | 'address' | 'state' | 'selfAddress' | 'sanity';

export class FilterStats {
  passed = 0;
  protocol = 0;
  address = 0;
  state = 0;
  selfAddress = 0;
  sanity = 0;
}

interface AddrSet {
  exact: Set<Addr>;
  nets: Cidr[];
}

function compileAddrs(cidrs: readonly Cidr[]): AddrSet {
  const exact = new Set<Addr>();
  const nets: Cidr[] = [];
  for (const c of cidrs) {
    const full = typeof c.addr === 'number' ? 32 : 128;
    if (c.prefix === full) exact.add(c.addr);
    else nets.push(c);
  }
  return { exact, nets };
}

function addrMatches(s: AddrSet, a: Addr): boolean {
  // spec §6: networks are checked first, then exact addresses (same result either way).
  for (const n of s.nets) if (cidrContains(n, a)) return true;
  return s.exact.has(a);
}

/**
 * The address the reply direction comes from: the reply tuple's source when the kernel gave us
 * one; otherwise the DNAT address if known, else the original destination (the inverse tuple
 * of a non-NATed flow) — spec §6 "reply source (= real destination after DNAT)".
 */
export function replySource(f: Flow): Addr {
  if (f.reply) return f.reply.src;
  if (f.nat?.dnatAddr !== undefined) return f.nat.dnatAddr;
  return f.orig.dst;
}

export class FlowFilter {
  readonly stats = new FilterStats();
  private readonly protos: Set<number> | null;
  private readonly protoAccept: boolean;
  private readonly addrs: AddrSet | null;
  private readonly addrAccept: boolean;
  private readonly states: Set<number> | null;
  private readonly stateAccept: boolean;
  private readonly selfAddrs: AddrSet;

  /**
   * @param ignoreAddrs addresses always ignored in addition to the config — the sync link's
   *   own addresses, so the sync traffic itself is never replicated (spec Appendix B note).
   */
  constructor(cfg: FlowFilterConfig = {}, ignoreAddrs: readonly Cidr[] = []) {
    this.protos = cfg.protocol ? new Set(cfg.protocol.protos) : null;
    this.protoAccept = cfg.protocol?.mode === 'accept';
    this.addrs = cfg.address ? compileAddrs(cfg.address.cidrs) : null;
    this.addrAccept = cfg.address?.mode === 'accept';
    this.states = cfg.state ? new Set(cfg.state.states) : null;
    this.stateAccept = cfg.state?.mode === 'accept';
    this.selfAddrs = compileAddrs(ignoreAddrs);
  }

  /** Pure verdict, no counting. */
  verdict(f: Flow): FilterVerdict {
    const o = f.orig;
    if (!o || o.src === undefined || o.dst === undefined) return 'sanity';
    if (this.protos && this.protos.has(o.proto) !== this.protoAccept) return 'protocol';
    const rsrc = replySource(f);
    if (this.selfAddrs.exact.size + this.selfAddrs.nets.length > 0) {
      if (addrMatches(this.selfAddrs, o.src) || addrMatches(this.selfAddrs, rsrc)) return 'selfAddress';
    }
    if (this.addrs) {
      const match = addrMatches(this.addrs, o.src) || addrMatches(this.addrs, rsrc);
      if (match !== this.addrAccept) return 'address';
    }
    // spec §6: TCP only; non-TCP flows and TCP flows without state info always pass.
    if (this.states && o.proto === IPPROTO.TCP && f.tcp?.state !== undefined) {
      if (this.states.has(f.tcp.state) !== this.stateAccept) return 'state';
    }
    return 'pass';
  }

  /** Verdict with counting; true = replicate. */
  test(f: Flow): boolean {
    const v = this.verdict(f);
    this.stats[v === 'pass' ? 'passed' : v]++;
    return v === 'pass';
  }
}
