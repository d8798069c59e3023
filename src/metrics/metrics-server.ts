/**
 * The metrics listener: `GET /metrics` (and HEAD) on an address and port of
 * its own (`metrics.bind`, `metrics.port`), never the client listener, so
 * the metrics stay off the public port and a scrape never queues behind
 * client traffic in Fastify. A plain node:http server: one path, no parsing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface MetricsListener {
  /** The base URL it listens at (`<url>/metrics`). */
  url: string;
  /** Stops listening and drops open connections (a scraper's keep-alive). */
  close(): Promise<void>;
}

export async function listenMetrics(
  metrics: Metrics,
  bind: string,
  port: number,
  onError: (err: unknown) => void,
): Promise<MetricsListener> {
  const server = createServer((request, response) => {
    answer(metrics, request, response).catch((err: unknown) => {
      onError(err);
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bind, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: baseUrl(address),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(
  metrics: Metrics,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '').split('?', 1)[0];
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response
      .writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' })
      .end('Method Not Allowed\n');
    return;
  }
  const { contentType, body } = await metrics.exposition();
  response.writeHead(200, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** A URL that reaches the address: a wildcard one is reached on loopback. */
function baseUrl(address: AddressInfo): string {
  const ipv6 = address.family === 'IPv6';
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${ipv6 ? `[${host}]` : host}:${address.port}`;
}
