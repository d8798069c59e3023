/**
 * The connections federation makes (requests to other servers and their
 * /.well-known/matrix/server): HTTPS with the certificate checked for the
 * name discovery gave, and every address checked as net/safe-fetch.ts does.
 *
 * - TLS: SNI and the certificate check use `tlsServerName`, not the host
 *   connected to (an SRV target serves the server name's certificate). The
 *   trusted CAs are Node's bundled ones, plus `federation.ca_file` when set
 *   (a private CA; Node ignores NODE_EXTRA_CA_CERTS once a list is given, so
 *   the bundled list is named explicitly). `verify_certificates: false` turns
 *   the checks off (never on a public server).
 * - Addresses: a host name is resolved at connect time (every address) and the
 *   connection refused if ANY of them is denied by the AddressPolicy; the socket
 *   connects only to the addresses checked (no second DNS answer). An IP
 *   literal is checked before the request. `trusted` targets (federation.hosts
 *   entries, written by the operator) skip the check.
 * - Keep-alive: one agent per pool key (the destination server), so
 *   connections are reused between requests to it; the agents of the least
 *   recently used destinations are closed past a bound.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkServerIdentity, rootCertificates, type PeerCertificate } from 'node:tls';
import { addressFamily, type AddressPolicy } from '../net/address-rules.js';
import type { ResolvedServer } from './resolve-server.js';
import { hostForUrl } from './server-name.js';

/** A connection could not be made or the exchange did not complete; the message says why. */
export class ConnectionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionFailure';
  }
}

export interface ConnectionOptions {
  policy: AddressPolicy;
  /** Extra trusted CA certificates (PEM), on top of Node's bundled ones. */
  extraCaPem?: string;
  /** False: no certificate is checked at all. */
  verifyCertificates: boolean;
  /** Name resolution (every address); dns.lookup by default. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
  /** Keep connections open between requests (one agent per pool key). */
  keepAlive: boolean;
  /** Pool keys whose agents are kept; older ones are closed. */
  maxPools?: number;
}

export interface Target extends ResolvedServer {
  /** The operator named this address: no address check. */
  trusted: boolean;
}

export interface Exchange {
  method: string;
  /** Path and query, already encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  signal: AbortSignal;
  maxBytes: number;
}

export interface Exchanged {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const DEFAULT_MAX_POOLS = 1000;
/** Sockets to one destination at once: enough for a busy room's traffic, not a flood. */
const MAX_SOCKETS_PER_DESTINATION = 32;
const IDLE_SOCKET_MS = 60_000;

export class OutboundConnections {
  private readonly agents = new Map<string, http.Agent>();
  private readonly ca: string[] | undefined;
  private readonly resolve: (host: string) => Promise<LookupAddress[]>;

  constructor(private readonly options: ConnectionOptions) {
    this.ca = options.extraCaPem ? [...rootCertificates, options.extraCaPem] : undefined;
    this.resolve = options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  }

  /** One request to `target`; resolves with the whole response, or throws ConnectionFailure. */
  async exchange(poolKey: string, target: Target, exchange: Exchange): Promise<Exchanged> {
    if (
      !target.trusted &&
      addressFamily(target.host) &&
      !this.options.policy.permits(target.host)
    ) {
      throw new ConnectionFailure(`the address ${target.host} is not allowed`);
    }
    const response = await this.send(poolKey, target, exchange);
    return readResponse(response, exchange);
  }

  /** Closes every kept connection. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private send(poolKey: string, target: Target, exchange: Exchange): Promise<http.IncomingMessage> {
    const isHttps = target.scheme === 'https';
    const request = isHttps ? https.request : http.request;
    const headers = {
      ...exchange.headers,
      host: target.hostHeader,
      ...(exchange.body ? { 'content-length': String(exchange.body.length) } : {}),
    };
    const options: https.RequestOptions = {
      host: target.host,
      port: target.port,
      path: exchange.path,
      method: exchange.method,
      headers,
      signal: exchange.signal,
      agent: this.agentFor(poolKey, isHttps),
      lookup: checkedLookup(this.resolve, target.trusted ? undefined : this.options.policy),
      ...(isHttps ? tlsOptions(target.tlsServerName) : {}),
    };
    return new Promise((resolve, reject) => {
      const outgoing = request(options);
      outgoing.on('response', resolve);
      outgoing.on('error', (err) => reject(failureOf(err, exchange.signal)));
      outgoing.end(exchange.body);
    });
  }

  private agentFor(poolKey: string, isHttps: boolean): http.Agent {
    const key = `${isHttps ? 'https' : 'http'} ${poolKey}`;
    const existing = this.agents.get(key);
    if (existing) {
      // Most recently used at the end of the Map.
      this.agents.delete(key);
      this.agents.set(key, existing);
      return existing;
    }
    const common = {
      keepAlive: this.options.keepAlive,
      maxSockets: MAX_SOCKETS_PER_DESTINATION,
      timeout: IDLE_SOCKET_MS,
    };
    const agent = isHttps
      ? new https.Agent({
          ...common,
          ca: this.ca,
          rejectUnauthorized: this.options.verifyCertificates,
        })
      : new http.Agent(common);
    this.agents.set(key, agent);
    if (this.agents.size > (this.options.maxPools ?? DEFAULT_MAX_POOLS)) {
      const [oldestKey, oldest] = this.agents.entries().next().value!;
      this.agents.delete(oldestKey);
      oldest.destroy();
    }
    return agent;
  }
}

/**
 * SNI is the server name unless that is an IP address (SNI carries host
 * names only: '' sends none); the certificate is checked against it either way.
 */
function tlsOptions(tlsServerName: string): https.RequestOptions {
  return {
    servername: addressFamily(tlsServerName) ? '' : tlsServerName,
    checkServerIdentity: (_host: string, cert: PeerCertificate) =>
      checkServerIdentity(tlsServerName, cert),
  };
}

/** The socket's resolution: every address resolved, all checked, only those connected to. */
function checkedLookup(
  resolve: (host: string) => Promise<LookupAddress[]>,
  policy: AddressPolicy | undefined,
): LookupFunction {
  return ((host: string, options: { all?: boolean }, callback: LookupCallback) => {
    resolve(host).then(
      (addresses) => {
        if (addresses.length === 0) {
          callback(new ConnectionFailure(`${host} does not resolve`), '');
        } else if (policy && addresses.some(({ address }) => !policy.permits(address))) {
          // Any denied address refuses the host: a name that also points inside is not safe.
          callback(new ConnectionFailure(`${host} resolves to an address that is not allowed`), '');
        } else if (options.all) {
          callback(null, addresses);
        } else {
          callback(null, addresses[0]!.address, addresses[0]!.family);
        }
      },
      () => callback(new ConnectionFailure(`${host} does not resolve`), ''),
    );
  }) as LookupFunction;
}

type LookupCallback = (
  err: Error | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function failureOf(err: Error, signal: AbortSignal): ConnectionFailure {
  if (signal.aborted) return new ConnectionFailure('timed out');
  if (err instanceof ConnectionFailure) return err;
  return new ConnectionFailure(err.message);
}

async function readResponse(
  response: http.IncomingMessage,
  exchange: Exchange,
): Promise<Exchanged> {
  try {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > exchange.maxBytes) throw tooLarge(exchange);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > exchange.maxBytes) throw tooLarge(exchange);
      chunks.push(chunk as Buffer);
    }
    if (!response.complete) throw new ConnectionFailure('the response was cut short');
    return {
      status: response.statusCode ?? 0,
      headers: response.headers,
      body: Buffer.concat(chunks),
    };
  } catch (err) {
    response.destroy();
    if (err instanceof ConnectionFailure) throw err;
    throw failureOf(err as Error, exchange.signal);
  }
}

function tooLarge(exchange: Exchange): ConnectionFailure {
  return new ConnectionFailure(`the response is larger than ${exchange.maxBytes} bytes`);
}

/** `https://host:port` of a target, for messages and logs. */
export function targetUrl(target: ResolvedServer): string {
  return `${target.scheme}://${hostForUrl(target.host)}:${target.port}`;
}
