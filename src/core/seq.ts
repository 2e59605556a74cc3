/** Sequence-number arithmetic with 32-bit wrap-around (spec §4.1). */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function seqAfter(a: number, b: number): boolean {
  return seqBefore(b, a);
}
/** a + n modulo 2^32, as an unsigned number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
