import type { HostAddress } from './endpoint.js';
import type { HeaderValue } from './render.js';

// Path-style requests on a plain host (an address, or a base domain itself) share their origin
// with the web console and its session cookie. An HTML, SVG or XML object opened there would run
// its scripts as that origin: free to read the session's CSRF token from /api/v1/session and act
// as whoever is signed in, so a key that may only write one bucket could take over the project.
// Objects read there are therefore served as sandboxed documents (a unique origin, no scripts).
// Virtual-hosted and project hosts are origins of their own and keep S3's plain behaviour; so do
// PDFs, which browsers open in their own viewer rather than as a document of this origin.

const SANDBOX = 'sandbox';

/**
 * Adds the sandbox to an object read (GET or HEAD) served on the console's origin. Its headers
 * carry the type as 'Content-Type' (objectResponseHeaders; a response-content-type override
 * replaces it under that name).
 */
export function sandboxOnConsoleOrigin(host: HostAddress, headers: Record<string, HeaderValue>): void {
  if (host.bucket !== null || host.project !== null) return;
  const type = headers['Content-Type'];
  if (typeof type === 'string' && /^\s*application\/pdf\s*(;|$)/i.test(type)) return;
  headers['Content-Security-Policy'] = SANDBOX;
}
