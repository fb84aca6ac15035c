import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { addressFromHost, carriesS3Signature } from '../s3/endpoint.js';

// Serves the web console: the files `vite build` writes to dist/console-app/, at /console/.
// Client-side routes (/console/projects/...) get index.html; hashed assets under assets/ are
// cached for a year; nothing outside the folder is ever read. A browser opening `/` (HTML
// wanted, no S3 credentials) is sent to /console/. The console only reads: a write, or a request
// carrying S3 credentials, under /console is S3's, for a bucket named `console` (which cannot
// exist), so S3 clients get S3's XML errors rather than HTML or redirects.
//
// resolveConsoleRequest decides what to answer (a value); writeConsoleReply is the one place
// that writes it.

export const CONSOLE_PREFIX = '/console';

/** dist/console-app/ of this checkout, from either src/console/ (tsx) or dist/console/ (the build). */
export function defaultConsoleRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'console-app');
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt', '.webmanifest']);

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
const SHORT = 'public, max-age=3600';

/** Mantine sets inline style attributes and <style> elements, hence 'unsafe-inline' for styles only. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export type ConsoleReply =
  | { kind: 'file'; path: string; contentType: string; cacheControl: string; size: number; mtimeMs: number; html: boolean }
  | { kind: 'redirect'; location: string }
  | { kind: 'error'; status: 400 | 404 | 503; message: string };

/**
 * Whether a request belongs to the console: an unsigned GET or HEAD of /console or /console/...,
 * or a browser's `GET /`. On a virtual-hosted bucket's host name (`<bucket>.<base domain>`) every
 * path is an object key, so nothing there is the console's.
 */
export function isConsoleRequest(req: IncomingMessage, baseDomains: readonly string[]): boolean {
  if (addressFromHost(req.headers.host, baseDomains).bucket !== null) return false;
  const url = req.url ?? '/';
  const path = url.split('?', 1)[0];
  if (path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`)) return isRead(req) && !carriesS3Signature(req);
  return wantsConsoleRedirect(req);
}

function isRead(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

/**
 * A person typing the server's address into a browser: GET / that asks for HTML and carries no
 * S3 credentials (no Authorization header, no presigned query). Everything else at / is S3's.
 */
export function wantsConsoleRedirect(req: IncomingMessage): boolean {
  if (!isRead(req)) return false;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path !== '/') return false;
  if (req.headers.authorization) return false;
  if (q >= 0) return false; // ?X-Amz-Signature=..., ?AWSAccessKeyId=..., or an S3 query like ?list-type=2
  const accept = req.headers.accept ?? '';
  return accept.split(',').some((part) => part.trim().toLowerCase().startsWith('text/html'));
}

async function fileStat(path: string) {
  try {
    const s = await stat(path);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

/** Decides the answer to a console request. Reads only inside `root`. */
export async function resolveConsoleRequest(root: string, rawUrl: string): Promise<ConsoleReply> {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q);
  if (rawPath === '/') return { kind: 'redirect', location: `${CONSOLE_PREFIX}/` };
  if (rawPath === CONSOLE_PREFIX) return { kind: 'redirect', location: `${CONSOLE_PREFIX}/${query}` };

  let rel: string;
  try {
    rel = decodeURIComponent(rawPath.slice(CONSOLE_PREFIX.length + 1));
  } catch {
    return { kind: 'error', status: 400, message: 'The path is not valid percent-encoding.' };
  }
  if (rel.includes('\0') || rel.includes('\\')) return { kind: 'error', status: 404, message: 'Not found.' };

  const base = resolve(root);
  const index = resolve(base, 'index.html');
  const target = resolve(base, rel);
  if (target !== base && !target.startsWith(base + sep)) return { kind: 'error', status: 404, message: 'Not found.' };

  // Build output lives in assets/ and at the top level (favicon.ico); client routes are deeper
  // and may contain dots (bucket names), so only these count as file requests.
  const looksLikeFile = rel.startsWith('assets/') || (!rel.includes('/') && rel.includes('.'));
  if (rel !== '' && rel !== 'index.html' && target !== base) {
    const s = await fileStat(target);
    if (s) {
      const ext = extname(target).toLowerCase();
      return {
        kind: 'file',
        path: target,
        contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
        cacheControl: rel.startsWith('assets/') ? IMMUTABLE : ext === '.html' ? REVALIDATE : SHORT,
        size: s.size,
        mtimeMs: s.mtimeMs,
        html: ext === '.html',
      };
    }
    // A missing file (say, an old hashed asset) is a 404, never index.html served as script.
    if (looksLikeFile) return { kind: 'error', status: 404, message: 'Not found.' };
  }

  // The console itself, or one of its client-side routes.
  const s = await fileStat(index);
  if (!s) {
    return {
      kind: 'error',
      status: 503,
      message: 'The web console is not built. Run `npm run build` (or `npm ci`, which builds it) and restart skep.',
    };
  }
  return { kind: 'file', path: index, contentType: CONTENT_TYPES['.html'], cacheControl: REVALIDATE, size: s.size, mtimeMs: s.mtimeMs, html: true };
}

interface CachedBody {
  mtimeMs: number;
  size: number;
  raw: Buffer;
  gzip: Buffer | null;
}

export interface ConsoleHandlerOptions {
  /** The built console (default: dist/console-app of this checkout). */
  root?: string;
  log?: Logger;
}

/** The console's request handler: resolve, then write. */
export function createConsoleHandler(opts: ConsoleHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const root = opts.root ?? defaultConsoleRoot();
  // The build is a few files; keep them (and their gzip) in memory, keyed by path and mtime.
  const cache = new Map<string, CachedBody>();

  async function body(path: string, mtimeMs: number, size: number, compressible: boolean): Promise<CachedBody> {
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === mtimeMs && hit.size === size) return hit;
    const raw = await readFile(path);
    const entry: CachedBody = { mtimeMs, size, raw, gzip: compressible && raw.length > 1024 ? gzipSync(raw, { level: 9 }) : null };
    cache.set(path, entry);
    return entry;
  }

  return async (req, res) => {
    const reply = await resolveConsoleRequest(root, req.url ?? '/');
    if (reply.kind === 'file') {
      const ext = extname(reply.path).toLowerCase();
      const b = await body(reply.path, reply.mtimeMs, reply.size, COMPRESSIBLE.has(ext));
      writeConsoleReply(req, res, reply, b);
    } else {
      if (reply.kind === 'error' && reply.status === 503) opts.log?.warn({ root }, 'console requested but not built');
      writeConsoleReply(req, res, reply, null);
    }
  };
}

/** The one place that writes a console answer. */
export function writeConsoleReply(req: IncomingMessage, res: ServerResponse, reply: ConsoleReply, body: CachedBody | null): void {
  const head = req.method === 'HEAD';
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  if (reply.kind === 'redirect') {
    res.writeHead(302, { Location: reply.location, 'Cache-Control': 'no-store', 'Content-Length': '0' });
    res.end();
    return;
  }
  if (reply.kind === 'error') {
    const text = `${reply.message}\n`;
    const headers = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-store',
    };
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : text);
    return;
  }
  if (!body) throw new Error('writeConsoleReply: a file reply needs its body');
  const etag = `"${reply.size.toString(16)}-${Math.floor(reply.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    'Content-Type': reply.contentType,
    'Cache-Control': reply.cacheControl,
    ETag: etag,
    Vary: 'Accept-Encoding',
  };
  if (reply.html) {
    headers['Content-Security-Policy'] = CSP;
    headers['X-Frame-Options'] = 'DENY';
  }
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = body.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? body.gzip : null;
  const payload = gzip ?? body.raw;
  if (gzip) headers['Content-Encoding'] = 'gzip';
  headers['Content-Length'] = String(payload.length);
  res.writeHead(200, headers);
  res.end(head ? undefined : payload);
}
