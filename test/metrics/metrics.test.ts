/**
 * Scrapes a fake MetricsSource over real HTTP on 127.0.0.1 (ephemeral port); checks names,
 * HELP/TYPE lines and values; /healthz follows readiness; alert rules pass promtool; the
 * Grafana dashboard only references metrics that exist.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import {
  createMetricsRegistry,
  exposedSeriesNames,
  linkSnapshotFromStats,
  METRIC_DEFS,
  type MetricsSource,
  PlainHistogram,
  SYNC_LAG_BUCKETS,
  startMetricsServer,
} from '../../src/metrics';

const root = path.resolve(__dirname, '../..');

function fakeSource() {
  const lag = new PlainHistogram([0.001, 0.01, 0.1]);
  for (const v of [0.0005, 0.005, 0.005, 0.05, 7]) lag.observe(v);
  const commitDur = new PlainHistogram([1, 10]);
  commitDur.observe(0.5);
  const state = { ready: false, peerMsgs: 10 };
  const src: MetricsSource = {
    ready: () => state.ready,
    syncLag: () => lag,
    oldestUnackedSeconds: () => 1.25,
    peers: () => [
      {
        peer: '10.255.0.2',
        lastMessageAgeSeconds: 0.5,
        messagesSent: state.peerMsgs,
        messagesReceived: 20,
        bytesSent: 1000,
        bytesReceived: 2000,
        nacksSent: 1,
        nacksReceived: 2,
        resentMessages: 3,
        sequenceGaps: 4,
        rejectedByReason: { bad_version: 5, truncated: 6 },
        authFailures: 7,
      },
    ],
    links: () => [
      linkSnapshotFromStats(
        {
          name: 'eth1',
          up: true,
          active: true,
          lastReceiveAt: 1000,
          channel: { sentDatagrams: 11, sentBytes: 1100, receivedDatagrams: 12, receivedBytes: 1200, sendErrors: 13, strangerDrops: 14 },
        },
        3500,
      ),
      linkSnapshotFromStats(
        { name: 'eth2', up: false, active: false, lastReceiveAt: -1, channel: { sentDatagrams: 0, sentBytes: 0, receivedDatagrams: 0, receivedBytes: 0, sendErrors: 0, strangerDrops: 0 } },
        3500,
      ),
    ],
    queues: () => ({ txDepth: 21, resendDepth: 22, resendOverflowDrops: 23 }),
    caches: () => [
      { cache: 'internal', entries: 31, limitRefusals: 0 },
      { cache: 'external', entries: 32, limitRefusals: 33 },
    ],
    kernel: () => ({ eventsByType: { new: 41, update: 42, destroy: 43 }, netlinkOverruns: 44, resyncs: 45, netlinkBufferBytes: 212992 }),
    commit: () => ({ duration: commitDur, entriesCommitted: 51, failedByReason: { EEXIST: 52 } }),
  };
  return { src, state };
}

/** Parses exposition text into { "name{labels}": value } plus help/type maps. */
function parse(text: string) {
  const values = new Map<string, number>();
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      help.set(m[1]!, m[2]!);
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      type.set(m[1]!, m[2]!);
      continue;
    }
    m = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (m) values.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return { values, help, type };
}

t.test('scrape over HTTP: names, help, values; /healthz follows readiness', async (t) => {
  const { src, state } = fakeSource();
  const procDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsyncd-metrics-'));
  t.teardown(() => fs.rmSync(procDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(procDir, 'nf_conntrack_count'), '1234\n');
  fs.writeFileSync(path.join(procDir, 'nf_conntrack_max'), '262144\n');
  const registry = createMetricsRegistry(src, { netfilterSysctlDir: procDir });
  const server = await startMetricsServer({ address: '127.0.0.1', port: 0, registry, ready: () => state.ready });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${server.address.port}`;

  t.equal((await fetch(`${base}/healthz`)).status, 503, 'not ready → 503');
  state.ready = true;
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'ready → 200');
  t.equal((await fetch(`${base}/other`)).status, 404);
  t.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

  const res = await fetch(`${base}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/plain; version=0\.0\.4/);
  const { values, help, type } = parse(await res.text());

  for (const d of METRIC_DEFS) {
    t.ok(help.get(d.name), `${d.name} has HELP`);
    t.equal(type.get(d.name), d.type, `${d.name} TYPE`);
    t.match(d.name, /^ctsyncd_[a-z0-9_]+$/);
    if (d.type === 'counter') t.match(d.name, /_total$/, `${d.name}: counters end in _total`);
    else t.notMatch(d.name, /_total$/);
  }
  t.equal(values.get('ctsyncd_ready'), 1);
  t.equal(values.get('ctsyncd_oldest_unacked_seconds'), 1.25);
  // histogram from plain, non-cumulative counters → cumulative buckets
  t.equal(values.get('ctsyncd_sync_lag_seconds_bucket{le="0.001"}'), 1);
  t.equal(values.get('ctsyncd_sync_lag_seconds_bucket{le="0.01"}'), 3);
  t.equal(values.get('ctsyncd_sync_lag_seconds_bucket{le="0.1"}'), 4);
  t.equal(values.get('ctsyncd_sync_lag_seconds_bucket{le="+Inf"}'), 5);
  t.equal(values.get('ctsyncd_sync_lag_seconds_count'), 5);
  t.ok(Math.abs(values.get('ctsyncd_sync_lag_seconds_sum')! - 7.0605) < 1e-9);
  t.equal(values.get('ctsyncd_commit_duration_seconds_bucket{le="1"}'), 1);
  const p = '{peer="10.255.0.2"}';
  t.equal(values.get(`ctsyncd_peer_last_message_age_seconds${p}`), 0.5);
  t.equal(values.get(`ctsyncd_peer_sent_messages_total${p}`), 10);
  t.equal(values.get(`ctsyncd_peer_received_bytes_total${p}`), 2000);
  t.equal(values.get(`ctsyncd_peer_nacks_received_total${p}`), 2);
  t.equal(values.get(`ctsyncd_peer_sequence_gaps_total${p}`), 4);
  t.equal(values.get('ctsyncd_peer_rejected_messages_total{peer="10.255.0.2",reason="truncated"}'), 6);
  t.equal(values.get(`ctsyncd_peer_auth_failures_total${p}`), 7);
  t.equal(values.get('ctsyncd_link_up{link="eth1"}'), 1);
  t.equal(values.get('ctsyncd_link_up{link="eth2"}'), 0);
  t.equal(values.get('ctsyncd_link_active{link="eth2"}'), 0);
  t.equal(values.get('ctsyncd_link_last_receive_age_seconds{link="eth1"}'), 2.5);
  t.notOk(values.has('ctsyncd_link_last_receive_age_seconds{link="eth2"}'), 'never received: no sample');
  t.equal(values.get('ctsyncd_link_send_errors_total{link="eth1"}'), 13);
  t.equal(values.get('ctsyncd_link_dropped_datagrams_total{link="eth1",reason="unknown_source"}'), 14);
  t.equal(values.get('ctsyncd_tx_queue_messages'), 21);
  t.equal(values.get('ctsyncd_resend_queue_overflow_drops_total'), 23);
  t.equal(values.get('ctsyncd_cache_limit_refusals_total{cache="external"}'), 33);
  t.equal(values.get('ctsyncd_kernel_conntrack_entries'), 1234);
  t.equal(values.get('ctsyncd_kernel_conntrack_limit'), 262144);
  t.equal(values.get('ctsyncd_kernel_events_total{type="destroy"}'), 43);
  t.equal(values.get('ctsyncd_kernel_netlink_overruns_total'), 44);
  t.equal(values.get('ctsyncd_kernel_netlink_buffer_bytes'), 212992);
  t.equal(values.get('ctsyncd_commit_failures_total{reason="EEXIST"}'), 52);

  // values are read at scrape time, not cached
  state.peerMsgs = 99;
  const again = parse(await (await fetch(`${base}/metrics`)).text());
  t.equal(again.values.get(`ctsyncd_peer_sent_messages_total${p}`), 99);
});

t.test('missing nf_conntrack sysctls: no sample rather than a fake value', async (t) => {
  const { src } = fakeSource();
  const registry = createMetricsRegistry(src, { netfilterSysctlDir: '/nonexistent-ctsyncd' });
  const { values, type } = parse(await registry.metrics());
  t.equal(type.get('ctsyncd_kernel_conntrack_entries'), 'gauge');
  t.notOk(values.has('ctsyncd_kernel_conntrack_entries'));
});

t.test('PlainHistogram buckets', async (t) => {
  const h = new PlainHistogram(SYNC_LAG_BUCKETS);
  h.observe(0.0005); // le = first bound (inclusive)
  h.observe(100);
  t.equal(h.counts[0], 1);
  t.equal(h.counts[SYNC_LAG_BUCKETS.length], 1);
});

t.test('alert rules pass promtool and reference existing metrics', async (t) => {
  const file = path.join(root, 'monitoring/ctsyncd-alerts.yml');
  const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  t.match(out, /SUCCESS: \d+ rules found/);
  const names = exposedSeriesNames();
  const refs = new Set(fs.readFileSync(file, 'utf8').match(/ctsyncd_[a-z0-9_]+/g) ?? []);
  t.ok(refs.size >= 5);
  for (const r of refs) t.ok(names.has(r), `alert references ${r}`);
});

t.test('grafana dashboard: valid JSON, panels, every metric exists', async (t) => {
  const dash = JSON.parse(fs.readFileSync(path.join(root, 'monitoring/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  t.ok(dash.panels.length >= 10);
  const names = exposedSeriesNames();
  const used = new Set<string>();
  for (const p of dash.panels) {
    t.ok(p.targets.length > 0, `panel ${p.title} has queries`);
    for (const tg of p.targets) for (const m of tg.expr.match(/ctsyncd_[a-z0-9_]+/g) ?? []) used.add(m);
  }
  for (const m of used) t.ok(names.has(m), `dashboard references ${m}`);
  for (const key of ['ctsyncd_sync_lag_seconds_bucket', 'ctsyncd_oldest_unacked_seconds', 'ctsyncd_peer_last_message_age_seconds', 'ctsyncd_commit_failures_total']) {
    t.ok(used.has(key), `dashboard shows ${key}`);
  }
});
