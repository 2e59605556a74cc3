/**
 * Issue 7 §3: SIGHUP reload on a running pair (A has a native JSON config with a metrics
 * endpoint). A valid new file changes the filter (an extra Address Ignore), the log level and
 * the metrics port; the caches survive (A's internal and B's external counts unchanged), new
 * flows matching the new filter are no longer synced while others still are. An invalid file on
 * SIGHUP is refused with a log line and the daemon keeps running with the previous settings. A
changed setting that needs a restart (here the netlink buffer size) is named in a warning. A
metrics port taken by another process fails only the endpoint (logged), the next reload fixes it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import t from 'tap';
import { ask, inject } from '../daemon/fixtures/util';
import { type LabNode, SyncLab, sleep, waitFor } from '../helpers/sync-lab';
import { childEnv, killIfAlive, NsHttp, nativeWithMetrics } from './fixtures/ops';

const N = 50;
const PORT = 9472;
const PORT2 = 9473;
const PORT3 = 9474;

interface Status {
  internal: number;
  external: number;
}

const hasFlow = async (n: LabNode, which: 'internal' | 'external', src: string) =>
  ((await ask<{ orig: { src: string } }[]>(n, { cmd: 'cache', which })) as { orig: { src: string } }[]).some((r) => r.orig.src === src);

t.test('SIGHUP reload: filter, log level, metrics; caches survive; invalid file refused', async (t) => {
  const lab = await SyncLab.create({ daemons: ['ctsyncd', 'ctsyncd'], configOf: nativeWithMetrics(PORT) });
  t.teardown(() => lab.destroy());
  const [a, b] = [lab.nodes[0]!, lab.nodes[1]!];
  const http = new NsHttp(a.ns);
  t.teardown(() => http.close());
  await a.start();
  await b.start();
  const made = await inject<{ created: number }>(a.ns, 'burst', { n: N });
  t.equal(made.created, N, `${N} flows in A's kernel`);
  t.ok(await waitFor(async () => (await ask<Status>(b, { cmd: 'status' })).external === N, 10_000), `B's external cache holds ${N}`);
  const stA0 = await ask<Status>(a, { cmd: 'status' });
  const stB0 = await ask<Status>(b, { cmd: 'status' });
  t.equal(stA0.internal, N, `A's internal cache holds ${N}`);
  t.equal((await http.get(`http://${a.addr}:${PORT}/healthz`)).status, 200, `metrics on port ${PORT} before the reload`);

  // a new filter (ignore 10.88.0.0/16), log level warn, metrics on another port
  const cfg = JSON.parse(a.conf) as {
    filter: { address: { mode: string; cidrs: string[] } };
    general: Record<string, unknown>;
    metrics: { address: string; port: number };
  };
  t.equal(cfg.filter.address.mode, 'ignore', 'the converted config has an Address Ignore list');
  cfg.filter.address.cidrs.push('10.88.0.0/16');
  cfg.general.logLevel = 'warn';
  cfg.metrics.port = PORT2;
  cfg.general.netlinkBufferSize = 16777216; // not applied by a reload: must be reported
  fs.writeFileSync(a.confFile, JSON.stringify(cfg, null, 2));
  const logAt = a.log.length;
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(
    await waitFor(async () => (await http.get(`http://${a.addr}:${PORT2}/healthz`)).status === 200, 5000),
    `metrics endpoint moved to port ${PORT2}`,
  );
  t.ok((await http.get(`http://${a.addr}:${PORT}/healthz`)).error, `nothing listens on port ${PORT} any more`);
  t.notMatch(a.log.slice(logAt), /configuration reloaded/, 'the reload line is info: hidden at the new level warn');
  t.ok(
    await waitFor(() => /"keys":\["general\.netlinkBufferSize"\].*only take effect on a restart/.test(a.log.slice(logAt)), 2000),
    'a changed setting the reload cannot apply is named in a warning',
  );

  const stA1 = await ask<Status>(a, { cmd: 'status' });
  const stB1 = await ask<Status>(b, { cmd: 'status' });
  t.equal(stA1.internal, stA0.internal, `A's internal cache survived (${stA1.internal})`);
  t.equal(stB1.external, stB0.external, `B's external cache unchanged (${stB1.external})`);

  // new flows: one the new filter ignores, one it does not (the second is the barrier)
  a.conntrack('-I -s 10.88.0.5 -d 172.31.1.1 -p tcp --sport 40000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  a.conntrack('-I -s 10.99.0.9 -d 172.31.1.1 -p tcp --sport 40001 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  t.ok(await waitFor(() => hasFlow(b, 'external', '10.99.0.9'), 5000), 'a flow outside the new filter still reaches B');
  await sleep(200);
  t.notOk(await hasFlow(b, 'external', '10.88.0.5'), 'a flow matching the new Address Ignore is not synced');
  t.notOk(await hasFlow(a, 'internal', '10.88.0.5'), '... and not cached on A');
  t.equal((await ask<Status>(b, { cmd: 'status' })).external, N + 1, `B's external cache: ${N} + 1`);

  // log level warn: an info line (commit done) is not written
  let at = a.log.length;
  t.equal(a.client(['-c']).code, 0, '-c on A');
  await sleep(100);
  t.notMatch(a.log.slice(at), /commit done/, 'level warn: the info line "commit done" is not logged');

  // an invalid file: refused, logged, the daemon keeps running with the previous settings
  fs.writeFileSync(a.confFile, JSON.stringify({ ...cfg, mode: 'bogus' }, null, 2));
  at = a.log.length;
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(await waitFor(() => /reload refused/.test(a.log.slice(at)), 5000), `invalid config: "reload refused" logged (${a.log.slice(at).trim().slice(0, 300)})`);
  t.match(a.log.slice(at), /mode/, 'the refusal names the bad key');
  t.equal(a.proc!.exitCode, null, 'the daemon is still running');
  t.equal((await http.get(`http://${a.addr}:${PORT2}/healthz`)).status, 200, 'metrics still served on the reloaded port');
  a.conntrack('-I -s 10.88.0.6 -d 172.31.1.1 -p tcp --sport 40002 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  a.conntrack('-I -s 10.99.0.10 -d 172.31.1.1 -p tcp --sport 40003 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED');
  t.ok(await waitFor(() => hasFlow(b, 'external', '10.99.0.10'), 5000), 'sync goes on after the refused reload');
  await sleep(200);
  t.notOk(await hasFlow(b, 'external', '10.88.0.6'), 'the previous (reloaded) filter is still in force');

  // a metrics port already taken in the namespace: the rest applies, the failure is logged, the
  // daemon runs on (it used to surface as an unhandled rejection, logged as a bug)
  const squatter = spawn('ip', ['netns', 'exec', a.ns, process.execPath, '-e', `require('net').createServer().listen(${PORT3}, '${a.addr}', () => console.log('listening'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: childEnv(),
  });
  t.teardown(() => killIfAlive(squatter.pid));
  t.ok(await new Promise((r) => squatter.stdout!.once('data', () => r(true))), `something else listens on ${PORT3}`);
  cfg.metrics.port = PORT3;
  fs.writeFileSync(a.confFile, JSON.stringify(cfg, null, 2));
  at = a.log.length;
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(await waitFor(() => /reload incomplete: the metrics endpoint could not start/.test(a.log.slice(at)), 5000), 'a metrics port in use: "reload incomplete" logged');
  t.notMatch(a.log.slice(at), /uncaught exception/, 'not as an uncaught exception');
  t.equal(a.proc!.exitCode, null, 'the daemon is still running');
  killIfAlive(squatter.pid);
  cfg.metrics.port = PORT2;
  fs.writeFileSync(a.confFile, JSON.stringify(cfg, null, 2));
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(await waitFor(async () => (await http.get(`http://${a.addr}:${PORT2}/healthz`)).status === 200, 5000), 'the next reload brings the endpoint back');

  // back to info through a valid reload
  cfg.general.logLevel = 'info';
  fs.writeFileSync(a.confFile, JSON.stringify(cfg, null, 2));
  at = a.log.length;
  process.kill(a.proc!.pid!, 'SIGHUP');
  t.ok(await waitFor(() => /configuration reloaded/.test(a.log.slice(at)), 5000), 'level info again: the reload line is logged');
  at = a.log.length;
  t.equal(a.client(['-c']).code, 0, '-c on A');
  t.ok(await waitFor(() => /commit done/.test(a.log.slice(at)), 2000), 'level info: "commit done" is logged again');
  t.equal(await a.stop(), 0, 'A exits 0 on SIGTERM');
});
