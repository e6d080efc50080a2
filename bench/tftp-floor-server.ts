// The floor of Node's dgram for lock-step TFTP: the least a Node program can do per
// block. It answers any read request with the file's DATA blocks (512 octets, no
// options, no timers, no checks, one connected socket, the whole file in memory) and
// sends block n+1 the moment ACK n arrives. bench/tftp.ts runs it beside our server:
// when ours is as fast as this, what is left between ours and tftpd-hpa is the cost of
// a datagram through Node's event loop, not our code. Not a server: it never resends.
//   node --import tsx/esm bench/tftp-floor-server.ts ADDRESS PORT FILE
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';

const [address, port, file] = process.argv.slice(2);
if (!address || !port || !file) throw new Error('usage: tftp-floor-server.ts ADDRESS PORT FILE');
const data = readFileSync(file);
const BLOCK = 512;
const last = Math.floor(data.length / BLOCK) + 1;
const main = dgram.createSocket('udp4');
main.on('message', (_req, rinfo) => {
  const s = dgram.createSocket({ type: 'udp4', lookup: (a, _f, cb) => cb(null, a, 4) });
  s.bind(0, address, () =>
    s.connect(rinfo.port, rinfo.address, () => {
      let sent = 1; // absolute block number (the wire's 16 bits wrap)
      const send = (n: number) => s.send([Buffer.from([0, 3, (n >> 8) & 255, n & 255]), data.subarray((n - 1) * BLOCK, n * BLOCK)]);
      s.on('message', (m) => {
        if (((m[2]! << 8) | m[3]!) !== (sent & 0xffff)) return; // not the ACK of the last block sent
        if (sent >= last) return s.close();
        send(++sent);
      });
      send(1);
    }),
  );
});
main.bind(Number(port), address);
