/**
 * Issue 5: `-n` against a conntrackd 1.4.7 peer is answered by exactly one bulk. conntrackd
 * acknowledges our RESYNC only on its 1 s ALIVE tick, re-armed by its own bulk answer, so a
 * RESYNC retried after 1 s without an ACK made conntrackd send its whole table again about a
 * second later; in the primary-backup.sh sequence that late bulk refilled the external cache the
 * primary branch had just flushed (-f). conntrackd logs "resync requested by other node" per
 * RESYNC it receives: the test counts those lines.
 */
import t from 'tap';
import { type LabNode, sleep, waitFor } from '../helpers/sync-lab';
import { startPair } from './fixtures/scenario';

const requests = (n: LabNode) => (n.log.match(/resync requested by other node/g) ?? []).length;

t.test('-n from ctsyncd: one RESYNC, one bulk from conntrackd', async (t) => {
  const p = await startPair(t, ['ctsyncd', 'conntrackd'], { mode: 'ftfw', transport: 'udp' });
  const [ours, theirs] = [p.a, p.b];
  for (let i = 0; i < 20; i++) theirs.conntrack(`-I -p tcp -s 10.41.0.${i + 1} -d 10.41.1.1 --sport 45000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED`);
  // start-up requests (ours asks at start, once more if the answer's head may be lost) settle
  let last = -1;
  t.ok(
    await waitFor(
      async () => {
        const n = requests(theirs);
        const stable = n === last && n > 0;
        last = n;
        return stable;
      },
      15_000,
      2500,
    ),
    `start-up RESYNCs settled (${last})`,
  );
  const before = requests(theirs);
  for (let k = 0; k < 3; k++) {
    t.equal(ours.client(['-n']).code, 0, `-n #${k + 1} exits 0`);
    await sleep(1300);
  }
  await sleep(4000); // past two retry intervals (1 s, then 2 s)
  t.equal(requests(theirs) - before, 3, `conntrackd received one RESYNC per -n (${requests(theirs) - before} for 3)`);
});
