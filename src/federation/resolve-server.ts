/**
 * Finding the server behind a server name: the spec's "Resolving server
 * names", every step in its order (server-server API, "Server discovery").
 *
 * The two lookups it needs (/.well-known/matrix/server and SRV records) are
 * injected, so the order of the steps is testable without a network; the real
 * ones are well-known.ts's WellKnownLookup and `srvLookup` below (node:dns).
 * Address (A/AAAA) resolution is not done here: the connection resolves the
 * `host` it is given, and checks every address (outbound-connection.ts).
 */
import { resolveSrv } from 'node:dns/promises';
import { FederationUnreachable } from './outbound.js';
import { formatServerName, hostForUrl, isIpLiteral, parseServerName } from './server-name.js';

/** Where and how to connect for one server name. */
export interface ResolvedServer {
  /** What to connect to: a host name to resolve, or an IP address (no brackets). */
  host: string;
  port: number;
  /** The name the certificate must be valid for, sent as SNI unless it is an IP address. */
  tlsServerName: string;
  /** The `Host` header of requests. */
  hostHeader: string;
  /** `http` only from a `federation.hosts` entry asking for it; discovery always gives https. */
  scheme: 'https' | 'http';
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DiscoveryLookups {
  /** The `m.server` of `https://<hostname>/.well-known/matrix/server`; undefined on any failure. */
  wellKnown(hostname: string): Promise<string | undefined>;
  /** The SRV records of a name (`_matrix-fed._tcp.example.org`); none when there are none. */
  srv(name: string): Promise<SrvRecord[]>;
}

const DEFAULT_PORT = 8448;

/**
 * The spec's steps for a server name; undefined when it is not one. Steps:
 * (1) an IP literal, (2) a host name with a port, (3) a valid well-known's
 * delegated name (3.1–3.5 below), (4) SRV `_matrix-fed._tcp`, (5) the
 * deprecated `_matrix._tcp`, (6) the host name on 8448.
 */
export async function resolveServerName(
  serverName: string,
  lookups: DiscoveryLookups,
  random: () => number = Math.random,
): Promise<ResolvedServer | undefined> {
  const name = parseServerName(serverName);
  if (!name) return undefined;
  // (1), (2): nothing to discover; the certificate is the name's, Host the whole name.
  if (isIpLiteral(name) || name.port !== undefined) {
    return target(name.host, name.port ?? DEFAULT_PORT, name.host, serverName);
  }
  // (3): a delegation, unless the answer is missing or invalid (then on to step 4).
  const delegatedText = await lookups.wellKnown(name.host);
  const delegated = delegatedText === undefined ? undefined : parseServerName(delegatedText);
  if (delegated) {
    const delegatedName = formatServerName(delegated);
    // (3.1), (3.2): an IP literal or a port given: Host is the delegated name as written.
    if (isIpLiteral(delegated) || delegated.port !== undefined) {
      return target(delegated.host, delegated.port ?? DEFAULT_PORT, delegated.host, delegatedName);
    }
    // (3.3)–(3.5): SRV for the delegated name, then its port 8448.
    return viaSrv(delegated.host, lookups, random);
  }
  // (4)–(6): SRV for the server name itself, then 8448.
  return viaSrv(name.host, lookups, random);
}

/**
 * `_matrix-fed._tcp.<hostname>`, then the deprecated `_matrix._tcp.<hostname>`,
 * then `<hostname>:8448`. The certificate and Host stay `<hostname>`'s: DNS
 * proves nothing, the delegate must prove it serves `<hostname>` by TLS.
 */
async function viaSrv(
  hostname: string,
  lookups: DiscoveryLookups,
  random: () => number,
): Promise<ResolvedServer> {
  for (const service of ['_matrix-fed._tcp', '_matrix._tcp']) {
    const [first] = orderSrv(await lookups.srv(`${service}.${hostname}`), random);
    if (first) return target(first.name, first.port, hostname, hostname);
  }
  return target(hostname, DEFAULT_PORT, hostname, hostname);
}

function target(
  host: string,
  port: number,
  tlsServerName: string,
  hostHeader: string,
): ResolvedServer {
  return { host, port, tlsServerName, hostHeader, scheme: 'https' };
}

/**
 * SRV records in the order to try them (RFC 2782): by priority, and within a
 * priority a weighted random order. A lone target "." means "no such service"
 * (RFC 2782): such records are dropped, as are trailing dots of names.
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const usable = records
    .map((record) => ({ ...record, name: record.name.replace(/\.$/, '') }))
    .filter((record) => record.name !== '' && record.port > 0);
  const priorities = [...new Set(usable.map((record) => record.priority))].sort((a, b) => a - b);
  return priorities.flatMap((priority) =>
    weightedOrder(
      usable.filter((record) => record.priority === priority),
      random,
    ),
  );
}

/** Repeatedly picks a record with a chance proportional to its weight (zero weights last). */
function weightedOrder(group: SrvRecord[], random: () => number): SrvRecord[] {
  const left = [...group];
  const ordered: SrvRecord[] = [];
  let total = left.reduce((sum, record) => sum + record.weight, 0);
  while (left.length > 0 && total > 0) {
    let point = random() * total;
    const index = left.findIndex((record) => (point -= record.weight) < 0);
    const [picked] = left.splice(index < 0 ? left.length - 1 : index, 1);
    ordered.push(picked!);
    total -= picked!.weight;
  }
  return [...ordered, ...left];
}

/** A `federation.hosts` entry: `host:port`, or `http://host:port` / `https://host:port`. */
export interface HostOverride {
  scheme: 'https' | 'http';
  host: string;
  port: number;
}

/** Parses an override, or throws an Error saying what is wrong with it. */
export function parseHostOverride(text: string): HostOverride {
  const scheme = /^(https?):\/\//.exec(text);
  const rest = scheme ? text.slice(scheme[0].length) : text;
  const address = parseServerName(rest);
  if (!address || address.port === undefined) {
    throw new Error(`'${text}' is not host:port (optionally after http:// or https://)`);
  }
  return {
    scheme: scheme?.[1] === 'http' ? 'http' : 'https',
    host: address.host,
    port: address.port,
  };
}

/**
 * The resolver the client uses: `federation.hosts` first (no discovery at all,
 * the operator's word), then the spec's steps.
 */
export class ServerResolver {
  private readonly overrides: Map<string, HostOverride>;

  constructor(
    hosts: Readonly<Record<string, string>>,
    private readonly lookups: DiscoveryLookups,
  ) {
    this.overrides = new Map(
      Object.entries(hosts).map(([name, value]) => [name, parseHostOverride(value)]),
    );
  }

  /** Whether the destination is a `federation.hosts` entry (its address is the operator's choice). */
  isOverridden(destination: string): boolean {
    return this.overrides.has(destination);
  }

  /** Where to reach a destination; FederationUnreachable when it is no server name. */
  async resolve(destination: string): Promise<ResolvedServer> {
    const override = this.overrides.get(destination);
    if (override) return fromOverride(destination, override);
    const resolved = await resolveServerName(destination, this.lookups);
    if (!resolved) throw new FederationUnreachable(destination, 'not a valid server name');
    return resolved;
  }
}

/**
 * An override replaces where to connect, nothing else: the certificate must
 * still be valid for the server name's host and Host is the server name, as in
 * step 2 (a proxy or a test server presents the server name's certificate).
 */
function fromOverride(destination: string, override: HostOverride): ResolvedServer {
  const name = parseServerName(destination);
  return {
    host: override.host,
    port: override.port,
    tlsServerName: name?.host ?? override.host,
    hostHeader: name ? destination : hostForUrl(override.host),
    scheme: override.scheme,
  };
}

const SRV_CACHE_MS = 3600_000;
const SRV_CACHE_ENTRIES = 10_000;

/**
 * SRV records from DNS (node:dns resolveSrv), cached for an hour (node gives
 * no TTL): without it every request to a server without a well-known would
 * ask DNS twice. A name with no records (or a failed lookup) gives none; only
 * "no such name" answers are remembered.
 */
export function cachedSrvLookup(
  query: (name: string) => Promise<SrvRecord[]> = resolveSrv,
  now: () => number = Date.now,
): (name: string) => Promise<SrvRecord[]> {
  const cache = new Map<string, { records: Promise<SrvRecord[]>; expiresAtMs: number }>();
  return (name) => {
    const cached = cache.get(name);
    if (cached && now() < cached.expiresAtMs) return cached.records;
    if (cache.size >= SRV_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    const records = query(name).catch((err: NodeJS.ErrnoException) => {
      // "No such name" is an answer; a timeout or a failing resolver is not, and is asked again.
      if (err.code !== 'ENOTFOUND' && err.code !== 'ENODATA') cache.delete(name);
      return [];
    });
    cache.set(name, { records, expiresAtMs: now() + SRV_CACHE_MS });
    return records;
  };
}
