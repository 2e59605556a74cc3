/**
 * 32-bit hashing for the cache index (cache/hash-index.ts, flow/key.ts): murmur3's mixing
 * steps, in Math.imul arithmetic so everything stays in small integers (no heap numbers).
 */

/** Mixes one 32-bit value into a running hash (murmur3-style multiply and shift). */
export function mix(h: number, v: number): number {
  let k = Math.imul(v, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Final avalanche, so the low bits used for buckets depend on every input bit. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Mixes a string (IPv6 addresses are 16-unit strings, flow/address.ts) two units at a time. */
export function mixString(h: number, s: string): number {
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = mix(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) h = mix(h, s.charCodeAt(i));
  return mix(h, n);
}
