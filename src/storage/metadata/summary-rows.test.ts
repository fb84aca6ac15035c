import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHECKSUM_ALGORITHMS, type StoredChecksum } from '../../checksums/types.js';
import { checksumSummary } from './summary-rows.js';

test('checksumSummary reads the algorithm and type of every stored checksum', () => {
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    for (const type of ['FULL_OBJECT', 'COMPOSITE'] as const) {
      for (const value of ['AAAAAA==', 'q83vEjRWeJA=-12', '']) {
        const stored: StoredChecksum = { algorithm, type, value };
        assert.deepEqual(checksumSummary(JSON.stringify(stored)), { algorithm, type });
        // Other field orders and spacing (JSON written by something else) read the same.
        assert.deepEqual(checksumSummary(JSON.stringify({ value, type, algorithm })), { algorithm, type });
        assert.deepEqual(checksumSummary(JSON.stringify(stored, null, 1)), { algorithm, type });
      }
    }
  }
  assert.equal(checksumSummary(null), null);
});

test('checksumSummary shares one frozen summary per algorithm and type', () => {
  const a = checksumSummary(JSON.stringify({ algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'x' }));
  const b = checksumSummary(JSON.stringify({ algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'y' }));
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
  assert.notEqual(a, checksumSummary(JSON.stringify({ algorithm: 'CRC32', type: 'COMPOSITE', value: 'x' })));
});
