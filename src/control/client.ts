/**
 * Control-socket client (spec §8): connect, send one request, read until the daemon closes.
 * Works against ctsyncd and against conntrackd 1.4.7 (same protocol for codes < 1000).
 */
import * as net from 'node:net';
import { CtsyncError } from '../core/errors';
import { CONTROL_ERR, encodeJsonRequest, encodeRequest } from './protocol';

export interface RequestOptions {
  /**
   * Inactivity timeout in ms (no data for this long → error); 0 = wait forever. Commits send
   * nothing until they finish, so the CLI passes 0 for them. Default 30000.
   */
  timeoutMs?: number;
  /** Streams the reply instead of collecting it (big dumps); the promise then resolves to ''. */
  onData?: (chunk: Buffer) => void;
}

function connectError(path: string, err: NodeJS.ErrnoException): CtsyncError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new CtsyncError(CONTROL_ERR.CONNECT, `cannot connect to ctsyncd at ${path}: is it running?`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new CtsyncError(CONTROL_ERR.CONNECT, `cannot connect to ctsyncd at ${path}: permission denied (the socket is mode 0600: run as root)`, {
        cause: err,
      });
    default:
      return new CtsyncError(CONTROL_ERR.CONNECT, `cannot connect to ctsyncd at ${path}: ${err.code ?? err.message}`, { cause: err });
  }
}

function exchange(path: string, request: Buffer, opts: RequestOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 30000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let connected = false;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(opts.onData ? '' : Buffer.concat(chunks).toString('utf8'));
    };
    const sock = net.connect({ path });
    if (timeoutMs > 0) sock.setTimeout(timeoutMs);
    sock.on('timeout', () => {
      sock.destroy();
      finish(new CtsyncError(CONTROL_ERR.TIMEOUT, `no answer from ctsyncd at ${path} within ${timeoutMs} ms`));
    });
    sock.on('connect', () => {
      connected = true;
      sock.write(request);
    });
    sock.on('data', (c: Buffer) => {
      if (opts.onData) opts.onData(c);
      else chunks.push(c);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) finish(connectError(path, err));
      else finish(new CtsyncError(CONTROL_ERR.IO, `connection to ctsyncd at ${path} failed: ${err.code ?? err.message}`, { cause: err }));
    });
    sock.on('end', () => {
      sock.end();
      finish();
    });
    sock.on('close', () => finish());
  });
}

/** Sends a conntrackd request code and returns the daemon's text reply. */
export function controlRequest(path: string, code: number, opts: RequestOptions = {}): Promise<string> {
  return exchange(path, encodeRequest(code), opts);
}

/** ctsyncd extension: sends a JSON request (code 1000) and parses the JSON reply. */
export async function controlJson(path: string, request: unknown, opts: Omit<RequestOptions, 'onData'> = {}): Promise<unknown> {
  const text = await exchange(path, encodeJsonRequest(request), opts);
  if (text.trim() === '') {
    throw new CtsyncError(CONTROL_ERR.IO, `ctsyncd at ${path} closed the connection without an answer (JSON requests unsupported?)`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CtsyncError(CONTROL_ERR.IO, `ctsyncd at ${path} sent an invalid JSON answer`);
  }
}
