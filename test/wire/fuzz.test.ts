/**
 * Bounded fuzzing (a few seconds): random bytes, golden mutations, truncations, bad lengths,
 * huge label bitmaps, splices and attribute soups. Nothing escapes walkDatagram + decode, every
 * rejection is counted consistently, and accepted messages re-encode to a fixed point.
 * bench/fuzz-wire.ts runs the same core for >= 1M cases.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { readPcapFile } from '../../src/tools/pcap';
import { CAPTURES, VECTORS } from './fixtures/golden';
import { countersConsistent, KINDS, runFuzz } from './fixtures/fuzz-core';

const corpus = CAPTURES.flatMap((c) => readPcapFile(join(VECTORS, `${c}.pcap`)).map((r) => Buffer.from(r.payload)));

t.test('fuzz: no escape, every rejection counted', async (t) => {
  const started = Date.now();
  const res = runFuzz(60_000, 0xc0ffee, corpus, started + 4000);
  t.ok(res.cases >= 10_000, `ran ${res.cases} cases`);
  t.equal(res.escaped, 0, res.firstProblem ?? 'no exception escaped');
  t.equal(res.unstable, 0, res.firstProblem ?? 'accepted messages re-encode to a fixed point');
  t.ok(countersConsistent(res.stats), 'malformed = sum of reasons; payload = sum of sub-reasons');
  for (const k of KINDS) t.ok(res.byKind[k] > 0, `kind ${k} exercised`);
  const s = res.stats;
  // each family of rejection must actually be reached by the generators
  for (const k of ['truncated', 'badSize', 'badVersion', 'badType', 'unknownAttr', 'badAttrSize', 'attrPastEnd', 'attrTooShort', 'attrTooLong', 'missingTuple'] as const) {
    t.ok(s[k] > 0, `${k} reached (${s[k]})`);
  }
  t.ok(res.accepted > 0, `some cases still decode (${res.accepted})`);
  t.equal(s.datagrams, res.cases, 'every case walked');
});

t.test('fuzz: heap flat across batches (bench/fuzz-wire.ts, small, with --expose-gc)', async (t) => {
  const loader = require.resolve('@isaacs/ts-node-temp-fork-for-pr-2009/register/transpile-only');
  const bench = join(__dirname, '..', '..', 'bench', 'fuzz-wire.ts');
  // a .js entry (-e) that requires the .ts bench through ts-node: tap's child-process hooks
  // would otherwise route a .ts main module through its ESM loader
  const entry = `require(${JSON.stringify(loader)}); require(${JSON.stringify(bench)});`;
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', entry, 'fuzz-wire', '20000', '99'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.match(out, /escaped exceptions 0, unstable re-encodings 0/);
  t.match(out, /counters consistent: true/);
  const m = /heap used: before ([\d.]+) MiB, .* after 20000 ([\d.]+) MiB/.exec(out);
  t.ok(m, 'heap figures printed');
  const grown = Number(m?.[2]) - Number(m?.[1]);
  t.ok(grown < 4, `heap after gc grew ${grown.toFixed(1)} MiB over 20000 cases`);
});
