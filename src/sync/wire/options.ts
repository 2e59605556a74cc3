/** Sender/receiver options that change the bytes on the wire (spec §3.3, §3.6). */
export interface WireOptions {
  /**
   * SPAT/DPAT/ICMP_ID travel in the *sender's host* byte order (spec §3.6 quirk). true = little-
   * endian, which is what every x86/arm64 conntrackd sends and expects. Set false only for a
   * big-endian peer.
   */
  portsHostLE: boolean;
  /** Emit NTA_TIMEOUT / NTA_EXP_TIMEOUT; false when CommitTimeout is configured (spec §3.3 rule 5). */
  sendTimeout: boolean;
  /** Emit NTA_TCP_WSCALE_ORIG/REPL after NTA_TCP_STATE (TCPWindowTracking on, spec §3.3 rule 4). */
  tcpWindowTracking: boolean;
}

export const DEFAULT_WIRE_OPTIONS: Readonly<WireOptions> = Object.freeze({
  portsHostLE: true,
  sendTimeout: true,
  tcpWindowTracking: false,
});

/** Attribute header (4) + payload, rounded up to 4 (spec §3.1). */
export function attrSpace(payload: number): number {
  return (4 + payload + 3) & ~3;
}

/**
 * Writes an attribute header (nta_len = 4 + payload, unpadded; then the id, both BE) and zeroes
 * the padding up front so callers only write the payload. Returns the payload offset.
 */
export function putAttr(buf: Buffer, off: number, id: number, payload: number): number {
  const len = 4 + payload;
  buf[off] = len >>> 8;
  buf[off + 1] = len & 0xff;
  buf[off + 2] = id >>> 8;
  buf[off + 3] = id & 0xff;
  const padded = (len + 3) & ~3;
  for (let i = len; i < padded; i++) buf[off + i] = 0;
  return off + 4;
}

export function putU8(buf: Buffer, off: number, id: number, v: number): number {
  const p = putAttr(buf, off, id, 1);
  buf[p] = v & 0xff;
  return off + 8;
}

export function putU16BE(buf: Buffer, off: number, id: number, v: number): number {
  const p = putAttr(buf, off, id, 2);
  buf[p] = (v >>> 8) & 0xff;
  buf[p + 1] = v & 0xff;
  return off + 8;
}

/** 16-bit value in the sender's "host order" (spec §3.6). */
export function putU16Host(buf: Buffer, off: number, id: number, v: number, le: boolean): number {
  const p = putAttr(buf, off, id, 2);
  if (le) {
    buf[p] = v & 0xff;
    buf[p + 1] = (v >>> 8) & 0xff;
  } else {
    buf[p] = (v >>> 8) & 0xff;
    buf[p + 1] = v & 0xff;
  }
  return off + 8;
}

export function putU32(buf: Buffer, off: number, id: number, v: number): number {
  const p = putAttr(buf, off, id, 4);
  writeU32(buf, p, v);
  return off + 8;
}

/**
 * Big-endian u32 store of v >>> 0 (what buf.writeUInt32BE(v >>> 0, p) writes), as plain byte
 * stores: Buffer#writeUInt32BE range-checks value and offset on every call, and the encoder
 * stores several per synced entry (issue 8). The caller guarantees p + 4 <= buf.length.
 */
export function writeU32(buf: Buffer, p: number, v: number): void {
  buf[p] = v >>> 24;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
}

/** Two u16 ports in network order (NTA_PORT and friends). */
export function putPorts(buf: Buffer, off: number, id: number, sport: number, dport: number): number {
  const p = putAttr(buf, off, id, 4);
  buf[p] = (sport >>> 8) & 0xff;
  buf[p + 1] = sport & 0xff;
  buf[p + 2] = (dport >>> 8) & 0xff;
  buf[p + 3] = dport & 0xff;
  return off + 8;
}

/**
 * NUL-terminated string, the sender includes the NUL (NTA_HELPER_NAME, NTA_EXP_FN). latin1, not
 * utf8: names are C byte strings, and latin1 maps bytes 1:1 so whatever a peer sent re-encodes to
 * the same bytes (utf8 would turn invalid bytes into 3-byte U+FFFD and grow past the limits).
 */
export function putString(buf: Buffer, off: number, id: number, s: string): number {
  const n = s.length + 1;
  const p = putAttr(buf, off, id, n);
  buf.write(s, p, 'latin1');
  buf[p + n - 1] = 0;
  return off + attrSpace(n);
}

export function stringSpace(s: string): number {
  return attrSpace(s.length + 1);
}

export function readU16(buf: Buffer, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}

export function readU16Host(buf: Buffer, p: number, le: boolean): number {
  return le ? buf[p]! | (buf[p + 1]! << 8) : (buf[p]! << 8) | buf[p + 1]!;
}

export function readU32(buf: Buffer, p: number): number {
  return ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
}

/** Signed big-endian i32: IPv4 addresses are kept signed (flow/address.ts), a small integer. */
export function readI32(buf: Buffer, p: number): number {
  return (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
}

/** String payload up to the first NUL (or the end of the payload). */
export function readCString(buf: Buffer, p: number, end: number): string {
  let e = p;
  while (e < end && buf[e] !== 0) e++;
  return buf.toString('latin1', p, e);
}
