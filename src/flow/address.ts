/**
 * Addresses stay numeric-ish on the hot path (research/netlink-measurements.md §2: turning
 * addresses into text costs 2-2.5x the whole parse):
 *  - IPv4: a SIGNED 32-bit integer, the network-order bytes read as a big-endian i32
 *    (`ipv4(u32)` = `u32 | 0`). Signed, not unsigned: V8 keeps integers >= 2^31 as heap
 *    numbers (a 16-byte allocation the GC copies) instead of small integers, and every address
 *    >= 128.0.0.0 (192.168/16, 172.16/12, most public space) would pay that on the hot paths.
 *    Every producer (ctnetlink/wire decoders, parseAddr, test/bench builders) must normalise
 *    with ipv4() so equal addresses are === and hash alike; a value that leaves as a number
 *    (text, JSON) goes out as `a >>> 0`; byte stores (`a >>> 24`, `a & 0xff`) work on either.
 *    Never build a tuple-shaped literal ({family, src, dst, ...}) from a raw u32 >= 2^31, not
 *    even in a test or bench: literals with the same property order share V8 maps, and one
 *    heap-number store turns the field representation to Double, which boxes src/dst in EVERY
 *    tuple of the process (measured: +64 B per cached flow). makeTuple() normalises the values
 *    for correctness, but only the caller can keep its own literal unboxed.
 *  - IPv6: a 16-character latin1 "binary string" holding the 16 raw bytes.
 * Both compare with ===, hash well as Map keys, and copy straight to/from network buffers.
 * Kernel conntrack/expectation ids (CTA_ID, random u32s) are kept signed the same way (u32id).
 */
export type Addr = number | string;

export const AF_INET = 2;
export const AF_INET6 = 10;
export type Family = typeof AF_INET | typeof AF_INET6;

/** The internal IPv4 form of a u32 address (any number whose low 32 bits are the address). */
export function ipv4(u32: number): number {
  return u32 | 0;
}

/** The internal form of a kernel conntrack/expectation id (CTA_ID): signed like ipv4(). */
export function u32id(u32: number): number {
  return u32 | 0;
}

export function readAddr(buf: Buffer, off: number, family: Family): Addr {
  return family === AF_INET ? buf.readInt32BE(off) : buf.toString('latin1', off, off + 16);
}

/** Writes the address at off and returns the next offset. */
export function writeAddr(buf: Buffer, off: number, a: Addr): number {
  if (typeof a === 'number') {
    buf.writeUInt32BE(a >>> 0, off);
    return off + 4;
  }
  buf.write(a, off, 16, 'latin1');
  return off + 16;
}

export function addrLength(a: Addr): number {
  return typeof a === 'number' ? 4 : 16;
}

export function addrFamily(a: Addr): Family {
  return typeof a === 'number' ? AF_INET : AF_INET6;
}

export function formatAddr(a: Addr): string {
  if (typeof a === 'number') {
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push(((a.charCodeAt(i) << 8) | a.charCodeAt(i + 1)).toString(16));
  }
  // compress the longest run of zero words (RFC 5952)
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return words.join(':');
  const head = words.slice(0, bestStart).join(':');
  const tail = words.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Parses dotted IPv4 or IPv6 text; throws on malformed input. */
export function parseAddr(text: string): Addr {
  if (text.includes(':')) return parseIPv6(text);
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address '${text}'`);
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`invalid IPv4 address '${text}'`);
    v = v * 256 + Number(p);
  }
  return ipv4(v);
}

function parseIPv6(text: string): string {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const halves = s.split('::');
  if (halves.length > 2) throw new Error(`invalid IPv6 address '${text}'`);
  const toWords = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const w of part.split(':')) {
      if (w.includes('.')) {
        const v4 = parseAddr(w) as number;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw new Error(`invalid IPv6 address '${text}'`);
        out.push(Number.parseInt(w, 16));
      }
    }
    return out;
  };
  const head = toWords(halves[0]!);
  const tail = halves.length === 2 ? toWords(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw new Error(`invalid IPv6 address '${text}'`);
  const words = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  let out = '';
  for (const w of words) out += String.fromCharCode(w >> 8, w & 255);
  return out;
}

/** Parses "A/len" (or a bare address: full-length prefix). */
export interface Cidr {
  addr: Addr;
  prefix: number;
}
export function parseCidr(text: string): Cidr {
  const [a, l] = text.split('/');
  const addr = parseAddr(a!);
  const max = addrLength(addr) * 8;
  const prefix = l === undefined ? max : Number(l);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`invalid prefix length in '${text}'`);
  return { addr, prefix };
}

export function cidrContains(c: Cidr, a: Addr): boolean {
  if (typeof c.addr !== typeof a) return false;
  if (typeof a === 'number') {
    if (c.prefix === 0) return true;
    // both sides masked in int32 arithmetic, so signed and (legacy) unsigned inputs agree
    const mask = -1 << (32 - c.prefix);
    return (a & mask) === ((c.addr as number) & mask);
  }
  const ca = c.addr as string;
  let bits = c.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a.charCodeAt(i) & m) !== (ca.charCodeAt(i) & m)) return false;
  }
  return true;
}
