import { randomBytes } from 'node:crypto';
import { get as httpGet, request as httpRequest } from 'node:http';

// Transfers cut or drawn out, for tests of what happens while a request is in flight: an upload
// to a (presigned) URL whose body goes out `chunk` random bytes at a time with a pause after each,
// and a download the client abandons part way.

export interface SlowUpload {
  /** The response status; rejects when the connection breaks. */
  done: Promise<number>;
  /** Bytes written so far. */
  sent(): number;
}

export function slowPut(url: string, size: number, opts: { chunk: number; pauseMs: number }): SlowUpload {
  let sent = 0;
  const done = new Promise<number>((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers: { 'content-length': size } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const next = () => {
      if (sent >= size) return void req.end();
      const n = Math.min(opts.chunk, size - sent);
      req.write(randomBytes(n), (err) => {
        if (err) return;
        sent += n;
        setTimeout(next, opts.pauseMs);
      });
    };
    next();
  });
  done.catch(() => undefined); // awaited by the test, maybe after it has failed
  return { done, sent: () => sent };
}

/** GETs `url` (presigned, or with `headers`), reads at least `bytes` of the body, then closes the connection. */
export function readThenHangUp(url: string, bytes: number, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= bytes) {
          req.destroy();
          resolve();
        }
      });
      res.on('end', () => reject(new Error(`the whole body came (${got} bytes)`)));
    });
    req.on('error', reject);
  });
}
