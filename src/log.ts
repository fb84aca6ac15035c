import { pino, type Logger, type DestinationStream } from 'pino';

// Structured logs. Credentials never reach them: auth headers, signatures and anything named
// like a secret are redacted before a line is written.

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-amz-security-token"]',
  '*.secret',
  '*.secretAccessKey',
  '*.bearerToken',
  '*.password',
  '*.secrets',
];

/** pino's levels, and 'silent': anything else would stop start-up with pino's own message, naming no flag. */
export const LOG_LEVELS: readonly string[] = [...Object.keys(pino.levels.values), 'silent'];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'skep' } }, destination);
}
