/**
 * The ports the sync engine (L4) needs from the layers around it, defined here so the engine
 * does not import src/channel (the L3 adapters satisfy these structurally).
 */

/** A datagram channel (src/channel implements it over node:dgram; tests use a fake twin). */
export interface Channel {
  /** Largest datagram payload we may send (spec §1.1/§1.4: MTU − 28). */
  readonly maxPayload: number;
  /**
   * Effective receive buffer of the socket(s) in bytes, as getsockopt(SO_RCVBUF) reports it
   * (optional). FTFW sizes its send window from it, taking ours as the estimate of the peer's.
   */
  readonly receiveBufferBytes?: number;
  send(datagram: Buffer): void;
  onDatagram(cb: (datagram: Buffer, from: string) => void): void;
  close(): Promise<void>;
}

/** The authenticated envelope (src/sync/envelope), optional. */
export interface EnvelopePort {
  seal(payload: Buffer): Buffer;
  /** null = dropped (counted by the envelope itself). */
  open(datagram: Buffer): { nodeId: number; payload: Buffer } | null;
}

/**
 * Timers for the engine, injected so tests run on a ManualClock. `setTimer` takes an absolute
 * time on the engine's Clock; `defer` runs fn soon, after the current I/O callback (setImmediate)
 * so one transmit pass packs all messages queued by a burst of events.
 */
export interface Scheduler {
  setTimer(atMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  defer(fn: () => void): void;
}
