/**
 * Minimal classic-libpcap reader (not pcapng) for wire tests and `ctsyncd wire decode`: yields
 * the UDP datagrams of Ethernet (DLT 1), Linux cooked v1/v2 (113/276) and raw IP (101/228/229)
 * captures, IPv4 and IPv6, skipping everything else. No fragment reassembly.
 */
import { readFileSync } from 'node:fs';
import { CtsyncError } from '../core/errors';

export interface UdpRecord {
  /** 0-based index of the pcap record (frame number − 1). */
  index: number;
  /** Capture time in microseconds since the epoch (nanosecond files are truncated to µs). */
  tsUs: number;
  family: 4 | 6;
  /** Source / destination addresses as text. */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** The UDP payload (a view into the file buffer). */
  payload: Buffer;
}

export const CTSYNC_ERR_PCAP = 'CTSYNC_ERR_PCAP';

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;
const LINKTYPE_LINUX_SLL2 = 276;

function ipv4Text(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6Text(b: Buffer, o: number): string {
  const w: string[] = [];
  for (let i = 0; i < 16; i += 2) w.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return w.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Parses a whole pcap file held in memory. Throws CtsyncError(CTSYNC_ERR_PCAP) on a bad header. */
export function parsePcap(file: Buffer): UdpRecord[] {
  if (file.length < 24) throw new CtsyncError(CTSYNC_ERR_PCAP, 'pcap: file shorter than the global header');
  const magicLE = file.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = file.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) {
      throw new CtsyncError(CTSYNC_ERR_PCAP, `pcap: unknown magic 0x${magicLE.toString(16)} (pcapng is not supported)`);
    }
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linktype = u32(20) & 0x0fffffff;
  const out: UdpRecord[] = [];
  let off = 24;
  let index = 0;
  while (off + 16 <= file.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    const start = off + 16;
    const end = start + incl;
    if (end > file.length) break; // truncated last record
    const rec = udpFromFrame(file, start, end, linktype);
    if (rec) out.push({ index, tsUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac), ...rec });
    off = end;
    index++;
  }
  return out;
}

export function readPcapFile(path: string): UdpRecord[] {
  return parsePcap(readFileSync(path));
}

type Udp = Omit<UdpRecord, 'index' | 'tsUs'>;

function udpFromFrame(b: Buffer, start: number, end: number, linktype: number): Udp | null {
  let p = start;
  let ethertype = -1;
  switch (linktype) {
    case LINKTYPE_ETHERNET: {
      if (end - p < 14) return null;
      ethertype = b.readUInt16BE(p + 12);
      p += 14;
      // skip 802.1Q / 802.1ad tags
      while ((ethertype === 0x8100 || ethertype === 0x88a8) && end - p >= 4) {
        ethertype = b.readUInt16BE(p + 2);
        p += 4;
      }
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (end - p < 16) return null;
      ethertype = b.readUInt16BE(p + 14);
      p += 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (end - p < 20) return null;
      ethertype = b.readUInt16BE(p);
      p += 20;
      break;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      if (end - p < 1) return null;
      ethertype = b[p]! >> 4 === 6 ? 0x86dd : 0x0800;
      break;
    default:
      return null;
  }
  if (ethertype === 0x0800) {
    if (end - p < 20 || b[p]! >> 4 !== 4) return null;
    const ihl = (b[p]! & 15) * 4;
    const total = b.readUInt16BE(p + 2);
    const fragOff = b.readUInt16BE(p + 6) & 0x3fff; // MF bit + offset
    if (b[p + 9] !== 17 || fragOff !== 0 || ihl < 20) return null;
    const ipEnd = Math.min(end, p + total);
    return udp(b, p + ihl, ipEnd, 4, ipv4Text(b, p + 12), ipv4Text(b, p + 16));
  }
  if (ethertype === 0x86dd) {
    if (end - p < 40 || b[p]! >> 4 !== 6) return null;
    let next = b[p + 6]!;
    const ipEnd = Math.min(end, p + 40 + b.readUInt16BE(p + 4));
    let q = p + 40;
    // walk hop-by-hop / routing / destination-options headers; a fragment header means skip
    while ((next === 0 || next === 43 || next === 60) && ipEnd - q >= 8) {
      next = b[q]!;
      q += (b[q + 1]! + 1) * 8;
    }
    if (next !== 17) return null;
    return udp(b, q, ipEnd, 6, ipv6Text(b, p + 8), ipv6Text(b, p + 24));
  }
  return null;
}

function udp(b: Buffer, p: number, ipEnd: number, family: 4 | 6, src: string, dst: string): Udp | null {
  if (ipEnd - p < 8) return null;
  const ulen = b.readUInt16BE(p + 4);
  const end = ulen >= 8 ? Math.min(ipEnd, p + ulen) : ipEnd;
  return { family, src, dst, sport: b.readUInt16BE(p), dport: b.readUInt16BE(p + 2), payload: b.subarray(p + 8, end) };
}

export interface UdpToWrite {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  tsUs?: number;
}

/**
 * Writes a classic pcap (µs timestamps, little-endian) of UDP datagrams, for tests and for
 * tools that emit ctsyncd traffic. Link type 1 (Ethernet), 113 (Linux cooked) or 276 (cooked v2);
 * IPv4 or IPv6 by the address text. Checksums are left 0 (readers here do not check them).
 */
export function buildPcap(records: UdpToWrite[], linktype: 1 | 113 | 276 = LINKTYPE_ETHERNET): Buffer {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(262144, 16);
  gh.writeUInt32LE(linktype, 20);
  parts.push(gh);
  let ts = 1_700_000_000_000_000;
  for (const r of records) {
    const v6 = r.src.includes(':');
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(r.sport, 0);
    udp.writeUInt16BE(r.dport, 2);
    udp.writeUInt16BE(8 + r.payload.length, 4);
    let ip: Buffer;
    if (v6) {
      ip = Buffer.alloc(40);
      ip[0] = 0x60;
      ip.writeUInt16BE(8 + r.payload.length, 4);
      ip[6] = 17;
      ip[7] = 1;
      ipv6Bytes(r.src).copy(ip, 8);
      ipv6Bytes(r.dst).copy(ip, 24);
    } else {
      ip = Buffer.alloc(20);
      ip[0] = 0x45;
      ip.writeUInt16BE(28 + r.payload.length, 2);
      ip[8] = 1;
      ip[9] = 17;
      Buffer.from(r.src.split('.').map(Number)).copy(ip, 12);
      Buffer.from(r.dst.split('.').map(Number)).copy(ip, 16);
    }
    const et = v6 ? 0x86dd : 0x0800;
    let l2: Buffer;
    if (linktype === LINKTYPE_ETHERNET) {
      l2 = Buffer.alloc(14);
      l2.writeUInt16BE(et, 12);
    } else if (linktype === LINKTYPE_LINUX_SLL) {
      l2 = Buffer.alloc(16);
      l2.writeUInt16BE(et, 14);
    } else {
      l2 = Buffer.alloc(20);
      l2.writeUInt16BE(et, 0);
    }
    const frame = Buffer.concat([l2, ip, udp, r.payload]);
    const rh = Buffer.alloc(16);
    ts = r.tsUs ?? ts + 1000;
    rh.writeUInt32LE(Math.floor(ts / 1e6), 0);
    rh.writeUInt32LE(ts % 1e6, 4);
    rh.writeUInt32LE(frame.length, 8);
    rh.writeUInt32LE(frame.length, 12);
    parts.push(rh, frame);
  }
  return Buffer.concat(parts);
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) b.writeUInt16BE(Number.parseInt(words[i]!, 16), 2 * i);
  return b;
}
