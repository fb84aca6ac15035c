import { isIP } from 'node:net';

// The one reading of an IP network as people write it: a token's allowed networks, a bucket
// policy's aws:SourceIp, the trusted proxies. Strict on purpose: Number() reads an empty prefix
// ("10.0.0.0/") as 0, a network of every address, "0x18" as 24 and "-0" as a negative zero that
// node's BlockList aborts the process on.

export interface Cidr {
  /** The address as written before the slash (IPv4-mapped IPv6 addresses stay IPv6). */
  address: string;
  family: 4 | 6;
  /** The prefix length; a bare address is a network of itself (32 or 128). */
  bits: number;
}

const PREFIX = /^[0-9]{1,3}$/;

/** "203.0.113.0/24", "2001:db8::/32", "192.0.2.7"; null for anything else. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return null;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, family, bits: max };
  const prefix = text.slice(slash + 1);
  if (!PREFIX.test(prefix)) return null;
  const bits = Number(prefix);
  return bits <= max ? { address, family, bits } : null;
}
