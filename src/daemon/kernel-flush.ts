/**
 * `-F`: flush the kernel table selectively — only entries that pass the Filter (spec §5.4,
 * §6: filtered-out entries are kept). Deletions go through our command socket, so the events
 * they cause carry our port id and are not replicated.
 *
 * Expectations go first, as in conntrackd (it flushes the expect table through its flush socket
 * before the forked child's conntrack flush has run). The order matters: when the kernel deletes
 * a master conntrack it drops the master's expectations itself and reports those destroys with
 * port id 0, which no daemon can tell from a real expiry — they would be replicated as EXP_DEL
 * and empty the peer's external expectation cache (found by test/interop: conntrackd's commit
 * after our -F then had no expectation left to create).
 */
import type { Flow } from '../flow/flow';
import type { Daemon } from './daemon';

export async function flushKernel(d: Daemon, what: { ct: boolean; exp: boolean }): Promise<{ deleted: number; failed: number }> {
  let deleted = 0;
  let failed = 0;
  if (what.exp) {
    for await (const chunk of d.client.dumpExpectations()) {
      if (chunk.length === 0) continue;
      d.client.deleteExpectations(chunk);
    }
  }
  if (what.ct) {
    for await (const chunk of d.client.dump()) {
      const doomed: Flow[] = chunk.filter((f) => d.filter.verdict(f) === 'pass');
      if (doomed.length === 0) continue;
      const r = d.client.deleteBatch(doomed);
      for (const e of r.errnos) {
        if (e === 0 || e === 2 /* ENOENT: already gone */) deleted++;
        else failed++;
      }
    }
  }
  if (failed > 0) d.log.warn({ deleted, failed }, 'kernel flush: some entries could not be deleted');
  return { deleted, failed };
}
