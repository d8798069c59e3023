/**
 * The rules of /.well-known/matrix/server answers (pure): what a body
 * delegates to, and how long an answer (or a failure) is cached.
 *
 * The spec: respect the cache headers, 24 hours when there are none, at most
 * 48 hours, errors for up to an hour. As Synapse's well_known_resolver.py:
 * header-given lifetimes are kept above 5 minutes (a `max-age=0` would mean a
 * fetch before every request), defaults get ±10% jitter so that a restart's
 * lookups do not all expire together, a failure for a server that had a valid
 * answer recently is cached only 2 minutes, and a temporary failure (no
 * connection, 5xx, timeout) keeps a previous answer still in its lifetime.
 */

export const WELL_KNOWN_DEFAULT_MS = 24 * 3600_000;
export const WELL_KNOWN_MAX_MS = 48 * 3600_000;
export const WELL_KNOWN_MIN_MS = 5 * 60_000;
export const WELL_KNOWN_ERROR_MS = 3600_000;
/** A failure right after a valid answer: probably a blip, asked again soon. */
export const WELL_KNOWN_DOWN_MS = 2 * 60_000;
/** An answer is fetched again once this share of its lifetime is left (then kept if that fails). */
export const WELL_KNOWN_REFRESH_SHARE = 0.2;
export const WELL_KNOWN_MAX_BYTES = 50 * 1024;
const JITTER = 0.1;

/** The `m.server` value of a body, or undefined when the body is not a valid answer. */
export function delegatedServerOf(body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const server = (parsed as Record<string, unknown>)['m.server'];
  return typeof server === 'string' && server !== '' ? server : undefined;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * The lifetime the response headers give, in ms: 0 for `no-store`, then
 * `max-age`, then `Expires` (an invalid date is already expired, RFC 9111);
 * undefined when they say nothing.
 */
export function headerLifetimeMs(headers: Headers, nowMs: number): number | undefined {
  const directives = cacheControl(headers['cache-control']);
  if (directives.has('no-store')) return 0;
  const maxAge = directives.get('max-age');
  if (maxAge !== undefined && /^\d+$/.test(maxAge)) return Number(maxAge) * 1000;
  const expires = lastValue(headers.expires);
  if (expires === undefined) return undefined;
  const at = Date.parse(expires);
  return Number.isNaN(at) ? 0 : Math.max(0, at - nowMs);
}

function cacheControl(header: string | string[] | undefined): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>();
  for (const line of [header ?? []].flat()) {
    for (const directive of line.split(',')) {
      const [name = '', value] = directive.split('=', 2).map((part) => part.trim());
      if (name !== '') directives.set(name.toLowerCase(), value?.replace(/^"(.*)"$/, '$1'));
    }
  }
  return directives;
}

function lastValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[header.length - 1] : header;
}

/** ±10% of `ms`, by a random number in [0, 1). */
function jittered(ms: number, random: number): number {
  return ms * (1 - JITTER + 2 * JITTER * random);
}

/**
 * How long a valid answer is cached: the headers' lifetime kept within
 * [5 min, 48 h] (`no-store`: not cached), or 24 h jittered.
 */
export function answerLifetimeMs(headerMs: number | undefined, random: number): number {
  if (headerMs === undefined) return jittered(WELL_KNOWN_DEFAULT_MS, random);
  if (headerMs === 0) return 0;
  return Math.min(WELL_KNOWN_MAX_MS, Math.max(WELL_KNOWN_MIN_MS, headerMs));
}

/** How long a failure is cached: an hour, or 2 minutes after a recent valid answer; jittered. */
export function failureLifetimeMs(hadValidRecently: boolean, random: number): number {
  return jittered(hadValidRecently ? WELL_KNOWN_DOWN_MS : WELL_KNOWN_ERROR_MS, random);
}

/** A cached lookup: the delegated name (undefined: no delegation) and its times. */
export interface WellKnownEntry {
  delegated: string | undefined;
  fetchedAtMs: number;
  expiresAtMs: number;
}

/** Whether the entry can be used as it is (not yet in the last 20% of its lifetime). */
export function isFresh(entry: WellKnownEntry, nowMs: number): boolean {
  const lifetime = entry.expiresAtMs - entry.fetchedAtMs;
  return nowMs < entry.expiresAtMs - WELL_KNOWN_REFRESH_SHARE * lifetime;
}

/** Whether a temporary failure may fall back to the entry (a delegation, not yet expired). */
export function isUsableAfterFailure(entry: WellKnownEntry | undefined, nowMs: number): boolean {
  return entry !== undefined && entry.delegated !== undefined && nowMs < entry.expiresAtMs;
}
