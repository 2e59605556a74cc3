/**
 * The caches' lookup structure: a hash index over cache objects, keyed by a numeric hash of the
 * object's key fields (zone + original tuple) and compared field by field.
 *
 * Why not a Map<string, object>: a string key per entry has to be built for every kernel event
 * and message (even for lookups), costs ≈40 bytes per cached entry, and V8's Map.set of 100k
 * fresh string keys measured 0.2-2 µs each on this VM (hashing plus OrderedHashMap rehashes in
 * large-object space), against ≈0.1 µs here; lookups 0.35 µs against 0.07 µs (issue 8: CPU and
 * memory per entry).
 *
 * Layout (like V8's OrderedHashMap, but with our own hash): `entries` holds the objects in
 * insertion order (iteration order = insertion order, as with a Map), `hashes`/`chain` are
 * parallel Int32Arrays, `buckets[h & mask]` is the first entry index of a chain. A removal
 * leaves a hole; holes are squeezed out when the entries array is rebuilt on growth.
 */

/** How a cache finds the key of its data. */
export interface KeyOps<T> {
  /** 32-bit hash of the key fields of d. */
  hash(d: T): number;
  /** Whether a and b have the same key. */
  sameKey(a: T, b: T): boolean;
}

interface Keyed<T> {
  data: T;
}

const NONE = -1;

export class HashIndex<T, O extends Keyed<T>> {
  private mask = 15;
  private buckets = new Int32Array(16).fill(NONE);
  private entries: (O | undefined)[] = new Array(16);
  private hashes = new Int32Array(16);
  private chain = new Int32Array(16);
  /** Entry slots used so far (live + holes). */
  private used = 0;
  private live = 0;

  constructor(private readonly ops: KeyOps<T>) {}

  get size(): number {
    return this.live;
  }

  /** The object whose key equals d's, if any. */
  get(d: T): O | undefined {
    const h = this.ops.hash(d);
    const { hashes, entries, chain } = this;
    for (let i = this.buckets[h & this.mask]!; i !== NONE; i = chain[i]!) {
      if (hashes[i] !== h) continue;
      const o = entries[i];
      if (o !== undefined && this.ops.sameKey(o.data, d)) return o;
    }
    return undefined;
  }

  /** Adds o; the caller has made sure no object with the same key is present. */
  add(o: O): void {
    if (this.used === this.entries.length) this.rebuild();
    const h = this.ops.hash(o.data);
    const i = this.used++;
    this.entries[i] = o;
    this.hashes[i] = h;
    const b = h & this.mask;
    this.chain[i] = this.buckets[b]!;
    this.buckets[b] = i;
    this.live++;
  }

  /** Removes exactly this object (by identity); false when it is not in the index. */
  remove(o: O): boolean {
    const h = this.ops.hash(o.data);
    const b = h & this.mask;
    let prev = NONE;
    for (let i = this.buckets[b]!; i !== NONE; prev = i, i = this.chain[i]!) {
      if (this.entries[i] !== o) continue;
      if (prev === NONE) this.buckets[b] = this.chain[i]!;
      else this.chain[prev] = this.chain[i]!;
      this.entries[i] = undefined;
      this.live--;
      return true;
    }
    return false;
  }

  clear(): void {
    this.mask = 15;
    this.buckets = new Int32Array(16).fill(NONE);
    this.entries = new Array(16);
    this.hashes = new Int32Array(16);
    this.chain = new Int32Array(16);
    this.used = 0;
    this.live = 0;
  }

  /**
   * Objects in insertion order. Removals during iteration are seen (holes are skipped); objects
   * added during iteration are visited unless the arrays are rebuilt meanwhile (growth), in
   * which case the iteration finishes over the entries as they were.
   */
  *values(): IterableIterator<O> {
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      // `used` of a rebuilt index no longer describes `entries`: stop at the old array's end
      if (entries === this.entries && i >= this.used) return;
      const o = entries[i];
      if (o !== undefined) yield o;
    }
  }

  /**
   * New arrays sized for twice the live objects (at least 16 slots), holes squeezed out; the
   * bucket count equals the slot count, so chains average under one entry.
   */
  private rebuild(): void {
    let cap = 16;
    while (cap < this.live * 2) cap *= 2;
    const entries: (O | undefined)[] = new Array(cap);
    const hashes = new Int32Array(cap);
    const chain = new Int32Array(cap);
    const buckets = new Int32Array(cap).fill(NONE);
    const mask = cap - 1;
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      const o = this.entries[i];
      if (o === undefined) continue;
      const h = this.hashes[i]!;
      entries[j] = o;
      hashes[j] = h;
      const b = h & mask;
      chain[j] = buckets[b]!;
      buckets[b] = j;
      j++;
    }
    // the old array stays intact for iterators still walking it (see values())
    this.entries = entries;
    this.hashes = hashes;
    this.chain = chain;
    this.buckets = buckets;
    this.mask = mask;
    this.used = j;
  }
}
