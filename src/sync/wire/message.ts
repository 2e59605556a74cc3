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
  if (h.type > NET_T.STATE_EXP_DEL) {
    stats.badType++;
    stats.malformed++;
    return null;
  }
  try {
    if (h.type <= NET_T.STATE_CT_DEL) {
      return { kind: 'ct', type: h.type as 0 | 1 | 2, flow: decodeCtBody(buf, bodyOff, bodyEnd, opts) };
    }
    return { kind: 'exp', type: h.type as 3 | 4 | 5, exp: decodeExpBody(buf, bodyOff, bodyEnd, opts) };
  } catch (err) {
    if (!(err instanceof WireDecodeError)) throw err;
    stats.malformedPayload++;
    stats.malformed++;
    stats[err.reason]++;
    return null;
  }
}
