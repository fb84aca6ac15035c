import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';

// An upload that takes its time: a PUT to a (presigned) URL whose body goes out `chunk` random
// bytes at a time with a pause after each, for tests of what happens while a request is in flight.

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
