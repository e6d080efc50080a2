// `diskless status`: the cluster as one replica sees it. Thin: the work is in cli/status.ts.
import type { Argv, CommandModule } from 'yargs';

interface StatusArgs {
  replica: string;
  json: boolean;
  watch: boolean;
  interval: number;
  'dead-after'?: number;
  schema: boolean;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: "the cluster as a replica sees it: each node's boot phase and failures, replicas, images, virtual clusters",
  builder: ((y: Argv) =>
    y
      .option('replica', { alias: 'r', type: 'string', default: '127.0.0.1', describe: "HOST[:PORT] of any replica's HTTP service (serve --http-port; default port 80)" })
      .option('json', { type: 'boolean', default: false, describe: 'print the view as JSON (its schema: --schema)' })
      .option('watch', { alias: 'w', type: 'boolean', default: false, describe: 'redraw every --interval seconds until interrupted' })
      .option('interval', { type: 'number', default: 2, describe: 'seconds between redraws with --watch' })
      .option('dead-after', { type: 'number', describe: "show a replica dead when it has not answered for this many seconds (default: the replica's own serve --dead-after)" })
      .option('schema', { type: 'boolean', default: false, describe: 'print the JSON Schema of the --json output and exit' })
      .check((a) => {
        if (!(a.interval > 0)) return `--interval ${a.interval}: give a number of seconds above 0`;
        if (a['dead-after'] !== undefined && !(a['dead-after'] > 0)) return `--dead-after ${a['dead-after']}: give a number of seconds above 0`;
        if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(a.replica)) return `--replica ${a.replica}: give HOST or HOST:PORT, e.g. 10.77.0.1:8080`;
        return true;
      })
      .example('$0 status', 'the replica on this host (port 80)')
      .example('$0 status --replica 10.77.0.2:8080 --watch', 'follow a boot storm through another replica, redrawn every 2 s')
      .example('$0 status --json | jq \'.nodes[] | select(.failed)\'', 'the nodes stuck on a failure, with their messages')
      .example('$0 status --dead-after 10', 'count a replica silent for 10 s as dead')
      .epilog(
        'Nodes: the phase of the boot under way (DHCP, loader, kernel+initrd, root image, init, up), how long\n' +
          'it has been in it, how long the boot has taken, the last boot that reached up, and the last failure\n' +
          '(a sha256 mismatch, a replica that did not answer, a retry, an HTTP or TFTP error) while it fails.\n' +
          'init and up come from the nodes themselves (GET /report/...). Any replica answers for the whole\n' +
          'cluster: it merges its peers\' node views and its heartbeats\' answers. Colour only on a terminal\n' +
          '(and not with NO_COLOR); piped, the output is plain text.',
      )) as CommandModule<object, StatusArgs>['builder'],
  async handler(argv) {
    const { runStatus } = await import('../status.js');
    await runStatus({ replica: argv.replica, json: argv.json, watch: argv.watch, intervalSeconds: argv.interval, deadAfterSeconds: argv['dead-after'], schema: argv.schema });
  },
};
