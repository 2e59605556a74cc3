/**
 * Intrusive doubly-linked FIFO (ARCHITECTURE habit 5, spec §4.2 "an object is at most once in
 * either queue"). The links live in the queued item itself, so enqueue, dequeue and "move to
 * another queue" are O(1) with no allocation — this is the transmit hot path (100k entries/s).
 *
 * An item belongs to at most one queue at a time: pushing an item that sits in another queue
 * (or in this one) unlinks it first. `owner` says which queue holds it (null = none).
 */
export interface QNode {
  qPrev: QNode | null;
  qNext: QNode | null;
  qOwner: LinkedQueue<QNode> | null;
}

// Build queued items with an object literal that names qPrev/qNext/qOwner first (see
// newCacheObject): objects made by spreading end up in V8 dictionary mode and make every queue
// operation ~20x slower (measured).

export class LinkedQueue<T extends QNode> {
  private headNode: T | null = null;
  private tailNode: T | null = null;
  private count = 0;

  constructor(readonly name: string) {}

  get length(): number {
    return this.count;
  }

  get head(): T | null {
    return this.headNode;
  }

  get tail(): T | null {
    return this.tailNode;
  }

  has(n: T): boolean {
    return n.qOwner === (this as unknown as LinkedQueue<QNode>);
  }

  /** Appends n; if n is queued anywhere (including here) it is moved. */
  push(n: T): void {
    if (n.qOwner !== null) n.qOwner.remove(n);
    n.qPrev = this.tailNode;
    n.qNext = null;
    if (this.tailNode) this.tailNode.qNext = n;
    else this.headNode = n;
    this.tailNode = n;
    n.qOwner = this as unknown as LinkedQueue<QNode>;
    this.count++;
  }

  /** Unlinks n if it is in this queue; returns whether it was. */
  remove(n: QNode): boolean {
    if (n.qOwner !== (this as unknown as LinkedQueue<QNode>)) return false;
    const p = n.qPrev;
    const x = n.qNext;
    if (p) p.qNext = x;
    else this.headNode = x as T | null;
    if (x) x.qPrev = p;
    else this.tailNode = p as T | null;
    n.qPrev = null;
    n.qNext = null;
    n.qOwner = null;
    this.count--;
    return true;
  }

  /** Removes and returns the head. */
  shift(): T | null {
    const h = this.headNode;
    if (h) this.remove(h);
    return h;
  }

  /** Next item after n in this queue (for walks that may remove the current item). */
  next(n: T): T | null {
    return n.qNext as T | null;
  }

  /** Unlinks everything, calling onRemoved for each item (head first). */
  clear(onRemoved?: (n: T) => void): void {
    let n = this.headNode;
    while (n) {
      const x = n.qNext as T | null;
      n.qPrev = null;
      n.qNext = null;
      n.qOwner = null;
      if (onRemoved) onRemoved(n);
      n = x;
    }
    this.headNode = null;
    this.tailNode = null;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    let n = this.headNode;
    while (n) {
      const x = n.qNext as T | null;
      yield n;
      n = x;
    }
  }
}
