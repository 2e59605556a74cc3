/**
 * The data-message half of conntrackd's per-message processing (spec §1.5 step 6): after the
 * sync mode has seen the header, reject bad types and parse the payload, counting every failure.
 */
import type { Expectation, Flow } from '../../flow/flow';
import { NET_T } from './constants';
import { decodeCtBody } from './ct';
import { WireDecodeError } from './errors';
import { decodeExpBody } from './exp';
import type { NetHeader } from './header';
import type { WireOptions } from './options';
import type { WireRxStats } from './stats';

export type DataMessage = { kind: 'ct'; type: 0 | 1 | 2; flow: Flow } | { kind: 'exp'; type: 3 | 4 | 5; exp: Expectation };

/**
 * Decodes a non-control message. Returns null (counted in stats) for type > 5 (bad type) or a
 * rejected payload (malformedPayload + sub-reason). Never throws for any input bytes.
 * Callers must not pass CTL messages (type 10); they are counted as bad type here.
 */
export function decodeDataMessage(
  h: NetHeader,
  buf: Buffer,
  bodyOff: number,
  bodyEnd: number,
  stats: WireRxStats,
  opts: WireOptions,
): DataMessage | null {
  const d = decodeDataBody(h.type, buf, bodyOff, bodyEnd, stats, opts);
  if (d === null) return null;
  if (h.type <= NET_T.STATE_CT_DEL) return { kind: 'ct', type: h.type as 0 | 1 | 2, flow: d as Flow };
  return { kind: 'exp', type: h.type as 3 | 4 | 5, exp: d as Expectation };
}

/**
 * decodeDataMessage without the wrapper object (the engine's receive hot path, issue 8): the
 * payload of a message of `type` — a Flow for types 0..2, an Expectation for 3..5 — or null,
 * counted exactly as decodeDataMessage counts it.
 */
export function decodeDataBody(
  type: number,
  buf: Buffer,
  bodyOff: number,
  bodyEnd: number,
  stats: WireRxStats,
  opts: WireOptions,
): Flow | Expectation | null {
  if (type > NET_T.STATE_EXP_DEL) {
    stats.badType++;
    stats.malformed++;
    return null;
  }
  try {
    return type <= NET_T.STATE_CT_DEL ? decodeCtBody(buf, bodyOff, bodyEnd, opts) : decodeExpBody(buf, bodyOff, bodyEnd, opts);
  } catch (err) {
    if (!(err instanceof WireDecodeError)) throw err;
    stats.malformedPayload++;
    stats.malformed++;
    stats[err.reason]++;
    return null;
  }
}
