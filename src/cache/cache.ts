/**
 * Internal and external caches (spec §5.1, §5.2). Keyed by zone + original tuple (flows) or
 * zone + master + tuple (expectations), never the kernel id: flowHash()/sameFlowKey() and their
 * expectation twins, the same fields as flowKey()/expectationKey(). Pure state: the clock time
 * is passed in by the caller.
 */
import type { Expectation, Flow } from '../flow/flow';
import { expectationHash, flowHash, sameExpectationKey, sameFlowKey } from '../flow/key';
import { HashIndex, type KeyOps } from './hash-index';
import { LinkedQueue } from '../sync/queue';
import { mergeFlow, replaceExpectation, stripForCache } from './merge';
import { type CacheObject, cacheTime, newCacheObject, type ObjKind, ObjStatus } from './object';
import { CacheStats } from './stats';

export type EventKind = 'new' | 'update' | 'destroy';

export interface CacheFlavour<T> extends KeyOps<T> {
  kind: ObjKind;
  /** Returns the merged data (may mutate and return old, or return upd). */
  merge(old: T, upd: T): T;
  prepare(d: T): T;
}

export const CT_FLAVOUR: CacheFlavour<Flow> = {
  kind: 'ct',
  hash: flowHash,
  sameKey: sameFlowKey,
  merge: mergeFlow,
  prepare: stripForCache,
};

export const EXP_FLAVOUR: CacheFlavour<Expectation> = {
  kind: 'exp',
  hash: expectationHash,
  sameKey: sameExpectationKey,
  merge: replaceExpectation,
  prepare: (e) => e,
};

/** The shared map + limit + counters; the two caches add their own event semantics. */
export class ObjectCache<T> {
  readonly stats = new CacheStats();
  protected readonly map: HashIndex<T, CacheObject<T>>;
  /**
   * Called when a NEW replaces an object (live or dead). The sync engine withdraws the old one
   * from the tx/resend queues: the new NEW supersedes it at the peer, while a late resend of
   * the old one (typed DEL, since it is dead) could overtake the NEW and delete the flow there.
   */
  onReplaced: ((old: CacheObject<T>) => void) | null = null;

  constructor(
    readonly name: string,
    readonly flavour: CacheFlavour<T>,
    /** Maximum objects (live + dead) held; HashLimit (spec §7.2). 0 = unlimited. */
    readonly limit: number,
  ) {
    this.map = new HashIndex(flavour);
  }

  /** Objects held, including dead ones awaiting release. */
  get size(): number {
    return this.map.size;
  }

  /** The object with d's key (live or dead-but-held), if any. */
  find(d: T): CacheObject<T> | undefined {
    return this.map.get(d);
  }

  /** All objects, dead ones included. */
  objects(): IterableIterator<CacheObject<T>> {
    return this.map.values();
  }

  /** Live (NEW/ALIVE) data. */
  *live(): IterableIterator<T> {
    for (const o of this.map.values()) if (o.status !== ObjStatus.DEAD) yield o.data;
  }

  /**
   * NEW semantics: any object with the same key (live or dead) is dropped from the map and
   * replaced. The old object is marked DEAD and detached (inCache=false): if a queue still
   * holds it, it goes out as a DEL before the new NEW, which leaves the peer correct.
   */
  protected insert(d: T, now: number): CacheObject<T> | null {
    const old = this.map.get(d);
    if (old) {
      this.detach(old);
      this.stats.replaced++;
      this.onReplaced?.(old);
    } else if (this.limit > 0 && this.map.size >= this.limit) {
      this.stats.refusedFull++;
      return null;
    }
    const obj = newCacheObject(this.flavour.kind, this.flavour.prepare(d), now);
    this.map.add(obj);
    this.stats.added++;
    this.stats.active++;
    return obj;
  }

  /** UPDATE semantics: merge into a live object, else create (status NEW). */
  protected upsert(d: T, now: number): CacheObject<T> | null {
    const old = this.map.get(d);
    if (old && old.status !== ObjStatus.DEAD) {
      old.data = this.flavour.merge(old.data, this.flavour.prepare(d));
      old.status = ObjStatus.ALIVE;
      old.lastUpdate = cacheTime(now);
      this.stats.updated++;
      return old;
    }
    this.stats.updateMissing++;
    return this.insert(d, now);
  }

  /** Drops obj from the map (if it is the mapped one) and marks it DEAD. */
  protected detach(obj: CacheObject<T>): void {
    if (obj.inCache) this.map.remove(obj);
    if (obj.status !== ObjStatus.DEAD) {
      obj.status = ObjStatus.DEAD;
      this.stats.active--;
    }
    obj.inCache = false;
  }

  /**
   * Called by the sync mode when a DEAD object leaves its last queue (spec §4.2: "a DEAD object
   * whose last reference goes is deleted from the internal cache").
   */
  release(obj: CacheObject<T>): void {
    if (obj.status !== ObjStatus.DEAD || obj.qOwner !== null) return;
    if (obj.inCache) {
      this.detach(obj);
      this.stats.released++;
    }
  }

  /** Removes everything; objects still queued stay alive for their queue as DEAD. */
  flush(): number {
    let n = 0;
    for (const o of this.map.values()) {
      if (o.status !== ObjStatus.DEAD) {
        o.status = ObjStatus.DEAD;
        this.stats.active--;
      }
      o.inCache = false;
      n++;
    }
    this.map.clear();
    this.stats.flushed += n;
    return n;
  }
}

/**
 * Internal cache (spec §5.1): what this node replicates. `apply` returns the object to queue
 * for peers, or null when nothing must be sent (self-caused change, refused, unknown destroy).
 */
export class InternalCache<T> extends ObjectCache<T> {
  apply(kind: EventKind, d: T, selfCaused: boolean, now: number): CacheObject<T> | null {
    let obj: CacheObject<T> | null;
    if (kind === 'new') obj = this.insert(d, now);
    else if (kind === 'update') obj = this.upsert(d, now);
    else {
      const found = this.find(d);
      if (!found || found.status === ObjStatus.DEAD) {
        this.stats.deleteMissing++;
        return null;
      }
      // DEL carries the cached last-known state (spec §9), as conntrackd's event_del does: the
      // destroy event itself is not merged.
      found.status = ObjStatus.DEAD;
      found.lastUpdate = cacheTime(now);
      this.stats.active--;
      this.stats.deleted++;
      obj = found;
      if (selfCaused) {
        this.stats.selfCaused++;
        this.release(obj);
        return null;
      }
      return obj;
    }
    if (obj && selfCaused) {
      this.stats.selfCaused++;
      return null;
    }
    return obj;
  }

  /** Start-up dump / kernel resync entry (spec §5.1): merged, nothing sent. */
  load(d: T, now: number): CacheObject<T> | null {
    return this.upsert(d, now);
  }
}

/**
 * External cache (spec §5.2): what peers replicate to us. DEL removes at once. With
 * `cacheTimeoutMs` (ALARM, spec §4.4) entries expire that long after their last NEW/UPD; the
 * expiry list is kept in lastUpdate order (an UPD moves the object to the tail), so expiring is
 * O(expired).
 */
export class ExternalCache<T> extends ObjectCache<T> {
  private readonly expiry: LinkedQueue<CacheObject<T>> | null;

  constructor(name: string, flavour: CacheFlavour<T>, limit: number, readonly cacheTimeoutMs = 0) {
    super(name, flavour, limit);
    this.expiry = cacheTimeoutMs > 0 ? new LinkedQueue<CacheObject<T>>(`${name}-expiry`) : null;
  }

  apply(kind: EventKind, d: T, now: number): CacheObject<T> | null {
    if (kind === 'destroy') {
      const found = this.find(d);
      if (!found) {
        this.stats.deleteMissing++;
        return null;
      }
      this.removeObj(found);
      this.stats.deleted++;
      return found;
    }
    const obj = kind === 'new' ? this.insert(d, now) : this.upsert(d, now);
    if (obj && this.expiry) {
      obj.expireAt = now + this.cacheTimeoutMs;
      this.expiry.push(obj);
    }
    return obj;
  }

  private removeObj(o: CacheObject<T>): void {
    this.detach(o);
  }

  protected override detach(obj: CacheObject<T>): void {
    if (this.expiry) this.expiry.remove(obj);
    super.detach(obj);
  }

  /** Earliest expiry deadline, or undefined. */
  nextExpiryAt(): number | undefined {
    return this.expiry?.head?.expireAt;
  }

  /** Removes entries whose CacheTimeout elapsed; returns how many. */
  expire(now: number): number {
    if (!this.expiry) return 0;
    let n = 0;
    for (let h = this.expiry.head; h && h.expireAt <= now; h = this.expiry.head) {
      this.removeObj(h);
      n++;
    }
    this.stats.expired += n;
    return n;
  }

  override flush(): number {
    this.expiry?.clear();
    return super.flush();
  }
}

export function internalCtCache(limit: number): InternalCache<Flow> {
  return new InternalCache('internal ct', CT_FLAVOUR, limit);
}
export function internalExpCache(limit: number): InternalCache<Expectation> {
  return new InternalCache('internal exp', EXP_FLAVOUR, limit);
}
export function externalCtCache(limit: number, cacheTimeoutMs = 0): ExternalCache<Flow> {
  return new ExternalCache('external ct', CT_FLAVOUR, limit, cacheTimeoutMs);
}
export function externalExpCache(limit: number, cacheTimeoutMs = 0): ExternalCache<Expectation> {
  return new ExternalCache('external exp', EXP_FLAVOUR, limit, cacheTimeoutMs);
}
