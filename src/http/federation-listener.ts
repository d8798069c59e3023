/**
 * The federation TLS listener (`federation.listener`): an https server whose
 * requests go through the same Fastify instance as the main listener's
 * (`app.routing`), so every route, hook, 404/405 answer and body limit is the
 * same on both. Without a certificate configured there is none, and other
 * servers reach the main listener through a TLS proxy.
 *
 * Node's own parser errors (a bad request line, headers too large) are
 * answered here with a bare 400: Fastify's clientError handler is bound to
 * the main server only.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

export interface FederationListenerSettings {
  port: number;
  bind_address: string;
  tls_certificate_path: string;
  tls_private_key_path: string;
}

export interface FederationListener {
  /** `https://<address>:<port>` (a wildcard address as loopback). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Fastify's default: longer than the usual proxies' and clients' idle timeouts. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** In-flight requests get this long at shutdown before their connections are cut. */
const CLOSE_GRACE_MS = 2_000;

/** Whether the settings ask for a listener (a certificate and key are named). */
export function wantsFederationListener(settings: FederationListenerSettings): boolean {
  return settings.tls_certificate_path !== '' && settings.tls_private_key_path !== '';
}

/** Starts the listener on a ready Fastify instance (after `app.listen` or `app.ready`). */
export async function listenFederation(
  app: FastifyInstance,
  settings: FederationListenerSettings,
): Promise<FederationListener> {
  const server = createServer(
    {
      cert: readPem(settings.tls_certificate_path, 'tls_certificate_path'),
      key: readPem(settings.tls_private_key_path, 'tls_private_key_path'),
    },
    (request, response) => app.routing(request, response),
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    }
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.bind_address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { url: baseUrl(address), port: address.port, close: () => closeServer(server) };
}

function readPem(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`federation.listener.${key}: cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Stops accepting, lets requests in flight finish for a moment, then cuts what is left. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function baseUrl(address: AddressInfo): string {
  const ipv6 = address.family === 'IPv6';
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `https://${ipv6 ? `[${host}]` : host}:${address.port}`;
}
