/**
 * The benchmark's synthetic flows. Flow i is a pure function of i, so the injector (inside
 * fwA's namespace) and the analysers (wire capture, cache dumps) agree on identities without
 * exchanging lists:
 *
 *   TCP ESTABLISHED  10.96.0.0 + (i >> 6) : 1024 + (i & 63)  →  10.97.0.1 : 80
 *   with NAT:        SNAT to 10.98.0.0 + (i >> 14) : 1024 + (i & 16383), DNAT to 10.97.1.1
 *
 * Addresses are never configured on any interface: these entries only live in conntrack tables.
 */
import { AF_INET, ipv4 } from '../../src/flow/address';
import { type Flow, IPPROTO, IPS, invertTuple, makeTuple } from '../../src/flow/flow';

// Addresses in the internal signed form (src/flow/address.ts ipv4()); SRC_BASE stays a u32 for
// the index arithmetic below.
const SRC_BASE = ((10 << 24) | (96 << 16)) >>> 0;
const DST = ipv4((10 << 24) | (97 << 16) | 1);
const DNAT = ipv4((10 << 24) | (97 << 16) | (1 << 8) | 1);
const SNAT_BASE = ((10 << 24) | (98 << 16)) >>> 0;
export const MAX_FLOWS = 1 << 22;

/** Long enough that nothing expires during a run (the full mode lasts < 1 h). */
export const FLOW_TIMEOUT = 7200;

export function benchFlow(i: number, nat: boolean, mark?: number): Flow {
  const orig = makeTuple({
    family: AF_INET,
    src: ipv4(SRC_BASE + (i >>> 6)),
    dst: DST,
    proto: IPPROTO.TCP,
    sport: 1024 + (i & 63),
    dport: 80,
  });
  const f: Flow = {
    orig,
    status: IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: FLOW_TIMEOUT,
    tcp: { state: 3 },
  };
  if (nat) f.nat = { snatAddr: ipv4(SNAT_BASE + (i >>> 14)), snatPort: 1024 + (i & 16383), dnatAddr: DNAT };
  else f.reply = invertTuple(orig);
  if (mark !== undefined) f.mark = mark;
  return f;
}

/** Index of a bench flow from its original tuple, or -1 for anything else. */
export function benchIndex(src: number, sport: number, dst: number, dport: number): number {
  if (ipv4(dst) !== DST || dport !== 80 || sport < 1024 || sport > 1024 + 63) return -1;
  const hi = (src >>> 0) - SRC_BASE;
  if (hi < 0 || hi >= MAX_FLOWS >>> 6) return -1;
  return hi * 64 + (sport - 1024);
}

/** The key dumpKeys() produces for flow i ("tcp src:sport dst:dport"). */
export function benchKey(i: number): string {
  const s = (SRC_BASE + (i >>> 6)) >>> 0;
  return `tcp ${s >>> 24}.${(s >>> 16) & 255}.${(s >>> 8) & 255}.${s & 255}:${1024 + (i & 63)} 10.97.0.1:80`;
}
