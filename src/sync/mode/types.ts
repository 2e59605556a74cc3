/**
 * What the sync modes (FTFW, NOTRACK, ALARM; spec §4) exchange with the engine. The modes are
 * pure state machines: no I/O, no Date.now/setTimeout. They read the injected Clock, call the
 * ModeHost to emit messages (the engine encodes them into the datagram packer) and expose
 * nextTimerAt()/onTimer(now) so the engine arms one real timer.
 */
import type { CacheObject } from '../../cache/object';
import type { NetHeader } from '../wire/header';
import type { QNode } from '../queue';
import type { ModeStats } from './stats';
import type { RxTracker } from './tracker';

/** A cache object as the modes see it (ct or expectation; the engine encodes by `kind`). */
export type SyncObject = CacheObject<unknown>;

/** A control message waiting in the tx queue or kept in the resend queue (spec §4.2). */
export interface CtlItem extends QNode {
  readonly kind: 'ctl';
  /** NET_F bits of the control message itself (ACK, NACK, RESYNC or ALIVE). */
  readonly flags: number;
  readonly from: number;
  readonly to: number;
  /** Node id the ACK/NACK is meant for (per-sender mode); 0 = anyone (conntrackd form). */
  readonly target: number;
  /** Seq of the last transmission; -1 = not sent yet. */
  seq: number;
  sentAt: number;
  /** Per-sender FTFW: bit set of peers that acknowledged it. */
  ackMask: number;
}

export type TxItem = SyncObject | CtlItem;

export function newCtlItem(flags: number, from: number, to: number, target = 0): CtlItem {
  return { qPrev: null, qNext: null, qOwner: null, kind: 'ctl', flags, from, to, target, seq: -1, sentAt: 0, ackMask: 0 };
}

export interface ModeHost {
  /** Encode obj at send time from its current state (type from status, spec §2.1). */
  emitObject(obj: SyncObject, flags: number, seq: number): void;
  /** Encode a control message (type 10). target != 0 only in per-sender mode. */
  emitCtl(flags: number, seq: number, from: number, to: number, target: number): void;
  /** The tx queue became non-empty: schedule a transmit pass (coalesced). */
  txPending(): void;
  /** obj left its last queue; if it is DEAD the cache may now drop it (spec §4.2 ACK). */
  release(obj: SyncObject): void;
  /** A peer sent RESYNC: enqueue the whole internal cache (spec §4.2 digest RESYNC). */
  bulkRequested(peer: number): void;
  /** First state sync from a peer is done (see the mode's `ready`). */
  readyChanged?(): void;
}

/** What the engine should do with a received message after the mode saw its header. */
export type RecvVerdict = 'data' | 'ctl' | 'drop';

/** Everything a mode reacts to, for the dispatch-style entry point. */
export type ModeEvent =
  | { type: 'local'; obj: SyncObject; eventAt: number }
  | { type: 'recv'; hdr: NetHeader; peer: number; target: number }
  | { type: 'timer'; now: number }
  | { type: 'resync' }
  | { type: 'transmit'; budget: number };

export interface SyncMode {
  readonly name: 'ftfw' | 'notrack' | 'alarm';
  readonly stats: ModeStats;
  /** Objects/control messages waiting for the next transmit pass. */
  readonly txLength: number;
  /** Receive trackers by sender id (one, id 0, without the envelope). */
  peers(): IterableIterator<RxTracker>;
  tracker(peer: number): RxTracker;
  /** First sync from peers done, or a lone node waited long enough. */
  readonly ready: boolean;
  /**
   * Why the mode became ready (for the daemon's log line): the peers' answer came, no peer was
   * heard at all, a heard peer never answered in time, or nothing was asked.
   */
  readonly readyReason?: ReadyReason;
  /** Local change of an internal-cache object: queue it for peers. */
  enqueue(obj: SyncObject, eventAt: number): void;
  /** A bulk (-B / RESYNC answer): like enqueue, without refreshing the sync-lag timestamp. */
  enqueueBulk(obj: SyncObject): void;
  /** obj entered the internal cache without being sent (start-up dump, -R): ALARM arms its refresh timer. */
  onLoaded(obj: SyncObject): void;
  /** Removes obj from any queue without sending it (internal flush). */
  forget(obj: SyncObject): void;
  /**
   * Header-level receive processing (spec §4.2 recv); bytes = message length for stats. `now`:
   * the clock reading of the datagram the message came in (the engine reads the clock once per
   * datagram, not per message); omitted = read the clock.
   */
  onMessage(h: NetHeader, peer: number, target: number, now?: number): RecvVerdict;
  /** One transmit pass, at most budget messages; returns how many were emitted. */
  transmit(budget: number): number;
  hasPending(): boolean;
  /** Ask peers for their state (RESYNC); no-op in ALARM. */
  requestResync(): void;
  nextTimerAt(): number;
  onTimer(now: number): void;
  dispatch(ev: ModeEvent): RecvVerdict | number | undefined;
}

export type ReadyReason = 'answered' | 'alone' | 'peerDidNotAnswer' | 'notAsked';
