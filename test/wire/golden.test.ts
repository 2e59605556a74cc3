/**
 * Golden vectors (../shared/vectors): every datagram captured from real conntrackd 1.4.7
 * decodes without a rejection into the messages the reference .txt decode shows, and
 * re-encoding the decoded messages reproduces the datagram byte for byte.
 */
import { join } from 'node:path';
import t from 'tap';
import { formatAddr } from '../../src/flow/address';
import {
  DEFAULT_WIRE_OPTIONS,
  decodeDataMessage,
  encodeCt,
  encodeCtl,
  formatFlags,
  formatFlowAttrs,
  formatHeader,
  NET_T,
  typeName,
  WireRxStats,
  walkDatagram,
} from '../../src/sync/wire';
import { readPcapFile } from '../../src/tools/pcap';
import { CAPTURES, parseTxt, VECTORS } from './fixtures/golden';

const opts = DEFAULT_WIRE_OPTIONS;

for (const name of CAPTURES) {
  t.test(name, async (t) => {
    const recs = readPcapFile(join(VECTORS, `${name}.pcap`));
    const txt = parseTxt(join(VECTORS, `${name}.txt`));
    t.equal(recs.length, txt.length, 'pcap and .txt list the same number of datagrams');
    t.ok(recs.length > 200, 'capture has its datagrams');
    const stats = new WireRxStats();
    let identical = 0;
    let messages = 0;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      const want = txt[i]!;
      t.equal(want.n, i + 1, 'datagram numbering');
      const where = `#${want.n}`;
      t.same(
        [r.src, r.sport, r.dst, r.dport, r.payload.length],
        [want.src, want.sport, want.dst, want.dport, want.payloadLen],
        `${where} addresses, ports, payload size`,
      );
      const before = stats.malformed;
      const got: string[] = [];
      const headers: unknown[] = [];
      const out = Buffer.alloc(r.payload.length);
      let o = 0;
      walkDatagram(r.payload, 0, r.payload.length, stats, (h, buf, bodyOff, bodyEnd) => {
        headers.push([typeName(h.type), formatFlags(h.flags), h.seq, h.len, h.from, h.to]);
        if (h.type === NET_T.CTL) {
          got.push(formatHeader(h));
          o = encodeCtl(out, o, h.flags, h.seq, h.from, h.to);
          return;
        }
        const m = decodeDataMessage(h, buf, bodyOff, bodyEnd, stats, opts);
        if (m?.kind !== 'ct') {
          got.push(`REJECTED ${formatHeader(h)}`);
          return;
        }
        t.equal(m.flow.reply, undefined, `${where} decoded flow has no reply tuple`);
        got.push(`${formatHeader(h)} ${formatFlowAttrs(m.flow, opts)}`);
        o = encodeCt(out, o, m.type, h.flags, h.seq, m.flow, opts);
      });
      t.equal(stats.malformed, before, `${where} no rejection`);
      t.same(
        headers,
        want.messages.map((m) => [m.type, m.flags, m.seq, m.len, m.from ?? 0, m.to ?? 0]),
        `${where} headers (type, flags, seq, len, from, to)`,
      );
      t.same(
        got,
        want.messages.map((m) => m.line),
        `${where} messages match the reference decode`,
      );
      if (out.subarray(0, o).equals(r.payload)) identical++;
      else t.fail(`${where} re-encoding differs: ${out.subarray(0, o).toString('hex')} vs ${r.payload.toString('hex')}`);
      messages += want.messages.length;
    }
    t.equal(identical, recs.length, 'every datagram re-encodes byte for byte');
    t.equal(stats.messages, messages, 'message count');
    t.equal(stats.malformed + stats.truncated + stats.badSize + stats.badVersion + stats.malformedPayload, 0, 'no rejection at all');
  });
}

t.test('golden facts', async (t) => {
  const recs = readPcapFile(join(VECTORS, `${CAPTURES[0]}.pcap`));
  const txt = parseTxt(join(VECTORS, `${CAPTURES[0]}.txt`));
  // find the SNAT entry (i=100, to 172.31.200.1:1124): SPAT travels little-endian (spec §3.6)
  const idx = txt.findIndex((d) => d.messages.some((m) => m.attrs.get('SPAT_PORT') === '1124[le]'));
  t.ok(idx >= 0, 'SNAT datagram present');
  const p = recs[idx]!.payload;
  const spat = p.indexOf(Buffer.from([0x00, 0x06, 0x00, 0x0e]));
  t.ok(spat > 0, 'SPAT attribute present');
  t.same([...p.subarray(spat + 4, spat + 6)], [0x64, 0x04], 'port 1124 = bytes 64 04');
  const stats = new WireRxStats();
  walkDatagram(p, 0, p.length, stats, (h, b, s, e) => {
    const m = decodeDataMessage(h, b, s, e, stats, opts);
    if (m?.kind !== 'ct') throw new Error('expected a conntrack');
    t.equal(m.flow.nat?.snatPort, 1124);
    t.equal(formatAddr(m.flow.nat?.snatAddr ?? 0), '172.31.200.1');
    t.equal(m.flow.status, 0x19e);
    t.same(m.flow.synproxy, { its: 0, isn: 0, tsoff: 0 });
  });
});
