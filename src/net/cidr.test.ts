import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from './cidr.js';

test('a network is an address, a slash and 1-3 digits within its family; a bare address is a network of itself', () => {
  assert.deepEqual(parseCidr('203.0.113.0/24'), { address: '203.0.113.0', family: 4, bits: 24 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', family: 4, bits: 0 });
  assert.deepEqual(parseCidr('192.0.2.7'), { address: '192.0.2.7', family: 4, bits: 32 });
  assert.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', family: 6, bits: 32 });
  assert.deepEqual(parseCidr('2001:db8::1/128'), { address: '2001:db8::1', family: 6, bits: 128 });
  assert.deepEqual(parseCidr('::1'), { address: '::1', family: 6, bits: 128 });
  assert.deepEqual(parseCidr('10.0.0.0/008'), { address: '10.0.0.0', family: 4, bits: 8 });
});

test('anything else is no network: Number() would have read these as prefix lengths', () => {
  for (const text of [
    '10.9.9.9/', // Number('') is 0: every address
    '10.9.9.9/-0', // a negative zero: node's BlockList aborts the process on it
    '10.0.0.0/0x18', '10.0.0.0/1e1', '10.0.0.0/ 8', '10.0.0.0/8 ', '10.0.0.0/+8', '10.0.0.0/8.0', '10.0.0.0/0008',
    '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8/8', '/8', '', 'not-an-ip', '300.1.1.1', '10.0.0/8',
  ]) {
    assert.equal(parseCidr(text), null, text);
  }
});
