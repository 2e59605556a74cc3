/**
 * UNIX control-socket server (L3 adapter, spec §8). One request per connection: a 4-byte LE
 * int32 code (plus, for ctsyncd's extension codes, a length-prefixed JSON body, see
 * protocol.ts); the injected handler produces the reply text, the server writes it (respecting
 * back-pressure, so multi-megabyte dumps stream) and closes the connection.
 *
 *  - socket file mode 0600 (conntrackd sets umask 0177, spec §5.6): created under umask 0177
 *    and chmod-ed again after bind;
 *  - a stale socket file (nobody answers) is removed; a live one (another daemon answers) makes
 *    start() fail; a non-socket file at the path is never removed;
 *  - unknown codes (the handler returns undefined) are closed silently and counted;
 *  - commit requests are just slow handlers: the connection stays open until their promise or
 *    iterator finishes (spec §5.3 "synchronous commit").
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { CtsyncError } from '../core/errors';
import { CONTROL_ERR, CTSYNC_JSON, isExtension, JSON_MAX_BYTES } from './protocol';

export { CONTROL_ERR };

export type ControlReply = string | Buffer | AsyncIterable<string | Buffer> | Iterable<string | Buffer>;

export interface RequestContext {
  /** Aborted when the client goes away (a dump can stop early; a commit should carry on). */
  signal: AbortSignal;
}

/** Returns the reply, or undefined for an unknown code (closed silently, counted). */
export type ControlHandler = (
  code: number,
  ctx: RequestContext,
) => ControlReply | undefined | Promise<ControlReply | undefined>;

/** Answers a CTSYNC_JSON request; the result is sent as JSON. */
export type JsonHandler = (request: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

export interface ControlServerOptions {
  path: string;
  backlog?: number;
  handler: ControlHandler;
  jsonHandler?: JsonHandler;
  /** Time allowed for the client to send its request (ms). */
  requestTimeoutMs?: number;
  /** Called on handler failures (the server itself never throws from a socket callback). */
  onError?: (err: unknown, code: number | undefined) => void;
}

/** Plain counters, read by metrics and by `-s runtime` ("local read failed", "local unknown request"). */
export class ControlStats {
  accepted = 0;
  requests = 0;
  jsonRequests = 0;
  unknownRequests = 0;
  /** Short or oversized requests, or timeouts before the request arrived. */
  badRequests = 0;
  handlerErrors = 0;
  /** Connections currently open. */
  active = 0;
}

function connectProbe(path: string, timeoutMs: number): Promise<'live' | 'stale'> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('live'); // it accepted the connect but is slow: do not steal its socket
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('live');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else reject(err);
    });
  });
}

export class ControlServer {
  readonly stats = new ControlStats();
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private ino: number | undefined;

  constructor(private readonly opts: ControlServerOptions) {}

  get path(): string {
    return this.opts.path;
  }

  async start(): Promise<void> {
    const { path } = this.opts;
    await this.clearStale(path);
    const server = net.createServer({ allowHalfOpen: true }, (sock) => this.onConnection(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new CtsyncError(CONTROL_ERR.LISTEN, `cannot listen on ${path}: ${err.code ?? err.message}`, { cause: err })),
      );
      // bind happens synchronously inside listen(): the file is created under umask 0177 (0600)
      const old = process.umask(0o177);
      try {
        server.listen({ path, backlog: this.opts.backlog ?? 100 }, () => resolve());
      } finally {
        process.umask(old);
      }
    });
    chmodSync(path, 0o600);
    this.ino = lstatSync(path).ino;
    server.on('error', (err) => this.opts.onError?.(err, undefined));
  }

  private async clearStale(path: string): Promise<void> {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      return; // nothing there
    }
    if (!st.isSocket()) {
      throw new CtsyncError(CONTROL_ERR.NOT_SOCKET, `${path} exists and is not a socket: refusing to replace it`);
    }
    const state = await connectProbe(path, 1000).catch((err: NodeJS.ErrnoException) => {
      throw new CtsyncError(CONTROL_ERR.LISTEN, `cannot check existing socket ${path}: ${err.code ?? err.message}`, { cause: err });
    });
    if (state === 'live') {
      throw new CtsyncError(CONTROL_ERR.IN_USE, `another daemon is answering on ${path}: is ctsyncd (or conntrackd) already running?`);
    }
    unlinkSync(path);
  }

  /** Stops listening, drops open connections and removes the socket file (if still ours). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (this.ino !== undefined && lstatSync(this.opts.path).ino === this.ino) unlinkSync(this.opts.path);
    } catch {
      // already gone
    }
  }

  private onConnection(sock: net.Socket): void {
    this.stats.accepted++;
    this.stats.active++;
    this.sockets.add(sock);
    const abort = new AbortController();
    let buf: Buffer = Buffer.alloc(0);
    let started = false;
    sock.setTimeout(this.opts.requestTimeoutMs ?? 5000);
    sock.on('timeout', () => {
      if (!started) {
        this.stats.badRequests++;
        sock.destroy();
      }
    });
    sock.on('error', () => {
      // EPIPE / ECONNRESET from a client that went away: nothing to report
    });
    sock.on('close', () => {
      this.stats.active--;
      this.sockets.delete(sock);
      abort.abort();
    });
    sock.on('end', () => {
      if (!started) {
        // connected and closed without a full request (conntrackd: "local read failed")
        this.stats.badRequests++;
        sock.destroy();
      }
    });
    sock.on('data', (chunk: Buffer) => {
      if (started) return; // one request per connection; ignore anything after it
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const code = buf.readInt32LE(0);
      let body: Buffer | undefined;
      if (isExtension(code)) {
        if (buf.length < 8) return;
        const len = buf.readUInt32LE(4);
        if (len > JSON_MAX_BYTES) {
          this.stats.badRequests++;
          sock.destroy();
          return;
        }
        if (buf.length < 8 + len) return;
        body = buf.subarray(8, 8 + len);
      }
      started = true;
      sock.setTimeout(0);
      this.stats.requests++;
      void this.dispatch(sock, code, body, { signal: abort.signal });
    });
  }

  private async dispatch(sock: net.Socket, code: number, body: Buffer | undefined, ctx: RequestContext): Promise<void> {
    try {
      let reply: ControlReply | undefined;
      if (body !== undefined) {
        reply = await this.dispatchJson(code, body, ctx);
      } else {
        reply = await this.opts.handler(code, ctx);
      }
      if (reply === undefined) {
        this.stats.unknownRequests++;
        sock.end();
        return;
      }
      await writeReply(sock, reply);
      sock.end();
    } catch (err) {
      this.stats.handlerErrors++;
      this.opts.onError?.(err, code);
      sock.destroy();
    }
  }

  private async dispatchJson(code: number, body: Buffer, ctx: RequestContext): Promise<string | undefined> {
    if (code !== CTSYNC_JSON || !this.opts.jsonHandler) return undefined;
    this.stats.jsonRequests++;
    let req: unknown;
    try {
      req = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return `${JSON.stringify({ ok: false, error: `invalid JSON request: ${(e as Error).message}` })}\n`;
    }
    try {
      const res = await this.opts.jsonHandler(req, ctx);
      return `${JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
    } catch (e) {
      return `${JSON.stringify({ ok: false, error: (e as Error).message ?? String(e) })}\n`;
    }
  }
}

function writeChunk(sock: net.Socket, data: string | Buffer): Promise<boolean> {
  if (sock.destroyed || !sock.writable) return Promise.resolve(false);
  if (sock.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      sock.off('drain', onDrain);
      sock.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    sock.on('drain', onDrain);
    sock.on('close', onClose);
  });
}

async function writeReply(sock: net.Socket, reply: ControlReply): Promise<void> {
  if (typeof reply === 'string' || Buffer.isBuffer(reply)) {
    if (reply.length > 0) await writeChunk(sock, reply);
    return;
  }
  if (Symbol.asyncIterator in reply) {
    for await (const chunk of reply as AsyncIterable<string | Buffer>) {
      if (chunk.length > 0 && !(await writeChunk(sock, chunk))) break; // client gone: stop the producer
    }
    return;
  }
  for (const chunk of reply as Iterable<string | Buffer>) {
    if (chunk.length > 0 && !(await writeChunk(sock, chunk))) break;
  }
}
