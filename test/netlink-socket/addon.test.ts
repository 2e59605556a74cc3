/**
 * The native addon itself (native/nlsock.cc): socket basics and error reporting, a JS exception
 * thrown from a raw poll callback surfacing as an uncaught exception (never an abort) while
 * delivery continues, sendAsync on the threadpool (errno to the callback, close with a send in
 * flight), and unixDgramSend to path and abstract AF_UNIX datagram sockets.
 * Kernel-facing parts run in a scratch network namespace.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadNative, openNetlinkSocket, SO_RCVBUF, SO_RCVBUFFORCE, SOL_SOCKET, unixDgramSend } from '../../src/netlink/socket';
import { createNetns, deleteNetns } from '../kernel/fixtures/netns';

const ADDON = path.join(__dirname, '..', '..', 'build', 'Release', 'nlsock.node');

t.test('socket basics: port id, buffers, errors with errno codes', async (t) => {
  const ns = createNetns();
  t.teardown(() => deleteNetns(ns));
  const script = `
    const { NlSocket } = require(${JSON.stringify(ADDON)});
    const out = {};
    const s = new NlSocket(12, 8, 8192);
    out.portId = s.portId;
    out.bufLen = s.buffer.length;
    out.lengths = s.lengths.length;
    s.setsockopt(1, ${SO_RCVBUFFORCE}, 1 << 20);
    out.rcvbuf = s.getsockopt(1, ${SO_RCVBUF});
    try { s.setsockopt(270, 1, 9999); } catch (e) { out.badGroup = e.code; }
    out.empty = s.readNow(0);
    const t0 = Date.now(); s.readNow(50); out.waited = Date.now() - t0;
    s.close();
    try { s.send(Buffer.alloc(16)); } catch (e) { out.closed = e.code; }
    try { new NlSocket(12, 0, 8192); } catch (e) { out.range = e.name; }
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', script], { encoding: 'utf8' }));
  t.ok(out.portId > 0, 'kernel-assigned port id');
  t.equal(out.bufLen, 8 * 8192, 'shared area = slots × slotSize');
  t.equal(out.lengths, 8);
  t.equal(out.rcvbuf, 2 << 20, 'SO_RCVBUFFORCE 1 MiB → kernel reports 2 MiB');
  t.equal(out.badGroup, 'EINVAL', 'setsockopt errors carry the errno code');
  t.equal(out.empty, 0, 'nothing queued: readNow returns 0 at once');
  t.ok(out.waited >= 40, `readNow(50) waited (${out.waited} ms)`);
  t.equal(out.closed, 'EBADF', 'use after close is an error, not a crash');
  t.equal(out.range, 'RangeError');
});

t.test('exception in a raw poll callback: uncaught exception, process survives, delivery continues', async (t) => {
  const ns = createNetns();
  t.teardown(() => deleteNetns(ns));
  const script = `
    const { NlSocket } = require(${JSON.stringify(ADDON)});
    const { execFileSync } = require('child_process');
    const s = new NlSocket(12, 8, 8192);
    s.setsockopt(270, 1, 1); // NFNLGRP_CONNTRACK_NEW
    let calls = 0, uncaught = 0;
    process.on('uncaughtException', (e) => { uncaught++; console.log('uncaught:' + e.message); });
    s.start((n) => { calls++; if (calls === 1) throw new Error('boom'); }, () => {});
    const ct = (port) => execFileSync('conntrack', ['-I','-p','tcp','-s','10.9.0.1','-d','10.9.0.2','--sport',String(port),'--dport','80','--state','ESTABLISHED','-t','60'], { stdio: 'ignore' });
    ct(1);
    setTimeout(() => { ct(2); setTimeout(() => { s.close(); console.log(JSON.stringify({ calls, uncaught })); }, 300); }, 300);`;
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    let e = '';
    c.stdout.on('data', (d: Buffer) => (o += d));
    c.stderr.on('data', (d: Buffer) => (e += d));
    const timer = setTimeout(() => c.pid && process.kill(c.pid, 'SIGKILL'), 15000);
    c.on('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(o);
      else reject(new Error(`child exit ${code} ${sig}: ${e}`));
    });
  });
  t.match(out, /uncaught:boom/, 'surfaced through process uncaughtException');
  const last = JSON.parse(out.trim().split('\n').pop()!);
  t.equal(last.uncaught, 1);
  t.equal(last.calls, 2, 'the socket kept delivering after the exception');
});

t.test('sendAsync: sendmsg on the threadpool, errno to the callback, close with a send in flight', async (t) => {
  const ns = createNetns();
  t.teardown(() => deleteNetns(ns));
  const script = `
    const { NlSocket } = require(${JSON.stringify(ADDON)});
    const s = new NlSocket(12, 8, 8192);
    const out = {};
    // NLMSG_NOOP with NLM_F_REQUEST|NLM_F_ACK, seq 77: the kernel answers with an ACK
    const m = Buffer.alloc(20);
    m.writeUInt32LE(20, 0); m.writeUInt16LE(1, 4); m.writeUInt16LE(5, 6); m.writeUInt32LE(77, 8);
    s.sendAsync(m, 0, 20, (errno, bytes) => {
      out.okErrno = errno; out.bytes = bytes; out.inflightInCb = s.inflight; out.inKernelInCb = s.sendsInKernel;
      out.replies = s.readNow(0);
      out.ackType = s.buffer.readUInt16LE(4); out.ackSeq = s.buffer.readUInt32LE(8); out.ackErr = s.buffer.readInt32LE(16);
      s.setsockopt(1, 7, 4096); // SO_SNDBUF: a 1 MiB datagram is now EMSGSIZE
      const big = Buffer.alloc(1 << 20);
      s.sendAsync(big, 0, big.length, (e2) => {
        out.bigErrno = e2;
        s.sendAsync(m, 0, 20, (e3) => {
          out.inFlightAtClose = e3; out.inflightEnd = s.inflight;
          console.log(JSON.stringify(out));
        });
        s.close(); // the fd stays open until that send has returned
        try { s.readNow(0); } catch (e) { out.closedRead = e.code; }
        try { s.sendAsync(m, 0, 20, () => {}); } catch (e) { out.closedSend = e.code; }
      });
    });
    out.inflightNow = s.inflight;
    try { s.sendAsync(m, 0, 64, () => {}); } catch (e) { out.range = e.name; }`;
  const out = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', script], { encoding: 'utf8' }));
  t.equal(out.inflightNow, 1, 'counted in flight right after the call');
  t.equal(out.range, 'RangeError', 'a range outside the buffer throws at once');
  t.equal(out.okErrno, 0);
  t.equal(out.bytes, 20);
  t.equal(out.inflightInCb, 0, 'done before the callback runs');
  t.equal(out.inKernelInCb, 0, 'sendmsg returned before the callback runs');
  t.equal(out.replies, 1, 'the reply is queued when the callback runs');
  t.same([out.ackType, out.ackSeq, out.ackErr], [2, 77, 0], 'ACK for seq 77');
  t.equal(out.bigErrno, 90, 'EMSGSIZE reported as errno, not thrown');
  t.equal(out.closedRead, 'EBADF', 'closed for JS at once');
  t.equal(out.closedSend, 'EBADF');
  t.equal(out.inFlightAtClose, 0, 'the send in flight at close() still completed');
  t.equal(out.inflightEnd, 0);
});

t.test('unixDgramSend: path and abstract (@) sockets', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ctk-unix-'));
  const sockPath = path.join(dir, 'notify.sock');
  const abstract = `@ctk-${process.pid}-notify`;
  // Node cannot receive AF_UNIX datagrams; python3 (on the image) plays systemd.
  const py = `
import socket, sys
out = []
for name in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind('\\0' + name[1:] if name.startswith('@') else name)
    out.append(s)
print('ready', flush=True)
for s in out:
    s.settimeout(5)
    print(s.recv(4096).decode(), flush=True)
`;
  const rx = spawn('python3', ['-c', py, sockPath, abstract], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (rx.exitCode === null && rx.pid) process.kill(rx.pid, 'SIGKILL');
  });
  let text = '';
  await new Promise<void>((resolve) => {
    rx.stdout.on('data', (d: Buffer) => {
      text += d;
      if (text.includes('ready')) resolve();
    });
  });
  unixDgramSend(sockPath, Buffer.from('READY=1'));
  unixDgramSend(abstract, Buffer.from('STATUS=abstract ok'));
  await new Promise<void>((resolve) => rx.on('close', () => resolve()));
  t.same(text.trim().split('\n'), ['ready', 'READY=1', 'STATUS=abstract ok']);
  t.throws(() => unixDgramSend(path.join(dir, 'missing.sock'), Buffer.from('x')), { code: 'ENOENT' });
  t.ok(loadNative().NlSocket, 'addon loads through the wrapper');
  t.equal(typeof openNetlinkSocket, 'function');
  t.equal(SOL_SOCKET, 1);
});
