/**
 * /.well-known/matrix/server lookups (step 3 of resolving a server name), with
 * the cache the spec asks for (the lifetimes are well-known-rules.ts's).
 *
 * The request is HTTPS to `<hostname>` on 443, its certificate valid for
 * `<hostname>`, its addresses checked as every federation connection's.
 * Redirects are followed (at most 5, https only, each hop checked again and
 * its certificate valid for the host it names); a loop ends at the bound.
 * Concurrent lookups of one host share one fetch.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ConnectionFailure, type OutboundConnections } from './outbound-connection.js';
import { hostForUrl } from './server-name.js';
import {
  answerLifetimeMs,
  delegatedServerOf,
  failureLifetimeMs,
  headerLifetimeMs,
  isFresh,
  isUsableAfterFailure,
  WELL_KNOWN_MAX_BYTES,
  type WellKnownEntry,
} from './well-known-rules.js';

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ENTRIES = 10_000;
/** A valid answer is remembered this long past its lifetime, to cache a later failure briefly. */
const REMEMBER_VALID_MS = 2 * 3600_000;

export interface WellKnownOptions {
  connections: OutboundConnections;
  /** 443, as the spec's https://<hostname>/ says; tests serve it elsewhere. */
  port?: number;
  timeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

/** The outcome of one fetch: a delegation (or none) and its lifetime, or a failure. */
type Fetched =
  | { ok: true; delegated: string; headerLifetimeMs: number | undefined }
  | { ok: false; temporary: boolean };

interface CacheEntry extends WellKnownEntry {
  /** Until when a failure counts as "right after a valid answer". */
  hadValidUntilMs: number;
}

export class WellKnownLookup {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Promise<string | undefined>>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: WellKnownOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** The delegated server name for `hostname`, or undefined (none, invalid, unreachable). */
  lookup(hostname: string): Promise<string | undefined> {
    const entry = this.cache.get(hostname);
    if (entry && isFresh(entry, this.now())) return Promise.resolve(entry.delegated);
    const running = this.pending.get(hostname);
    if (running) return running;
    const lookup = this.refresh(hostname, entry).finally(() => this.pending.delete(hostname));
    this.pending.set(hostname, lookup);
    return lookup;
  }

  private async refresh(hostname: string, previous: CacheEntry | undefined) {
    const fetched = await this.fetch(hostname);
    const now = this.now();
    if (fetched.ok) {
      const lifetime = answerLifetimeMs(fetched.headerLifetimeMs, this.random());
      this.store(hostname, fetched.delegated, now, lifetime, now + lifetime + REMEMBER_VALID_MS);
      return fetched.delegated;
    }
    // A blip does not drop a delegation still within its lifetime.
    if (fetched.temporary && isUsableAfterFailure(previous, now)) return previous!.delegated;
    const hadValid = previous !== undefined && now < previous.hadValidUntilMs;
    const lifetime = failureLifetimeMs(hadValid, this.random());
    this.store(hostname, undefined, now, lifetime, previous?.hadValidUntilMs ?? 0);
    return undefined;
  }

  private store(
    hostname: string,
    delegated: string | undefined,
    now: number,
    lifetimeMs: number,
    hadValidUntilMs: number,
  ): void {
    this.cache.delete(hostname);
    if (lifetimeMs <= 0) return;
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hostname, {
      delegated,
      fetchedAtMs: now,
      expiresAtMs: now + lifetimeMs,
      hadValidUntilMs,
    });
  }

  /** One lookup over the network, redirects followed. */
  private async fetch(hostname: string): Promise<Fetched> {
    const signal = AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const port = this.options.port === undefined ? '' : `:${this.options.port}`;
    let url = new URL(`https://${hostForUrl(hostname)}${port}/.well-known/matrix/server`);
    try {
      for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
        const response = await this.get(url, signal);
        const location = response.headers.location;
        if (REDIRECTS.has(response.status) && location) {
          const next = httpsUrl(location, url);
          if (!next) return { ok: false, temporary: false };
          url = next;
          continue;
        }
        return answerOf(response.status, response.headers, response.body, this.now());
      }
      return { ok: false, temporary: false };
    } catch (err) {
      // Unreachable, TLS refused, too large, timed out: perhaps better later.
      if (err instanceof ConnectionFailure) return { ok: false, temporary: true };
      throw err;
    }
  }

  private get(url: URL, signal: AbortSignal) {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? 443 : Number(url.port);
    return this.options.connections.exchange(
      `well-known ${host}`,
      {
        host,
        port,
        tlsServerName: host,
        hostHeader: url.host,
        scheme: 'https',
        trusted: false,
      },
      {
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        headers: { accept: 'application/json' },
        signal,
        maxBytes: WELL_KNOWN_MAX_BYTES,
      },
    );
  }
}

/** A final response: a 200 with a valid body is a delegation; a 5xx is temporary. */
function answerOf(
  status: number,
  headers: IncomingHttpHeaders,
  body: Buffer,
  now: number,
): Fetched {
  if (status >= 500) return { ok: false, temporary: true };
  const delegated = status === 200 ? delegatedServerOf(body) : undefined;
  if (delegated === undefined) return { ok: false, temporary: false };
  return { ok: true, delegated, headerLifetimeMs: headerLifetimeMs(headers, now) };
}

/** A redirect's target, when it is an https URL. */
function httpsUrl(location: string, base: URL): URL | undefined {
  try {
    const url = new URL(location, base);
    return url.protocol === 'https:' && url.hostname !== '' ? url : undefined;
  } catch {
    return undefined;
  }
}
