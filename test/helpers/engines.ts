// Connection settings of the engines the test runner started (scripts/run-tests.mjs), and
// throwaway databases and buckets in them for one test each. A file that needs an engine says so
// in a `// test-engines:` comment; when the engine is not available its tests skip with the reason
// outside CI, and fail in CI (with CI=true a missing PostgreSQL or Ceph must not pass silently).

import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { ENGINE_ENV, type EngineName } from '../engines/names.js';
import { IN_CI } from './clients.js';

export interface EngineAvailability {
  /** A node:test `skip` option: the reason outside CI, false when available (or in CI). */
  skip: string | false;
  /** Throws when the engine is missing (a test body in CI gets here instead of skipping). */
  require(): void;
}

function whyMissing(name: EngineName): string | null {
  const errors = JSON.parse(process.env[ENGINE_ENV.errors] ?? '{}') as Partial<Record<EngineName, string>>;
  if (errors[name]) return `${name} is not available: ${errors[name]}`;
  const set = name === 'postgres' ? !!process.env[ENGINE_ENV.postgresUrl] : !!process.env[ENGINE_ENV.cephEndpoint];
  return set ? null : `${name} was not started (run the tests with npm test, which starts it for files marked "// test-engines: ${name}")`;
}

export function engine(...names: EngineName[]): EngineAvailability {
  const reasons = names.map(whyMissing).filter((r): r is string => r !== null);
  const reason = reasons.join('; ');
  return {
    skip: reason && !IN_CI ? reason : false,
    require() {
      if (reason) throw new Error(`${reason}${IN_CI ? ' (CI=true: a missing engine fails the test)' : ''}`);
    },
  };
}

// ---- PostgreSQL ----

export function postgresAdminUrl(): string {
  const url = process.env[ENGINE_ENV.postgresUrl];
  if (!url) throw new Error(whyMissing('postgres') ?? 'no PostgreSQL');
  return url;
}

let counter = 0;
const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const name = uniqueName('skep');
  await admin((c) => c.query(`create database "${name}"`));
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A new, empty schema in the run's shared database, as a URL whose connections use it (cheaper
 * than a database when a suite opens hundreds of stores).
 */
export async function freshSchemaUrl(): Promise<string> {
  const name = uniqueName('s');
  await admin((c) => c.query(`create schema "${name}"`));
  const url = new URL(postgresAdminUrl());
  url.searchParams.set('options', `-c search_path=${name}`);
  return url.toString();
}

// ---- Ceph (its S3 gateway) ----

export interface CephSettings {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export function cephSettings(): CephSettings {
  const endpoint = process.env[ENGINE_ENV.cephEndpoint];
  if (!endpoint) throw new Error(whyMissing('ceph') ?? 'no Ceph');
  return {
    endpoint,
    accessKeyId: process.env[ENGINE_ENV.cephAccessKeyId] ?? '',
    secretAccessKey: process.env[ENGINE_ENV.cephSecretAccessKey] ?? '',
  };
}

export function cephClient(): S3Client {
  const c = cephSettings();
  return new S3Client({
    endpoint: c.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
  });
}

/** A new, empty bucket on the gateway; returns its name. */
export async function freshCephBucket(): Promise<string> {
  const name = uniqueName('skep').replace(/_/g, '-').toLowerCase();
  const s3 = cephClient();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    s3.destroy();
  }
  return name;
}
