/**
 * Readiness (keepalived `track_file`, `ctsyncd status --ready`): a node that starts next to a
 * peer holding 20k flows must not report ready before it has received all of them; a lone node
 * (no peer answers) becomes ready by itself; under 10% loss, too, ready means complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { SyncLab, sleep, waitFor } from '../helpers/sync-lab';
import { readyUnderLoss } from './fixtures/ready-under-loss.repro';
import { cacheRows, cli, inject } from './fixtures/util';

const N = 20_000;

t.test('ready only once the peer state is in', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'] });
  t.teardown(() => lab.destroy());
  const [a, b] = lab.nodes as [NonNullable<(typeof lab.nodes)[0]>, NonNullable<(typeof lab.nodes)[0]>];
  await a.start();
  const r = await inject(a.ns, 'burst', { n: N });
  t.equal(r.count, N, `A: ${N} flows`);
  t.ok(await waitFor(async () => (await cacheRows(a, 'internal')).length === N, 15_000), 'A: internal cache full');

  const readyFile = path.join(b.dir, 'ctl.ready');
  await b.start(false);
  let external = -1;
  let sawNotReady = false;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const v = fs.existsSync(readyFile) ? fs.readFileSync(readyFile, 'utf8').trim() : '';
    if (v === '1') sawNotReady = true;
    if (v === '0') {
      external = (await cacheRows(b, 'external')).length;
      break;
    }
    await sleep(20);
  }
  t.ok(sawNotReady, 'B: the readiness file said "not ready" (1) first');
  t.equal(external, N, 'B: when the readiness file says ready (0), all flows are in the external cache');
  const st = cli(b, ['status', '--ready', '-C', b.confFile]);
  t.equal(st.code, 0, 'B: ctsyncd status --ready exits 0');

  // a lone node: A is gone, B restarts and becomes ready by itself
  t.equal(await a.stop(), 0, 'A exits 0');
  t.equal(await b.stop(), 0, 'B exits 0');
  await b.start();
  const t0 = Date.now();
  t.ok(await waitFor(() => cli(b, ['status', '--ready', '-C', b.confFile]).code === 0, 15_000, 250), 'B alone: ready by itself');
  t.comment(`ready: a lone node became ready ${Date.now() - t0} ms after its socket answered`);
  t.equal(await b.stop(), 0, 'B exits 0');
});

t.test('ready under 10% loss: still only once the peer state is complete', readyUnderLoss);
