/**
 * Outbound HTTP(S) requests (any method, a body or not) to addresses chosen by users or other servers (URL
 * previews now; pushers, application services and federation later), made so
 * they cannot be turned against the server's own network:
 *
 * - only http: and https: URLs;
 * - the host name is resolved here (every address), and the request is refused
 *   if ANY address is denied by the AddressPolicy (unless allowed);
 * - the connection goes to an address that was checked: the socket's `lookup`
 *   answers with the checked addresses, so a second DNS answer (rebinding) is
 *   never asked for;
 * - redirects are followed here (unless told not to), at most `maxRedirects`,
 *   each hop checked again; 307/308 repeat the request, the others become GETs;
 * - one deadline for the whole exchange, redirects included, and a body limit
 *   that aborts the download as soon as it is passed (Content-Length or not).
 *
 * Errors are OutboundError with a `reason`: callers turn them into their own
 * answers (Matrix errors for URL previews, retries for pushers).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressFamily, type AddressPolicy } from './address-rules.js';

export type OutboundFailure =
  /** Not an absolute http(s) URL. */
  | 'bad-url'
  /** The URL names a denied IP address itself. */
  | 'blocked-ip-literal'
  /** The host name resolves to at least one denied address. */
  | 'blocked-address'
  /** The host name does not resolve. */
  | 'dns'
  | 'too-many-redirects'
  | 'too-large'
  | 'timeout'
  /** Refused by the caller's `checkResponse` (status, content type). */
  | 'refused-response'
  /** Connection refused or reset, TLS failure, malformed response. */
  | 'network';

export class OutboundError extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

export interface SafeFetchOptions {
  policy: AddressPolicy;
  /** GET by default. */
  method?: string;
  /** Sent with its Content-Length (set a Content-Type in `headers`). */
  body?: Buffer | string;
  /** The body may not be larger than this, in bytes. */
  maxBytes: number;
  /** For everything: resolution, every hop, the whole body. */
  timeoutMs: number;
  maxRedirects?: number;
  /** False: a redirect is answered as it is, not followed (application services, say). */
  followRedirects?: boolean;
  headers?: Record<string, string>;
  /** Called with the final response's head, before its body is read; throw to refuse it. */
  checkResponse?: (status: number, headers: IncomingHttpHeaders) => void;
  /** Name resolution (every address); dns.lookup by default. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
  /** Cuts the exchange short (the server is stopping); reported as a timeout. */
  signal?: AbortSignal;
}

export interface FetchedResponse {
  /** The URL answered, after redirects. */
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const DEFAULT_MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** One request as sent: what a redirect may change. */
interface Outgoing {
  url: URL;
  method: string;
  body: Buffer | string | undefined;
}

/** Requests `url` under the options' rules (see the module comment). */
export async function safeFetch(url: string, options: SafeFetchOptions): Promise<FetchedResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const deadline = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let outgoing: Outgoing = {
    url: parseHttpUrl(url),
    method: options.method ?? 'GET',
    body: options.body,
  };
  for (let hop = 0; ; hop++) {
    const addresses = await checkedAddresses(outgoing.url, options, deadline);
    const response = await send(outgoing, addresses, options.headers ?? {}, deadline);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (options.followRedirects !== false && REDIRECT_STATUSES.has(status) && location) {
      response.destroy();
      if (hop >= maxRedirects) {
        throw new OutboundError('too-many-redirects', `More than ${maxRedirects} redirects`);
      }
      outgoing = redirected(outgoing, status, parseHttpUrl(location, outgoing.url));
      continue;
    }
    return readResponse(outgoing.url, response, options, deadline);
  }
}

/** As browsers: 307 and 308 repeat the request; the others become a GET without a body. */
function redirected(previous: Outgoing, status: number, url: URL): Outgoing {
  if (status === 307 || status === 308) return { ...previous, url };
  const method = previous.method === 'HEAD' ? 'HEAD' : 'GET';
  return { url, method, body: undefined };
}

/** An absolute http(s) URL (relative ones against `base`), without credentials in it. */
export function parseHttpUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new OutboundError('bad-url', 'Not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundError('bad-url', 'Only http and https URLs can be fetched');
  }
  if (url.hostname === '') throw new OutboundError('bad-url', 'The URL has no host');
  return url;
}

/** The addresses a URL's host stands for, every one permitted, or an OutboundError. */
async function checkedAddresses(
  url: URL,
  options: SafeFetchOptions,
  deadline: AbortSignal,
): Promise<LookupAddress[]> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const family = addressFamily(host);
  if (family) {
    if (!options.policy.permits(host)) {
      throw new OutboundError('blocked-ip-literal', 'IP address blocked');
    }
    return [{ address: host, family: family === 'ipv4' ? 4 : 6 }];
  }
  const addresses = await withDeadline(resolveHost(host, options), deadline);
  if (addresses.length === 0) throw new OutboundError('dns', `${host} does not resolve`);
  // Any denied address refuses the host: a name that also points inside is not safe to use.
  if (addresses.some(({ address }) => !options.policy.permits(address))) {
    throw new OutboundError('blocked-address', `${host} resolves to a blocked address`);
  }
  return addresses;
}

async function resolveHost(host: string, options: SafeFetchOptions): Promise<LookupAddress[]> {
  try {
    return await (options.resolve ?? defaultResolve)(host);
  } catch {
    throw new OutboundError('dns', `${host} does not resolve`);
  }
}

const defaultResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

/** Races a promise against the deadline (dns.lookup takes no signal). */
function withDeadline<T>(promise: Promise<T>, deadline: AbortSignal): Promise<T> {
  if (deadline.aborted) return Promise.reject(timeoutError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeoutError());
    deadline.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
  });
}

function timeoutError(): OutboundError {
  return new OutboundError('timeout', 'The remote server took too long to answer');
}

/** The socket's name resolution: only the addresses already checked. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return ((_host: string, lookupOptions: { all?: boolean }, callback: PinnedCallback) => {
    if (lookupOptions.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as LookupFunction;
}

type PinnedCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** One request, connected to the checked addresses; resolves at the response head. */
function send(
  { url, method, body }: Outgoing,
  addresses: LookupAddress[],
  headers: Record<string, string>,
  deadline: AbortSignal,
): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {
      method,
      headers: { ...headers, ...length },
      lookup: pinnedLookup(addresses),
      // No pooled sockets: each request connects to the addresses it checked.
      agent: false,
      signal: deadline,
    });
    outgoing.on('response', resolve);
    outgoing.on('error', (err) => reject(deadline.aborted ? timeoutError() : networkError(err)));
    outgoing.end(body);
  });
}

function networkError(err: Error): OutboundError {
  return new OutboundError('network', `Request failed: ${err.message}`);
}

/** The final response's body, refused as soon as it passes the limit. */
async function readResponse(
  url: URL,
  response: IncomingMessage,
  options: SafeFetchOptions,
  deadline: AbortSignal,
): Promise<FetchedResponse> {
  const status = response.statusCode ?? 0;
  try {
    options.checkResponse?.(status, response.headers);
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > options.maxBytes) throw tooLarge(options.maxBytes);
    const body = await readBody(response, options.maxBytes, deadline);
    return { url: url.href, status, headers: response.headers, body };
  } finally {
    response.destroy();
  }
}

function tooLarge(maxBytes: number): OutboundError {
  return new OutboundError('too-large', `The remote content is larger than ${maxBytes} bytes`);
}

async function readBody(
  response: IncomingMessage,
  maxBytes: number,
  deadline: AbortSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof OutboundError) throw err;
    throw deadline.aborted ? timeoutError() : networkError(err as Error);
  }
  // A connection cut before the declared length ends the stream early: not a whole body.
  if (!response.complete) throw new OutboundError('network', 'The response was cut short');
  return Buffer.concat(chunks);
}
