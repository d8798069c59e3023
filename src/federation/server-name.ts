/**
 * Server names (pure), by the grammar of the spec's appendix "Server name":
 *
 *   server_name = hostname [ ":" port ]        port = 1*5DIGIT (here 1-65535)
 *   hostname    = IPv4address / "[" IPv6address "]" / dns-name
 *   dns-name    = 1*255dns-char                dns-char = DIGIT / ALPHA / "-" / "."
 *
 * A delegated server name (`m.server` of /.well-known/matrix/server) has the
 * same grammar. A dotted quad that is no IPv4 address (`1.2.3.999`) is refused
 * rather than taken for a DNS name: no resolver would find it.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type HostKind = 'ipv4' | 'ipv6' | 'dns';

export interface ServerName {
  /** The host without brackets: `example.org`, `1.2.3.4`, `::1`. */
  host: string;
  kind: HostKind;
  /** The explicit port, when the name has one. */
  port?: number;
}

const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const DOTTED_QUAD = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;
const PORT = /^\d{1,5}$/;

/** Parses a server name; undefined when it does not follow the grammar. */
export function parseServerName(text: string): ServerName | undefined {
  if (text.startsWith('[')) return parseBracketed(text);
  const colon = text.lastIndexOf(':');
  const host = colon < 0 ? text : text.slice(0, colon);
  const port = colon < 0 ? undefined : parsePort(text.slice(colon + 1));
  if (port === null) return undefined;
  const kind = hostKind(host);
  if (!kind) return undefined;
  return port === undefined ? { host, kind } : { host, kind, port };
}

/** `[v6]` or `[v6]:port`. */
function parseBracketed(text: string): ServerName | undefined {
  const close = text.indexOf(']');
  if (close < 0) return undefined;
  const host = text.slice(1, close);
  if (!IPV6_CHARS.test(host) || !isIPv6(host)) return undefined;
  const rest = text.slice(close + 1);
  if (rest === '') return { host, kind: 'ipv6' };
  if (!rest.startsWith(':')) return undefined;
  const port = parsePort(rest.slice(1));
  return port === null ? undefined : { host, kind: 'ipv6', port };
}

/** A port 1-65535, or null when the text is none. */
function parsePort(text: string): number | null {
  if (!PORT.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function hostKind(host: string): HostKind | undefined {
  if (DOTTED_QUAD.test(host)) return isIPv4(host) ? 'ipv4' : undefined;
  return DNS_NAME.test(host) ? 'dns' : undefined;
}

/** Whether the host is an IP literal (IPv4 or IPv6). */
export function isIpLiteral(name: ServerName): boolean {
  return name.kind !== 'dns';
}

/** The host as written in a URL or a Host header: IPv6 in brackets. */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The name written back: host (bracketed for IPv6) and its port if it has one. */
export function formatServerName(name: ServerName): string {
  const host = hostForUrl(name.host);
  return name.port === undefined ? host : `${host}:${name.port}`;
}
