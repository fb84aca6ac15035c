import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { parseCidr, type Cidr } from './cidr.js';

// Who is on the other end of a request. The socket's peer, unless that peer is a reverse proxy
// the operator named (--trusted-proxy): then the X-Forwarded-For chain is read from the right,
// skipping the named proxies, and the first other address is the client. A header from anyone
// else is ignored, so a client cannot choose its own address (and its own rate-limit key).

/** A set of addresses and networks: "10.0.0.7", "10.0.0.0/8", "::1", "fd00::/8". */
export class AddressSet {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) addEntry(this.list, entry);
    this.size = entries.length;
  }

  has(address: string | undefined): boolean {
    if (!address) return false;
    const plain = unmapped(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** An IPv4 address as Node reports it on a dual-stack socket (::ffff:1.2.3.4) becomes 1.2.3.4. */
export function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

/**
 * An entry of a set: a CIDR network or address (parseCidr), or null. BlockList matches IPv4
 * clients against IPv4-mapped entries (::ffff:10.0.0.0/104 is 10.0.0.0/8); a shorter prefix on
 * such an address would reach far beyond the IPv4 network it names, so it is refused.
 */
export function addressSetEntry(entry: string): Cidr | null {
  const network = parseCidr(entry.trim());
  if (!network) return null;
  return network.family === 6 && network.bits < 96 && unmapped(network.address) !== network.address ? null : network;
}

function addEntry(list: BlockList, entry: string): void {
  const network = addressSetEntry(entry);
  if (!network) throw new Error(`not an IP address or CIDR network (a prefix length is 0-32 or 0-128): "${entry}"`);
  list.addSubnet(network.address, network.bits, network.family === 6 ? 'ipv6' : 'ipv4');
}

/** One X-Forwarded-For entry without a port or brackets ("[::1]:80" -> "::1", "1.2.3.4:5" -> "1.2.3.4"). */
function forwardedAddress(entry: string): string {
  const text = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return bracketed[1];
  const v4WithPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(text);
  return unmapped(v4WithPort ? v4WithPort[1] : text);
}

/**
 * The client's address: `peer` (the socket's remote address), or, when `peer` is a trusted proxy,
 * the right-most X-Forwarded-For entry that is not itself a trusted proxy (the left-most entry
 * when every one is). Malformed entries end the walk: nothing left of them can be trusted.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: AddressSet): string | undefined {
  const direct = peer === undefined ? undefined : unmapped(peer);
  if (trusted.size === 0 || forwardedFor === undefined || !trusted.has(direct)) return direct;
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map(forwardedAddress).filter(Boolean);
  let client = direct;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (isIP(chain[i]) === 0) break;
    client = chain[i];
    if (!trusted.has(chain[i])) break;
  }
  return client;
}

/** The resolver a server uses for every request: the rule above with its configured proxies. */
export function clientAddressResolver(trustedProxies: readonly string[]): (req: Pick<IncomingMessage, 'socket' | 'headers'>) => string | undefined {
  const trusted = new AddressSet(trustedProxies);
  return (req) => clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
}

/** What a trusted proxy said of each request's connection to it: true when that was TLS (the proxy ended TLS and speaks HTTP to skep). */
const proxySaidTls = new WeakMap<IncomingMessage, boolean>();

/**
 * The marker a server runs on every request: when the peer is a trusted proxy that sends
 * X-Forwarded-Proto, its right-most value (the nearest proxy's) says whether the client came over
 * TLS (https) or not. From anyone else the header is ignored, as X-Forwarded-For is.
 */
export function forwardedTlsMarker(trustedProxies: readonly string[]): (req: IncomingMessage) => void {
  if (trustedProxies.length === 0) return () => {};
  const trusted = new AddressSet(trustedProxies);
  return (req) => {
    const proto = req.headers['x-forwarded-proto'];
    if (proto === undefined || !trusted.has(req.socket.remoteAddress)) return;
    const nearest = (Array.isArray(proto) ? proto.join(',') : proto).split(',').pop()!.trim().toLowerCase();
    proxySaidTls.set(req, nearest === 'https');
  };
}

/** Whether a trusted proxy said the client's connection to it was TLS; undefined when no trusted proxy said. */
export function forwardedTls(req: IncomingMessage): boolean | undefined {
  return proxySaidTls.get(req);
}

/** Whether the client's connection was encrypted: skep's own TLS, or TLS a trusted proxy ended. */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || forwardedTls(req) === true;
}
