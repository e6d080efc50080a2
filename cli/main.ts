// The `diskless` command line: one thin module per verb.
import yargs from 'yargs';
import { buildImageCommand } from './commands/build-image.js';
import { serveCommand } from './commands/serve.js';
import { vcCommand } from './commands/vc.js';
import { keygenCommand, signCommand } from './commands/keygen.js';
import { statusCommand } from './commands/status.js';
import { packageVersion } from '../lib/paths.js';

/**
 * DISKLESS_ARGS_ONLY=1: parse and validate the command line (unknown flags, bad values,
 * the commands' own checks), say so and stop before doing anything. The README examples
 * test runs every documented command line this way.
 */
function argsOnly(argv: { _: (string | number)[] }): void {
  if (process.env.DISKLESS_ARGS_ONLY !== '1') return;
  process.stdout.write(`arguments ok: ${argv._.join(' ')}\n`);
  process.exit(0);
}

export function cli(args: string[], scriptName = 'diskless') {
  const y = yargs(args).scriptName(scriptName);
  // `build-image` alone is the same verb as its default command.
  const withCommands =
    scriptName === 'build-image'
      ? y.command(buildImageCommand(true))
      : y.command(buildImageCommand()).command(serveCommand).command(vcCommand).command(keygenCommand).command(signCommand).command(statusCommand).demandCommand(1, 'Name a command; try --help.');
  return withCommands
    .middleware(argsOnly)
    .strict()
    .recommendCommands()
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      // A check() that returns a message passes it as `err` too, as a string: that is a usage error.
      if (err instanceof Error) {
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`error: ${msg}\nRun '${scriptName} --help' for usage.\n`);
      process.exit(2);
    });
}

/**
 * A reader that goes away (`build-image … 2>&1 | head`) must not kill a build half way:
 * writes to a closed pipe are dropped, and the work finishes and cleans up.
 */
export function surviveClosedOutput(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

export async function main(args: string[], scriptName?: string): Promise<void> {
  surviveClosedOutput();
  await cli(args, scriptName).parseAsync();
}
