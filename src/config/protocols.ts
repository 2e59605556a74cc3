/**
 * Protocol and TCP-state names used by conntrackd.conf's Filter block (spec §6).
 * Protocol names resolve through /etc/protocols like getprotobyname(3), with a built-in table for
 * the protocols conntrack knows, so a minimal container without /etc/protocols still works.
 */
import { readFileSync } from 'node:fs';

const FALLBACK: Record<string, number> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  dccp: 33,
  gre: 47,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

let table: Map<string, number> | undefined;

/** Parses /etc/protocols text: `name number [aliases...] [# comment]`. */
export function parseProtocolsFile(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, num, ...aliases] = line.split(/\s+/);
    const n = Number(num);
    if (!name || !Number.isInteger(n) || n < 0 || n > 255) continue;
    for (const a of [name, ...aliases]) if (!m.has(a.toLowerCase())) m.set(a.toLowerCase(), n);
  }
  return m;
}

function protocols(): Map<string, number> {
  if (!table) {
    try {
      table = parseProtocolsFile(readFileSync('/etc/protocols', 'latin1'));
    } catch {
      table = new Map();
    }
    for (const [k, v] of Object.entries(FALLBACK)) if (!table.has(k)) table.set(k, v);
  }
  return table;
}

/** Name (case-insensitive) or decimal number → protocol number; undefined when unknown. */
export function resolveProtocol(name: string | number): number | undefined {
  if (typeof name === 'number') return Number.isInteger(name) && name >= 0 && name <= 255 ? name : undefined;
  if (/^\d+$/.test(name)) return resolveProtocol(Number(name));
  return protocols().get(name.toLowerCase());
}

/**
 * TCP states accepted by `State Accept|Ignore { ... for TCP }` (spec §6) with the kernel's
 * numbering (TCP_CONNTRACK_*). LISTEN is conntrackd's alias of the slot the kernel now calls
 * SYN_SENT2 (9); CLOSED is an alias of CLOSE.
 */
export const TCP_STATE_BY_NAME: Record<string, number> = {
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  CLOSED: 8,
  LISTEN: 9,
};
