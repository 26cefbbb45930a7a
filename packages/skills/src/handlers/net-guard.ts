/**
 * Outbound address checks for http.fetch: the allowlist is of names, but a name can point
 * anywhere, so every resolved address is checked too, and the connection goes to that address.
 */
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/** `host` exactly, or `*.suffix` for any name under suffix (not suffix itself). */
export function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return allowedHosts.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith("*.") ? h.endsWith(p.slice(1)) : h === p;
  });
}

/** Why an address is refused, or null when it is a public unicast one. */
export function refusedRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return "invalid";
  const ip = ipaddr.parse(address);
  // Only plain public unicast passes: mapped, NAT64, 6to4 and teredo forms can all embed a private IPv4.
  const range = ip.range();
  return range === "unicast" ? null : range;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export class RefusedError extends Error {}

/** Every address `host` resolves to, all checked; the caller connects only to these. */
export async function resolveChecked(host: string, allowPrivate: boolean): Promise<ResolvedAddress[]> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const addresses = ipaddr.isValid(bare)
    ? [{ address: bare, family: ipaddr.parse(bare).kind() === "ipv6" ? 6 : 4 }]
    : await lookup(bare, { all: true, verbatim: true }).catch(() => {
        throw new RefusedError(`cannot resolve ${bare}`);
      });
  if (addresses.length === 0) throw new RefusedError(`cannot resolve ${bare}`);
  if (!allowPrivate) {
    // Every address is checked, not just the first: the resolver may rotate between them.
    for (const a of addresses) {
      const why = refusedRange(a.address);
      if (why) throw new RefusedError(`${bare} resolves to a ${why} address (${a.address}), which is not allowed`);
    }
  }
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}
