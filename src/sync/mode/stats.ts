/**
 * Sync-mode counters (plain fields, read at scrape time). Per-peer counters are kept per sender
 * id (0 = the single conntrackd-compatible tracker when no authenticated envelope is used).
 */

/** Fixed-bucket histogram of sync lag in ms (event read → ACK covering it). Non-cumulative. */
export class LagHistogram {
  static readonly BOUNDS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  /** counts[i] = observations <= BOUNDS[i] (and > BOUNDS[i-1]); the last slot is +Inf. */
  readonly counts: number[] = new Array<number>(LagHistogram.BOUNDS.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(ms: number): void {
    const b = LagHistogram.BOUNDS;
    let i = 0;
    while (i < b.length && ms > b[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.count++;
  }
}

export class PeerStats {
  msgsRecv = 0;
  bytesRecv = 0;
  dataRecv = 0;
  /** Messages/bytes (datagram bytes, envelope included) sent while this peer was known; sends
   * are broadcast, so every known peer counts them. Filled by the engine after each pass. */
  msgsSent = 0;
  bytesSent = 0;
  acksRecv = 0;
  nacksRecv = 0;
  resyncsRecv = 0;
  acksSent = 0;
  nacksSent = 0;
  /** Items re-sent because this peer NACKed them. */
  resends = 0;
  /** Sequence gaps seen (events) and messages missing (real count s − last − 1, spec §4.1). */
  gaps = 0;
  lost = 0;
  /** conntrackd's off-by-two "Lost msgs" (s − last + 1), for the -s text only. */
  lostConntrackd = 0;
  before = 0;
  /** Control messages the mode rejected (spec §4.2 digest BAD → "Malformed header"). */
  badCtl = 0;
  /** ACK/NACK addressed to another node (per-sender mode): seq-tracked, not applied. */
  notForUs = 0;
  /** HELLO periods started by this peer (restarts seen). */
  hellos = 0;
  lastRecvAt = 0;
}

export class ModeStats {
  msgsSent = 0;
  dataSent = 0;
  ctlSent = 0;
  acksSent = 0;
  nacksSent = 0;
  resyncsSent = 0;
  alivesSent = 0;
  /** Early ALIVE/ACK probes after a data pass (tail-loss detection, ours). */
  probesSent = 0;
  /** ACKs sent on receive idleness (ours; conntrackd waits for 300 msgs or 1 s). */
  promptAcks = 0;
  acksRecv = 0;
  nacksRecv = 0;
  resyncsRecv = 0;
  /** Items re-sent from the resend queue after a NACK. */
  resends = 0;
  /** Resend-queue entries dropped because it was full (spec §4.2: lost for good). */
  rsOverflow = 0;
  /** Resend-queue entries dropped because a peer restarted (HELLO). */
  rsFlushed = 0;
  /** Objects released by ACKs. */
  acked = 0;
  /** FTFW flow control (ours): transmit passes that stopped because the send window was full. */
  windowFull = 0;
  /** Resend-queue entries re-sent because an ACK skipped them (lost NACK; FTFW, ours). */
  strandedResends = 0;
  /** Times the window was forced open because no ACK came for windowStallMs (silent peer). */
  windowStalls = 0;
  /** RESYNC requests we made (incl. retries) and how many got answered. */
  resyncRequests = 0;
  resyncAnswered = 0;
  /** RESYNC retries abandoned: a peer is there but never acknowledges (FTFW). */
  resyncGaveUp = 0;
  /** Bad control messages (digest BAD), all peers. */
  badCtl = 0;
  before = 0;
  lost = 0;
  lostConntrackd = 0;
  /** ALARM refreshes. */
  refreshes = 0;
  readonly lag = new LagHistogram();
}
