/**
 * Metrics HTTP endpoint: only GET /metrics and GET /healthz. Off unless an address and port
 * are configured (the composition root decides; this module just listens where told).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  address: string;
  /** 0 picks an ephemeral port (tests). */
  port: number;
  registry: Registry;
  /** /healthz: 200 when true, 503 otherwise. */
  ready: () => boolean;
  /** Called with scrape failures (never thrown out of the request handler). */
  onError?: (err: unknown) => void;
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      let ok = false;
      try {
        ok = opts.ready();
      } catch (err) {
        opts.onError?.(err);
      }
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(ok ? 'ok\n' : 'not ready\n');
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => {
          opts.onError?.(err);
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('scrape failed\n');
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  });
  // a scrape must never hold the daemon: short timeouts, no keep-alive accumulation
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.onError?.(err));
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
