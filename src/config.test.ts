import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolve } from 'node:path';
import { projectEndpoint, serveConfig } from './config.js';
import { storageFromEnv } from './wiring.js';

// The settings this file's features add: --project-domain / SKEP_PROJECT_DOMAIN and
// --no-sigv2 / SKEP_SIGV2, flag before environment before default; empty values, durations a
// timer honours, and the checks that name the setting at fault.

describe('serveConfig', () => {
  test('SigV2 is on by default; --no-sigv2 or SKEP_SIGV2=off turns it off', () => {
    assert.equal(serveConfig([], {}).sigv2, true);
    assert.equal(serveConfig(['--no-sigv2'], {}).sigv2, false);
    assert.equal(serveConfig([], { SKEP_SIGV2: 'off' }).sigv2, false);
    assert.equal(serveConfig([], { SKEP_SIGV2: 'on' }).sigv2, true);
    assert.throws(() => serveConfig([], { SKEP_SIGV2: 'maybe' }), /SKEP_SIGV2/);
  });

  test('the project domain comes from the flag, else the environment, lower-cased without stray dots', () => {
    assert.equal(serveConfig([], {}).projectDomain, undefined);
    assert.equal(serveConfig(['--project-domain', 'Blob.Example.com.'], { SKEP_PROJECT_DOMAIN: 'other.test' }).projectDomain, 'blob.example.com');
    assert.equal(serveConfig([], { SKEP_PROJECT_DOMAIN: 'blob.example.com' }).projectDomain, 'blob.example.com');
  });

  test('a project endpoint keeps the server URL\'s scheme and port', () => {
    assert.equal(projectEndpoint('https://s3.example.com:8443', 'blob.example.com', 'p-1'), 'https://p-1.blob.example.com:8443');
    assert.equal(projectEndpoint('http://127.0.0.1:9000', undefined, 'p-1'), undefined);
  });

  test('a variable set to nothing (or blanks) is unset: every setting keeps its default', () => {
    const blank = Object.fromEntries(
      [
        'SKEP_HOST', 'SKEP_PORT', 'SKEP_DATA', 'SKEP_REGION', 'SKEP_DOMAINS', 'SKEP_PROJECT_DOMAIN', 'SKEP_SIGV2', 'SKEP_TLS_CERT', 'SKEP_TLS_KEY',
        'SKEP_LOG_LEVEL', 'SKEP_LIFECYCLE_INTERVAL', 'SKEP_LIFECYCLE_DAY_SECONDS', 'SKEP_LIFECYCLE_BATCH', 'SKEP_TRUSTED_PROXIES',
        'SKEP_AUDIT_RETENTION_DAYS', 'SKEP_METADATA_URL', 'SKEP_METADATA_POOL_SIZE', 'SKEP_BLOBS', 'SKEP_BLOBS_ENDPOINT', 'SKEP_BLOBS_REGION',
        'SKEP_BLOBS_PATH_STYLE', 'SKEP_BLOBS_CONNECT_TIMEOUT', 'SKEP_BLOBS_STALL_TIMEOUT', 'SKEP_BLOB_PENDING_TTL', 'SKEP_BLOB_RELEASE_GRACE',
        'SKEP_BLOB_COLLECT_INTERVAL', 'SKEP_NODE_ID', 'SKEP_DRAIN_TIMEOUT', 'SKEP_MASTER_KEY', 'SKEP_ROOT_ACCESS_KEY_ID', 'SKEP_ROOT_SECRET_ACCESS_KEY',
      ].map((name, i) => [name, i % 2 ? '' : '  ']),
    );
    const c = serveConfig([], blank);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 9000);
    assert.equal(c.dataDir, resolve('./data'));
    assert.equal(c.region, 'us-east-1');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.drainTimeoutMs, 30_000);
    assert.equal(c.auditRetentionDays, undefined);
    assert.equal(c.lifecycleIntervalMs, undefined);
    assert.equal(c.sigv2, true);
    assert.equal(c.tls, undefined);
    assert.equal(c.masterKey, undefined);
    assert.equal(c.rootSecretAccessKey, undefined);
    assert.deepEqual(c.baseDomains, []);
    // storageFromEnv (serve's, the operator CLI's and migrate's) reads them by the same rule.
    for (const storage of [c.storage, storageFromEnv(blank)]) assert.deepEqual(JSON.parse(JSON.stringify(storage)), { s3: {}, gc: {} }, 'no storage setting');
  });

  test('an empty flag value is refused, naming the flag', () => {
    for (const flag of ['--data', '--host', '--port', '--region', '--log-level', '--blobs', '--metadata', '--drain-timeout', '--domain', '--trusted-proxy', '--node-id']) {
      assert.throws(() => serveConfig([flag, ''], {}), new RegExp(`^Error: ${flag} was given an empty value`), flag);
    }
    assert.throws(() => serveConfig(['--data', '  '], { SKEP_DATA: '/srv/skep' }), /--data was given an empty value/);
  });

  test('durations must fit a timer: 1 ms to 2147483 s (a drain may be 0)', () => {
    assert.equal(serveConfig(['--lifecycle-interval', '2147483'], {}).lifecycleIntervalMs, 2_147_483_000);
    assert.equal(serveConfig(['--lifecycle-interval', '0.2'], {}).lifecycleIntervalMs, 200);
    assert.throws(() => serveConfig(['--lifecycle-interval', '2592000'], {}), /--lifecycle-interval \(SKEP_LIFECYCLE_INTERVAL\) takes a number of seconds from 0.001 to 2147483/);
    assert.throws(() => serveConfig(['--lifecycle-interval', '0.0001'], {}), /--lifecycle-interval/);
    assert.throws(() => serveConfig([], { SKEP_LIFECYCLE_INTERVAL: '0' }), /SKEP_LIFECYCLE_INTERVAL/);
    assert.equal(serveConfig(['--drain-timeout', '0'], {}).drainTimeoutMs, 0);
    assert.equal(serveConfig([], { SKEP_DRAIN_TIMEOUT: '2147483' }).drainTimeoutMs, 2_147_483_000);
    assert.throws(() => serveConfig(['--drain-timeout', '99999999'], {}), /--drain-timeout \(SKEP_DRAIN_TIMEOUT\) takes a number of seconds from 0 to 2147483/);
    assert.throws(() => serveConfig(['--drain-timeout', '-1'], {}), /--drain-timeout/);
    for (const name of ['SKEP_BLOB_COLLECT_INTERVAL', 'SKEP_LIFECYCLE_DAY_SECONDS', 'SKEP_BLOBS_CONNECT_TIMEOUT', 'SKEP_BLOBS_STALL_TIMEOUT', 'SKEP_BLOB_PENDING_TTL', 'SKEP_BLOB_RELEASE_GRACE']) {
      assert.throws(() => serveConfig([], { [name]: '3000000' }), new RegExp(`${name} takes a number of seconds`), name);
    }
    assert.equal(serveConfig([], { SKEP_BLOBS_STALL_TIMEOUT: '20' }).storage?.s3?.stallTimeoutMs, 20_000);
    assert.equal(serveConfig(['--audit-retention-days', '36500'], {}).auditRetentionDays, 36_500);
    assert.throws(() => serveConfig(['--audit-retention-days', '1e9'], {}), /--audit-retention-days .* from 0 to 36500/);
  });

  test('--blobs takes s3:// or a folder: any other URL is refused, naming what is accepted', () => {
    for (const url of ['https://ceph.example:7480/skep-blobs', 'ftp://x', 's3:/bucket', 's3://', 'S3:bucket']) {
      assert.throws(() => serveConfig(['--blobs', url], {}), /--blobs \(SKEP_BLOBS\) takes s3:\/\/BUCKET\[\/PREFIX\] or a folder/, url);
    }
    assert.throws(() => serveConfig([], { SKEP_BLOBS: 'http://minio:9000/b' }), /--blobs \(SKEP_BLOBS\)/);
    assert.equal(serveConfig(['--blobs', 's3://b/p'], {}).storage?.blobs, 's3://b/p');
    assert.equal(serveConfig(['--blobs', '/srv/blobs'], {}).storage?.blobs, '/srv/blobs');
    assert.equal(serveConfig(['--blobs', './name:with-colon'], {}).storage?.blobs, './name:with-colon');
    assert.equal(serveConfig(['--blobs', 'C:\\blobs'], {}).storage?.blobs, 'C:\\blobs');
  });

  test('--log-level names the flag and the levels it takes', () => {
    assert.throws(() => serveConfig(['--log-level', 'warnn'], {}), /--log-level \(SKEP_LOG_LEVEL\) takes one of trace, debug, info, warn, error, fatal, silent, not warnn/);
    assert.equal(serveConfig([], { SKEP_LOG_LEVEL: 'silent' }).logLevel, 'silent');
  });
});
