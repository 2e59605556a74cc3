/**
 * Pure netlink message framing (struct nlmsghdr, struct nfgenmsg) and a reusable builder.
 *
 * nlmsghdr (16 bytes, HOST-endian = little-endian here): len u32, type u16, flags u16, seq u32,
 * pid u32; messages in one datagram follow each other at align4(len).
 * nfgenmsg (4 bytes): family u8, version u8 (NFNETLINK_V0), res_id u16 BIG-endian.
 * ctnetlink message type = (subsystem << 8) | message.
 *
 * No I/O here: netlink/socket.ts moves the bytes; ctnetlink/codec.ts fills the attributes.
 */
import { align4, CtnetlinkDecodeError, NLA_F_NESTED, NLA_HDRLEN } from './attr';

export const NLMSG_HDRLEN = 16;
export const NFGENMSG_LEN = 4;
export const NFNETLINK_V0 = 0;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** NLMSG_ERROR flags (extended ACK). */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNL_SUBSYS_CTNETLINK_EXP = 2;

/** enum cntl_msg_types (nfnetlink_conntrack.h). */
export const IPCTNL_MSG_CT_NEW = 0;
export const IPCTNL_MSG_CT_GET = 1;
export const IPCTNL_MSG_CT_DELETE = 2;
export const IPCTNL_MSG_CT_GET_CTRZERO = 3;
export const IPCTNL_MSG_CT_GET_STATS_CPU = 4;
export const IPCTNL_MSG_CT_GET_STATS = 5;
export const IPCTNL_MSG_CT_GET_DYING = 6;
export const IPCTNL_MSG_CT_GET_UNCONFIRMED = 7;

/** enum ctnl_exp_msg_types. */
export const IPCTNL_MSG_EXP_NEW = 0;
export const IPCTNL_MSG_EXP_GET = 1;
export const IPCTNL_MSG_EXP_DELETE = 2;
export const IPCTNL_MSG_EXP_GET_STATS_CPU = 3;

/** Multicast groups (enum nfnetlink_groups) the event socket joins. */
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_UPDATE = 2;
export const NFNLGRP_CONNTRACK_DESTROY = 3;
export const NFNLGRP_CONNTRACK_EXP_NEW = 4;
export const NFNLGRP_CONNTRACK_EXP_UPDATE = 5;
export const NFNLGRP_CONNTRACK_EXP_DESTROY = 6;

export function nfnlMsgType(subsys: number, msg: number): number {
  return ((subsys & 0xff) << 8) | (msg & 0xff);
}

/** One message inside a received datagram; payload = buf[payloadOff, end). */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  buf: Buffer;
  payloadOff: number;
  end: number;
}

/**
 * Length (nlmsg_len) of the message at p, validated: throws CtnetlinkDecodeError on a truncated
 * header, nlmsg_len < 16 ('zeroLength') or a length past end. For hot loops that read the header
 * fields in place (the event path) instead of through an NlMsg.
 */
export function nlMsgLenAt(buf: Buffer, p: number, end: number): number {
  if (end - p < NLMSG_HDRLEN) {
    throw new CtnetlinkDecodeError('truncated', `${end - p} trailing bytes, nlmsghdr needs 16`, p);
  }
  const len = buf.readUInt32LE(p);
  if (len < NLMSG_HDRLEN) throw new CtnetlinkDecodeError('zeroLength', `nlmsg_len ${len} < 16`, p);
  if (len > end - p) {
    throw new CtnetlinkDecodeError('lengthPastEnd', `nlmsg_len ${len} exceeds the ${end - p} bytes left`, p);
  }
  return len;
}

/** Throws unless [off, end) is a valid range of buf. */
export function checkDatagramRange(buf: Buffer, off: number, end: number): void {
  if (off < 0 || end > buf.length || off > end) {
    throw new CtnetlinkDecodeError('lengthPastEnd', `datagram range ${off}..${end} outside buffer of ${buf.length}`, off);
  }
}

/**
 * Walks the concatenated messages in buf[off, end), calling cb for each. Throws
 * CtnetlinkDecodeError as nlMsgLenAt does. The NlMsg object is fresh per message (cheap; V8's
 * young generation absorbs it).
 */
export function forEachNlMsg(buf: Buffer, off: number, end: number, cb: (m: NlMsg) => void): void {
  checkDatagramRange(buf, off, end);
  let p = off;
  while (p < end) {
    const len = nlMsgLenAt(buf, p, end);
    cb({
      type: buf.readUInt16LE(p + 4),
      flags: buf.readUInt16LE(p + 6),
      seq: buf.readUInt32LE(p + 8),
      pid: buf.readUInt32LE(p + 12),
      buf,
      payloadOff: p + NLMSG_HDRLEN,
      end: p + len,
    });
    p += align4(len);
  }
}

/**
 * NLMSG_ERROR payload: int error (negative errno, 0 = ACK), then the original nlmsghdr (its
 * payload is omitted with NETLINK_CAP_ACK). Returns errno as a positive number.
 */
export function parseNlError(m: NlMsg): { errno: number; origSeq: number } {
  if (m.end - m.payloadOff < 4 + NLMSG_HDRLEN) {
    throw new CtnetlinkDecodeError('truncated', `NLMSG_ERROR payload ${m.end - m.payloadOff} bytes < 20`, m.payloadOff);
  }
  const err = m.buf.readInt32LE(m.payloadOff);
  return { errno: -err, origSeq: m.buf.readUInt32LE(m.payloadOff + 4 + 8) };
}

/** Writes a nfgenmsg at off; returns the next offset. */
export function writeNfgen(buf: Buffer, off: number, family: number, version = NFNETLINK_V0, resId = 0): number {
  buf[off] = family & 0xff;
  buf[off + 1] = version & 0xff;
  buf.writeUInt16BE(resId & 0xffff, off + 2);
  return off + NFGENMSG_LEN;
}

/** nfgen_family of a nfnetlink message (throws if the payload cannot hold a nfgenmsg). */
export function readNfgenFamily(m: NlMsg): number {
  if (m.end - m.payloadOff < NFGENMSG_LEN) {
    throw new CtnetlinkDecodeError('truncated', `payload ${m.end - m.payloadOff} bytes < nfgenmsg`, m.payloadOff);
  }
  return m.buf[m.payloadOff]!;
}

/** Offset of the first attribute of a nfnetlink message (after nfgenmsg). */
export function nfAttrOff(m: NlMsg): number {
  return m.payloadOff + NFGENMSG_LEN;
}

/**
 * Appends netlink messages to one growing, reusable Buffer (reset() keeps the memory).
 * Attribute headers are little-endian (host); integer helpers write big-endian payloads as
 * ctnetlink expects. Nests: const t = b.beginNest(T); ...; b.endNest(t).
 */
export class NlBuilder {
  private buf: Buffer;
  private pos = 0;
  private msgStart = -1;

  constructor(initialSize = 16384) {
    this.buf = Buffer.alloc(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
    this.msgStart = -1;
  }

  /** Everything built since the last reset (a view, valid until the next write/reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const nb = Buffer.alloc(size);
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
  }

  beginMsg(type: number, flags: number, seq: number, pid = 0): this {
    if (this.msgStart >= 0) throw new Error('NlBuilder.beginMsg: previous message not ended');
    this.ensure(NLMSG_HDRLEN);
    const b = this.buf;
    const p = this.pos;
    this.msgStart = p;
    b.writeUInt32LE(0, p);
    b.writeUInt16LE(type & 0xffff, p + 4);
    b.writeUInt16LE(flags & 0xffff, p + 6);
    b.writeUInt32LE(seq >>> 0, p + 8);
    b.writeUInt32LE(pid >>> 0, p + 12);
    this.pos = p + NLMSG_HDRLEN;
    return this;
  }

  nfgen(family: number, resId = 0): this {
    this.ensure(NFGENMSG_LEN);
    this.pos = writeNfgen(this.buf, this.pos, family, NFNETLINK_V0, resId);
    return this;
  }

  /** Finishes the current message (fills nlmsg_len, pads to 4). */
  endMsg(): this {
    if (this.msgStart < 0) throw new Error('NlBuilder.endMsg: no message begun');
    this.buf.writeUInt32LE(this.pos - this.msgStart, this.msgStart);
    this.pad();
    this.msgStart = -1;
    return this;
  }

  private pad(): void {
    const b = this.buf;
    let p = this.pos;
    // at most 3 zero bytes; ensure() reserved them with the attribute
    while ((p & 3) !== 0) b[p++] = 0;
    this.pos = p;
  }

  /** Writes an attribute header with byte stores (hot path of bulk commits). */
  private hdr(type: number, payloadLen: number): number {
    if (payloadLen > 0xffff - NLA_HDRLEN) throw new RangeError(`NlBuilder: attribute payload of ${payloadLen} bytes exceeds 65531`);
    this.ensure(NLA_HDRLEN + payloadLen + 3);
    const b = this.buf;
    const p = this.pos;
    const len = NLA_HDRLEN + payloadLen;
    b[p] = len & 0xff;
    b[p + 1] = len >>> 8;
    b[p + 2] = type & 0xff;
    b[p + 3] = (type >>> 8) & 0xff;
    return p + NLA_HDRLEN;
  }

  attrU8(type: number, v: number): this {
    const p = this.hdr(type, 1);
    const b = this.buf;
    b[p] = v & 0xff;
    b[p + 1] = 0;
    b[p + 2] = 0;
    b[p + 3] = 0;
    this.pos = p + 4;
    return this;
  }

  attrU16BE(type: number, v: number): this {
    const p = this.hdr(type, 2);
    const b = this.buf;
    b[p] = (v >>> 8) & 0xff;
    b[p + 1] = v & 0xff;
    b[p + 2] = 0;
    b[p + 3] = 0;
    this.pos = p + 4;
    return this;
  }

  attrU32BE(type: number, v: number): this {
    const p = this.hdr(type, 4);
    const b = this.buf;
    b[p] = (v >>> 24) & 0xff;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
    return this;
  }

  attrU64BE(type: number, v: bigint | number): this {
    const p = this.hdr(type, 8);
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, typeof v === 'bigint' ? v : BigInt(v)), p);
    this.pos = p + 8;
    return this;
  }

  attrBytes(type: number, v: Uint8Array): this {
    const p = this.hdr(type, v.length);
    this.buf.set(v, p);
    this.pos = p + v.length;
    this.pad();
    return this;
  }

  /** Latin1 (binary) string payload, e.g. an IPv6 address from flow/address.ts. */
  attrBinary(type: number, v: string): this {
    const p = this.hdr(type, v.length);
    this.buf.write(v, p, v.length, 'latin1');
    this.pos = p + v.length;
    this.pad();
    return this;
  }

  /**
   * NUL-terminated string (NLA_NUL_STRING / NLA_STRING as the kernel's policies accept).
   * Latin1, like NlAttrIter.str() reads it, so names round-trip byte for byte (kernel helper
   * and expectation-function names are ASCII).
   */
  attrString(type: number, v: string): this {
    const n = v.length;
    const p = this.hdr(type, n + 1);
    this.buf.write(v, p, n, 'latin1');
    this.buf[p + n] = 0;
    this.pos = p + n + 1;
    this.pad();
    return this;
  }

  /**
   * Raw append for specialised hot encoders (the bulk-create fast path in ctnetlink/codec.ts):
   * makes room for n more bytes and returns the buffer; write at [length, length + n), then
   * call setLength(end). Only between messages.
   */
  reserve(n: number): Buffer {
    if (this.msgStart >= 0) throw new Error('NlBuilder.reserve: a message is open');
    this.ensure(n);
    return this.buf;
  }

  /** Ends a raw append (see reserve): end must lie within the reserved room. */
  setLength(end: number): void {
    if (end < this.pos || end > this.buf.length) throw new RangeError(`NlBuilder.setLength: ${end} outside [${this.pos}, ${this.buf.length}]`);
    this.pos = end;
  }

  /** Opens a nested attribute (NLA_F_NESTED set, as libmnl does); returns the token for endNest. */
  beginNest(type: number): number {
    const p = this.hdr(type | NLA_F_NESTED, 0);
    const token = this.pos;
    this.pos = p;
    return token;
  }

  endNest(token: number): this {
    const len = this.pos - token;
    // nla_len is a u16: a longer nest cannot be expressed (never happens for ctnetlink)
    if (len > 0xffff) throw new RangeError(`NlBuilder: nested attribute of ${len} bytes exceeds 65535`);
    this.buf[token] = len & 0xff;
    this.buf[token + 1] = len >>> 8;
    return this;
  }
}
