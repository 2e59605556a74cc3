/**
 * Fuzz: random and mutated datagrams through the whole receive path (framing → nfgenmsg →
 * conntrack / expectation decode → event type). The only error allowed out is
 * CtnetlinkDecodeError. Whatever decodes must re-encode and decode to the same fields
 * (decode → encode → decode stable). Bounded: 20k cases, seeded PRNG (seed printed).
 */
import t from 'tap';
import {
  CtnetlinkDecodeError,
  conntrackEventType,
  decodeConntrack,
  decodeExpectation,
  encodeConntrack,
  statusForKernel,
} from '../../src/ctnetlink/codec';
import type { Flow } from '../../src/flow/flow';
import {
  forEachNlMsg,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NlBuilder,
  type NlMsg,
  nfAttrOff,
  readNfgenFamily,
} from '../../src/netlink/message';
import { loadDatagrams, messages } from './fixtures/load';

const SEED = Number(process.env.CTC_FUZZ_SEED ?? Date.now() % 0xffffffff) >>> 0;
const CASES = Number(process.env.CTC_FUZZ_CASES ?? 20000);
const DEADLINE_MS = Number(process.env.CTC_FUZZ_MS ?? 9000);

let state = SEED || 1;
function rnd(n: number): number {
  // xorshift32
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state % n;
}

const corpus: Buffer[] = [];
for (const name of ['dump.recv.hex', 'events.recv.hex', 'expect.recv.hex', 'insert-snat.send.hex', 'insert-dnat.send.hex']) {
  for (const m of messages(loadDatagrams(name))) corpus.push(Buffer.from(m.buf.subarray(m.payloadOff - 16, m.end)));
}

function mutate(src: Buffer): Buffer {
  const b = Buffer.from(src);
  switch (rnd(6)) {
    case 0: // flip a few random bytes
      for (let i = rnd(8) + 1; i > 0; i--) b[rnd(b.length)] = rnd(256);
      return b;
    case 1: // corrupt a length field region (attribute headers sit at 4-byte boundaries)
      for (let i = rnd(3) + 1; i > 0; i--) {
        const p = 20 + 4 * rnd(Math.max(1, (b.length - 20) >> 2));
        if (p + 1 < b.length) b.writeUInt16LE(rnd(0x10000) & (rnd(2) ? 0xff : 0xffff), p);
      }
      return b;
    case 2: // truncate (keeping nlmsg_len consistent half of the time)
      {
        const cut = b.subarray(0, rnd(b.length) + 1);
        if (cut.length >= 4 && rnd(2)) cut.writeUInt32LE(cut.length, 0);
        return Buffer.from(cut);
      }
    case 3: // splice two corpus messages
      {
        const other = corpus[rnd(corpus.length)]!;
        const out = Buffer.concat([b.subarray(0, rnd(b.length)), other.subarray(rnd(other.length))]);
        if (out.length >= 4) out.writeUInt32LE(out.length, 0);
        return out;
      }
    case 4: // random bytes with a plausible header
      {
        const n = 16 + rnd(300);
        const out = Buffer.alloc(n);
        for (let i = 0; i < n; i++) out[i] = rnd(256);
        out.writeUInt32LE(rnd(4) === 0 ? rnd(n + 40) : n, 0);
        out.writeUInt16LE(rnd(2) ? 0x100 | rnd(3) : 0x200 | rnd(3), 4);
        return out;
      }
    default: // insert a random attribute somewhere after nfgenmsg
      {
        const at = 20 + 4 * rnd(Math.max(1, (b.length - 20) >> 2));
        const plen = rnd(24);
        const a = Buffer.alloc((4 + plen + 3) & ~3);
        a.writeUInt16LE(rnd(3) === 0 ? rnd(0x10000) : 4 + plen, 0);
        a.writeUInt16LE(rnd(40) | (rnd(2) ? 0x8000 : 0), 2);
        for (let i = 4; i < a.length; i++) a[i] = rnd(256);
        const out = Buffer.concat([b.subarray(0, Math.min(at, b.length)), a, b.subarray(Math.min(at, b.length))]);
        out.writeUInt32LE(out.length, 0);
        return out;
      }
  }
}

function view(f: Flow) {
  return {
    orig: f.orig,
    master: f.master,
    status: statusForKernel(f.status ?? 0),
    timeout: f.timeout,
    mark: f.mark,
    zone: f.zone,
    labels: f.labels ? Array.from(f.labels) : undefined,
    helper: f.helper,
    seqAdjOrig: f.seqAdjOrig,
    seqAdjReply: f.seqAdjReply,
    synproxy: f.synproxy,
    nat: f.nat,
  };
}

t.test(`fuzz: ${CASES} mutated/random datagrams (seed ${SEED})`, async (t) => {
  const t0 = Date.now();
  const b = new NlBuilder();
  let ok = 0;
  let rejected = 0;
  let roundTrips = 0;
  let n = 0;
  let mismatch = '';
  for (; n < CASES && Date.now() - t0 < DEADLINE_MS; n++) {
    const input = rnd(10) === 0 ? corpus[rnd(corpus.length)]! : mutate(corpus[rnd(corpus.length)]!);
    try {
      forEachNlMsg(input, 0, input.length, (m: NlMsg) => {
        const fam = readNfgenFamily(m);
        if (m.type >> 8 === NFNL_SUBSYS_CTNETLINK_EXP) {
          decodeExpectation(m.buf, nfAttrOff(m), m.end, fam);
          return;
        }
        const f = decodeConntrack(m.buf, nfAttrOff(m), m.end, fam);
        conntrackEventType(m);
        ok++;
        // decode -> encode -> decode is stable
        b.reset();
        encodeConntrack(b, f, 'create', 1, { ack: true });
        const out = b.bytes();
        forEachNlMsg(out, 0, out.length, (m2) => {
          const g = decodeConntrack(m2.buf, nfAttrOff(m2), m2.end, readNfgenFamily(m2));
          const a = JSON.stringify(view(f), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
          const c = JSON.stringify(view(g), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
          if (a !== c && !mismatch) mismatch = `${input.toString('hex')}\n${a}\n${c}`;
          roundTrips++;
        });
      });
    } catch (e) {
      if (!(e instanceof CtnetlinkDecodeError)) {
        t.fail(`non-typed error ${(e as Error).stack} for input ${input.toString('hex')}`);
        return;
      }
      rejected++;
    }
  }
  t.equal(mismatch, '', 'decode -> encode -> decode stable');
  t.ok(n >= Math.min(CASES, 5000), `${n} cases in ${Date.now() - t0} ms`);
  t.ok(rejected > 0 && ok > 0, `${ok} decoded, ${rejected} rejected with CtnetlinkDecodeError, ${roundTrips} round trips`);
});
