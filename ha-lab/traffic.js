#!/usr/bin/env node
'use strict';
// ha-lab traffic tool: N long-lived TCP connections exchanging numbered messages through the
// firewall pair, to tell whether each connection survived a fail-over on the same socket.
//
//   node traffic.js server --host IP --port P [--lifetime S]
//   node traffic.js client --target IP --port P --conns N [--source IP] [--interval MS] [--after S]
//        [--max-run S] [--drain-ms MS] [--stall-ms MS] [--ready-file F] [--mark-file F] [--report F]
//
// Protocol: the client sends "<n>\n" (n = 1, 2, 3 ... per connection) every --interval ms; the
// server checks the numbering and echoes each line back. The client checks the echoes: a number
// other than last+1 is a gap (lower: a duplicate). Every echo is "progress".
//
// Client timeline: connect all (bounded), wait for the first echo on each, then write --ready-file
// and print READY. The orchestrator sends SIGUSR1 at the fail-over moment and SIGUSR2 when the
// promotion is done; the client keeps going for --after s after SIGUSR2 (see there; without it: 30 s
// after SIGUSR1, or --max-run s after READY without any signal), stops sending,
// waits up to --drain-ms for outstanding echoes, then writes the JSON report (stdout and --report).
//
// Per connection: survived = no reset/error/close, no gap or duplicate, every message echoed
// (hence: same socket, nothing lost). outageMs = the interval without progress that spans the
// fail-over mark (last echo before it to first echo after it); maxGapMs = the longest interval
// without progress over the whole run. Everything is bounded in count and time.

const net = require('node:net');
const fs = require('node:fs');

function parseArgs(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      o[a.slice(2)] = argv[i + 1];
      i++;
    } else o._.push(a);
  }
  return o;
}

function num(v, dflt, min, max) {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`bad numeric option ${v}`);
  return n;
}

// Splits a byte stream into "\n"-terminated integers.
function lineReader(onNumber) {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('latin1');
    let i = buf.indexOf('\n');
    while (i >= 0) {
      onNumber(Number(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
    if (buf.length > 64) buf = ''; // garbage; the numbering check will flag it
  };
}

function server(o) {
  const host = o.host;
  const port = num(o.port, 5001, 1, 65535);
  const lifetime = num(o.lifetime, 300, 1, 3600);
  const stats = { conns: 0, gaps: 0, resets: 0 };
  const srv = net.createServer((sock) => {
    stats.conns++;
    let expect = 1;
    sock.setNoDelay(true);
    sock.on('data', lineReader((n) => {
      if (n !== expect) stats.gaps++;
      expect = n + 1;
      sock.write(`${n}\n`);
    }));
    sock.on('error', () => {
      stats.resets++;
    });
  });
  srv.maxConnections = 20000;
  srv.listen({ host, port, backlog: 1024 }, () => process.stdout.write(`LISTENING ${host}:${port}\n`));
  const stop = () => {
    process.stdout.write(`${JSON.stringify({ server: stats })}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, lifetime * 1000).unref();
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function client(o) {
  const target = o.target;
  const port = num(o.port, 5001, 1, 65535);
  const nConns = num(o.conns, 1, 1, 20000);
  const interval = num(o.interval, 100, 10, 10000);
  const after = num(o.after, 6, 0, 600);
  const maxRun = num(o.maxrun ?? o['max-run'], 60, 1, 3600);
  const drainMs = num(o['drain-ms'], 3000, 0, 60000);
  const stallMs = num(o['stall-ms'], 3000, 100, 600000);
  const connectMs = num(o['connect-ms'], 10000, 100, 120000);
  const t0 = Date.now();
  const rel = () => Date.now() - t0;
  const conns = [];
  let phase = 'connect'; // connect -> run -> drain -> done
  let failoverAt = null;
  let readyAt = null;
  let stopTimer = null;
  let sendTimers = [];

  // Hard bound on the whole run, whatever happens.
  const hardStop = setTimeout(() => finish('hard deadline'), (connectMs + maxRun * 1000 + drainMs + 5000));

  function mkConn(id) {
    const c = {
      id, sock: null, localPort: 0, connected: false, sent: 0, echoed: 0, gap: 0, dup: 0,
      reset: false, error: null, closed: false, lastProgress: 0, maxGapMs: 0,
      // Progress times since the previous stall (bounded ring) and the long gaps seen, so the
      // outage is measured against the orchestrator's own fail-over timestamp (--mark-file),
      // not against when this process happened to handle the signal.
      recent: [], longGaps: [],
    };
    const sock = net.connect(o.source ? { host: target, port, localAddress: o.source } : { host: target, port });
    c.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      c.connected = true;
      c.localPort = sock.localPort;
      c.lastProgress = rel();
      send(c);
    });
    sock.on('data', lineReader((n) => {
      const now = rel();
      if (n === c.echoed + 1) c.echoed = n;
      else if (n <= c.echoed) c.dup++;
      else {
        c.gap++;
        c.echoed = n;
      }
      if (phase !== 'connect') {
        const g = now - c.lastProgress;
        c.maxGapMs = Math.max(c.maxGapMs, g);
        if (g > 1.5 * interval && c.longGaps.length < 200) c.longGaps.push([c.lastProgress, now]);
      }
      c.lastProgress = now;
      c.recent.push(now);
      if (c.recent.length > 256) c.recent.shift();
      if (phase === 'connect') checkReady();
      if (phase === 'drain') checkDrained();
    }));
    sock.on('error', (e) => {
      c.error = e.code || e.message;
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') c.reset = true;
    });
    sock.on('close', () => {
      if (phase !== 'done') c.closed = true;
      if (phase === 'drain') checkDrained();
    });
    return c;
  }

  function send(c) {
    if (c.closed || c.error || phase === 'drain' || phase === 'done') return;
    c.sent++;
    c.sock.write(`${c.sent}\n`);
  }

  function checkReady() {
    if (readyAt !== null) return;
    if (!conns.every((c) => c.echoed > 0)) return;
    readyAt = rel();
    phase = 'run';
    // Stagger the per-connection timers over one interval so the load is even.
    conns.forEach((c, i) => {
      const t = setTimeout(() => {
        sendTimers.push(setInterval(() => send(c), interval));
      }, Math.floor((i * interval) / conns.length));
      sendTimers.push(t);
    });
    if (o['ready-file']) fs.writeFileSync(o['ready-file'], `${Date.now()}\n`);
    process.stdout.write(`READY ${conns.length} connections in ${readyAt} ms\n`);
    stopTimer = setTimeout(startDrain, maxRun * 1000);
  }

  function startDrain() {
    if (phase !== 'run') return;
    phase = 'drain';
    for (const t of sendTimers) clearInterval(t);
    sendTimers = [];
    setTimeout(() => finish('drain timeout'), drainMs);
    checkDrained();
  }

  function checkDrained() {
    if (conns.every((c) => c.closed || c.error || c.echoed >= c.sent)) finish('drained');
  }

  process.on('SIGUSR1', () => {
    if (failoverAt !== null || phase !== 'run') return;
    failoverAt = rel();
    // The orchestrator writes the epoch ms of the failure before signalling.
    try {
      const ms = Number(fs.readFileSync(o['mark-file'], 'utf8'));
      if (Number.isFinite(ms) && ms > t0) failoverAt = ms - t0;
    } catch {
      // no mark file: the signal time stands
    }
    process.stdout.write(`FAILOVER mark at ${failoverAt} ms\n`);
    // Until SIGUSR2 (promotion done) re-arms it, the run is bounded by a 30 s grace.
    clearTimeout(stopTimer);
    stopTimer = setTimeout(startDrain, Math.max(after, 30) * 1000);
  });
  // SIGUSR2: the orchestrator finished promoting fwB. Keep going for --after s from now, and at
  // least as long again as the promotion took: a connection whose retransmission timer backed off
  // during a slow promotion resumes up to about that much later (the RTO doubles), and a slow
  // daemon should show up as a long outage, not as a lost connection.
  process.on('SIGUSR2', () => {
    if (failoverAt === null || phase !== 'run') return;
    const took = rel() - failoverAt;
    clearTimeout(stopTimer);
    stopTimer = setTimeout(startDrain, Math.max(after * 1000, took + 1000));
    process.stdout.write(`PROMOTED mark ${took} ms after the failover\n`);
  });
  process.on('SIGTERM', () => finish('terminated'));

  function finish(why) {
    if (phase === 'done') return;
    const endedIn = phase;
    phase = 'done';
    clearTimeout(hardStop);
    const end = rel();
    const per = conns.map((c) => {
      const complete = c.connected && c.echoed >= c.sent && c.sent > 0;
      const broken = c.reset || c.error !== null || c.closed;
      // A connection still waiting for echoes at the end has been without progress since then.
      const gapNow = complete ? 0 : end - c.lastProgress;
      const maxGapMs = Math.max(c.maxGapMs, gapNow);
      let outageMs = null;
      if (failoverAt !== null) {
        // The interval without progress that spans the mark: last echo before it to first after
        // it (or the end), and any long gap that ended after the mark.
        const fa = failoverAt;
        const before = c.recent.filter((x) => x < fa).at(-1) ?? fa;
        const after = c.recent.find((x) => x >= fa) ?? end;
        outageMs = Math.max(after - before, ...c.longGaps.filter(([, e]) => e >= fa).map(([b, e]) => e - b));
      }
      const stalled = !complete || maxGapMs > stallMs;
      const survived = c.connected && !broken && c.gap === 0 && c.dup === 0 && complete;
      return {
        id: c.id, localPort: c.localPort, survived, sent: c.sent, echoed: c.echoed, gap: c.gap,
        dup: c.dup, reset: c.reset, error: c.error, closed: c.closed, stalled, maxGapMs, outageMs,
      };
    });
    const outages = per.map((p) => p.outageMs).filter((x) => x !== null).sort((a, b) => a - b);
    const survivedOutages = per.filter((p) => p.survived && p.outageMs !== null)
      .map((p) => p.outageMs).sort((a, b) => a - b);
    const errors = {};
    for (const p of per) if (p.error) errors[p.error] = (errors[p.error] || 0) + 1;
    const report = {
      why, endedIn, conns: nConns, connected: per.filter((p) => p.localPort).length,
      survived: per.filter((p) => p.survived).length,
      failed: per.filter((p) => !p.survived).length,
      resets: per.filter((p) => p.reset).length,
      closed: per.filter((p) => p.closed).length,
      errors,
      gaps: per.reduce((s, p) => s + p.gap, 0),
      dups: per.reduce((s, p) => s + p.dup, 0),
      stalled: per.filter((p) => p.stalled).length,
      sent: per.reduce((s, p) => s + p.sent, 0),
      echoed: per.reduce((s, p) => s + p.echoed, 0),
      readyAtMs: readyAt, failoverAtMs: failoverAt, endAtMs: end,
      outageMs: { max: outages.at(-1) ?? null, p50: pct(outages, 50), p99: pct(outages, 99) },
      survivedOutageMs: { max: survivedOutages.at(-1) ?? null, p50: pct(survivedOutages, 50) },
      maxGapMs: per.reduce((m, p) => Math.max(m, p.maxGapMs), 0),
      perConn: per,
    };
    const text = JSON.stringify(report);
    if (o.report) fs.writeFileSync(o.report, `${text}\n`);
    process.stdout.write(`REPORT ${text}\n`);
    for (const c of conns) c.sock.destroy();
    process.exit(0);
  }

  // Connect in batches of 100 so 500 SYNs do not all hit the backlog in the same tick.
  let next = 0;
  const batch = () => {
    for (let k = 0; k < 100 && next < nConns; k++) conns.push(mkConn(next++));
    if (next < nConns) setTimeout(batch, 20);
  };
  batch();
  setTimeout(() => {
    if (readyAt === null) finish('connect timeout');
  }, connectMs);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o._[0] === 'server') server(o);
  else if (o._[0] === 'client') client(o);
  else {
    process.stderr.write('usage: traffic.js server|client [options] (see header)\n');
    process.exit(2);
  }
}

main();
