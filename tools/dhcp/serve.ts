// Runs our DHCP server alone, for namespace tests and bench/dhcp.ts: `node --import tsx/esm serve.ts '<json>'`
// with { inventory, serverIp, httpPort, leaseFile?, proxyDhcp?, port?, limits? }. Prints
// "LISTENING" once bound, then one JSON line per event; stops on SIGTERM.
import { loadInventory } from '../../cluster/inventory.js';
import { startDhcpServer } from '../../pxe/dhcp/server.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { inventory: string; serverIp: string; httpPort: number; leaseFile?: string; proxyDhcp?: boolean; port?: number; pxePort?: number; quiet?: boolean; limits?: false };
const inv = await loadInventory(cfg.inventory);
const srv = await startDhcpServer({
  inventory: () => inv,
  serverIp: cfg.serverIp,
  httpPort: cfg.httpPort,
  leaseFile: cfg.leaseFile,
  proxyDhcp: cfg.proxyDhcp,
  port: cfg.port,
  pxePort: cfg.pxePort,
  limits: cfg.limits,
  log: cfg.quiet ? undefined : { info: (m) => console.error(m), warn: (m) => console.error(`warning: ${m}`), debug: () => {} },
  onEvent: cfg.quiet ? undefined : (e) => console.log(JSON.stringify(e)),
});
console.log('LISTENING');
process.on('SIGTERM', () => {
  void srv.close().then(() => {
    console.error(`stats ${JSON.stringify(srv.stats)}`);
    process.exit(0);
  });
});
