/**
 * Cache key: zone + original tuple (spec §5.1), never the kernel id. Plain string so it works
 * as a Map key; cheap to build (no address formatting).
 *
 * The key is an opaque, fixed-layout string of UTF-16 code units, built by one
 * String.fromCharCode call: every field fits in 16 bits (an IPv4 address is two units), so a
 * field sequence of fixed length per family is unambiguous without separators. Memory matters
 * here (one key per cached entry, issue 8): a template literal such as `${a}|${b}|…` is kept by
 * V8 as a rope of ~20 cons-strings plus one string per number, ≈540 bytes per key even after
 * Map.set; this IPv4 key is one flat 12-unit string (≈40 bytes). IPv6 keys share the tuple's
 * own 16-char address strings (two cons nodes, no copy). Keys are never parsed or printed.
 */
import { finish, mix, mixString } from '../core/hash';
import type { Expectation, Flow, Tuple } from './flow';

/** Key of one tuple: IPv4 11 units, IPv6 7 + 32 units; the first unit is the family. */
export function tupleKey(t: Tuple): string {
  const s = t.src;
  if (typeof s === 'number') {
    const d = t.dst as number;
    return String.fromCharCode(t.family, t.proto, s >>> 16, s & 0xffff, d >>> 16, d & 0xffff, t.sport, t.dport, t.icmpType, t.icmpCode, t.icmpId);
  }
  return String.fromCharCode(t.family, t.proto, t.sport, t.dport, t.icmpType, t.icmpCode, t.icmpId) + s + (t.dst as string);
}

export function flowKey(f: Flow): string {
  const t = f.orig;
  const s = t.src;
  // IPv4 (the common case): zone + tuple in one flat string, no concatenation
  if (typeof s === 'number') {
    const d = t.dst as number;
    return String.fromCharCode(f.zone ?? 0, t.family, t.proto, s >>> 16, s & 0xffff, d >>> 16, d & 0xffff, t.sport, t.dport, t.icmpType, t.icmpCode, t.icmpId);
  }
  return String.fromCharCode(f.zone ?? 0, t.family, t.proto, t.sport, t.dport, t.icmpType, t.icmpCode, t.icmpId) + s + (t.dst as string);
}

export function expectationKey(e: Expectation): string {
  // tuple keys have a fixed length per family (their first unit), so plain concatenation is
  // unambiguous
  return String.fromCharCode(e.zone ?? 0) + tupleKey(e.master) + tupleKey(e.tuple);
}

// ---------------------------------------------------------------------------------------------
// Numeric hashes + field comparison: what the caches index by (cache/hash-index.ts). They cover
// exactly the fields of flowKey()/expectationKey(), so "same key" means the same thing in both.
// ---------------------------------------------------------------------------------------------

function mixTuple(h: number, t: Tuple): number {
  const s = t.src;
  if (typeof s === 'number') {
    h = mix(h, s);
    h = mix(h, t.dst as number);
  } else {
    h = mixString(h, s);
    h = mixString(h, t.dst as string);
  }
  h = mix(h, (t.sport << 16) | t.dport);
  h = mix(h, t.proto | (t.family << 8) | (t.icmpType << 16) | (t.icmpCode << 24));
  return mix(h, t.icmpId);
}

function sameTuple(a: Tuple, b: Tuple): boolean {
  return (
    a.src === b.src &&
    a.dst === b.dst &&
    a.sport === b.sport &&
    a.dport === b.dport &&
    a.proto === b.proto &&
    a.family === b.family &&
    a.icmpType === b.icmpType &&
    a.icmpCode === b.icmpCode &&
    a.icmpId === b.icmpId
  );
}

export function flowHash(f: Flow): number {
  return finish(mixTuple(f.zone ?? 0, f.orig));
}

export function sameFlowKey(a: Flow, b: Flow): boolean {
  return sameTuple(a.orig, b.orig) && (a.zone ?? 0) === (b.zone ?? 0);
}

export function expectationHash(e: Expectation): number {
  return finish(mixTuple(mixTuple(e.zone ?? 0, e.master), e.tuple));
}

export function sameExpectationKey(a: Expectation, b: Expectation): boolean {
  return sameTuple(a.tuple, b.tuple) && sameTuple(a.master, b.master) && (a.zone ?? 0) === (b.zone ?? 0);
}
