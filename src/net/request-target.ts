import type { IncomingMessage } from 'node:http';

// A request target in absolute form (`GET http://host/bucket/key HTTP/1.1`, as proxies and some
// clients send it) must be accepted (RFC 9112 section 3.2.2). Every handler reads req.url as a
// path, so it is reduced to its origin form (path and query) before routing; the Host header still
// names the host, as clients send one beside the absolute form.

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

export function toOriginForm(req: IncomingMessage): void {
  const url = req.url;
  if (url === undefined || url.charCodeAt(0) === 47 /* / */) return;
  const m = ABSOLUTE.exec(url);
  if (!m) return;
  const rest = url.slice(m[0].length);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
}
