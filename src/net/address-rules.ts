/**
 * Which IP addresses outbound requests may reach (pure): the built-in deny list
 * of every range that is not the public Internet, an operator's extra ranges,
 * and an allow list that wins over both.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address
 * they carry, so a mapped loopback is loopback. Ranges that translate to IPv4
 * in ways the server cannot see through (NAT64, 6to4, Teredo) are denied whole.
 */
import { BlockList, isIP } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';

/**
 * Synapse's DEFAULT_IP_RANGE_BLOCKLIST (synapse/config/server.py), plus the
 * ranges it leaves to `0.0.0.0`/`::` special cases or does not list (reserved
 * 240/4, broadcast, NAT64, 6to4, Teredo, discard, the newer documentation range).
 */
export const DEFAULT_DENIED_RANGES: readonly string[] = [
  // IPv4
  '0.0.0.0/8', // "this network"; 0.0.0.0 reaches the local host
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (cloud metadata services live here)
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation (TEST-NET-1)
  '192.88.99.0/24', // former 6to4 relay anycast
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation (TEST-NET-2)
  '203.0.113.0/24', // documentation (TEST-NET-3)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and 255.255.255.255 broadcast
  // IPv6
  '::/96', // unspecified (::), loopback (::1), deprecated IPv4-compatible addresses
  '64:ff9b::/96', // NAT64: reaches any IPv4 address, private ones included
  '64:ff9b:1::/48', // local-use NAT64
  '100::/64', // discard-only
  '2001::/23', // IETF protocol assignments, Teredo (2001::/32) among them
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4: carries an IPv4 address
  '3fff::/20', // documentation (RFC 9637)
  '5f00::/16', // SRv6 segment identifiers
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
];

/** The family of an address literal (brackets and an IPv6 zone allowed), or undefined. */
export function addressFamily(address: string): IpFamily | undefined {
  const version = isIP(bare(address));
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/** `[::1]` → `::1`, `fe80::1%eth0` → `fe80::1`. */
function bare(address: string): string {
  const unbracketed =
    address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = unbracketed.indexOf('%');
  return zone < 0 ? unbracketed : unbracketed.slice(0, zone);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:0:0/96), if it is one. */
export function mappedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(bare(address));
  if (!groups) return undefined;
  const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (!isMapped) return undefined;
  const [high, low] = [groups[6]!, groups[7]!];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit groups of an IPv6 address (with an embedded dotted quad or not). */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((g) => parseInt(g, 16)) : [];
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** A parsed range: `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`. */
interface AddressRange {
  network: string;
  prefix: number;
  family: IpFamily;
}

/** Parses a range, or throws an Error naming what is wrong with it. */
export function parseRange(range: string): AddressRange {
  const [network = '', prefixText, extra] = range.trim().split('/');
  const family = addressFamily(network);
  if (!family || extra !== undefined || network.includes('%') || network.startsWith('[')) {
    throw new Error(`'${range}' is not an IP address or CIDR range`);
  }
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
    throw new Error(`'${range}' has a prefix length outside 0-${max}`);
  }
  return { network, prefix, family };
}

function blockListOf(ranges: Iterable<string>): BlockList {
  const list = new BlockList();
  for (const text of ranges) {
    const { network, prefix, family } = parseRange(text);
    list.addSubnet(network, prefix, family);
  }
  return list;
}

/** The deny and allow lists an outbound fetcher applies to every address it would connect to. */
export class AddressPolicy {
  private readonly denied: BlockList;
  private readonly allowed: BlockList;

  /**
   * `extraDenied` adds to DEFAULT_DENIED_RANGES; `allowed` ranges are reachable
   * even when denied (how tests reach a server on 127.0.0.1). Throws on a bad range.
   */
  constructor(options: { extraDenied?: readonly string[]; allowed?: readonly string[] } = {}) {
    this.denied = blockListOf([...DEFAULT_DENIED_RANGES, ...(options.extraDenied ?? [])]);
    this.allowed = blockListOf(options.allowed ?? []);
  }

  /** Whether an address may be connected to. Anything that is not an address is refused. */
  permits(address: string): boolean {
    const mapped = mappedIpv4(address);
    const checked = mapped ?? bare(address);
    const family = mapped ? 'ipv4' : addressFamily(checked);
    if (!family) return false;
    if (this.allowed.check(checked, family)) return true;
    return !this.denied.check(checked, family);
  }
}
