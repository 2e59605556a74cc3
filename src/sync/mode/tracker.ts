/**
 * Receive-side sequence tracking for one sender (spec §4.1, §4.2 recv). conntrackd keeps one
 * tracker for everybody (the header has no sender id); with the authenticated envelope we keep
 * one per sender node id so three or more FTFW nodes sync reliably (spec §4.6 fixed).
 */
import { seqAdd, seqAfter } from '../../core/seq';
import { PeerStats } from './stats';

export const SeqState = {
  UNSET: 0,
  IN_SYNC: 1,
  AFTER: 2,
  BEFORE: 3,
} as const;
export type SeqState = (typeof SeqState)[keyof typeof SeqState];

export class RxTracker {
  /** last_seq_recv is meaningful ("tracking has started"). */
  set = false;
  last = 0;
  /** Start of the not-yet-acknowledged receive window (spec §4.2 ack_from). */
  ackFrom = 0;
  ackFromSet = false;
  window: number;
  /** Prompt-ACK deadline (clock ms) after receive idleness; 0 = none. */
  ackAt = 0;
  /** The unacknowledged window holds data/RESYNC/NACK (worth a prompt ACK; ACK/ALIVE-only windows wait for the 1 s tick, avoiding fast ACK ping-pong). */
  pendingData = false;
  /** This peer is in its HELLO period (its messages carry HELLO). */
  helloing = false;
  /**
   * Tracking started with a message that did not carry HELLO_BACK while we were still saying
   * HELLO: earlier messages of the peer's answer to our RESYNC may have been lost unnoticed
   * (an UNSET tracker cannot detect a leading gap), so ask once more.
   */
  uncertainStart = false;
  /** Per-sender mode: this peer's bit in resend-queue ackMasks (0 = untracked, > 31 peers). */
  bit = 0;
  readonly stats = new PeerStats();

  constructor(
    readonly peer: number,
    readonly windowSize: number,
  ) {
    this.window = windowSize;
  }

  classify(seq: number): SeqState {
    if (!this.set) return SeqState.UNSET;
    const exp = seqAdd(this.last, 1);
    if (seq === exp) return SeqState.IN_SYNC;
    return seqAfter(seq, exp) ? SeqState.AFTER : SeqState.BEFORE;
  }
}
