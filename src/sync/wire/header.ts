/**
 * conntrackd message header (`struct nethdr`, spec §1.2) and the 16-byte ACK/NACK/RESYNC form
 * (`struct nethdr_ack`, spec §1.3). All fields big-endian; byte 0 = (version << 4) | type.
 */
import { NET_F, NET_T, NETHDR_ACK_SIZE, NETHDR_SIZE, PROTOCOL_VERSION } from './constants';
import { writeU32 } from './options';

export interface NetHeader {
  version: number;
  type: number;
  flags: number;
  /** Whole message length including the header (and the padding of the last attribute). */
  len: number;
  seq: number;
  /** Only meaningful in the 16-byte ACK/NACK/RESYNC form; 0 otherwise. */
  from: number;
  to: number;
}

const ACK_FORM_FLAGS = NET_F.ACK | NET_F.NACK | NET_F.RESYNC;

/** Receivers pick the 16-byte form purely from type == CTL and an ACK/NACK/RESYNC bit (§1.3). */
export function isAckForm(type: number, flags: number): boolean {
  return type === NET_T.CTL && (flags & ACK_FORM_FLAGS) !== 0;
}

/** Writes an 8-byte header; returns the next offset. */
export function writeHeader(buf: Buffer, off: number, type: number, flags: number, len: number, seq: number): number {
  buf[off] = (PROTOCOL_VERSION << 4) | (type & 0x0f);
  buf[off + 1] = flags & 0xff;
  buf[off + 2] = (len >>> 8) & 0xff;
  buf[off + 3] = len & 0xff;
  writeU32(buf, off + 4, seq);
  return off + NETHDR_SIZE;
}

/** Length of the control message encodeCtl would write for these flags. */
export function ctlLength(flags: number): number {
  return isAckForm(NET_T.CTL, flags) ? NETHDR_ACK_SIZE : NETHDR_SIZE;
}

/**
 * Encodes a control message (type 10). ACK/NACK/RESYNC take the 16-byte form with the inclusive
 * range from..to of the peer's sequence numbers (RESYNC: 0/0); anything else (ALIVE, HELLO-only)
 * the 8-byte form. Returns the next offset.
 */
export function encodeCtl(buf: Buffer, off: number, flags: number, seq: number, from = 0, to = 0): number {
  if (isAckForm(NET_T.CTL, flags)) {
    writeHeader(buf, off, NET_T.CTL, flags, NETHDR_ACK_SIZE, seq);
    writeU32(buf, off + 8, from);
    writeU32(buf, off + 12, to);
    return off + NETHDR_ACK_SIZE;
  }
  return writeHeader(buf, off, NET_T.CTL, flags, NETHDR_SIZE, seq);
}

/**
 * Reads a header at off without validation (walk.ts validates first). from/to are read only for
 * the ACK form; the caller guarantees the bytes exist.
 */
export function readHeader(buf: Buffer, off: number): NetHeader {
  const b0 = buf[off]!;
  const type = b0 & 0x0f;
  const flags = buf[off + 1]!;
  const ack = isAckForm(type, flags);
  return {
    version: b0 >>> 4,
    type,
    flags,
    len: (buf[off + 2]! << 8) | buf[off + 3]!,
    seq: buf.readUInt32BE(off + 4),
    from: ack ? buf.readUInt32BE(off + 8) : 0,
    to: ack ? buf.readUInt32BE(off + 12) : 0,
  };
}

const FLAG_NAMES: [number, string][] = [
  [NET_F.UNUSED, 'UNUSED'],
  [NET_F.RESYNC, 'RESYNC'],
  [NET_F.NACK, 'NACK'],
  [NET_F.ACK, 'ACK'],
  [NET_F.ALIVE, 'ALIVE'],
  [NET_F.HELLO, 'HELLO'],
  [NET_F.HELLO_BACK, 'HELLO_BACK'],
];

/** "ACK|HELLO" style, in the order the golden .txt decodes use; "-" for none. */
export function formatFlags(flags: number): string {
  const names: string[] = [];
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) names.push(name);
  if (flags & 0x80) names.push('0x80');
  return names.length ? names.join('|') : '-';
}

const TYPE_NAMES: Record<number, string> = {
  0: 'CT_NEW',
  1: 'CT_UPD',
  2: 'CT_DEL',
  3: 'EXP_NEW',
  4: 'EXP_UPD',
  5: 'EXP_DEL',
  10: 'CTL',
};

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}
