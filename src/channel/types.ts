/**
 * Channel contract between the L3 network adapters (multicast, udp, multilink) and the sync
 * engine (L4). Spec §1.1: one datagram carries 1..N complete sync messages; the engine packs
 * them and must never exceed `maxPayload`.
 */
export interface Channel {
  /** Largest datagram payload the engine may pass to send() (spec §1.1/§1.4: MTU − 28). */
  readonly maxPayload: number;
  /**
   * Effective receive buffer of the socket(s) in bytes, as getsockopt(SO_RCVBUF) reports it
   * (optional). FTFW sizes its send window from it, taking ours as the estimate of the peer's.
   */
  readonly receiveBufferBytes?: number;
  /** Fire-and-forget. Errors are counted in stats and logged rate-limited, never thrown. */
  send(datagram: Buffer): void;
  /** Registers the receive handler; `from` is the sender's address (without port). */
  onDatagram(cb: (datagram: Buffer, from: string) => void): void;
  close(): Promise<void>;
}

/** Plain counters read at scrape time by metrics (ARCHITECTURE: never per-packet metric calls). */
export interface ChannelStats {
  sentDatagrams: number;
  sentBytes: number;
  receivedDatagrams: number;
  receivedBytes: number;
  sendErrors: number;
  /** send errors by errno code (ENOBUFS, EHOSTUNREACH, ENETDOWN, ...). */
  sendErrorsByCode: Record<string, number>;
  /** 'error' events raised by the receive socket. */
  receiveErrors: number;
  /** Datagrams dropped because the source is not a configured peer (udp only). */
  strangerDrops: number;
  /** Effective kernel socket buffer sizes (bytes, as getsockopt reports: twice the request). */
  rcvBufBytes: number;
  sndBufBytes: number;
}

export function newChannelStats(): ChannelStats {
  return {
    sentDatagrams: 0,
    sentBytes: 0,
    receivedDatagrams: 0,
    receivedBytes: 0,
    sendErrors: 0,
    sendErrorsByCode: {},
    receiveErrors: 0,
    strangerDrops: 0,
    rcvBufBytes: 0,
    sndBufBytes: 0,
  };
}

/**
 * What a channel needs to log. A pino logger satisfies it; channels rate-limit themselves so
 * a flood of send errors never turns into one log line per packet.
 */
export interface ChannelLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** A channel that also exposes its counters (every concrete channel in this folder). */
export interface StatsChannel extends Channel {
  readonly stats: ChannelStats;
}
