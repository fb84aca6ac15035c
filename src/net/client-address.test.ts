import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressSet, clientAddress, clientAddressResolver } from './client-address.js';

const proxies = new AddressSet(['10.0.0.1', '192.168.0.0/16', 'fd00::/8']);

test('without trusted proxies the socket peer is the client, whatever the header says', () => {
  assert.equal(clientAddress('203.0.113.9', '198.51.100.1', new AddressSet([])), '203.0.113.9');
  assert.equal(clientAddress('::ffff:203.0.113.9', undefined, new AddressSet([])), '203.0.113.9');
});

test('a header from a peer that is not a trusted proxy is ignored', () => {
  assert.equal(clientAddress('203.0.113.9', '198.51.100.1', proxies), '203.0.113.9');
});

test('from a trusted proxy, the right-most untrusted X-Forwarded-For entry is the client', () => {
  assert.equal(clientAddress('10.0.0.1', '198.51.100.1', proxies), '198.51.100.1');
  // A client that sends its own header cannot pick its address: the proxy appended the real one.
  assert.equal(clientAddress('10.0.0.1', '1.1.1.1, 198.51.100.1', proxies), '198.51.100.1');
  // Proxies in a chain (another trusted hop) are skipped.
  assert.equal(clientAddress('::ffff:10.0.0.1', '198.51.100.1, 192.168.4.4', proxies), '198.51.100.1');
  assert.equal(clientAddress('10.0.0.1', ['198.51.100.1', '192.168.4.4'], proxies), '198.51.100.1');
  // Every hop trusted: the left-most one.
  assert.equal(clientAddress('10.0.0.1', '192.168.1.1, 192.168.4.4', proxies), '192.168.1.1');
  // Ports and brackets are not part of the address.
  assert.equal(clientAddress('fd00::1', '[2001:db8::5]:443', proxies), '2001:db8::5');
  assert.equal(clientAddress('10.0.0.1', '198.51.100.1:5555', proxies), '198.51.100.1');
  // Garbage ends the walk at the last good address.
  assert.equal(clientAddress('10.0.0.1', 'nonsense, 198.51.100.1', proxies), '198.51.100.1');
  assert.equal(clientAddress('10.0.0.1', 'nonsense', proxies), '10.0.0.1');
  // No header: the proxy itself.
  assert.equal(clientAddress('10.0.0.1', undefined, proxies), '10.0.0.1');
});

test('address sets take addresses and networks of both families, and refuse anything else', () => {
  assert.ok(proxies.has('192.168.200.1'));
  assert.ok(proxies.has('fd12:3456::1'));
  assert.ok(!proxies.has('10.0.0.2'));
  assert.ok(!proxies.has('not an address'));
  assert.throws(() => new AddressSet(['10.0.0.0/33']), /prefix length/);
  assert.throws(() => new AddressSet(['proxy.local']), /not an IP address/);
  const resolve = clientAddressResolver(['127.0.0.1']);
  const req = { socket: { remoteAddress: '127.0.0.1' }, headers: { 'x-forwarded-for': '203.0.113.7' } } as unknown as Parameters<typeof resolve>[0];
  assert.equal(resolve(req), '203.0.113.7');
});
