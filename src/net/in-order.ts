import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

// Pipelined requests (several sent on one connection before the first is answered) are handled
// one at a time, in the order they came. Node.js hands each to the listener as soon as it is
// parsed, so a PUT followed by a GET of the same key ran side by side and the GET could read the
// old object, or a later PUT finish first and be overwritten by the earlier one. RFC 9112 allows
// parallel handling only of safe methods; S3 applies requests in order. A connection that does
// not pipeline never waits: a request starts at once when its connection has none in progress.

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export function inOrderPerConnection(listener: Listener): Listener {
  /** Per connection with a request in progress: the requests waiting behind it. */
  const waiting = new WeakMap<Socket, (() => void)[]>();
  return (req, res) => {
    const socket = req.socket;
    const start = () => {
      // 'close': the response was sent, or the connection ended; either way the next may start.
      res.once('close', () => {
        const next = waiting.get(socket)?.shift();
        if (next) next();
        else waiting.delete(socket);
      });
      listener(req, res);
    };
    const queue = waiting.get(socket);
    if (queue) queue.push(start);
    else {
      waiting.set(socket, []);
      start();
    }
  };
}
