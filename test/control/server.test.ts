/**
 * Control server + client over real UNIX sockets in a temp dir; plus conntrackd 1.4.7's own
 * client talking to our server (protocol compatibility, spec §8).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runClient } from '../../src/cli/client';
import { controlJson, controlRequest } from '../../src/control/client';
import { CTL_REQ, CTSYNC_JSON, encodeJsonRequest, formatCommitStatus, isCommit } from '../../src/control/protocol';
import { type ControlHandler, ControlServer, type ControlServerOptions } from '../../src/control/server';

const dir = mkdtempSync(join(tmpdir(), 'ctsy-control-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = () => join(dir, `s${n++}.ctl`);

const servers: ControlServer[] = [];
t.teardown(async () => {
  for (const s of servers) await s.close();
});

async function startServer(handler: ControlHandler, extra: Partial<ControlServerOptions> = {}, path = sockPath()) {
  const s = new ControlServer({ path, handler, ...extra });
  servers.push(s);
  await s.start();
  return s;
}

function rawRequest(path: string, bytes: Buffer[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ path });
    const out: Buffer[] = [];
    c.on('connect', async () => {
      for (const b of bytes) {
        c.write(b);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    c.on('data', (d) => out.push(d));
    c.on('close', () => resolve(Buffer.concat(out).toString()));
    c.on('error', reject);
  });
}

const STATS_TEXT = 'cache internal:\ncurrent active connections:\t           4\n';

const basicHandler: ControlHandler = (code) => {
  if (code === CTL_REQ.STATS) return STATS_TEXT;
  if (code === CTL_REQ.STATS_RSQUEUE) return 'resent queue (len=0)\n';
  if (code === CTL_REQ.SEND_BULK) return '';
  return undefined;
};

t.test('socket file is a 0600 socket and answers a request', async (t) => {
  const s = await startServer(basicHandler);
  const st = lstatSync(s.path);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o600);
  t.equal(await controlRequest(s.path, CTL_REQ.STATS), STATS_TEXT);
  t.equal(await controlRequest(s.path, CTL_REQ.STATS_RSQUEUE), 'resent queue (len=0)\n');
  t.equal(await controlRequest(s.path, CTL_REQ.SEND_BULK), '', 'known request without output');
  t.equal(s.stats.requests, 3);
  t.equal(s.stats.unknownRequests, 0);
});

t.test('unknown code: closed silently and counted', async (t) => {
  const s = await startServer(basicHandler);
  t.equal(await controlRequest(s.path, 99), '');
  t.equal(await controlRequest(s.path, -1), '');
  t.equal(s.stats.unknownRequests, 2);
});

t.test('request split across writes; short request counted as bad', async (t) => {
  const s = await startServer(basicHandler);
  const b = Buffer.alloc(4);
  b.writeInt32LE(CTL_REQ.STATS);
  t.equal(await rawRequest(s.path, [b.subarray(0, 1), b.subarray(1, 3), b.subarray(3)], 20), STATS_TEXT);
  await new Promise<void>((resolve) => {
    const c = net.connect({ path: s.path }, () => c.end(Buffer.from([21, 0])));
    c.on('close', () => resolve());
  });
  t.equal(s.stats.badRequests, 1);
});

t.test('big replies stream with back-pressure (async iterable, 8 MiB)', async (t) => {
  const chunk = Buffer.alloc(65536);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 255;
  const s = await startServer(async function* () {
    for (let i = 0; i < 128; i++) yield chunk;
  } as unknown as ControlHandler);
  let got = 0;
  const h = createHash('sha256');
  await controlRequest(s.path, CTL_REQ.CT_DUMP_INTERNAL, {
    onData: (c) => {
      got += c.length;
      h.update(c);
    },
  });
  const want = createHash('sha256');
  for (let i = 0; i < 128; i++) want.update(chunk);
  t.equal(got, 8 * 1024 * 1024);
  t.equal(h.digest('hex'), want.digest('hex'));
  // collected variant (string)
  const text = await controlRequest(s.path, CTL_REQ.CT_DUMP_INTERNAL);
  t.equal(text.length, 8 * 1024 * 1024);
});

t.test('a client that leaves mid-dump stops the producer', async (t) => {
  let produced = 0;
  let finished = false;
  const s = await startServer(async function* () {
    try {
      for (let i = 0; i < 100000; i++) {
        produced++;
        yield Buffer.alloc(65536, 0x41);
      }
    } finally {
      finished = true;
    }
  } as unknown as ControlHandler);
  await new Promise<void>((resolve) => {
    const c = net.connect({ path: s.path }, () => c.write(Buffer.from([16, 0, 0, 0])));
    c.once('data', () => {
      c.destroy();
      resolve();
    });
  });
  for (let i = 0; i < 50 && !finished; i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(finished, 'generator closed');
  t.ok(produced < 1000, `stopped early (${produced} chunks)`);
});

t.test('commit holds the connection until done; the client reports a partial commit', async (t) => {
  const cfg = join(dir, 'commit.conf');
  const path = sockPath();
  writeFileSync(cfg, `Sync { Mode FTFW { } UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 Interface lo } }\nGeneral { UNIX { Path ${path} } }\n`);
  let outcome: 'ok' | 'partial' | 'refused' = 'ok';
  const started: number[] = [];
  await startServer(
    async (code) => {
      if (!isCommit(code)) return undefined;
      started.push(Date.now());
      await new Promise((r) => setTimeout(r, 300));
      return formatCommitStatus({ outcome, ct: 10, exp: 1, failed: outcome === 'partial' ? 2 : 0, reason: 'commit already running' });
    },
    {},
    path,
  );
  const t0 = Date.now();
  const raw = await controlRequest(path, CTL_REQ.ALL_COMMIT, { timeoutMs: 0 });
  t.ok(Date.now() - t0 >= 290, 'waited for the commit');
  t.equal(raw, 'ctsyncd-commit: ok ct=10 exp=1 failed=0\n');

  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: (s: string | Buffer) => (o.out += s), err: (s: string) => (o.err += s) } };
  };
  let r = io();
  t.equal(await runClient(['-C', cfg, '-c'], r.io), 0);
  t.equal(r.o.out, '');
  outcome = 'partial';
  r = io();
  t.equal(await runClient(['-C', cfg, '-c', 'ct'], r.io), 1, 'partial commit exits 1');
  t.match(r.o.err, /commit incomplete: 2 entries failed/);
  outcome = 'refused';
  r = io();
  t.equal(await runClient(['-C', cfg, '-c'], r.io), 1);
  t.match(r.o.err, /commit refused: commit already running/);
});

t.test('stale socket is replaced; a live one makes start() fail; a regular file is kept', async (t) => {
  const stale = sockPath();
  // a socket file nobody listens on: bound by a process that has exited
  execFileSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)})`]);
  t.ok(lstatSync(stale).isSocket());
  await t.rejects(controlRequest(stale, CTL_REQ.STATS), { message: `cannot connect to ctsyncd at ${stale}: is it running?` });
  const s = await startServer(basicHandler, {}, stale);
  t.equal(await controlRequest(stale, CTL_REQ.STATS), STATS_TEXT);

  const second = new ControlServer({ path: stale, handler: basicHandler });
  await t.rejects(second.start(), { code: 'CTSYNC_ERR_CONTROL_IN_USE', message: /another daemon is answering on/ });
  t.equal(await controlRequest(stale, CTL_REQ.STATS), STATS_TEXT, 'first server unaffected');

  const file = sockPath();
  writeFileSync(file, 'precious');
  const third = new ControlServer({ path: file, handler: basicHandler });
  await t.rejects(third.start(), { code: 'CTSYNC_ERR_CONTROL_NOT_SOCKET' });
  t.equal(readFileSync(file, 'utf8'), 'precious');

  await s.close();
  t.notOk(existsSync(stale), 'close() removes the socket file');
});

t.test('client errors: missing socket, timeout', async (t) => {
  const missing = join(dir, 'none.ctl');
  await t.rejects(controlRequest(missing, CTL_REQ.STATS), {
    code: 'CTSYNC_ERR_CONTROL_CONNECT',
    message: `cannot connect to ctsyncd at ${missing}: is it running?`,
  });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const s = await startServer(async () => {
    await gate;
    return 'late';
  });
  await t.rejects(controlRequest(s.path, CTL_REQ.STATS, { timeoutMs: 150 }), { code: 'CTSYNC_ERR_CONTROL_TIMEOUT' });
  release();
});

t.test('JSON extension (code 1000)', async (t) => {
  const s = await startServer(basicHandler, {
    jsonHandler: (req) => {
      const r = req as { cmd?: string };
      if (r.cmd === 'boom') throw new Error('exploded');
      return { ok: true, echo: req, big: 2n ** 64n };
    },
  });
  t.same(await controlJson(s.path, { cmd: 'status' }), { ok: true, echo: { cmd: 'status' }, big: '18446744073709551616' });
  t.same(await controlJson(s.path, { cmd: 'boom' }), { ok: false, error: 'exploded' });
  const bad = Buffer.alloc(12);
  bad.writeInt32LE(CTSYNC_JSON, 0);
  bad.writeUInt32LE(4, 4);
  bad.write('{{{{', 8);
  t.match(JSON.parse(await rawRequest(s.path, [bad])), { ok: false, error: /invalid JSON request/ });
  // declared length above the limit: dropped
  const huge = Buffer.alloc(8);
  huge.writeInt32LE(CTSYNC_JSON, 0);
  huge.writeUInt32LE(64 * 1024 * 1024, 4);
  t.equal(await rawRequest(s.path, [huge]), '');
  t.equal(s.stats.badRequests, 1);
  // other extension codes and servers without a JSON handler: unknown
  t.equal(await rawRequest(s.path, [encodeJsonRequest({}, 1001)]), '');
  const plain = await startServer(basicHandler);
  await t.rejects(controlJson(plain.path, { cmd: 'x' }), { code: 'CTSYNC_ERR_CONTROL_IO' });
  t.equal(plain.stats.unknownRequests, 1);
});

t.test('handler failure closes the connection and is counted', async (t) => {
  const errors: unknown[] = [];
  const s = await startServer(
    () => {
      throw new Error('bad state');
    },
    { onError: (e) => errors.push(e) },
  );
  t.equal(await controlRequest(s.path, CTL_REQ.STATS), '');
  t.equal(s.stats.handlerErrors, 1);
  t.equal(errors.length, 1);
});

t.test('conntrackd 1.4.7 client against our server', async (t) => {
  const path = sockPath();
  const conf = join(dir, 'ctd.conf');
  writeFileSync(
    conf,
    `Sync {\n Mode FTFW { }\n UDP { IPv4_address 127.0.0.1\n IPv4_Destination_Address 127.0.0.2\n Port 3780\n Interface lo }\n}\nGeneral {\n Systemd off\n LockFile ${dir}/ctd.lock\n UNIX { Path ${path} }\n}\n`,
  );
  const seen: number[] = [];
  await startServer(
    (code) => {
      seen.push(code);
      if (code === CTL_REQ.STATS_RSQUEUE) return 'resent queue (len=0)\n';
      if (code === CTL_REQ.ALL_COMMIT) return formatCommitStatus({ outcome: 'ok', ct: 1, exp: 0, failed: 0 });
      if (code === CTL_REQ.CT_DUMP_EXT_XML) return '<flow></flow>\n';
      return '';
    },
    {},
    path,
  );
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile('conntrackd', ['-C', conf, ...args], { timeout: 10000 }, (err, stdout) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout });
      });
    });
  const rs = await run(['-s', 'rsq']);
  t.equal(rs.code, 0);
  t.equal(rs.out, 'resent queue (len=0)\n');
  const c = await run(['-c']);
  t.equal(c.code, 0);
  t.equal(c.out, 'ctsyncd-commit: ok ct=1 exp=0 failed=0\n', 'conntrackd prints our commit status line verbatim');
  const x = await run(['-e', '-x']);
  t.equal(x.out, '<flow></flow>\n');
  await run(['-f', 'i']);
  await run(['-R', 'expect']);
  t.same(seen, [CTL_REQ.STATS_RSQUEUE, CTL_REQ.ALL_COMMIT, CTL_REQ.CT_DUMP_EXT_XML, CTL_REQ.CT_FLUSH_INT_CACHE, CTL_REQ.EXP_RESYNC_MASTER], 'same request codes as our parser');
});

t.test('listen failure is one clear typed error', async (t) => {
  const path = join(dir, 'no-such-dir', 'x.ctl');
  const s = new ControlServer({ path, handler: basicHandler });
  // (libuv reports EACCES for a missing directory)
  await t.rejects(s.start(), { code: 'CTSYNC_ERR_CONTROL_LISTEN', message: /^cannot listen on .*x\.ctl: E[A-Z]+$/ });
});
