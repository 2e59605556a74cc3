/**
 * Per-channel datagram batching (spec §1.4): messages are appended back to back into one buffer
 * of `maxPayload` bytes (= MTU − 28 for UDP/multicast, MTU − 40 for TCP); a message goes in only
 * if `buffered + len < maxPayload` (conntrackd's strict rule), so a datagram carries at most
 * maxPayload − 1 bytes. The sink gets the filled buffer to keep; the packer starts a new one.
 */
import { WireEncodeError } from './errors';

export class DatagramPacker {
  /**
   * The datagram being filled: write a reserved message at buffer[off, off + len). A flush
   * hands this buffer to the sink and starts a new one, so read it after reserve().
   */
  buffer: Buffer;
  private used = 0;
  private reserved = 0;
  /** Datagrams handed to the sink, for channel stats. */
  datagrams = 0;

  constructor(
    readonly maxPayload: number,
    private readonly sink: (datagram: Buffer) => void,
  ) {
    if (!Number.isInteger(maxPayload) || maxPayload < 9 || maxPayload > 65536) {
      throw new WireEncodeError(`invalid maxPayload ${maxPayload}`);
    }
    this.buffer = Buffer.allocUnsafe(maxPayload);
  }

  /**
   * Space for one message of exactly len bytes; flushes first if it would not fit. A message that
   * can never fit (len >= maxPayload) is a WireEncodeError — conntrackd loops forever there.
   * Returns the offset: write the message at buffer[off, off + len), then call commit(len).
   * (A number, not a {buf, off} pair: this runs once per synced entry, issue 8.)
   */
  reserve(len: number): number {
    if (len <= 0 || len >= this.maxPayload) {
      throw new WireEncodeError(`message of ${len} bytes can never fit a ${this.maxPayload}-byte datagram buffer`);
    }
    if (this.used + len >= this.maxPayload) this.flush();
    this.reserved = len;
    return this.used;
  }

  /** Accepts the message written after reserve(); len must not exceed the reserved size. */
  commit(len: number): void {
    if (len < 0 || len > this.reserved) {
      throw new WireEncodeError(`commit(${len}) exceeds the reserved ${this.reserved} bytes`);
    }
    this.used += len;
    this.reserved = 0;
  }

  /** Sends the buffered messages as one datagram (no-op when empty). */
  flush(): void {
    if (this.used === 0) return;
    // Hand the filled buffer itself to the sink and start a fresh one (a pooled allocUnsafe,
    // as the copy was) instead of copying it: Buffer#copy costs ~1 µs of argument checks per
    // datagram on top of the memcpy (issue 8).
    const out = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(this.maxPayload);
    this.used = 0;
    this.datagrams++;
    this.sink(out);
  }

  /** Bytes buffered, not yet flushed. */
  get pending(): number {
    return this.used;
  }
}

/**
 * The packer buffer size for a channel (spec §1.1/§1.4): MTU − 28 for UDP/multicast (even over
 * IPv6, conntrackd's quirk), MTU − 40 for TCP, minus `extra` bytes added per datagram afterwards
 * (ENVELOPE_OVERHEAD when the authenticated envelope is on).
 */
export function channelMaxPayload(mtu: number, transport: 'udp' | 'multicast' | 'tcp', extra = 0): number {
  return mtu - (transport === 'tcp' ? 40 : 28) - extra;
}
