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

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'skep' } }, destination);
}
