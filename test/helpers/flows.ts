/** Flows the whole-daemon tests inject in bulk (used by the daemon and interop injectors). */
import { AF_INET, ipv4, parseAddr } from '../../src/flow/address';
import { type Flow, IPPROTO, IPS, invertTuple, makeTuple } from '../../src/flow/flow';

/** n distinct ESTABLISHED/ASSURED TCP flows 10.a.b.1:sport → 10.200.0.1:80 (offset shifts them). */
export function burstFlows(n: number, offset = 0, timeout = 600): Flow[] {
  const out: Flow[] = new Array(n);
  const dst = parseAddr('10.200.0.1');
  for (let i = 0; i < n; i++) {
    const k = i + offset;
    const src = ipv4((10 << 24) | (((k >>> 14) & 0xff) << 16) | (((k >>> 6) & 0xff) << 8) | 1);
    const orig = makeTuple({ family: AF_INET, src, dst, proto: IPPROTO.TCP, sport: 1024 + (k & 63), dport: 80 });
    out[i] = { orig, reply: invertTuple(orig), status: IPS.SEEN_REPLY | IPS.ASSURED, timeout, tcp: { state: 3 } };
  }
  return out;
}
