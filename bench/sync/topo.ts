/**
 * Benchmark topology: one firewall pair = two namespaces joined by one veth (the sync link).
 *
 *   bn-<tag>-a  [bsync0 10.88.<k>.1/30] ====veth==== [bsync0 10.88.<k>.2/30]  bn-<tag>-b
 *
 * No forwarding path is needed: flows are written straight into fwA's kernel table over
 * ctnetlink (inject.ts), which raises the same events as forwarded traffic would. Every name
 * starts with "bn-" and every address exists only inside these namespaces.
 *
 * Each namespace gets an `inet bn` nft table: a counter of the sync UDP payload on input (so
 * bytes on the wire are counted by the kernel, not by us) and an empty `loss` chain where the
 * fault campaign puts its drop rules.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { must, nsMust, nsRun, run } from './sh';

export const SYNC_PORT = 3780;
export const SYNC_IF = 'bsync0';

export interface Pair {
  tag: string;
  nsA: string;
  nsB: string;
  addrA: string;
  addrB: string;
  dir: string;
}

export function listBenchNamespaces(prefix = 'bn-'): string[] {
  const r = run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

export function deleteNamespace(ns: string): void {
  run('ip', ['netns', 'del', ns], 10_000);
}

/** Creates the pair (deleting leftovers of the same tag first). `k` picks the /30 (1..250). */
export function createPair(tag: string, k: number, runDir: string): Pair {
  if (!/^bn-[a-z0-9-]+$/.test(`bn-${tag}`) || `bn-${tag}-a`.length > 15) throw new Error(`bad pair tag '${tag}'`);
  const nsA = `bn-${tag}-a`;
  const nsB = `bn-${tag}-b`;
  for (const ns of [nsA, nsB]) deleteNamespace(ns);
  const dir = join(runDir, tag);
  mkdirSync(join(dir, 'a'), { recursive: true });
  mkdirSync(join(dir, 'b'), { recursive: true });
  const addrA = `10.88.${k}.1`;
  const addrB = `10.88.${k}.2`;
  try {
    return setupPair(tag, k, nsA, nsB, addrA, addrB, dir);
  } catch (e) {
    deleteNamespace(nsA);
    deleteNamespace(nsB);
    throw e;
  }
}

function setupPair(tag: string, k: number, nsA: string, nsB: string, addrA: string, addrB: string, dir: string): Pair {
  must('ip', ['netns', 'add', nsA]);
  must('ip', ['netns', 'add', nsB]);
  const tmpA = `bnv${process.pid % 100000}${k}a`.slice(0, 15);
  const tmpB = `bnv${process.pid % 100000}${k}b`.slice(0, 15);
  must('ip', ['link', 'add', tmpA, 'netns', nsA, 'type', 'veth', 'peer', 'name', tmpB, 'netns', nsB]);
  for (const [ns, tmp, addr] of [
    [nsA, tmpA, addrA],
    [nsB, tmpB, addrB],
  ] as const) {
    nsMust(ns, 'ip', ['link', 'set', tmp, 'name', SYNC_IF]);
    nsMust(ns, 'ip', ['addr', 'add', `${addr}/30`, 'dev', SYNC_IF]);
    nsMust(ns, 'ip', ['link', 'set', SYNC_IF, 'up']);
    nsMust(ns, 'ip', ['link', 'set', 'lo', 'up']);
    // Sync traffic must not be tracked itself (it would sync itself; conntrackd's own docs
    // filter it out): notrack in raw prerouting/output, plus the payload counter and loss chain.
    const nft = `
table inet bn {
  counter sync_in_payload {
  }
  chain raw_pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "${SYNC_IF}" udp dport ${SYNC_PORT} notrack
  }
  chain raw_out {
    type filter hook output priority raw; policy accept;
    oifname "${SYNC_IF}" udp dport ${SYNC_PORT} notrack
  }
  chain loss {
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "${SYNC_IF}" udp dport ${SYNC_PORT} jump loss
    iifname "${SYNC_IF}" udp dport ${SYNC_PORT} counter name sync_in_payload
  }
}
`;
    const f = join(dir, ns.endsWith('-a') ? 'a' : 'b', 'bn.nft');
    writeFileSync(f, nft);
    nsMust(ns, 'nft', ['-f', f]);
  }
  // Link check (no ping on this machine): both ends report LOWER_UP.
  for (const ns of [nsA, nsB]) {
    const r = nsRun(ns, 'ip', ['-o', 'link', 'show', SYNC_IF]);
    if (!r.stdout.includes('LOWER_UP')) throw new Error(`pair ${tag}: ${SYNC_IF} in ${ns} is not up: ${r.stdout}${r.stderr}`);
  }
  return { tag, nsA, nsB, addrA, addrB, dir };
}

export function deletePair(p: Pair): void {
  deleteNamespace(p.nsA);
  deleteNamespace(p.nsB);
}

/** Interface counters of the sync veth in `ns` (bytes include 14 B Ethernet + IP + UDP headers). */
export interface LinkCounters {
  txBytes: number;
  txPackets: number;
  rxBytes: number;
  rxPackets: number;
}

export function linkCounters(ns: string): LinkCounters {
  const r = nsRun(ns, 'cat', [
    `/sys/class/net/${SYNC_IF}/statistics/tx_bytes`,
    `/sys/class/net/${SYNC_IF}/statistics/tx_packets`,
    `/sys/class/net/${SYNC_IF}/statistics/rx_bytes`,
    `/sys/class/net/${SYNC_IF}/statistics/rx_packets`,
  ]);
  const v = r.stdout.trim().split('\n').map(Number);
  return { txBytes: v[0] ?? 0, txPackets: v[1] ?? 0, rxBytes: v[2] ?? 0, rxPackets: v[3] ?? 0 };
}

/**
 * UDP payload bytes sent by `ns` on the sync link since `before`: frame bytes minus the
 * 14 (Ethernet) + 20 (IPv4) + 8 (UDP) header bytes of each packet. Only sync UDP runs on the
 * link (no ARP after the first exchange, IPv6 off by lack of addresses), so this is the
 * daemon's payload; ARP frames are counted in but negligible (a few per run).
 */
export function payloadSent(before: LinkCounters, after: LinkCounters): { bytes: number; packets: number } {
  const packets = after.txPackets - before.txPackets;
  return { bytes: after.txBytes - before.txBytes - 42 * packets, packets };
}

/** Sets (P > 0) or clears (P = 0) random loss of P % on sync input in `ns` (nft numgen). */
export function setLoss(ns: string, percent: number): void {
  nsMust(ns, 'nft', ['flush', 'chain', 'inet', 'bn', 'loss']);
  if (percent > 0) nsMust(ns, 'nft', ['add', 'rule', 'inet', 'bn', 'loss', 'numgen', 'random', 'mod', '100', '<', String(percent), 'drop']);
}

/** Partition: drop every sync datagram in both directions (input of both sides) or heal. */
export function setPartition(p: Pair, on: boolean): void {
  for (const ns of [p.nsA, p.nsB]) {
    nsMust(ns, 'nft', ['flush', 'chain', 'inet', 'bn', 'loss']);
    if (on) nsMust(ns, 'nft', ['add', 'rule', 'inet', 'bn', 'loss', 'drop']);
  }
}

/** Number of entries in the kernel conntrack table of `ns`. */
export function kernelCount(ns: string): number {
  const r = nsRun(ns, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_count']);
  const n = Number.parseInt(r.stdout.trim(), 10);
  return Number.isFinite(n) ? n : -1;
}

export function kernelFlush(ns: string): void {
  nsRun(ns, 'conntrack', ['-F'], 30_000);
}
