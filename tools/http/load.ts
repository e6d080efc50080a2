// HTTP load client for bench/http.ts: `clients` connections at once, each from its own
// source address, each fetching `url` `repeat` times in turn (a new connection per fetch,
// as busybox httpd has no keep-alive). Bodies are counted into one reused buffer and
// dropped, so the client costs the same whatever the server.
//   node --import tsx/esm tools/http/load.ts '{"url":"http://10.77.9.1/f","clients":10,"repeat":1,"sources":["10.77.9.10"]}'
// Prints one JSON line: { seconds, bytes, fetches, errors }.
import { connect } from 'node:net';

const opts = JSON.parse(process.argv[2] ?? '{}') as { url: string; clients: number; repeat: number; sources: string[] };
const url = new URL(opts.url);
const request = Buffer.from(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
const scratch = Buffer.allocUnsafe(1 << 20);
const errors: string[] = [];
let bytes = 0;
let fetches = 0;

function fetchOnce(localAddress: string | undefined): Promise<void> {
  return new Promise((resolve) => {
    let head = '';
    let length = -1;
    let body = 0;
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      errors.push(why);
      sock.destroy();
      resolve();
    };
    const sock = connect({
      host: url.hostname,
      port: Number(url.port || 80),
      localAddress,
      onread: {
        buffer: scratch,
        callback: (n) => {
          let from = 0;
          if (length < 0) {
            head += scratch.toString('latin1', 0, n);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return true;
            const status = /^HTTP\/1\.[01] (\d+)/.exec(head)?.[1];
            length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
            if (status !== '200' || length < 0) {
              fail(`${status ?? 'no status'} from ${opts.url}`);
              return false;
            }
            from = n - (head.length - end - 4);
          }
          body += n - from;
          if (body >= length && !done) {
            done = true;
            bytes += body;
            fetches++;
            sock.destroy();
            resolve();
          }
          return true;
        },
      },
    });
    sock.on('connect', () => sock.write(request));
    sock.on('error', (err) => fail(err.message));
    sock.on('close', () => {
      if (length < 0 || body < length) fail(`connection closed after ${body} of ${length} bytes`);
    });
  });
}

const t0 = performance.now();
await Promise.all(
  Array.from({ length: opts.clients }, async (_, i) => {
    for (let r = 0; r < opts.repeat; r++) await fetchOnce(opts.sources[i % opts.sources.length]);
  }),
);
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, bytes, fetches, errors: errors.slice(0, 5), errorCount: errors.length })}\n`);
