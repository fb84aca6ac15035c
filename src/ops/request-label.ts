import type { IncomingMessage } from 'node:http';

// The operation a protocol handler recognised in a request (e.g. the S3 operation), for the
// metrics the server records once the response is done. Kept beside the request, not on it.

const operations = new WeakMap<IncomingMessage, string>();

export function labelRequest(req: IncomingMessage, operation: string): void {
  operations.set(req, operation);
}

export function requestLabel(req: IncomingMessage): string | undefined {
  return operations.get(req);
}
