import type { Context } from 'hono';
import type { ApiDeps, ApiEnv } from './context.js';
import { projectEndpoint } from '../config.js';

// The S3 endpoint a client should use: the host the caller reached this server by (so snippets
// and presigned URLs work behind the name the user typed), else the server's own URL.

const HOST_PATTERN = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function publicEndpoint(c: Context<ApiEnv>, deps: ApiDeps): string {
  const host = c.req.header('host');
  if (host && HOST_PATTERN.test(host)) return `${deps.tls ? 'https' : 'http'}://${host}`;
  return deps.fallbackUrl();
}

/** The project's own endpoint (`<project-id>.<project domain>`, same scheme and port), else the server's. */
export function projectS3Endpoint(c: Context<ApiEnv>, deps: ApiDeps, projectId: string): string {
  const server = publicEndpoint(c, deps);
  return projectEndpoint(server, deps.projectDomain, projectId) ?? server;
}
