/**
 * Optional authenticated envelope around each sync datagram (conntrackd has none, spec §9).
 * With the envelope off, the bytes on the wire are exactly conntrackd's; with it on, the peer
 * must be ctsyncd with the same key(s).
 *
 * Layout (all big-endian); the 20-byte header is the AEAD associated data, followed by the
 * sealed payload and the 16-byte GCM tag:
 *
 *   0  u16  magic 0xCE5C
 *   2  u16  envelope version (1). Read by a plain conntrackd (or ctsyncd with the envelope off)
 *           as a message `len` of 1, so it rejects the whole datagram as "bad size" (spec §1.5
 *           step 2-4) instead of ever parsing ciphertext as messages.
 *   4  u8   key id (two keys may be active during rotation)
 *   5  u8×3 reserved, zero
 *   8  u32  sender node id (non-zero, unique per sender)
 *  12  u64  sender counter, strictly increasing per sender
 *  20  ...  AES-256-GCM ciphertext of the conntrackd datagram
 *  end-16   tag
 *
 * The 96-bit GCM nonce is node id || counter, so two senders sharing a key never reuse a nonce,
 * and one sender never does as long as its counter never repeats (see seedCounter).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CtsyncError } from '../../core/errors';

export const ENVELOPE_MAGIC = 0xce5c;
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_HEADER = 20;
export const ENVELOPE_TAG = 16;
/** Bytes the envelope adds to a datagram: subtract from the channel's maxPayload. */
export const ENVELOPE_OVERHEAD = ENVELOPE_HEADER + ENVELOPE_TAG;
/** Replay window per sender, in datagrams (a multiple of 32). */
export const REPLAY_WINDOW = 1024;

export const CTSYNC_ERR_ENVELOPE = 'CTSYNC_ERR_ENVELOPE';

export interface EnvelopeKey {
  /** 0..255, carried in every datagram so a receiver can hold two keys during rotation. */
  id: number;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

export interface EnvelopeOptions {
  /** This node's id (u32). Must be non-zero to seal; 0 = receive-only observer (CLI decode). */
  nodeId: number;
  /** keys[0] is the primary (used to seal); every listed key is accepted on open. */
  keys: EnvelopeKey[];
  /** Allowed sender node ids; undefined = any (except our own). */
  peers?: number[];
  /** First counter value to use; default seedCounter(). */
  counterStart?: bigint;
}

/** Drop reasons: plain counters, read by metrics at scrape time. */
export class EnvelopeStats {
  sealed = 0;
  opened = 0;
  /** Sum of every drop reason below. */
  dropped = 0;
  tooShort = 0;
  badMagic = 0;
  badVersion = 0;
  unknownKey = 0;
  unknownNode = 0;
  /** Our own node id: a reflected datagram of ours, never accepted. */
  ownNode = 0;
  authFailed = 0;
  replay = 0;
  tooOld = 0;
}

export type EnvelopeDropReason = Exclude<keyof EnvelopeStats, 'sealed' | 'opened' | 'dropped'>;

const U64_MAX = (1n << 64n) - 1n;

/**
 * Why wall-clock seeding: a sender keeps no state across restarts, yet its counter must never
 * repeat (nonce reuse breaks GCM) and must exceed what receivers have already seen (else the
 * restarted sender is dropped as a replay until it catches up). Seeding with
 * microseconds-since-epoch << 12 gives every restart a start value above any counter the previous
 * run could have reached unless it sent more than 4096 datagrams per microsecond on average
 * (impossible), and it fits 64 bits until the year 2112. Requirement: the wall clock must not step
 * back across a restart (NTP-synchronised firewalls; a backwards step would make the peers drop
 * us as "too old"/"replay" until the clock catches up, never accept a forged datagram).
 */
export function seedCounter(nowUs: bigint = BigInt(Date.now()) * 1000n): bigint {
  return nowUs << 12n;
}

/** Per-sender sliding replay window: highest counter seen + a REPLAY_WINDOW-bit ring bitmap. */
class ReplayWindow {
  top = -1n;
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);

  /** 0 = fresh, 1 = replay, 2 = too old. Does not record; call accept() after authentication. */
  check(ctr: bigint): 0 | 1 | 2 {
    if (ctr > this.top) return 0;
    const diff = this.top - ctr;
    if (diff >= BigInt(REPLAY_WINDOW)) return 2;
    const i = Number(ctr & BigInt(REPLAY_WINDOW - 1));
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0 ? 1 : 0;
  }

  accept(ctr: bigint): void {
    if (ctr > this.top) {
      const shift = this.top < 0n ? BigInt(REPLAY_WINDOW) : ctr - this.top;
      if (shift >= BigInt(REPLAY_WINDOW)) this.bits.fill(0);
      else for (let c = this.top + 1n; c < ctr; c++) this.clear(c);
      this.top = ctr;
    }
    const i = Number(ctr & BigInt(REPLAY_WINDOW - 1));
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private clear(c: bigint): void {
    const i = Number(c & BigInt(REPLAY_WINDOW - 1));
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}

export class Envelope {
  readonly stats = new EnvelopeStats();
  private readonly nodeId: number;
  private readonly primary: EnvelopeKey;
  private readonly keys = new Map<number, Buffer>();
  private readonly peers: Set<number> | undefined;
  private readonly windows = new Map<number, ReplayWindow>();
  private counter: bigint;
  /** node id || counter: unique per (key, sender, datagram). */
  private readonly nonce = Buffer.alloc(12);

  constructor(opts: EnvelopeOptions) {
    if (!Number.isInteger(opts.nodeId) || opts.nodeId < 0 || opts.nodeId > 0xffffffff) {
      throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope: node id ${opts.nodeId} is not a u32`);
    }
    if (opts.keys.length === 0 || opts.keys.length > 2) {
      throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope: need 1 or 2 keys (primary, then the one being rotated), got ${opts.keys.length}`);
    }
    for (const k of opts.keys) {
      if (!Number.isInteger(k.id) || k.id < 0 || k.id > 255) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope: key id ${k.id} not in 0..255`);
      if (k.key.length !== 32) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope: key ${k.id} has ${k.key.length} bytes, need 32`);
      if (this.keys.has(k.id)) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, `envelope: duplicate key id ${k.id}`);
      this.keys.set(k.id, Buffer.from(k.key));
    }
    this.nodeId = opts.nodeId;
    this.primary = opts.keys[0]!;
    this.peers = opts.peers ? new Set(opts.peers) : undefined;
    this.counter = opts.counterStart ?? seedCounter();
    if (this.counter < 0n || this.counter > U64_MAX) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, 'envelope: counterStart out of u64 range');
  }

  /** The counter the next seal() will use. */
  get nextCounter(): bigint {
    return this.counter;
  }

  /** Seals one conntrackd datagram; returns a new buffer of payload.length + ENVELOPE_OVERHEAD. */
  seal(payload: Buffer): Buffer {
    if (this.nodeId === 0) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, 'envelope: node id 0 is receive-only');
    if (this.counter > U64_MAX) throw new CtsyncError(CTSYNC_ERR_ENVELOPE, 'envelope: counter exhausted');
    const out = Buffer.allocUnsafe(payload.length + ENVELOPE_OVERHEAD);
    out.writeUInt16BE(ENVELOPE_MAGIC, 0);
    out.writeUInt16BE(ENVELOPE_VERSION, 2);
    out[4] = this.primary.id;
    out[5] = 0;
    out[6] = 0;
    out[7] = 0;
    out.writeUInt32BE(this.nodeId >>> 0, 8);
    out.writeBigUInt64BE(this.counter, 12);
    this.counter++;
    out.copy(this.nonce, 0, 8, 20);
    const c = createCipheriv('aes-256-gcm', this.keys.get(this.primary.id)!, this.nonce);
    c.setAAD(out.subarray(0, ENVELOPE_HEADER));
    let n = c.update(payload).copy(out, ENVELOPE_HEADER);
    n += c.final().copy(out, ENVELOPE_HEADER + n);
    c.getAuthTag().copy(out, ENVELOPE_HEADER + n);
    this.stats.sealed++;
    return out;
  }

  /**
   * Authenticates and opens one datagram. Returns null when it is dropped (counted in stats by
   * reason) — before any of its content reaches the wire parser.
   */
  open(datagram: Buffer): { nodeId: number; payload: Buffer } | null {
    if (datagram.length < ENVELOPE_OVERHEAD) return this.drop('tooShort');
    if (datagram.readUInt16BE(0) !== ENVELOPE_MAGIC) return this.drop('badMagic');
    if (datagram.readUInt16BE(2) !== ENVELOPE_VERSION || (datagram[5]! | datagram[6]! | datagram[7]!) !== 0) {
      return this.drop('badVersion');
    }
    const key = this.keys.get(datagram[4]!);
    if (!key) return this.drop('unknownKey');
    const sender = datagram.readUInt32BE(8);
    if (sender === this.nodeId || sender === 0) return this.drop('ownNode');
    if (this.peers && !this.peers.has(sender)) return this.drop('unknownNode');
    const ctr = datagram.readBigUInt64BE(12);
    let win = this.windows.get(sender);
    const verdict = win ? win.check(ctr) : 0;
    if (verdict === 1) return this.drop('replay');
    if (verdict === 2) return this.drop('tooOld');
    const end = datagram.length - ENVELOPE_TAG;
    let payload: Buffer;
    try {
      const d = createDecipheriv('aes-256-gcm', key, datagram.subarray(8, 20));
      d.setAAD(datagram.subarray(0, ENVELOPE_HEADER));
      d.setAuthTag(datagram.subarray(end));
      const body = d.update(datagram.subarray(ENVELOPE_HEADER, end));
      const fin = d.final();
      payload = fin.length ? Buffer.concat([body, fin]) : body;
    } catch {
      return this.drop('authFailed');
    }
    // only an authentic datagram may move the window (a forged high counter must not lock peers out)
    if (!win) {
      // one window per authentic sender: forged ids never get here (they fail authentication),
      // so the map is bounded by the number of key holders.
      // Known limit: a receiver that restarts starts with empty windows, so authentic datagrams
      // recorded before its restart could be replayed to it once each (in increasing order)
      // until the real sender's next datagram; the FTFW sequence tracking above sees them as old.
      win = new ReplayWindow();
      this.windows.set(sender, win);
    }
    win.accept(ctr);
    this.stats.opened++;
    return { nodeId: sender, payload };
  }

  private drop(reason: EnvelopeDropReason): null {
    this.stats[reason]++;
    this.stats.dropped++;
    return null;
  }
}
