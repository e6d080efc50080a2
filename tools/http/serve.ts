// Runs our HTTP server for the benchmark inside a network namespace, over an images folder:
//   node --import tsx/esm tools/http/serve.ts '{"imagesDir":"/srv/images","address":"10.77.0.1","port":80}'
// Prints "LISTENING <port>" once bound. `limits` (optional) go to the server as they are.
import { startHttpServer } from '../../pxe/http/server.js';
import { ImageStore } from '../../pxe/images.js';
import { parseInventory } from '../../cluster/inventory.js';
import { defaultTemplatesDir } from '../../lib/paths.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { imagesDir: string; address: string; port: number; limits?: object };
const inv = parseInventory(
  `cluster: bench\nnetwork:\n  subnet: ${opts.address}/24\nservers: [${opts.address}]\nnodes: []\n`,
  'bench.yaml',
);
const server = await startHttpServer({
  images: new ImageStore(opts.imagesDir),
  inventory: () => inv,
  templatesDir: defaultTemplatesDir(),
  ipxeDir: '/usr/lib/ipxe',
  servers: () => [opts.address],
  address: opts.address,
  port: opts.port,
  ...(opts.limits ? { limits: opts.limits } : {}),
});
process.stdout.write(`LISTENING ${server.port}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
