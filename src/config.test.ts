import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { projectEndpoint, serveConfig } from './config.js';

// The settings this file's features add: --project-domain / SKEP_PROJECT_DOMAIN and
// --no-sigv2 / SKEP_SIGV2, flag before environment before default.

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
});
