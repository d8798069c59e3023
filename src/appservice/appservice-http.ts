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
import type { LookupAddress } from 'node:dns';
import { AddressPolicy } from '../net/address-rules.js';
import { OutboundError, safeFetch } from '../net/safe-fetch.js';
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
    const headers: Record<string, string> = { Authorization: `Bearer ${service.hsToken}` };
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      const response = await safeFetch(url.href, {
        policy: this.policy,
        method: request.method,
        body: request.body,
        headers,
        maxBytes: this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
        timeoutMs: request.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        followRedirects: false,
        resolve: this.options.resolve,
        signal: request.signal,
      });
      const text = response.body.toString('utf8');
      return { status: response.status, text, json: parseJson(text) };
    } catch (err) {
      throw err instanceof OutboundError ? failureOf(err) : err;
    }
  }
}

/** The outbound failure as the callers tell them apart (ping's errors, retries). */
function failureOf(err: OutboundError): AppServiceRequestError {
  switch (err.reason) {
    case 'blocked-ip-literal':
    case 'blocked-address':
      return new AppServiceRequestError(
        'blocked',
        `${err.message}: not an address application services may have (app_service_ip_range_whitelist)`,
      );
    case 'timeout':
      return new AppServiceRequestError(
        'timeout',
        'The application service took too long to answer',
      );
    case 'too-large':
      return new AppServiceRequestError('too-large', err.message);
    default:
      return new AppServiceRequestError('connection', err.message);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
