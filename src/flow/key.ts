/**
 * Cache key: zone + original tuple (spec §5.1), never the kernel id. Plain string so it works
 * as a Map key; cheap to build (no address formatting).
 */
import type { Expectation, Flow, Tuple } from './flow';

export function tupleKey(t: Tuple): string {
  return `${t.family}|${t.proto}|${t.src}|${t.dst}|${t.sport}|${t.dport}|${t.icmpType}|${t.icmpCode}|${t.icmpId}`;
}

export function flowKey(f: Flow): string {
  return `${f.zone ?? 0}|${tupleKey(f.orig)}`;
}

export function expectationKey(e: Expectation): string {
  return `${e.zone ?? 0}|${tupleKey(e.master)}|${tupleKey(e.tuple)}`;
}
