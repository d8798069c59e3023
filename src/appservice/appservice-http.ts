/**
 * Every request Weft makes to an application service goes through
 * `AppServiceHttp.request`: transactions, user and alias queries, ping, third
 * party lookups. The service's URL comes from a registration file, so the same
 * care as for URLs chosen by users applies: the host is resolved here, each
 * address checked against the AddressPolicy (private, loopback and reserved
 * ranges refused unless in `app_service_ip_range_whitelist`), and the
 * connection pinned to the checked addresses (no second DNS answer); one
 * deadline for the whole exchange; the answer's body capped. No redirects are
 * followed (Synapse's SimpleHttpClient does not follow them either).
 *
 * TODO(lead): src/net/safe-fetch.ts does the same for GETs only; once it takes a
 * method and a body, this module should call it instead of its own request.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressFamily, AddressPolicy } from '../net/address-rules.js';
import type { AppServiceRegistration } from '../domain/appservice.js';

export const APP_PREFIX = '/_matrix/app/v1';

/** Why a request failed without an answer (an answer of any status is not a failure). */
export type AppServiceFailure = 'blocked' | 'timeout' | 'connection' | 'too-large' | 'no-url';

export class AppServiceRequestError extends Error {
  constructor(
    readonly reason: AppServiceFailure,
    message: string,
  ) {
    super(message);
    this.name = 'AppServiceRequestError';
  }
}

export interface AppServiceRequest {
  method: 'GET' | 'PUT' | 'POST';
  /** After the service's URL, e.g. `/_matrix/app/v1/transactions/12` (already escaped). */
  path: string;
  query?: Record<string, string | string[]>;
  /** A JSON body, already serialised (transactions keep their exact bytes). */
  body?: string;
  /** Overrides the default deadline. */
  timeoutMs?: number;
  /** Aborts the request (the server is stopping). */
  signal?: AbortSignal;
}

export interface AppServiceResponse {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface AppServiceHttpOptions {
  /** CIDR ranges that may be reached although denied by default (`app_service_ip_range_whitelist`). */
  allowedRanges: readonly string[];
  timeoutMs?: number;
  maxResponseBytes?: number;
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

/** Synapse's default for appservice requests is 60 s; transactions are retried anyway. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** Answers are small JSON documents (ping, queries, protocol metadata). */
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export class AppServiceHttp {
  private readonly policy: AddressPolicy;

  constructor(private readonly options: AppServiceHttpOptions) {
    this.policy = new AddressPolicy({ allowed: options.allowedRanges });
  }

  /** Sends the request with the hs_token as a Bearer token; resolves with any status. */
  async request(
    service: AppServiceRegistration,
    request: AppServiceRequest,
  ): Promise<AppServiceResponse> {
    if (service.url === null) throw new AppServiceRequestError('no-url', 'The service has no URL');
    const url = new URL(service.url + request.path);
    for (const [name, value] of Object.entries(request.query ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) url.searchParams.append(name, one);
    }
    const timeout = AbortSignal.timeout(
      request.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    const deadline = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
    const addresses = await this.checkedAddresses(url, deadline);
    const headers: Record<string, string> = { Authorization: `Bearer ${service.hsToken}` };
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await send(url, request, headers, addresses, deadline);
    return readAnswer(
      response,
      this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      deadline,
    );
  }

  private async checkedAddresses(url: URL, deadline: AbortSignal): Promise<LookupAddress[]> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const family = addressFamily(host);
    const addresses = family
      ? [{ address: host, family: family === 'ipv4' ? 4 : 6 }]
      : await withDeadline(this.resolve(host), deadline);
    if (addresses.length === 0 || addresses.some(({ address }) => !this.policy.permits(address))) {
      throw new AppServiceRequestError(
        'blocked',
        `${host} is not an address application services may have (app_service_ip_range_whitelist)`,
      );
    }
    return addresses;
  }

  private async resolve(host: string): Promise<LookupAddress[]> {
    try {
      return await (this.options.resolve ?? defaultResolve)(host);
    } catch {
      throw new AppServiceRequestError('connection', `${host} does not resolve`);
    }
  }
}

const defaultResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

function withDeadline<T>(promise: Promise<T>, deadline: AbortSignal): Promise<T> {
  if (deadline.aborted) return Promise.reject(timeoutError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeoutError());
    deadline.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
  });
}

function timeoutError(): AppServiceRequestError {
  return new AppServiceRequestError('timeout', 'The application service took too long to answer');
}

/** The socket's name resolution: only the addresses already checked. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: PinnedCallback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as LookupFunction;
}

type PinnedCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function send(
  url: URL,
  request: AppServiceRequest,
  headers: Record<string, string>,
  addresses: LookupAddress[],
  deadline: AbortSignal,
): Promise<IncomingMessage> {
  const start = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = start(url, {
      method: request.method,
      headers,
      lookup: pinnedLookup(addresses),
      agent: false,
      signal: deadline,
    });
    outgoing.on('response', resolve);
    outgoing.on('error', (err) =>
      reject(
        deadline.aborted
          ? timeoutError()
          : new AppServiceRequestError('connection', `Request failed: ${err.message}`),
      ),
    );
    outgoing.end(request.body);
  });
}

async function readAnswer(
  response: IncomingMessage,
  maxBytes: number,
  deadline: AbortSignal,
): Promise<AppServiceResponse> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        throw new AppServiceRequestError(
          'too-large',
          `The answer is larger than ${maxBytes} bytes`,
        );
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof AppServiceRequestError) throw err;
    throw deadline.aborted
      ? timeoutError()
      : new AppServiceRequestError('connection', `The answer was cut: ${(err as Error).message}`);
  } finally {
    response.destroy();
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: response.statusCode ?? 0, text, json: parseJson(text) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
