/**
 * Prints ctnetlink requests built by our encoder as hex (one datagram per line), for
 * capture.sh to send into a scratch netns with nlsend.py. Usage: mkreq.ts <name>...
 * These create the kinds of entries conntrack(8) -I cannot (helper, seq-adj, synproxy,
 * expectations), so the golden dumps cover them too.
 */
import { encodeConntrack, encodeExpectation } from '../../../src/ctnetlink/codec';
import { parseAddr } from '../../../src/flow/address';
import { type Expectation, type Flow, IPS, makeTuple } from '../../../src/flow/flow';
import { NlBuilder } from '../../../src/netlink/message';

const A = parseAddr;
const ESTAB = IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED;
const tcp = (sport: number, dport: number, src = '10.0.0.1', dst = '10.0.0.2') =>
  makeTuple({ family: src.includes(':') ? 10 : 2, src: A(src), dst: A(dst), proto: 6, sport, dport });

const helperMaster: Flow = { orig: tcp(1004, 21), status: ESTAB, timeout: 500, tcp: { state: 3 }, helper: 'ftp', mark: 3 };

const flows: Record<string, Flow> = {
  helper: helperMaster,
  seqadj: {
    orig: tcp(1005, 80),
    status: ESTAB | IPS.SEQ_ADJUST,
    timeout: 500,
    tcp: { state: 3 },
    seqAdjOrig: { correctionPos: 100, offsetBefore: 5, offsetAfter: 10 },
    seqAdjReply: { correctionPos: 200, offsetBefore: 7, offsetAfter: 3 },
  },
  synproxy: { orig: tcp(1006, 80), status: ESTAB, timeout: 500, tcp: { state: 3 }, synproxy: { isn: 1000, its: 2000, tsoff: 3 } },
  v6snat: {
    orig: tcp(2000, 443, '2001:db8::1', '2001:db8::2'),
    status: ESTAB,
    timeout: 300,
    tcp: { state: 3 },
    nat: { snatAddr: A('2001:db8::99'), snatPort: 3000 },
  },
  liberal: { orig: tcp(1007, 80), status: ESTAB, timeout: 500, tcp: { state: 3 } },
};

const exps: Record<string, Expectation> = {
  ftpexp: {
    master: helperMaster.orig,
    tuple: makeTuple({ family: 2, src: A('10.0.0.2'), dst: A('10.0.0.1'), proto: 6, sport: 0, dport: 50000 }),
    mask: makeTuple({ family: 2, src: A('255.255.255.255'), dst: A('255.255.255.255'), proto: 6, sport: 0, dport: 0xffff }),
    timeout: 300,
    helper: 'ftp',
  },
};

const b = new NlBuilder();
let seq = 100;
for (const name of process.argv.slice(2)) {
  b.reset();
  const f = flows[name];
  const e = exps[name];
  if (f) encodeConntrack(b, f, 'create', seq++, { ack: true, beLiberal: name === 'liberal' });
  else if (e) encodeExpectation(b, e, 'create', seq++, { ack: true });
  else throw new Error(`unknown request ${name}`);
  process.stdout.write(`${b.bytes().toString('hex')}\n`);
}
