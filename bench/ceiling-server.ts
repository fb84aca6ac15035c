// The "ceiling": the least a Node object server can do on this machine, as an upper bound for
// skep. No auth, no metadata, no hashing. PUT streams the body to a temp file, fdatasyncs it,
// renames it into place and fsyncs the folder (the same durability steps as skep's blob store);
// GET streams the file back, HEAD stats it; a bucket GET (list) returns a fixed small XML document.
//
// usage: node --import tsx bench/ceiling-server.ts --port N --data DIR

import http from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string' }, data: { type: 'string' } } });
const dataDir = values.data!;
const tmpDir = join(dataDir, '.tmp');
await mkdir(tmpDir, { recursive: true });

const LIST_XML = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    '<Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>',
);

function fail(res: http.ServerResponse, status: number, err?: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-length': 0 });
  res.end();
  if (err && status >= 500) console.error(err);
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function put(req: http.IncomingMessage, res: http.ServerResponse, bucketDir: string, key: string): Promise<void> {
  const tmp = join(tmpDir, randomBytes(12).toString('hex'));
  const fh = await open(tmp, 'wx');
  try {
    // Batched writes, as a careful implementation would do.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= 256 * 1024) {
        await fh.writev(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batchBytes > 0) await fh.writev(batch);
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, join(bucketDir, encodeURIComponent(key)));
  await syncDir(bucketDir);
  res.writeHead(200, { 'content-length': 0 });
  res.end();
}

async function get(res: http.ServerResponse, bucketDir: string, key: string): Promise<void> {
  const path = join(bucketDir, encodeURIComponent(key));
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return fail(res, 404);
  }
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

async function head(res: http.ServerResponse, bucketDir: string, key: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(join(bucketDir, encodeURIComponent(key)))).size;
  } catch {
    return fail(res, 404);
  }
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  res.end();
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = decodeURIComponent(q < 0 ? url : url.slice(0, q));
  const slash = path.indexOf('/', 1);
  const bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
  const key = slash < 0 ? '' : path.slice(slash + 1);
  if (!/^[a-z0-9.-]{3,63}$/.test(bucket)) return fail(res, 400);
  const bucketDir = join(dataDir, bucket);
  if (!key) {
    if (req.method === 'PUT') {
      await mkdir(bucketDir, { recursive: true });
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': LIST_XML.length });
      res.end(LIST_XML);
      return;
    }
    return fail(res, 405);
  }
  if (req.method === 'PUT') return put(req, res, bucketDir, key);
  if (req.method === 'GET') return get(res, bucketDir, key);
  if (req.method === 'HEAD') return head(res, bucketDir, key);
  return fail(res, 405);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => fail(res, 500, err));
});
server.keepAliveTimeout = 65_000;
server.requestTimeout = 0;
server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(`ceiling listening on http://127.0.0.1:${addr.port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
