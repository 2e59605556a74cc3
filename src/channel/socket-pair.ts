/**
 * What every UDP-based channel shares: a receive socket and a separate send socket (spec §1.1),
 * counters, a rate-limited log, the datagram handler (never allowed to throw out of a socket
 * callback) and an idempotent close. Subclasses decide where datagrams go (`send`) and which
 * sources are accepted (`accept`).
 */
import type * as dgram from 'node:dgram';
import { closeAsync, LogLimiter, makeSendCallback, normalizeAddress } from './common';
import { type ChannelLog, type ChannelStats, newChannelStats, type StatsChannel } from './types';

export abstract class SocketPairChannel implements StatsChannel {
  readonly stats: ChannelStats = newChannelStats();
  protected readonly limiter: LogLimiter;
  protected readonly sendCb: (err: Error | null, bytes: number) => void;
  protected closed = false;
  private handler: ((datagram: Buffer, from: string) => void) | undefined;

  protected constructor(
    readonly name: string,
    readonly maxPayload: number,
    protected readonly rx: dgram.Socket,
    protected readonly tx: dgram.Socket,
    log: ChannelLog | undefined,
  ) {
    this.limiter = new LogLimiter(log);
    this.sendCb = makeSendCallback(this.stats, this.limiter, name);
    rx.on('message', (msg, rinfo) => {
      const from = normalizeAddress(rinfo.address);
      if (!this.accept(from)) return;
      this.stats.receivedDatagrams++;
      this.stats.receivedBytes += msg.length;
      const h = this.handler;
      if (!h) return;
      try {
        h(msg, from);
      } catch (err) {
        // The engine should catch per datagram (habit 2); this is the last line of defence.
        this.limiter.warn('handler', { channel: name, err: String(err) }, 'datagram handler threw');
      }
    });
    const onSockError = (err: Error) => {
      this.stats.receiveErrors++;
      this.limiter.warn(`sock:${(err as NodeJS.ErrnoException).code}`, { channel: name, err: err.message }, 'sync socket error');
    };
    rx.on('error', onSockError);
    tx.on('error', onSockError);
  }

  /** Whether a datagram from this (normalized) source is delivered; count what is not. */
  protected accept(_from: string): boolean {
    return true;
  }

  abstract send(datagram: Buffer): void;

  /** One sendto; synchronous throws (e.g. socket closed under us) count like async errors. */
  protected sendTo(datagram: Buffer, port: number, address: string): void {
    try {
      this.tx.send(datagram, port, address, this.sendCb);
    } catch (err) {
      this.sendCb(err as Error, 0);
    }
  }

  get receiveBufferBytes(): number {
    return this.stats.rcvBufBytes;
  }

  onDatagram(cb: (datagram: Buffer, from: string) => void): void {
    this.handler = cb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeAsync(this.rx), closeAsync(this.tx)]);
  }
}
