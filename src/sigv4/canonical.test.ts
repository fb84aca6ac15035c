// The pure SigV4 pieces against AWS's published S3 examples:
//  - "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk"
//    (GET object, PUT object, GET bucket lifecycle, GET bucket list objects)
//  - "Authenticating Requests: Using Query Parameters" (presigned GET)
// plus UriEncode edge cases. Intermediate values (canonical request text, string to sign) are
// checked where the documentation prints them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  ALGORITHM,
  EMPTY_SHA256,
  canonicalHeaders,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  chunkStringToSign,
  credentialScope,
  sha256Hex,
  signature,
  signingKey,
  stringToSign,
  trailerStringToSign,
} from './canonical.js';
import { percentDecode, queryDecode, uriEncode } from './uri-encode.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20130524T000000Z';
const DATE = '20130524';
const REGION = 'us-east-1';
const HOST = 'examplebucket.s3.amazonaws.com';
const SCOPE = '20130524/us-east-1/s3/aws4_request';

/** Signs a request from its raw pieces with the code under test and returns every intermediate. */
function sign(p: {
  method: string;
  rawPath: string;
  rawQuery: string;
  rawHeaders: string[];
  signedHeaders: string[];
  payloadHash: string;
  excludeQuery?: string;
}) {
  const creq = canonicalRequest({
    method: p.method,
    canonicalUri: canonicalUri(p.rawPath),
    canonicalQuery: canonicalQuery(p.rawQuery, p.excludeQuery),
    canonicalHeaders: canonicalHeaders(p.rawHeaders, p.signedHeaders),
    signedHeaders: p.signedHeaders.join(';'),
    payloadHash: p.payloadHash,
  });
  const sts = stringToSign(AMZ_DATE, credentialScope(DATE, REGION, 's3'), creq);
  const sig = signature(signingKey(SECRET, DATE, REGION, 's3'), sts);
  return { creq, sts, sig };
}

describe('AWS S3 SigV4 examples (Authorization header, single chunk)', () => {
  test('GET /test.txt with Range', () => {
    const { creq, sts, sig } = sign({
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery: '',
      // Header names in mixed case and values with stray whitespace, as a client may send them.
      rawHeaders: [
        'Host', HOST,
        'Range', 'bytes=0-9 ',
        'x-amz-content-sha256', EMPTY_SHA256,
        'x-amz-date', ` ${AMZ_DATE} `,
      ],
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY_SHA256,
    });
    assert.equal(
      creq,
      [
        'GET',
        '/test.txt',
        '',
        'host:examplebucket.s3.amazonaws.com',
        'range:bytes=0-9',
        'x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date:20130524T000000Z',
        '',
        'host;range;x-amz-content-sha256;x-amz-date',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ].join('\n'),
    );
    assert.equal(
      sts,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    );
    assert.equal(sig, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  test('PUT /test$file.text with Date and storage class', () => {
    const body = 'Welcome to Amazon S3.';
    const payloadHash = sha256Hex(body);
    assert.equal(payloadHash, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    const { creq, sts, sig } = sign({
      method: 'PUT',
      rawPath: '/test$file.text',
      rawQuery: '',
      rawHeaders: [
        'Host', HOST,
        'Date', 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date', AMZ_DATE,
        'x-amz-storage-class', 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256', payloadHash,
      ],
      signedHeaders: ['date', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-storage-class'],
      payloadHash,
    });
    assert.equal(
      creq,
      [
        'PUT',
        '/test%24file.text',
        '',
        'date:Fri, 24 May 2013 00:00:00 GMT',
        'host:examplebucket.s3.amazonaws.com',
        'x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        'x-amz-date:20130524T000000Z',
        'x-amz-storage-class:REDUCED_REDUNDANCY',
        '',
        'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
        '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
      ].join('\n'),
    );
    assert.equal(
      sts,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d',
    );
    assert.equal(sig, '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    // A client that percent-encodes '$' on the wire signs the same canonical URI.
    assert.equal(canonicalUri('/test%24file.text'), '/test%24file.text');
  });

  test('GET /?lifecycle (query parameter without a value)', () => {
    const { creq, sts, sig } = sign({
      method: 'GET',
      rawPath: '/',
      rawQuery: 'lifecycle',
      rawHeaders: ['Host', HOST, 'x-amz-date', AMZ_DATE, 'x-amz-content-sha256', EMPTY_SHA256],
      signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY_SHA256,
    });
    assert.equal(
      creq,
      [
        'GET',
        '/',
        'lifecycle=',
        'host:examplebucket.s3.amazonaws.com',
        'x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date:20130524T000000Z',
        '',
        'host;x-amz-content-sha256;x-amz-date',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ].join('\n'),
    );
    assert.equal(
      sts,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca',
    );
    assert.equal(sig, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  });

  test('GET /?max-keys=2&prefix=J (sorted query)', () => {
    // Sent in reverse order: the canonical query must sort it.
    const { creq, sts, sig } = sign({
      method: 'GET',
      rawPath: '/',
      rawQuery: 'prefix=J&max-keys=2',
      rawHeaders: ['Host', HOST, 'x-amz-date', AMZ_DATE, 'x-amz-content-sha256', EMPTY_SHA256],
      signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY_SHA256,
    });
    assert.equal(
      creq,
      [
        'GET',
        '/',
        'max-keys=2&prefix=J',
        'host:examplebucket.s3.amazonaws.com',
        'x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date:20130524T000000Z',
        '',
        'host;x-amz-content-sha256;x-amz-date',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      ].join('\n'),
    );
    assert.equal(
      sts,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\ndf57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7',
    );
    assert.equal(sig, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });
});

describe('AWS S3 SigV4 example (presigned URL)', () => {
  const rawQuery =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';

  test('GET /test.txt, X-Amz-Expires=86400', () => {
    const { creq, sts, sig } = sign({
      method: 'GET',
      rawPath: '/test.txt',
      rawQuery,
      rawHeaders: ['Host', HOST],
      signedHeaders: ['host'],
      payloadHash: 'UNSIGNED-PAYLOAD',
      excludeQuery: 'X-Amz-Signature',
    });
    assert.equal(
      creq,
      [
        'GET',
        '/test.txt',
        'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host',
        'host:examplebucket.s3.amazonaws.com',
        '',
        'host',
        'UNSIGNED-PAYLOAD',
      ].join('\n'),
    );
    assert.equal(
      sts,
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04',
    );
    assert.equal(sig, 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  test('the credential is canonicalised the same whether or not its slashes were escaped', () => {
    const unescaped = rawQuery.replace(/%2F/g, '/');
    assert.equal(canonicalQuery(unescaped, 'X-Amz-Signature'), canonicalQuery(rawQuery, 'X-Amz-Signature'));
    assert.ok(!canonicalQuery(rawQuery, 'X-Amz-Signature').includes('X-Amz-Signature'));
    // Without the exclusion, the signature parameter is part of the canonical query.
    assert.ok(canonicalQuery(rawQuery).includes('X-Amz-Signature=aeeed9bb'));
  });
});

describe('signing key and scope', () => {
  test('credential scope', () => {
    assert.equal(credentialScope(DATE, REGION, 's3'), SCOPE);
  });

  test('published derivation example (IAM docs: 20120215/us-east-1/iam)', () => {
    // "Examples of how to derive a signing key for Signature Version 4".
    const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20120215', 'us-east-1', 'iam');
    assert.equal(key.export().toString('hex'), 'f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  test('signing key is the HMAC chain kDate -> kRegion -> kService -> aws4_request', async () => {
    // Independent HMAC (smithy's pure-JS SHA-256) rather than node:crypto.
    const { Sha256Js } = await import('@smithy/core/checksum');
    const mac = async (key: Uint8Array | string, data: string) => {
      const h = new Sha256Js(key);
      h.update(data);
      return Buffer.from(await h.digest());
    };
    const kDate = await mac(`AWS4${SECRET}`, DATE);
    const kRegion = await mac(kDate, REGION);
    const kService = await mac(kRegion, 's3');
    const kSigning = await mac(kService, 'aws4_request');
    assert.deepEqual(signingKey(SECRET, DATE, REGION, 's3').export(), kSigning);
    // Each input matters.
    assert.notDeepEqual(signingKey(SECRET, '20130525', REGION, 's3').export(), kSigning);
    assert.notDeepEqual(signingKey(SECRET, DATE, 'eu-west-1', 's3').export(), kSigning);
    assert.notDeepEqual(signingKey(SECRET + 'x', DATE, REGION, 's3').export(), kSigning);
  });

  test('stringToSign hashes the canonical request', () => {
    assert.equal(stringToSign(AMZ_DATE, SCOPE, 'abc'), `${ALGORITHM}\n${AMZ_DATE}\n${SCOPE}\n${createHash('sha256').update('abc').digest('hex')}`);
  });

  test('chunk and trailer strings to sign (AWS streaming spec layout)', () => {
    assert.equal(
      chunkStringToSign(AMZ_DATE, SCOPE, 'prev', 'cur'),
      `AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\nprev\n${EMPTY_SHA256}\ncur`,
    );
    assert.equal(trailerStringToSign(AMZ_DATE, SCOPE, 'prev', 'th'), `AWS4-HMAC-SHA256-TRAILER\n${AMZ_DATE}\n${SCOPE}\nprev\nth`);
    assert.equal(EMPTY_SHA256, sha256Hex(''));
  });
});

describe('canonicalHeaders', () => {
  test('repeated headers join with commas, whitespace runs collapse, names are case-insensitive', () => {
    const text = canonicalHeaders(
      ['X-Amz-Meta-A', '  one  two ', 'host', 'h', 'x-amz-meta-a', 'three\t\tfour', 'Unsigned', 'ignored'],
      ['host', 'x-amz-meta-a'],
    );
    assert.equal(text, 'host:h\nx-amz-meta-a:one two,three four\n');
  });

  test("non-ASCII header values are signed as the bytes received (Node hands them over as Latin-1)", () => {
    // 'café' sent as UTF-8 arrives from Node's rawHeaders as the Latin-1 string 'cafÃ©'.
    const wire = Buffer.from('café', 'utf8').toString('latin1');
    assert.equal(wire, 'cafÃ©');
    assert.equal(canonicalHeaders(['x-amz-meta-name', wire], ['x-amz-meta-name']), 'x-amz-meta-name:café\n');
    const jp = Buffer.from('日本語', 'utf8').toString('latin1');
    assert.equal(canonicalHeaders(['x-amz-meta-name', jp], ['x-amz-meta-name']), 'x-amz-meta-name:日本語\n');
    // Bytes that are not UTF-8 (a client that sent Latin-1) keep their Latin-1 reading.
    assert.equal(canonicalHeaders(['x-amz-meta-name', 'caf\u00e9'], ['x-amz-meta-name']), 'x-amz-meta-name:café\n');
  });

  test('a signed header that is absent is an empty value', () => {
    assert.equal(canonicalHeaders(['host', 'h'], ['host', 'x-amz-date']), 'host:h\nx-amz-date:\n');
  });
});

describe('uriEncode / canonicalUri / canonicalQuery', () => {
  test('space is %20, never +', () => {
    assert.equal(uriEncode('a b', true), 'a%20b');
    assert.equal(uriEncode('a b', false), 'a%20b');
  });

  test("'/' is kept in paths only", () => {
    assert.equal(uriEncode('a/b/c', true), 'a/b/c');
    assert.equal(uriEncode('a/b/c', false), 'a%2Fb%2Fc');
  });

  test('unreserved characters are left alone; everything else is upper-case %XX', () => {
    const unreserved = 'ABCXYZabcxyz0189-._~';
    assert.equal(uriEncode(unreserved, false), unreserved);
    assert.equal(uriEncode("!*'()&$@=;:+,?#[]%", false), '%21%2A%27%28%29%26%24%40%3D%3B%3A%2B%2C%3F%23%5B%5D%25');
  });

  test('multi-byte UTF-8 (2, 3 and 4 bytes) is encoded byte-wise', () => {
    assert.equal(uriEncode('é', true), '%C3%A9');
    assert.equal(uriEncode('日本', true), '%E6%97%A5%E6%9C%AC');
    assert.equal(uriEncode('😀', true), '%F0%9F%98%80');
    // Agrees with encodeURIComponent for everything encodeURIComponent escapes.
    const s = 'ümlaut/日本語 😀~';
    assert.equal(uriEncode(s, false), encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  });

  test('canonicalUri decodes once and re-encodes (no double encoding)', () => {
    assert.equal(canonicalUri('/bucket/a%20b'), '/bucket/a%20b');
    assert.equal(canonicalUri('/bucket/a b'), '/bucket/a%20b');
    assert.equal(canonicalUri('/bucket/%7Etilde'), '/bucket/~tilde');
    assert.equal(canonicalUri('/bucket/%c3%a9'), '/bucket/%C3%A9');
    assert.equal(canonicalUri('/bucket/100%25'), '/bucket/100%25');
    assert.equal(canonicalUri(''), '/');
    // '+' in a path is a literal plus.
    assert.equal(canonicalUri('/bucket/a+b'), '/bucket/a%2Bb');
    assert.equal(percentDecode('a+b'), 'a+b');
  });

  test('a stray % does not garble the UTF-8 escapes around it', () => {
    assert.equal(percentDecode('100%'), '100%');
    assert.equal(percentDecode('%zz%41'), '%zzA');
    assert.equal(percentDecode('%C3%A9%'), 'é%');
    assert.equal(percentDecode('50%-%E6%97%A5%E6%9C%AC-%'), '50%-日本-%');
    assert.equal(canonicalUri('/bucket/%C3%A9%'), '/bucket/%C3%A9%25');
    assert.equal(queryDecode('%C3%A9+%'), 'é %');
  });

  test('invalid UTF-8 escapes decode to U+FFFD, never to Latin-1 look-alikes', () => {
    // %E9 alone is Latin-1 'é', not UTF-8: it must not silently become the key "é".
    assert.equal(percentDecode('%E9'), '\uFFFD');
    assert.notEqual(percentDecode('caf%E9'), 'café');
    // Overlong '/' (%C0%AF) must not decode to a slash.
    assert.ok(!percentDecode('a%C0%AFb').includes('/'));
    // Valid escapes next to invalid ones still decode.
    assert.equal(percentDecode('%C3%A9-%FF'), 'é-\uFFFD');
  });

  test("'+' in a query value is a space; %2B is a plus", () => {
    assert.equal(queryDecode('a+b'), 'a b');
    assert.equal(queryDecode('a%2Bb'), 'a+b');
    assert.equal(canonicalQuery('prefix=a+b'), 'prefix=a%20b');
    assert.equal(canonicalQuery('prefix=a%2Bb'), 'prefix=a%2Bb');
    assert.equal(canonicalQuery('prefix=a%20b'), 'prefix=a%20b');
  });

  test('query sorting is by encoded name, then value; empty parts are dropped', () => {
    assert.equal(canonicalQuery('b=2&a=2&a=1&&A=0'), 'A=0&a=1&a=2&b=2');
    assert.equal(canonicalQuery('uploads'), 'uploads=');
    assert.equal(canonicalQuery(''), '');
    assert.equal(canonicalQuery('k=%E6%97%A5&j=~'), 'j=~&k=%E6%97%A5');
  });
});
