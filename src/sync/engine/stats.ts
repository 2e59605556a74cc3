/** Engine-level counters (plain fields, read at scrape time). */
export class EngineStats {
  datagramsSent = 0;
  bytesSent = 0;
  datagramsRecv = 0;
  bytesRecv = 0;
  /** Datagrams the envelope refused (details in the envelope's own stats). */
  envelopeRejected = 0;
  /** Objects that could not be encoded (e.g. larger than a datagram); an ALIVE took their seq. */
  encodeErrors = 0;
  /** Unexpected exceptions caught in the receive path (a bug, never bad input). */
  rxErrors = 0;
  /** Received data applied to the external caches. */
  appliedNew = 0;
  appliedUpd = 0;
  appliedDel = 0;
  /** Bulk sends (-B or a peer's RESYNC) and objects they queued. */
  bulks = 0;
  bulkObjects = 0;
  /** Kernel events dropped by the filter. */
  filtered = 0;
  transmitPasses = 0;
}
