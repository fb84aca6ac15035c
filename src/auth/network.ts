import { AddressSet, addressSetEntry } from '../net/client-address.js';

// A credential's network condition: the addresses and CIDR networks (IPv4 and IPv6) it may be
// used from. Checked on every S3 and REST request of a token that has one, against the client
// address (the socket's peer, or X-Forwarded-For from a configured trusted proxy).

/** Parsed sets by their entries: tokens are few, and parsing per request would cost a BlockList each time. */
const parsed = new Map<string, AddressSet>();
const MAX_CACHED = 1000;

function setOf(entries: readonly string[]): AddressSet {
  const key = entries.join(',');
  let set = parsed.get(key);
  if (!set) {
    // An entry stored before it was refused (say "10.0.0.0/", once read as /0) admits no one.
    set = new AddressSet(entries.filter((e) => addressSetEntry(e) !== null));
    if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, set);
  }
  return set;
}

/** Whether `address` may use a credential restricted to `allowed` (null or absent: anywhere). */
export function networkAllows(allowed: readonly string[] | null | undefined, address: string | undefined): boolean {
  if (!allowed) return true;
  return setOf(allowed).has(address);
}

/** Addresses and networks one token may name. */
export const MAX_ALLOWED_NETWORKS = 100;

/** What is wrong with a list of allowed networks, or null. */
export function networksProblem(entries: readonly string[]): string | null {
  if (entries.length === 0) return 'List at least one address or network (or leave the field out for any address).';
  if (entries.length > MAX_ALLOWED_NETWORKS) return `At most ${MAX_ALLOWED_NETWORKS} addresses or networks.`;
  for (const entry of entries) {
    if (!addressSetEntry(entry)) {
      return `"${entry}" is not an IPv4 or IPv6 address or CIDR network (e.g. 203.0.113.0/24, 2001:db8::/32; a prefix length is 0-32 or 0-128).`;
    }
  }
  return null;
}

/** Whether every address of `entry` lies in one of the `allowed` networks. */
export function networkWithin(entry: string, allowed: readonly string[]): boolean {
  const inner = addressSetEntry(entry);
  if (!inner) return false;
  return allowed.some((a) => {
    const outer = addressSetEntry(a);
    return !!outer && outer.family === inner.family && inner.bits >= outer.bits && setOf([a]).has(inner.address);
  });
}
