/** `ctsyncd wire decode`: text identical to the golden decodes, JSON, rejections, --verify, envelope. */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runWireCommand, runWireDecode } from '../../src/cli/wire';
import { Envelope } from '../../src/sync/envelope';
import { buildPcap, parsePcap, readPcapFile, type UdpToWrite } from '../../src/tools/pcap';
import { CAPTURES, VECTORS } from './fixtures/golden';

async function run(argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const rc = await runWireCommand(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { rc, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'wire-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const golden = (name: string) => join(VECTORS, `${name}.pcap`);
const stripT = (s: string) => s.replace(/ t=\S+/, '');

for (const name of CAPTURES) {
  t.test(`text decode of ${name} equals the reference .txt`, async (t) => {
    const { rc, out } = await run(['decode', golden(name), '--verify']);
    t.equal(rc, 0);
    const ref = readFileSync(join(VECTORS, `${name}.txt`), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('#') || l.startsWith('   v1'))
      .map(stripT);
    const got = out
      .split('\n')
      .filter((l) => l && !l.startsWith('=='))
      .map(stripT);
    t.equal(got.length, ref.length, 'same number of lines');
    t.same(got, ref);
    t.match(out, /reencodeDiffers=0/);
  });
}

t.test('JSON lines', async (t) => {
  const { rc, out } = await run(['decode', golden(CAPTURES[0]), '--json']);
  t.equal(rc, 0);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = lines.pop()!.summary as Record<string, number>;
  t.equal(lines.length, 1302, 'one object per message');
  t.equal(summary.messages, 1302);
  t.equal(summary.datagrams, 394);
  const nack = lines.find((l) => (l.flags as string[]).includes('NACK'))!;
  t.same([nack.type, typeof nack.from, typeof nack.to], ['CTL', 'number', 'number']);
  const snat = lines.find((l) => (l.flow as { nat?: unknown } | undefined)?.nat)!;
  t.same((snat.flow as Record<string, unknown>).nat, { snatAddr: '172.31.200.1', snatPort: 1124 });
  t.same(((snat.flow as Record<string, unknown>).orig as Record<string, unknown>).src, '10.99.0.100');
});

t.test('rejections and --verify differences give a non-zero exit', async (t) => {
  const recs = readPcapFile(golden(CAPTURES[0]));
  const data = recs.find((r) => r.payload.length === 84)!;
  // unknown attribute id in the MARK slot
  const bad = Buffer.from(data.payload);
  bad.writeUInt16BE(40, 8 + 12 + 8 + 8 + 8 + 8 + 8 + 2);
  // same attributes, STATUS swapped before IPV4: accepted by conntrackd, re-encodes differently
  const swapped = Buffer.from(data.payload);
  data.payload.copy(swapped, 8, 20, 28);
  data.payload.copy(swapped, 16, 8, 20);
  const w = (p: Buffer): UdpToWrite => ({ src: '10.0.0.1', dst: '10.0.0.2', sport: 3780, dport: 3780, payload: p });
  const f1 = join(dir, 'bad.pcap');
  writeFileSync(f1, buildPcap([w(data.payload), w(bad)]));
  let r = await run(['decode', f1]);
  t.equal(r.rc, 1);
  t.match(r.out, /REJECTED malformedPayload,unknownAttr/);
  t.match(r.out, /rejected=1/);
  const f2 = join(dir, 'swapped.pcap');
  writeFileSync(f2, buildPcap([w(swapped)], 113));
  r = await run(['decode', f2]);
  t.equal(r.rc, 0, 'decodes fine without --verify');
  r = await run(['decode', f2, '--verify']);
  t.equal(r.rc, 1);
  t.match(r.out, /VERIFY: re-encoding differs at byte 9 \(84 bytes re-encoded, 84 received\)/);
  r = await run(['decode', f2, '--verify', '--json']);
  t.match(r.out, /"verify":"differs"/);
});

t.test('envelope decode; usage and key errors', async (t) => {
  const key = join(dir, 'k1');
  writeFileSync(key, 'cd'.repeat(32));
  chmodSync(key, 0o600);
  const env = new Envelope({ nodeId: 42, keys: [{ id: 1, key: Buffer.from('cd'.repeat(32), 'hex') }] });
  const recs = readPcapFile(golden(CAPTURES[1])).slice(0, 50);
  const sealed = recs.map((r) => ({ src: 'fd00::1', dst: 'ff02::1', sport: 3780, dport: 3780, payload: env.seal(r.payload) }));
  sealed.push({ ...sealed[3]! }); // a replay
  const f = join(dir, 'env.pcap');
  writeFileSync(f, buildPcap(sealed, 276));
  t.equal(parsePcap(readFileSync(f))[0]!.src, 'fd00::1', 'IPv6 over cooked v2 parsed');
  let r = await run(['decode', f, '--verify', '--envelope-key', key]);
  t.equal(r.rc, 1, 'the replayed datagram makes it non-zero');
  t.match(r.out, /DROPPED envelope: replay/);
  t.match(r.out, /envelopeDropped=1/);
  t.equal((r.out.match(/DROPPED/g) ?? []).length, 1);
  r = await run(['decode', f]);
  t.equal(r.rc, 1, 'without the key every datagram is rejected as a whole');
  t.match(r.out, / messages=0 rejected=51 malformed=51 truncated=0 badSize=51 /, 'as bad size, ciphertext never parsed');
  const loose = join(dir, 'loose');
  writeFileSync(loose, 'cd'.repeat(32));
  chmodSync(loose, 0o644);
  r = await run(['decode', f, '--envelope-key', loose]);
  t.equal(r.rc, 2);
  t.match(r.err, /accessible by group\/others/);
  t.equal((await run(['decode'])).rc, 2);
  t.equal((await run(['frobnicate'])).rc, 2);
  t.equal((await run(['decode', f, '--bogus'])).rc, 2);
  t.equal((await runWireDecode([join(dir, 'missing.pcap')], { out: () => {}, err: () => {} })), 2);
});
