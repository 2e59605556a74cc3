/**
 * Per-datagram validation walk, in conntrackd's order (spec §1.5, channel_handler_routine +
 * do_channel_handler_step). Pure: no I/O, never throws on any input.
 */
import { NET_F, NET_T, NETHDR_ACK_SIZE, NETHDR_SIZE, PROTOCOL_VERSION } from './constants';
import type { NetHeader } from './header';
import { readU32 } from './options';
import type { WireRxStats } from './stats';

export type OnMessage = (h: NetHeader, buf: Buffer, bodyOff: number, bodyEnd: number) => void;

const ACK_FORM_FLAGS = NET_F.ACK | NET_F.NACK | NET_F.RESYNC;

/**
 * A header object the walk may fill in place of allocating one per message (receive hot path,
 * issue 8: one allocation less per synced entry). Only for callbacks that do not keep `h`.
 */
export function newHeaderScratch(): NetHeader {
  return { version: 0, type: 0, flags: 0, len: 0, seq: 0, from: 0, to: 0 };
}

/**
 * Walks the messages of one datagram buf[off, end). For each message that passes the size checks
 * and the version check, calls onMessage with the header and the body range (after the 8- or
 * 16-byte header, up to off + len). A size error stops the walk (rest of the datagram lost, as in
 * conntrackd); a wrong version skips only that message. The type check (> 5 → bad type) and the
 * payload parse are the caller's, after its sync-mode `recv` (§1.5 step 6): see message.ts.
 *
 * If onMessage throws, the exception propagates (it is the caller's bug, not bad input).
 * With `scratch` (see newHeaderScratch) every message's header is written into that one object,
 * valid only during its onMessage call; without it each message gets a fresh header.
 */
export function walkDatagram(buf: Buffer, off: number, end: number, stats: WireRxStats, onMessage: OnMessage, scratch?: NetHeader): void {
  stats.datagrams++;
  const e = Math.min(end, buf.length);
  const o = Math.max(off, 0);
  stats.bytes += e > o ? e - o : 0;
  walk(buf, o, e, stats, onMessage, false, scratch);
}

/**
 * The TCP-channel variant (spec §1.4/§1.5 "stream channels: keep bytes for the next read"): a
 * trailing partial message (fewer than 8/16 header bytes, or len past the end) is not an error;
 * returns the offset where the unconsumed tail starts, for the caller to prepend to the next
 * read. A len of 0 or below the header size desynchronises the stream: counted as bad size, and
 * the whole rest is discarded (returns end).
 */
export function walkStream(buf: Buffer, off: number, end: number, stats: WireRxStats, onMessage: OnMessage): number {
  const o = Math.max(off, 0);
  const next = walk(buf, o, Math.min(end, buf.length), stats, onMessage, true);
  stats.bytes += next - o;
  return next;
}

function walk(
  buf: Buffer,
  off: number,
  end: number,
  stats: WireRxStats,
  onMessage: OnMessage,
  stream: boolean,
  scratch?: NetHeader,
): number {
  let p = off;
  while (p < end) {
    const remain = end - p;
    if (remain < NETHDR_SIZE) {
      if (stream) break;
      stats.truncated++;
      stats.malformed++;
      break;
    }
    const b0 = buf[p]!;
    const type = b0 & 0x0f;
    const flags = buf[p + 1]!;
    const len = (buf[p + 2]! << 8) | buf[p + 3]!;
    if (len === 0) {
      stats.badSize++;
      stats.malformed++;
      p = end;
      break;
    }
    if (len > remain) {
      if (stream) break;
      stats.badSize++;
      stats.malformed++;
      break;
    }
    const ack = type === NET_T.CTL && (flags & ACK_FORM_FLAGS) !== 0;
    if (ack) {
      if (remain < NETHDR_ACK_SIZE) {
        if (stream) break;
        stats.truncated++;
        stats.malformed++;
        break;
      }
      if (len < NETHDR_ACK_SIZE) {
        stats.badSize++;
        stats.malformed++;
        p = end;
        break;
      }
    } else if (len < NETHDR_SIZE) {
      stats.badSize++;
      stats.malformed++;
      p = end;
      break;
    }
    stats.messages++;
    const version = b0 >>> 4;
    if (version !== PROTOCOL_VERSION) {
      stats.badVersion++;
      stats.malformed++;
    } else {
      const seq = readU32(buf, p + 4);
      const from = ack ? readU32(buf, p + 8) : 0;
      const to = ack ? readU32(buf, p + 12) : 0;
      let h: NetHeader;
      if (scratch) {
        h = scratch;
        h.version = version;
        h.type = type;
        h.flags = flags;
        h.len = len;
        h.seq = seq;
        h.from = from;
        h.to = to;
      } else {
        h = { version, type, flags, len, seq, from, to };
      }
      onMessage(h, buf, p + (ack ? NETHDR_ACK_SIZE : NETHDR_SIZE), p + len);
    }
    p += len;
  }
  return p;
}
