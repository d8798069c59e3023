/**
 * The one client that speaks to other servers (FederationSender): for each
 * request it finds the destination (resolve-server.ts: `federation.hosts`,
 * then the spec's discovery), connects over TLS with the certificate checked
 * for the name discovery gave (outbound-connection.ts), sends JSON with the
 * X-Matrix signature (request-auth.ts) and reads the JSON answer.
 *
 * Any failure to get an answer (resolution, refused address, connection, TLS,
 * timeout, a body over the limit) throws FederationUnreachable; an HTTP error
 * status is an answer, returned as it is.
 */
import { readFileSync } from 'node:fs';
import type { SigningKey } from '../crypto/server-keys.js';
import { AddressPolicy } from '../net/address-rules.js';
import {
  FederationUnreachable,
  type FederationRequest,
  type FederationResponse,
  type FederationSender,
} from './outbound.js';
import { ConnectionFailure, OutboundConnections, targetUrl } from './outbound-connection.js';
import { xMatrixAuthorization } from './request-auth.js';
import { cachedSrvLookup, ServerResolver, type ResolvedServer } from './resolve-server.js';
import { WellKnownLookup } from './well-known.js';

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * As Synapse's federation client: responses are read whole into memory, and
 * the largest legitimate ones (send_join's state of a big room, backfill)
 * run to tens of megabytes.
 */
const DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024;

export interface FederationHttpOptions {
  /** This server's name: the `origin` of signed requests. */
  serverName: string;
  signingKey: SigningKey;
  resolver: ServerResolver;
  connections: OutboundConnections;
  defaultTimeoutMs?: number;
  maxResponseBytes?: number;
}

export class FederationHttp implements FederationSender {
  constructor(private readonly options: FederationHttpOptions) {}

  async request(request: FederationRequest): Promise<FederationResponse> {
    const deadline = AbortSignal.timeout(
      request.timeoutMs ?? this.options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    const target = await this.resolve(request.destination, deadline);
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    try {
      const response = await this.options.connections.exchange(
        request.destination,
        { ...target, trusted: this.options.resolver.isOverridden(request.destination) },
        {
          method: request.method,
          path: request.path,
          headers: this.headers(request, body !== undefined),
          body,
          signal: deadline,
          maxBytes: this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        },
      );
      return { status: response.status, body: parseJson(response.body) };
    } catch (err) {
      if (!(err instanceof ConnectionFailure)) throw err;
      throw new FederationUnreachable(request.destination, `${targetUrl(target)}: ${err.message}`);
    }
  }

  /** Closes the kept connections (at shutdown). */
  close(): void {
    this.options.connections.close();
  }

  private async resolve(destination: string, deadline: AbortSignal): Promise<ResolvedServer> {
    const resolving = this.options.resolver.resolve(destination);
    const timedOut = new Promise<never>((_resolve, reject) => {
      const onAbort = () => reject(new FederationUnreachable(destination, 'resolution timed out'));
      if (deadline.aborted) onAbort();
      deadline.addEventListener('abort', onAbort, { once: true });
      void resolving.finally(() => deadline.removeEventListener('abort', onAbort)).catch(() => {});
    });
    return Promise.race([resolving, timedOut]);
  }

  private headers(request: FederationRequest, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'Weft' };
    if (hasBody) headers['content-type'] = 'application/json';
    if (request.signed !== false) {
      headers.authorization = xMatrixAuthorization(
        {
          method: request.method,
          uri: request.path,
          origin: this.options.serverName,
          destination: request.destination,
          ...(request.body === undefined ? {} : { content: request.body }),
        },
        this.options.signingKey,
      );
    }
    return headers;
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The `federation` config keys the client reads. */
export interface FederationClientSettings {
  /** Server name → `host:port` or `http(s)://host:port`: skips discovery. */
  hosts: Record<string, string>;
  /** A PEM file of CA certificates trusted besides the bundled ones; null: none. */
  ca_file: string | null;
  verify_certificates: boolean;
  /** Private or reserved ranges (CIDR) other servers may be at nonetheless. */
  ip_range_whitelist: string[];
}

/** The client as configured; throws when the CA file cannot be read. */
export function buildFederationHttp(
  settings: FederationClientSettings,
  serverName: string,
  signingKey: SigningKey,
): FederationHttp {
  const trust = {
    extraCaPem: settings.ca_file === null ? undefined : readCaFile(settings.ca_file),
    verifyCertificates: settings.verify_certificates,
    policy: new AddressPolicy({ allowed: settings.ip_range_whitelist }),
  };
  const wellKnown = new WellKnownLookup({
    // One-off connections: a host's well-known is asked once a day at most.
    connections: new OutboundConnections({ ...trust, keepAlive: false, maxPools: 100 }),
  });
  const srv = cachedSrvLookup();
  const resolver = new ServerResolver(settings.hosts, {
    wellKnown: (hostname) => wellKnown.lookup(hostname),
    srv,
  });
  return new FederationHttp({
    serverName,
    signingKey,
    resolver,
    connections: new OutboundConnections({ ...trust, keepAlive: true }),
  });
}

function readCaFile(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`federation.ca_file: cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`federation.ca_file: ${file} holds no PEM certificate`);
  }
  return pem;
}
