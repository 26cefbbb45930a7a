/**
 * Outbound checks for http.fetch. The allowlist is of names and ports, but a name can point
 * anywhere, so every resolved address is checked too, and the connection goes to that address.
 *
 * Addresses: public unicast passes; with `allowPrivateNetworks` so do RFC 1918 (10/8, 172.16/12,
 * 192.168/16) and unique-local (fc00::/7) unicast. Everything else is refused whatever the
 * settings say: loopback, link-local (and so 169.254.169.254), cloud metadata and platform
 * addresses, unspecified, broadcast, multicast, CGNAT, reserved and documentation ranges, and the
 * IPv6 forms that carry or translate an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible).
 * Ranges come from ipaddr.js; an IPv4-mapped address (::ffff:a.b.c.d) is judged as its IPv4.
 */
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

// ---------------------------------------------------------------------------------------------
// 1. Allowlist entries: `host`, `*.suffix`, an IPv4 address or `[IPv6]`, each with an optional `:port`

export interface HostEntry {
  /** Lowercase host name, or the suffix (with its leading dot) of a `*.` entry, or a bare IP. */
  host: string;
  wildcard: boolean;
  /** Absent: the URL scheme's default port only (http 80, https 443). */
  port?: number;
}

const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const ENTRY = new RegExp(`^(\\*\\.)?(${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::(\\d{1,5}))?$`, "i");

/** The parsed entry, or undefined when `entry` is not `host[:port]`, `*.suffix[:port]` or `[IPv6][:port]`. */
export function parseHostEntry(entry: string): HostEntry | undefined {
  const m = ENTRY.exec(entry.trim());
  if (!m) return undefined;
  const [, star, rawHost, rawPort] = m;
  const port = rawPort === undefined ? undefined : Number(rawPort);
  if (port !== undefined && (port < 1 || port > 65_535)) return undefined;
  const bracketed = rawHost!.startsWith("[");
  const host = bracketed ? rawHost!.slice(1, -1) : rawHost!.toLowerCase();
  if (bracketed && (star || !ipaddr.IPv6.isValid(host))) return undefined;
  // A bare dotted-number host must be an exact IPv4 address (URL parsing would rewrite `127.1`).
  if (!bracketed && /^[\d.]+$/.test(host) && (star || !ipaddr.IPv4.isValidFourPartDecimal(host))) return undefined;
  const normalised = bracketed ? ipaddr.parse(host).toString() : host;
  return star ? { host: `.${normalised}`, wildcard: true, port } : { host: normalised, wildcard: false, port };
}

export const HOST_ENTRY_HELP =
  "a host name, *.suffix, IPv4 address or [IPv6 address], optionally with :port (1-65535); without a port only the URL scheme's default port (http 80, https 443) is allowed";

const defaultPort = (protocol: string) => (protocol === "https:" ? 443 : 80);

/**
 * Why `url`'s host and port are not on the allowlist, or null when an entry admits them.
 * `*.suffix` admits names under suffix, not suffix itself.
 */
export function allowlistRefusal(url: URL, allowedHosts: readonly string[]): string | null {
  const bare = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const host = ipaddr.IPv6.isValid(bare) ? ipaddr.parse(bare).toString() : bare.toLowerCase().replace(/\.$/, "");
  const port = url.port ? Number(url.port) : defaultPort(url.protocol);
  const matching = allowedHosts
    .map(parseHostEntry)
    .filter((e): e is HostEntry => !!e && (e.wildcard ? host.endsWith(e.host) : host === e.host));
  if (matching.length === 0) return `${url.hostname} is not on the allowlist`;
  if (matching.some((e) => (e.port ?? defaultPort(url.protocol)) === port)) return null;
  return `port ${port} of ${url.hostname} is not on the allowlist`;
}

// ---------------------------------------------------------------------------------------------
// 2. Addresses

/** Refused whatever the settings say, though some lie inside ranges an admin may allow. */
const PLATFORM_ADDRESSES: [string, string][] = [
  ["169.254.169.254/32", "cloud metadata"], // AWS, GCP, Azure, OpenStack, Oracle (also link-local)
  ["169.254.170.2/32", "cloud metadata"], // AWS ECS task metadata
  ["100.100.100.200/32", "cloud metadata"], // Alibaba Cloud (also CGNAT)
  ["168.63.129.16/32", "cloud platform"], // Azure WireServer: a public address every VM reaches
  ["fd00:ec2::/32", "cloud metadata"], // AWS IPv6 instance services (metadata fd00:ec2::254), inside fc00::/7
];
const PLATFORM = PLATFORM_ADDRESSES.map(([cidr, why]) => [ipaddr.parseCIDR(cidr), why] as const);

/** IPv6 ranges ipaddr.js calls unicast that no fetch should reach. */
const IPV6_EXTRA: [string, string][] = [
  ["::/8", "reserved (IPv4-compatible)"], // ::a.b.c.d and the rest of ::/8
];
const EXTRA = IPV6_EXTRA.map(([cidr, why]) => [ipaddr.parseCIDR(cidr), why] as const);

const PRIVATE_RANGES = new Set(["private", "uniqueLocal"]);

/**
 * Why `address` is refused, or null when it may be connected to. `allowPrivateNetworks` admits
 * RFC 1918 and fc00::/7 unicast and nothing else.
 */
export function addressRefusal(address: string, allowPrivateNetworks: boolean): string | null {
  if (!ipaddr.isValid(address)) return "not an IP address";
  let ip = ipaddr.parse(address);
  let mapped = "";
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
    mapped = " (IPv4-mapped)";
  }
  for (const [[range, bits], why] of PLATFORM) {
    if (ip.kind() === range.kind() && ip.match(range, bits)) return `${why}${mapped}`;
  }
  const range = ip.range();
  if (range === "unicast") {
    for (const [[extra, bits], why] of EXTRA) {
      if (ip.kind() === extra.kind() && ip.match(extra, bits)) return why;
    }
    return null;
  }
  if (PRIVATE_RANGES.has(range)) {
    return allowPrivateNetworks ? null : `${range}${mapped}, and private networks are not allowed`;
  }
  return `${range}${mapped}`;
}

// ---------------------------------------------------------------------------------------------
// 3. Resolution

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** `dns.lookup(host, { all: true })`'s shape; tests pass their own. */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

export class RefusedError extends Error {}

/** Every address `host` resolves to, all checked; the caller connects only to these. */
export async function resolveChecked(
  host: string,
  allowPrivateNetworks: boolean,
  resolve: Resolver = systemResolver,
): Promise<ResolvedAddress[]> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const literal = ipaddr.isValid(bare);
  const addresses = literal
    ? [{ address: bare, family: ipaddr.parse(bare).kind() === "ipv6" ? 6 : 4 }]
    : await resolve(bare).catch(() => {
        throw new RefusedError(`cannot resolve ${bare}`);
      });
  if (addresses.length === 0) throw new RefusedError(`cannot resolve ${bare}`);
  // Every address is checked, not just the first: the resolver may rotate between them.
  for (const a of addresses) {
    const why = addressRefusal(a.address, allowPrivateNetworks);
    if (why) throw new RefusedError(literal ? `address ${bare} (${why})` : `${bare} resolves to ${a.address} (${why})`);
  }
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}
