/**
 * Indexed binary min-heap of cache objects ordered by `refreshAt` (ALARM refresh timers, spec
 * §4.4). The index lives in the object (heapIdx), so re-arming and removal are O(log n) without
 * stale entries — 262k objects each with a timer stay cheap.
 */
import type { SyncObject } from './types';

export class RefreshHeap {
  private readonly a: SyncObject[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): SyncObject | undefined {
    return this.a[0];
  }

  /** Inserts or re-positions obj at deadline at. */
  set(obj: SyncObject, at: number): void {
    obj.refreshAt = at;
    if (obj.heapIdx >= 0) {
      this.up(obj.heapIdx);
      this.down(obj.heapIdx);
      return;
    }
    obj.heapIdx = this.a.length;
    this.a.push(obj);
    this.up(obj.heapIdx);
  }

  remove(obj: SyncObject): void {
    const i = obj.heapIdx;
    if (i < 0) return;
    const last = this.a.pop()!;
    obj.heapIdx = -1;
    if (last !== obj) {
      this.a[i] = last;
      last.heapIdx = i;
      this.up(i);
      this.down(last.heapIdx);
    }
  }

  pop(): SyncObject | undefined {
    const top = this.a[0];
    if (top) this.remove(top);
    return top;
  }

  clear(): void {
    for (const o of this.a) o.heapIdx = -1;
    this.a.length = 0;
  }

  private up(i: number): void {
    const a = this.a;
    const x = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = a[p]!;
      if (y.refreshAt <= x.refreshAt) break;
      a[i] = y;
      y.heapIdx = i;
      i = p;
    }
    a[i] = x;
    x.heapIdx = i;
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.refreshAt < a[l]!.refreshAt ? r : l;
      const y = a[c]!;
      if (y.refreshAt >= x.refreshAt) break;
      a[i] = y;
      y.heapIdx = i;
      i = c;
    }
    a[i] = x;
    x.heapIdx = i;
  }
}
