// ChunkedDecoder against AWS's published streaming example, hand-built signed/unsigned trailer
// bodies (signatures computed independently with smithy's signer over the strings to sign laid
// out by hand from AWS's spec), and bodies produced by the AWS SDK's own aws-chunked encoder.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { Crc32, Crc32Js, Sha256Js, readableStreamHasher } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { getAwsChunkedEncodingStream, toBase64 } from '@smithy/core/serde';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { ChunkedDecoder, type ChunkedDecoderOptions } from './chunked-decoder.js';
import { authenticate, type ChunkSigning, type SignedRequest } from './authenticate.js';
import { S3Error } from '../s3/errors.js';
import { signingKey } from './canonical.js';
import { createChecksum } from '../checksums/checksum.js';
import { HashPool, OFFLOAD_THRESHOLD } from '../checksums/hash-pool.js';
import type { JobPlan } from '../checksums/hash-messages.js';
import { BodyDigest, type BodyDigestOptions } from '../checksums/digest.js';
import { signedChunkedBody, signedChunkedBodyWithTrailer } from '../../test/helpers/raw-s3.js';
import type { CredentialLookup, Principal } from '../auth/principal.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------
// Feeding helpers

type Split = 'whole' | 'bytes' | number | { random: number };

/** Cuts `body` into pieces: whole, one byte at a time, fixed-size pieces, or seeded random sizes. */
function pieces(body: Buffer, split: Split): Buffer[] {
  if (split === 'whole') return [body];
  const out: Buffer[] = [];
  if (typeof split === 'object') {
    let seed = split.random;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let pos = 0; pos < body.length; ) {
      // Mostly small cuts (to land on CR/LF boundaries), sometimes big ones.
      const n = rand() < 0.8 ? 1 + Math.floor(rand() * 7) : 1 + Math.floor(rand() * 9000);
      out.push(body.subarray(pos, pos + n));
      pos += n;
    }
    return out;
  }
  const size = split === 'bytes' ? 1 : split;
  for (let pos = 0; pos < body.length; pos += size) out.push(body.subarray(pos, pos + size));
  return out;
}

interface Decoded {
  output: Buffer;
  error: unknown;
  trailers: Map<string, string>;
  /** Number of pieces the decoder handed downstream. */
  writes: number;
}

async function decode(body: Buffer, options: ChunkedDecoderOptions, split: Split = 'whole'): Promise<Decoded> {
  const decoder = new ChunkedDecoder(options);
  const out: Buffer[] = [];
  let writes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      writes++;
      cb();
    },
  });
  let error: unknown = null;
  try {
    await pipeline(Readable.from(pieces(body, split), { objectMode: false }), decoder, sink);
  } catch (err) {
    error = err;
  }
  return { output: Buffer.concat(out), error, trailers: decoder.trailers, writes };
}

function assertS3Error(err: unknown, code: string, messagePattern?: RegExp): void {
  assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (messagePattern) assert.match(err.message, messagePattern);
}

// ---------------------------------------------------------------------------------------------
// AWS's published example: "Signature Calculations for the Authorization Header: Transferring
// Payload in Multiple Chunks (Chunked Upload) (AWS Signature Version 4)".

const AWS_ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AWS_SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const AWS_CHUNK_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const AWS_DATA = Buffer.alloc(66560, 'a');

function awsExampleBody(sigs = AWS_CHUNK_SIGS, data = AWS_DATA): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`),
    data.subarray(0, 65536),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`),
    data.subarray(65536),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`),
  ]);
}

/** The example's seed request, exactly as the documentation lists its headers. */
function awsExampleRequest(): SignedRequest {
  const rawHeaders = [
    'Host', 's3.amazonaws.com',
    'x-amz-date', '20130524T000000Z',
    'x-amz-storage-class', 'REDUCED_REDUNDANCY',
    'Authorization',
    `AWS4-HMAC-SHA256 Credential=${AWS_ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${AWS_SEED}`,
    'x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'Content-Encoding', 'aws-chunked',
    'x-amz-decoded-content-length', '66560',
    'Content-Length', '66824',
  ];
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i].toLowerCase()] = rawHeaders[i + 1];
  return { method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', rawHeaders, headers };
}

function principal(accessKeyId: string): Principal {
  return { accessKeyId, projectId: 'p', tokenId: 't', permission: 'object-rw', bucketScope: null, billing: false };
}

const awsLookup: CredentialLookup = {
  async lookup(id) {
    return id === AWS_ACCESS_KEY ? { secrets: [AWS_SECRET], principal: principal(id), state: 'active', expiresAt: null } : null;
  },
};

async function awsSigning(): Promise<ChunkSigning> {
  const res = await authenticate(awsExampleRequest(), { regions: ['us-east-1'], now: new Date('2013-05-24T00:05:00Z'), lookup: awsLookup });
  assert.ok(res && res.payload.kind === 'streaming' && res.payload.signing);
  return res.payload.signing;
}

describe("AWS's published chunked upload example", () => {
  let signing: ChunkSigning;
  before(async () => {
    signing = await awsSigning();
  });

  test('the seed request verifies and yields the published seed signature', () => {
    assert.equal(signing.seedSignature, AWS_SEED);
    assert.equal(signing.amzDate, '20130524T000000Z');
    assert.equal(signing.scope, '20130524/us-east-1/s3/aws4_request');
    assert.equal(awsExampleBody().length, 66824); // the example's Content-Length
  });

  const splits: Split[] = ['whole', 'bytes', 2, 3, 7, 64, 85, 86, 87, 88, 89, 1000, 65535, 65536, 65624, { random: 1 }, { random: 42 }, { random: 20130524 }];
  for (const split of splits) {
    test(`decodes to exactly 66560 'a's, split ${JSON.stringify(split)}`, async () => {
      const { output, error } = await decode(awsExampleBody(), { signing, trailer: false, decodedLength: 66560 }, split);
      assert.equal(error, null);
      assert.equal(output.length, 66560);
      assert.ok(output.equals(AWS_DATA), 'framing leaked into the output');
    });
  }

  test('every split point of the framing (two pieces, cut at each header/CRLF byte)', async () => {
    const body = awsExampleBody();
    // Cut points around each piece of framing.
    const cuts = new Set<number>();
    for (const anchor of [0, 88, 88 + 65536, 88 + 65538 + 86, 88 + 65538 + 86 + 1024, body.length - 84, body.length - 2]) {
      for (let d = -3; d <= 90; d++) if (anchor + d > 0 && anchor + d < body.length) cuts.add(anchor + d);
    }
    for (const cut of cuts) {
      const decoder = new ChunkedDecoder({ signing, trailer: false, decodedLength: 66560 });
      const out: Buffer[] = [];
      decoder.on('data', (c: Buffer) => out.push(c));
      const done = new Promise<void>((resolve, reject) => {
        decoder.on('end', resolve);
        decoder.on('error', reject);
      });
      decoder.write(body.subarray(0, cut));
      decoder.end(body.subarray(cut));
      await done;
      assert.ok(Buffer.concat(out).equals(AWS_DATA), `cut at ${cut}`);
    }
  });

  test('the published chunk signatures follow the spec (independent HMAC via smithy)', async () => {
    const s = new SignatureV4({
      credentials: { accessKeyId: AWS_ACCESS_KEY, secretAccessKey: AWS_SECRET },
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256Js,
    });
    let previous = AWS_SEED;
    const chunks = [AWS_DATA.subarray(0, 65536), AWS_DATA.subarray(65536), Buffer.alloc(0)];
    for (let i = 0; i < chunks.length; i++) {
      const sts = ['AWS4-HMAC-SHA256-PAYLOAD', '20130524T000000Z', '20130524/us-east-1/s3/aws4_request', previous, EMPTY_SHA256, sha256(chunks[i])].join('\n');
      const sig = await s.sign(sts, { signingDate: new Date('2013-05-24T00:00:00Z') });
      assert.equal(sig, AWS_CHUNK_SIGS[i], `chunk ${i}`);
      previous = sig;
    }
  });

  test('a tampered data byte -> SignatureDoesNotMatch', async () => {
    for (const pos of [88, 88 + 40000, 88 + 65538 + 86 + 1023]) {
      const body = awsExampleBody();
      body[pos] = 'b'.charCodeAt(0);
      const { error } = await decode(body, { signing, trailer: false }, { random: pos });
      assertS3Error(error, 'SignatureDoesNotMatch', /chunk signature/);
    }
  });

  test('a tampered chunk signature -> SignatureDoesNotMatch (each chunk, including the final one)', async () => {
    for (let i = 0; i < 3; i++) {
      const sigs = [...AWS_CHUNK_SIGS];
      sigs[i] = sigs[i].slice(0, -1) + (sigs[i].endsWith('0') ? '1' : '0');
      const { error } = await decode(awsExampleBody(sigs), { signing, trailer: false }, 'whole');
      assertS3Error(error, 'SignatureDoesNotMatch');
    }
  });

  test('swapped, missing or malformed chunk signatures -> SignatureDoesNotMatch', async () => {
    const swapped = await decode(awsExampleBody([AWS_CHUNK_SIGS[1], AWS_CHUNK_SIGS[0], AWS_CHUNK_SIGS[2]]), { signing, trailer: false });
    assertS3Error(swapped.error, 'SignatureDoesNotMatch');
    const missing = awsExampleBody().toString('latin1').replace(`;chunk-signature=${AWS_CHUNK_SIGS[1]}`, '');
    assertS3Error((await decode(Buffer.from(missing, 'latin1'), { signing, trailer: false })).error, 'SignatureDoesNotMatch');
    const upper = awsExampleBody([AWS_CHUNK_SIGS[0].toUpperCase(), AWS_CHUNK_SIGS[1], AWS_CHUNK_SIGS[2]]);
    assertS3Error((await decode(upper, { signing, trailer: false })).error, 'SignatureDoesNotMatch');
  });

  test('a different seed (another request) does not verify these chunks', async () => {
    const other = { ...signing, seedSignature: AWS_CHUNK_SIGS[0] };
    assertS3Error((await decode(awsExampleBody(), { signing: other, trailer: false })).error, 'SignatureDoesNotMatch');
  });

  test('a truncated body -> IncompleteBody', async () => {
    const body = awsExampleBody();
    const finalChunkStart = body.length - 84;
    for (const end of [finalChunkStart, finalChunkStart + 20, 88 + 65538 + 86 + 500, 88 + 1000, 50, 0]) {
      const { error } = await decode(body.subarray(0, end), { signing, trailer: false }, { random: end });
      assertS3Error(error, 'IncompleteBody');
    }
  });

  test('a wrong x-amz-decoded-content-length -> IncompleteBody', async () => {
    for (const decodedLength of [66559, 66561, 0, 65536]) {
      const { error } = await decode(awsExampleBody(), { signing, trailer: false, decodedLength }, 1000);
      assertS3Error(error, 'IncompleteBody', new RegExp(String(decodedLength)));
    }
  });

  test('garbage after the final chunk, a bad chunk size, a missing data CRLF -> errors', async () => {
    const body = awsExampleBody();
    assertS3Error((await decode(Buffer.concat([body, Buffer.from('junk')]), { signing, trailer: false })).error, 'IncompleteBody');
    const badSize = Buffer.from(body.toString('latin1').replace('10000;', '1000g;'), 'latin1');
    assertS3Error((await decode(badSize, { signing, trailer: false })).error, 'IncompleteBody');
    // Extra bytes between a chunk's data and its CRLF.
    const text = body.toString('latin1');
    const extra = Buffer.from(text.slice(0, 88 + 65536) + 'XY' + text.slice(88 + 65536), 'latin1');
    assertS3Error((await decode(extra, { signing, trailer: false }, 'bytes')).error, 'IncompleteBody', /CRLF/);
    // The CRLF replaced by other bytes.
    const replaced = Buffer.from(text.slice(0, 88 + 65536) + 'XX' + text.slice(88 + 65538), 'latin1');
    assertS3Error((await decode(replaced, { signing, trailer: false })).error, 'IncompleteBody');
  });
});

// ---------------------------------------------------------------------------------------------
// AWS's published trailer example: "Signature calculations for trailing headers (chunked uploads)"
// (sigv4-streaming-trailers). Same credentials, date and 66560 bytes of 'a' in 64 KiB chunks as
// the example above, sent as STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a CRC32C trailer.
// Checked here from the seed signature on: the chunk chain, the trailer and its signature.

const AWS_TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const AWS_TRAILER_CHUNK_SIGS = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const AWS_TRAILER_CRC32C = 'sOO8/Q==';
const AWS_TRAILER_SIGNATURE = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

function awsTrailerExampleBody(trailerValue = AWS_TRAILER_CRC32C, trailerSignature = AWS_TRAILER_SIGNATURE): Buffer {
  const [s1, s2, s3] = AWS_TRAILER_CHUNK_SIGS;
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${s1}\r\n`),
    AWS_DATA.subarray(0, 65536),
    Buffer.from(`\r\n400;chunk-signature=${s2}\r\n`),
    AWS_DATA.subarray(65536),
    Buffer.from(`\r\n0;chunk-signature=${s3}\r\n`),
    Buffer.from(`x-amz-checksum-crc32c:${trailerValue}\r\nx-amz-trailer-signature:${trailerSignature}\r\n\r\n`),
  ]);
}

describe("AWS's published trailing-header example (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)", () => {
  const signing: ChunkSigning = {
    key: signingKey(AWS_SECRET, '20130524', 'us-east-1', 's3'),
    amzDate: '20130524T000000Z',
    scope: '20130524/us-east-1/s3/aws4_request',
    seedSignature: AWS_TRAILER_SEED,
  };

  test('the published CRC32C is that of the 66560 bytes', () => {
    const c = createChecksum('CRC32C');
    c.update(AWS_DATA);
    assert.equal(c.digest().toString('base64'), AWS_TRAILER_CRC32C);
  });

  for (const split of ['whole', 'bytes', 89, { random: 2013 }] as Split[]) {
    test(`decodes to the 66560 'a's and the published trailer, split ${JSON.stringify(split)}`, async () => {
      const { output, error, trailers } = await decode(awsTrailerExampleBody(), { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32c', decodedLength: 66560 }, split);
      assert.equal(error, null, String(error));
      assert.ok(output.equals(AWS_DATA), 'framing or trailer leaked into the output');
      assert.deepEqual([...trailers], [['x-amz-checksum-crc32c', AWS_TRAILER_CRC32C]]);
    });
  }

  test('a changed trailer value or trailer signature -> SignatureDoesNotMatch', async () => {
    const value = await decode(awsTrailerExampleBody('AAAAAA=='), { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32c', decodedLength: 66560 });
    assertS3Error(value.error, 'SignatureDoesNotMatch', /trailer/);
    const forged = AWS_TRAILER_SIGNATURE.replace(/^./, 'e');
    const sig = await decode(awsTrailerExampleBody(AWS_TRAILER_CRC32C, forged), { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32c', decodedLength: 66560 });
    assertS3Error(sig.error, 'SignatureDoesNotMatch', /trailer/);
  });

  test('the chunk chain of the trailer example differs from the plain one (another seed)', async () => {
    const other = { ...signing, seedSignature: AWS_SEED };
    assertS3Error((await decode(awsTrailerExampleBody(), { signing: other, trailer: true, declaredTrailer: 'x-amz-checksum-crc32c' })).error, 'SignatureDoesNotMatch');
  });
});

// ---------------------------------------------------------------------------------------------
// Trailers

const AK = 'AKIASKEPCHUNKTEST001';
const SECRET = 'chunk/secret+value';
const REGION = 'us-east-1';
const NOW = new Date('2024-06-01T08:00:00Z');
const lookup: CredentialLookup = {
  async lookup(id) {
    return id === AK ? { secrets: ['old-secret', SECRET], principal: principal(AK), state: 'active', expiresAt: null } : null;
  },
};

function smithySigner() {
  return new SignatureV4({
    credentials: { accessKeyId: AK, secretAccessKey: SECRET },
    region: REGION,
    service: 's3',
    sha256: Sha256Js,
    uriEscapePath: false,
    applyChecksum: false,
  });
}

function crc32Base64(data: Buffer): string {
  const c = new Crc32Js();
  c.update(data);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(c.digestSync());
  return out.toString('base64');
}

/** Seed request signed by smithy, authenticated by the code under test. */
async function seed(contentSha256: string, decodedLength: number): Promise<ChunkSigning> {
  const signed = await smithySigner().sign(
    new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: 'localhost',
      path: '/bucket/trailer.bin',
      headers: {
        host: 'localhost',
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': contentSha256,
        'x-amz-decoded-content-length': String(decodedLength),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    }),
    { signingDate: NOW },
  );
  const rawHeaders = Object.entries(signed.headers).flat();
  const res = await authenticate(
    { method: 'PUT', rawPath: signed.path, rawQuery: '', rawHeaders, headers: signed.headers },
    { regions: [REGION], now: NOW, lookup },
  );
  assert.ok(res && res.payload.kind === 'streaming' && res.payload.signing, 'seed request should authenticate with signed chunks');
  assert.equal(res.payload.trailer, contentSha256.endsWith('-TRAILER'));
  return res.payload.signing;
}

const AMZ_DATE = '20240601T080000Z';
const SCOPE = '20240601/us-east-1/s3/aws4_request';

/**
 * Encodes a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body. Chunk and trailer signatures are
 * computed by smithy over strings to sign written out here from AWS's spec.
 */
async function signedBody(
  seedSignature: string,
  data: Buffer,
  chunkSize: number,
  trailers?: [string, string][],
  tamperTrailerSignature = false,
): Promise<Buffer> {
  const s = smithySigner();
  const sign = (sts: string) => s.sign(sts, { signingDate: NOW });
  const parts: Buffer[] = [];
  let previous = seedSignature;
  const chunks: Buffer[] = [];
  for (let pos = 0; pos < data.length; pos += chunkSize) chunks.push(data.subarray(pos, pos + chunkSize));
  chunks.push(Buffer.alloc(0));
  for (const chunk of chunks) {
    const sig = await sign(['AWS4-HMAC-SHA256-PAYLOAD', AMZ_DATE, SCOPE, previous, EMPTY_SHA256, sha256(chunk)].join('\n'));
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${sig}\r\n`));
    if (chunk.length) parts.push(chunk, Buffer.from('\r\n'));
    previous = sig;
  }
  if (trailers) {
    const canonical = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    let sig = await sign(['AWS4-HMAC-SHA256-TRAILER', AMZ_DATE, SCOPE, previous, sha256(canonical)].join('\n'));
    if (tamperTrailerSignature) sig = sig.replace(/^./, sig[0] === 'f' ? 'e' : 'f');
    for (const [n, v] of trailers) parts.push(Buffer.from(`${n}:${v}\r\n`));
    parts.push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

describe('signed chunks without a trailer (smithy-signed seed)', () => {
  test('multi-chunk body decodes; the chunk chain starts at the seed', async () => {
    const data = Buffer.from(Array.from({ length: 20000 }, (_, i) => i % 251));
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', data.length);
    assert.deepEqual([signing.amzDate, signing.scope], [AMZ_DATE, SCOPE]);
    const body = await signedBody(signing.seedSignature, data, 8192);
    for (const split of ['whole', 'bytes', { random: 7 }] as Split[]) {
      const { output, error } = await decode(body, { signing, trailer: false, decodedLength: data.length }, split);
      assert.equal(error, null, String(error));
      assert.ok(output.equals(data));
    }
  });

  test('an empty object (only the final chunk)', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 0);
    const { output, error } = await decode(await signedBody(signing.seedSignature, Buffer.alloc(0), 8192), { signing, trailer: false, decodedLength: 0 }, 'bytes');
    assert.equal(error, null, String(error));
    assert.equal(output.length, 0);
  });
});

describe('signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', () => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(500));
  const checksum = crc32Base64(data);

  test('crc32 of the test data (sanity: Crc32Js agrees with zlib)', async () => {
    const zlib = await import('node:zlib');
    const z = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
    if (z) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(z(data));
      assert.equal(checksum, b.toString('base64'));
    }
  });

  for (const split of ['whole', 'bytes', 5, { random: 99 }] as Split[]) {
    test(`decodes bytes and exposes the trailers, split ${JSON.stringify(split)}`, async () => {
      const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', data.length);
      const body = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]]);
      const { output, error, trailers } = await decode(body, { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length }, split);
      assert.equal(error, null, String(error));
      assert.ok(output.equals(data));
      assert.deepEqual([...trailers], [['x-amz-checksum-crc32', checksum]]);
      assert.ok(!output.includes('x-amz-'), 'trailer leaked into the output');
    });
  }

  test('a wrong trailer signature -> SignatureDoesNotMatch', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', data.length);
    const body = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]], true);
    const { error } = await decode(body, { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length });
    assertS3Error(error, 'SignatureDoesNotMatch', /trailer/);
  });

  test('a trailer value changed after signing -> SignatureDoesNotMatch', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', data.length);
    const body = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]]);
    const tampered = Buffer.from(body.toString('latin1').replace(`x-amz-checksum-crc32:${checksum}`, 'x-amz-checksum-crc32:AAAAAA=='), 'latin1');
    const { error } = await decode(tampered, { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length });
    assertS3Error(error, 'SignatureDoesNotMatch', /trailer/);
  });

  test('a missing trailer signature -> SignatureDoesNotMatch', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', data.length);
    const body = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]]);
    const stripped = Buffer.from(body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, ''), 'latin1');
    assertS3Error((await decode(stripped, { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32' })).error, 'SignatureDoesNotMatch');
  });

  test('a trailer signed against the wrong previous signature -> SignatureDoesNotMatch', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', data.length);
    const good = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]]);
    // Re-sign the trailer chaining from the seed instead of the final chunk's signature.
    const s = smithySigner();
    const canonical = `x-amz-checksum-crc32:${checksum}\n`;
    const wrong = await s.sign(['AWS4-HMAC-SHA256-TRAILER', AMZ_DATE, SCOPE, signing.seedSignature, sha256(canonical)].join('\n'), { signingDate: NOW });
    const body = Buffer.from(good.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]{64}/, `x-amz-trailer-signature:${wrong}`), 'latin1');
    assertS3Error((await decode(body, { signing, trailer: true, declaredTrailer: 'x-amz-checksum-crc32' })).error, 'SignatureDoesNotMatch');
  });

  test('trailing headers when none were announced -> IncompleteBody', async () => {
    const signing = await seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', data.length);
    const body = await signedBody(signing.seedSignature, data, 8192, [['x-amz-checksum-crc32', checksum]]);
    assertS3Error((await decode(body, { signing, trailer: false })).error, 'IncompleteBody');
  });
});

describe('unsigned trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', () => {
  const data = Buffer.from('unsigned but checksummed\r\n0\r\n (framing-like bytes inside data) '.repeat(100));
  const checksum = crc32Base64(data);

  function unsignedBody(chunkSize: number, trailerLines = [`x-amz-checksum-crc32:${checksum}`]): Buffer {
    const parts: Buffer[] = [];
    for (let pos = 0; pos < data.length; pos += chunkSize) {
      const chunk = data.subarray(pos, pos + chunkSize);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n'));
    for (const line of trailerLines) parts.push(Buffer.from(`${line}\r\n`));
    parts.push(Buffer.from('\r\n'));
    return Buffer.concat(parts);
  }

  for (const split of ['whole', 'bytes', 3, { random: 5 }] as Split[]) {
    test(`decodes and parses the trailer, split ${JSON.stringify(split)}`, async () => {
      const { output, error, trailers } = await decode(unsignedBody(1000), { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length }, split);
      assert.equal(error, null, String(error));
      assert.ok(output.equals(data));
      assert.deepEqual([...trailers], [['x-amz-checksum-crc32', checksum]]);
    });
  }

  test('upper-case hex sizes and a header name in mixed case', async () => {
    const body = Buffer.from(unsignedBody(0xabc, [`X-Amz-Checksum-CRC32: ${checksum}`]).toString('latin1').replace(/^abc\r\n/gm, 'ABC\r\n'), 'latin1');
    assert.ok(body.toString('latin1').startsWith('ABC\r\n'));
    const { output, error, trailers } = await decode(body, { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32' }, { random: 3 });
    assert.equal(error, null, String(error));
    assert.ok(output.equals(data));
    assert.equal(trailers.get('x-amz-checksum-crc32'), checksum);
  });

  test('trailing headers other than the one x-amz-trailer declares, once, are MalformedTrailerError', async () => {
    const crc32 = `x-amz-checksum-crc32:${checksum}`;
    const cases: [string, string | undefined, string[]][] = [
      ['undeclared', undefined, [crc32]],
      ['another name', 'x-amz-checksum-crc32c', [crc32]],
      ['an extra one', 'x-amz-checksum-crc32', [crc32, 'x-amz-checksum-sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']],
      ['twice', 'x-amz-checksum-crc32', [crc32, crc32]],
      ['missing', 'x-amz-checksum-crc32', []],
    ];
    for (const [what, declaredTrailer, lines] of cases) {
      const { error } = await decode(unsignedBody(1000, lines), { signing: null, trailer: true, declaredTrailer });
      assert.equal((error as S3Error | null)?.code, 'MalformedTrailerError', `${what}: ${String(error)}`);
    }
  });

  test('a trailer without its final empty line, or a missing final chunk, is IncompleteBody', async () => {
    const full = unsignedBody(1000);
    for (const cut of [2, 4]) {
      // Without the empty line, the trailer may have been cut short (as S3 answers).
      const unended = full.subarray(0, full.length - cut);
      assertS3Error((await decode(unended, { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32' })).error, 'IncompleteBody');
    }
    const cut = full.toString('latin1').lastIndexOf('0\r\nx-amz-checksum');
    assertS3Error((await decode(full.subarray(0, cut), { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32' })).error, 'IncompleteBody');
  });

  test('wrong decoded length -> IncompleteBody', async () => {
    assertS3Error((await decode(unsignedBody(1000), { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length + 1 })).error, 'IncompleteBody');
  });
});

// ---------------------------------------------------------------------------------------------
// Bodies made by the AWS SDK's own aws-chunked encoder

async function collect(stream: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(out);
}

describe("AWS SDK's getAwsChunkedEncodingStream output", () => {
  for (const sizes of [[1], [5, 70000, 3], [8192, 8192, 100], Array.from({ length: 50 }, (_, i) => (i * 37) % 300 + 1)]) {
    test(`chunks of ${sizes.length > 5 ? `${sizes.length} sizes` : sizes.join('+')} bytes`, async () => {
      let n = 0;
      const parts = sizes.map((size) => Buffer.from(Array.from({ length: size }, () => n++ % 256)));
      const data = Buffer.concat(parts);
      const source = Readable.from(parts, { objectMode: false });
      const encoded = await collect(
        getAwsChunkedEncodingStream(source, {
          base64Encoder: toBase64,
          bodyLengthChecker: (b: Buffer) => b.byteLength,
          checksumAlgorithmFn: Crc32,
          checksumLocationName: 'x-amz-checksum-crc32',
          streamHasher: readableStreamHasher,
        }) as Readable,
      );
      assert.ok(encoded.toString('latin1').endsWith(`0\r\nx-amz-checksum-crc32:${crc32Base64(data)}\r\n\r\n`));
      for (const split of ['whole', 'bytes', { random: sizes.length }] as Split[]) {
        const { output, error, trailers } = await decode(encoded, { signing: null, trailer: true, declaredTrailer: 'x-amz-checksum-crc32', decodedLength: data.length }, split);
        assert.equal(error, null, String(error));
        assert.ok(output.equals(data));
        assert.equal(trailers.get('x-amz-checksum-crc32'), crc32Base64(data));
      }
    });
  }
});

describe('S3Client PutObject with a streaming body, end to end over HTTP', () => {
  let server: Server;
  let endpoint: string;
  const results: { decoded?: Buffer; trailers?: Map<string, string>; error?: string; contentSha256?: string }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const signed: SignedRequest = {
        method: req.method ?? 'PUT',
        rawPath: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        rawHeaders: req.rawHeaders,
        headers: req.headers,
      };
      const fail = (err: unknown) => {
        results.push({ error: err instanceof S3Error ? err.code : String(err) });
        res.writeHead(err instanceof S3Error ? err.status : 500).end();
      };
      authenticate(signed, { regions: [REGION], now: new Date(), lookup }).then(async (auth) => {
        assert.ok(auth && auth.payload.kind === 'streaming', `expected a streaming payload, got ${JSON.stringify(auth?.payload)}`);
        const decoder = new ChunkedDecoder({
          signing: auth.payload.signing,
          trailer: auth.payload.trailer,
          declaredTrailer: req.headers['x-amz-trailer'] as string | undefined,
          decodedLength: Number(req.headers['x-amz-decoded-content-length']),
        });
        const out: Buffer[] = [];
        await pipeline(req, decoder, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
        results.push({ decoded: Buffer.concat(out), trailers: decoder.trailers, contentSha256: String(req.headers['x-amz-content-sha256']) });
        res.writeHead(200, { etag: '"abc"' }).end();
      }).catch(fail);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('the SDK-encoded body decodes to the original bytes with its CRC32 trailer', async () => {
    const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials: { accessKeyId: AK, secretAccessKey: SECRET }, maxAttempts: 1 });
    try {
      const parts = [Buffer.alloc(70000, 1), Buffer.from('middle'), Buffer.alloc(9000, 2)];
      const data = Buffer.concat(parts);
      results.length = 0;
      await s3.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'dir/streamed file ü.bin', Body: Readable.from(parts), ContentLength: data.length }));
      assert.equal(results.length, 1);
      const r = results[0];
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.contentSha256, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
      assert.ok(r.decoded!.equals(data));
      assert.equal(r.trailers!.get('x-amz-checksum-crc32'), crc32Base64(data));
    } finally {
      s3.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Large signed bodies: chunk hashes come from a HashPool thread, with the same output and the
// same refusals as when the decoder hashes them itself.

describe('on a hashing thread (large signed bodies)', () => {
  const SECRET = 'offload-test-secret-key-0123456789abcdef';
  const AMZ_DATE = '20260101T000000Z';
  const SEED = 'a'.repeat(64);
  const signing: ChunkSigning = {
    key: signingKey(SECRET, AMZ_DATE.slice(0, 8), 'us-east-1', 's3'),
    amzDate: AMZ_DATE,
    scope: `${AMZ_DATE.slice(0, 8)}/us-east-1/s3/aws4_request`,
    seedSignature: SEED,
  };
  const data = randomBytes(3 * 1024 * 1024 + 777);
  // Chunk sizes as clients pick them (64 KiB), plus odd ones and one spanning several pool batches.
  const chunks = (() => {
    const sizes = [65_536, 1, 8_000, 2.5 * 1024 * 1024];
    const out: Buffer[] = [];
    for (let pos = 0, i = 0; pos < data.length; i++) {
      out.push(data.subarray(pos, pos + sizes[i % sizes.length]));
      pos += sizes[i % sizes.length];
    }
    return out;
  })();
  const NETWORK = 65_536; // pieces as a socket delivers them
  let pool: HashPool;
  before(() => {
    pool = new HashPool({ size: 1 });
  });
  after(() => pool.close());
  const options = (hashPool: HashPool | null, trailer = false): ChunkedDecoderOptions => ({
    signing,
    trailer,
    declaredTrailer: trailer ? 'x-amz-checksum-crc32' : undefined,
    decodedLength: data.length,
    hashPool,
  });

  test('decodes with its chunk signatures checked on the pool, as it does in place', { timeout: 60_000 }, async () => {
    assert.ok(data.length >= OFFLOAD_THRESHOLD);
    const framed = Buffer.concat(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET));
    for (const split of [NETWORK, 'whole'] as const) {
      const offloaded = await decode(framed, options(pool), split);
      assert.equal(offloaded.error, null);
      assert.ok(offloaded.output.equals(data));
    }
    assert.equal(pool.threadCount, 1, 'the chunks were hashed on the pool');
    const here = await decode(framed, options(null), NETWORK);
    assert.equal(here.error, null);
    assert.ok(here.output.equals(data));
  });

  test('a changed byte in any chunk, or a wrong final-chunk signature, is SignatureDoesNotMatch', { timeout: 60_000 }, async () => {
    for (const which of [0, 3, chunks.length - 1]) {
      const framed = signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET);
      // Same signatures, the last byte of one chunk's data changed.
      const header = framed[which].indexOf('\r\n') + 2;
      framed[which] = Buffer.from(framed[which]);
      framed[which][header + chunks[which].length - 1] ^= 1;
      assertS3Error((await decode(Buffer.concat(framed), options(pool), NETWORK)).error, 'SignatureDoesNotMatch');
    }
    const framed = signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET);
    const last = framed.length - 1;
    framed[last] = Buffer.from(framed[last].toString('latin1').replace(/chunk-signature=[0-9a-f]{64}/, `chunk-signature=${'0'.repeat(64)}`), 'latin1');
    assertS3Error((await decode(Buffer.concat(framed), options(pool), NETWORK)).error, 'SignatureDoesNotMatch');
    // The pool goes on serving good bodies.
    assert.equal((await decode(Buffer.concat(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET)), options(pool), NETWORK)).error, null);
  });

  test('with a trailer: the trailer signature chains from the last chunk hashed on the pool', { timeout: 60_000 }, async () => {
    const trailers = { 'x-amz-checksum-crc32': 'AAAAAA==' };
    const framed = signedChunkedBodyWithTrailer(chunks, trailers, SEED, AMZ_DATE, SECRET);
    const ok = await decode(Buffer.concat(framed), options(pool, true), NETWORK);
    assert.equal(ok.error, null);
    assert.ok(ok.output.equals(data));
    assert.equal(ok.trailers.get('x-amz-checksum-crc32'), 'AAAAAA==');
    const last = framed.length - 1;
    framed[last] = Buffer.from(framed[last].toString('latin1').replace('AAAAAA==', 'AAAAAQ=='), 'latin1');
    assertS3Error((await decode(Buffer.concat(framed), options(pool, true), NETWORK)).error, 'SignatureDoesNotMatch');
  });
  // The decoder and the BodyDigest after it (as openBody wires them): one job on one thread
  // computes the chunk hashes and the body's MD5 and checksum, from one copy of the bytes.

  /** A pool that counts the jobs it opens and the bytes it posts to its threads. */
  class CountingPool extends HashPool {
    plans: JobPlan[] = [];
    bytes = 0;
    override post(...args: Parameters<HashPool['post']>): void {
      const [, m] = args;
      if (m.t === 'open') this.plans.push(m.job);
      if (m.t === 'data') this.bytes += m.len;
      super.post(...args);
    }
  }

  /** `digestOptions` may read the decoder (its trailers), as openBody's do. */
  async function decodeAndDigest(framed: Buffer, decoderOptions: ChunkedDecoderOptions, digestOptions: BodyDigestOptions | ((decoder: ChunkedDecoder) => BodyDigestOptions)) {
    const decoder = new ChunkedDecoder(decoderOptions);
    const digest = new BodyDigest({ ...(typeof digestOptions === 'function' ? digestOptions(decoder) : digestOptions), upstream: decoder });
    const out: Buffer[] = [];
    let finished = false;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
      final(cb) {
        finished = true;
        cb();
      },
    });
    let error: unknown = null;
    try {
      await pipeline(Readable.from(pieces(framed, NETWORK)), decoder, digest, sink);
    } catch (err) {
      error = err;
    }
    return { output: Buffer.concat(out), error, digest, decoder, finished };
  }

  const dataMd5 = createHash('md5').update(data).digest('base64');
  const dataCrc32 = crc32Base64(data);

  test('with a BodyDigest after it: one job computes the chunk hashes and the digests, and the bytes are posted once', { timeout: 60_000 }, async () => {
    const counting = new CountingPool({ size: 1 });
    try {
      const framed = Buffer.concat(signedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': dataCrc32 }, SEED, AMZ_DATE, SECRET));
      const r = await decodeAndDigest(framed, options(counting, true), (decoder) => ({
        checksumAlgorithm: 'CRC32',
        hashPool: counting,
        expect: { size: data.length, md5Base64: dataMd5, checksum: () => decoder.trailers.get('x-amz-checksum-crc32') },
      }));
      assert.equal(r.error, null, String(r.error));
      assert.ok(r.output.equals(data));
      assert.equal(r.digest.md5Base64, dataMd5);
      assert.equal(r.digest.checksumBase64, dataCrc32);
      assert.deepEqual(counting.plans, [{ segments: true, digest: { sha256: false, checksumAlgorithm: 'CRC32' } }], 'one job, both kinds of hashing');
      assert.equal(counting.bytes, data.length, 'each byte crossed to the thread once');
    } finally {
      await counting.close();
    }
  });

  test('with a BodyDigest after it: a wrong chunk signature in the middle fails the stream before it ends', { timeout: 60_000 }, async () => {
    const framed = signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET);
    const middle = Math.floor(framed.length / 2);
    framed[middle] = Buffer.from(framed[middle].toString('latin1').replace(/chunk-signature=[0-9a-f]{64}/, `chunk-signature=${'1'.repeat(64)}`), 'latin1');
    const r = await decodeAndDigest(Buffer.concat(framed), options(pool), { hashPool: pool, expect: { size: data.length, md5Base64: dataMd5 } });
    assertS3Error(r.error, 'SignatureDoesNotMatch');
    assert.equal(r.finished, false, 'the consumer never saw the end of the body');
  });

  test('with a BodyDigest after it: a wrong trailing CRC32 (correctly signed) or a wrong Content-MD5 is BadDigest before the end', { timeout: 60_000 }, async () => {
    const wrongCrc = crc32Base64(Buffer.from('other'));
    const framed = Buffer.concat(signedChunkedBodyWithTrailer(chunks, { 'x-amz-checksum-crc32': wrongCrc }, SEED, AMZ_DATE, SECRET));
    const crc = await decodeAndDigest(framed, options(pool, true), (decoder) => ({
      checksumAlgorithm: 'CRC32',
      hashPool: pool,
      expect: { size: data.length, checksum: () => decoder.trailers.get('x-amz-checksum-crc32') },
    }));
    assertS3Error(crc.error, 'BadDigest', /CRC32/);
    assert.equal(crc.finished, false);
    const wrongMd5 = createHash('md5').update('other').digest('base64');
    const md5 = await decodeAndDigest(Buffer.concat(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET)), options(pool), { hashPool: pool, expect: { size: data.length, md5Base64: wrongMd5 } });
    assertS3Error(md5.error, 'BadDigest');
    assert.equal(md5.finished, false);
  });

  test('with a BodyDigest after it: a thread that dies fails the body (not an S3 error: 500), and missing digests fail it too', { timeout: 60_000 }, async () => {
    const framed = Buffer.concat(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET));
    const failing = new HashPool({ size: 1, script: new URL('../../test/helpers/failing-hash-worker.ts', import.meta.url) });
    try {
      const r = await decodeAndDigest(framed, options(failing), { hashPool: failing, expect: { size: data.length } });
      assert.ok(r.error instanceof Error && !(r.error instanceof S3Error), String(r.error));
      assert.match(r.error.message, /hashing thread stopped/);
      assert.equal(r.finished, false);
    } finally {
      await failing.close();
    }
    const incomplete = new HashPool({ size: 1, script: new URL('../../test/helpers/incomplete-hash-worker.ts', import.meta.url) });
    try {
      // That worker acknowledges batches with no chunk hashes, and ends jobs with no digests.
      const r = await decodeAndDigest(framed, options(incomplete), { hashPool: incomplete, expect: { size: data.length } });
      assert.ok(r.error instanceof Error && !(r.error instanceof S3Error), String(r.error));
      assert.equal(r.finished, false);
    } finally {
      await incomplete.close();
    }
  });

  test('a small signed body, or one of undeclared length, keeps its hashing on this thread: no job', async () => {
    const counting = new CountingPool({ size: 1 });
    try {
      const small = data.subarray(0, OFFLOAD_THRESHOLD - 1);
      const smallChunks = [small.subarray(0, 65_536), small.subarray(65_536)];
      const framed = Buffer.concat(signedChunkedBody(smallChunks, SEED, AMZ_DATE, SECRET));
      const r = await decodeAndDigest(framed, { signing, trailer: false, decodedLength: small.length, hashPool: counting }, { hashPool: counting, expect: { size: small.length } });
      assert.equal(r.error, null, String(r.error));
      assert.equal(r.digest.md5Hex, createHash('md5').update(small).digest('hex'));
      assert.equal(counting.threadCount, 0);
      // Undeclared: the decoder hashes chunks here; the digest moves to the pool on its own past the threshold.
      const big = Buffer.concat(signedChunkedBody(chunks, SEED, AMZ_DATE, SECRET));
      const u = await decodeAndDigest(big, { signing, trailer: false, hashPool: counting }, { hashPool: counting });
      assert.equal(u.error, null, String(u.error));
      assert.equal(u.digest.md5Base64, dataMd5);
      assert.deepEqual(counting.plans, [{ digest: { sha256: false, checksumAlgorithm: undefined } }]);
    } finally {
      await counting.close();
    }
  });
});
