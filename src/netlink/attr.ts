/**
 * Generic netlink attribute (struct nlattr) walker with bounds-checked, typed getters.
 *
 * Netlink attribute header (linux/netlink.h): nla_len u16, nla_type u16, both HOST-endian
 * (little-endian on every machine we run on), nla_len = 4 + unpadded payload length, next
 * attribute at align4(nla_len). The top two bits of nla_type are flags (NLA_F_NESTED 0x8000,
 * NLA_F_NET_BYTEORDER 0x4000); readers mask them off with NLA_TYPE_MASK.
 *
 * Decoders are strict (ARCHITECTURE habit 2): every length is checked before use and every
 * problem throws the one typed CtnetlinkDecodeError (re-exported by ctnetlink/codec.ts),
 * which the socket layer catches once per datagram, counts and drops.
 *
 * Usage without closures (hot path):
 *   const it = new NlAttrIter(buf, off, end, false);
 *   while (it.next()) { switch (it.type) { case X: v = it.u32be(); break; default: stats++ } }
 *   const inner = it.nested();   // iterator over the current attribute's payload
 */
import { CtsyncError } from '../core/errors';

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = 0x3fff;

/** Why a netlink / ctnetlink message was rejected. Stable strings: metrics label them. */
export type CtDecodeReason =
  | 'truncated' // fewer bytes left than a header needs
  | 'lengthPastEnd' // a length field points past the end of the buffer / message
  | 'nestOverrun' // a nested attribute runs past the end of its parent
  | 'zeroLength' // nla_len < 4 / nlmsg_len < 16 (would loop forever or is impossible)
  | 'badSize' // a fixed-size attribute with the wrong payload size
  | 'missingAttr' // a mandatory attribute (e.g. CTA_TUPLE_ORIG, CTA_TUPLE_IP) is absent
  | 'badValue' // a value out of range (e.g. unknown address family)
  | 'badMessage'; // wrong message type for the decoder

export class CtnetlinkDecodeError extends CtsyncError {
  constructor(
    readonly reason: CtDecodeReason,
    message: string,
    /** Byte offset in the buffer where the problem was found (for logs). */
    readonly offset = -1,
  ) {
    super('CTSYNC_ERR_CT_DECODE', `ctnetlink decode: ${reason}: ${message}`);
    this.name = 'CtnetlinkDecodeError';
  }
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * One cursor over a run of attributes [off, end). `next()` advances and validates one header;
 * afterwards `type` (flags masked), `rawType`, `start` (payload offset) and `len` (payload
 * length) describe the current attribute. `nestedLevel` only selects the error reason: an
 * attribute overrunning its parent is 'nestOverrun', at top level 'lengthPastEnd'.
 */
export class NlAttrIter {
  type = 0;
  rawType = 0;
  start = 0;
  len = 0;
  buf: Buffer;
  end = 0;
  isNested = false;
  private pos = 0;

  constructor(buf: Buffer, off: number, end: number, isNested = false) {
    this.buf = buf;
    this.reset(buf, off, end, isNested);
  }

  /** Re-targets this iterator (decoders keep one per nesting depth: no allocation per nest). */
  reset(buf: Buffer, off: number, end: number, isNested: boolean): this {
    if (off < 0 || end > buf.length || off > end) {
      throw new CtnetlinkDecodeError('lengthPastEnd', `attribute area ${off}..${end} outside buffer of ${buf.length}`, off);
    }
    this.buf = buf;
    this.pos = off;
    this.end = end;
    this.isNested = isNested;
    this.type = 0;
    this.rawType = 0;
    this.start = off;
    this.len = 0;
    return this;
  }

  /** Advances to the next attribute; false at the end of the run. */
  next(): boolean {
    const p = this.pos;
    const end = this.end;
    if (p >= end) return false;
    if (end - p < NLA_HDRLEN) {
      throw new CtnetlinkDecodeError(this.isNested ? 'nestOverrun' : 'truncated', `${end - p} trailing bytes, attribute header needs 4`, p);
    }
    const buf = this.buf;
    const nlaLen = buf[p]! | (buf[p + 1]! << 8);
    if (nlaLen < NLA_HDRLEN) {
      throw new CtnetlinkDecodeError('zeroLength', `nla_len ${nlaLen} < 4`, p);
    }
    if (nlaLen > end - p) {
      throw new CtnetlinkDecodeError(
        this.isNested ? 'nestOverrun' : 'lengthPastEnd',
        `nla_len ${nlaLen} exceeds the ${end - p} bytes left`,
        p,
      );
    }
    this.rawType = buf[p + 2]! | (buf[p + 3]! << 8);
    this.type = this.rawType & NLA_TYPE_MASK;
    this.start = p + NLA_HDRLEN;
    this.len = nlaLen - NLA_HDRLEN;
    // The padding of the last attribute may be missing (the kernel always pads, but be lenient):
    // never step past end.
    const nxt = p + align4(nlaLen);
    this.pos = Math.min(nxt, end);
    return true;
  }

  /** Iterator over the current attribute's payload (a nest). */
  nested(): NlAttrIter {
    return new NlAttrIter(this.buf, this.start, this.start + this.len, true);
  }

  /** Points `into` at the current attribute's payload and returns it (allocation-free nested()). */
  nestedInto(into: NlAttrIter): NlAttrIter {
    return into.reset(this.buf, this.start, this.start + this.len, true);
  }

  private expect(size: number): void {
    if (this.len !== size) {
      throw new CtnetlinkDecodeError('badSize', `attribute type ${this.type}: payload ${this.len} bytes, expected ${size}`, this.start - NLA_HDRLEN);
    }
  }

  u8(): number {
    this.expect(1);
    return this.buf[this.start]!;
  }

  // Byte arithmetic instead of Buffer#readUInt*BE: bounds were checked in next(), and this is
  // the decoder's hottest path (bench/decode.ts).
  u16be(): number {
    this.expect(2);
    const b = this.buf;
    const p = this.start;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32be(): number {
    this.expect(4);
    const b = this.buf;
    const p = this.start;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  /**
   * The same 4 bytes as a signed i32 (always a V8 small integer): IPv4 addresses and conntrack
   * ids are kept signed (flow/address.ts), so decoding them never allocates a heap number.
   */
  i32be(): number {
    this.expect(4);
    const b = this.buf;
    const p = this.start;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  u16le(): number {
    this.expect(2);
    return this.buf.readUInt16LE(this.start);
  }

  u32le(): number {
    this.expect(4);
    return this.buf.readUInt32LE(this.start);
  }

  u64be(): bigint {
    this.expect(8);
    return this.buf.readBigUInt64BE(this.start);
  }

  /** Exact-size raw bytes, copied (the receive buffer is reused by the socket layer). */
  bytesExact(size: number): Uint8Array {
    this.expect(size);
    return Uint8Array.prototype.slice.call(this.buf, this.start, this.start + size);
  }

  /** Raw payload, copied. */
  bytes(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, this.start, this.start + this.len);
  }

  /** IPv6 address (16 bytes) as a latin1 binary string (flow/address.ts). */
  addr6(): string {
    this.expect(16);
    return this.buf.toString('latin1', this.start, this.start + 16);
  }

  /** NUL-terminated (or unterminated) string payload; stops at the first NUL. */
  str(): string {
    const b = this.buf;
    let e = this.start;
    const stop = this.start + this.len;
    while (e < stop && b[e] !== 0) e++;
    return b.toString('latin1', this.start, e);
  }
}
