// The `diskless` command line: one thin module per verb.
import yargs from 'yargs';
import { buildImageCommand } from './commands/build-image.js';
import { serveCommand } from './commands/serve.js';
import { vcCommand } from './commands/vc.js';
import { keygenCommand, signCommand } from './commands/keygen.js';
import { statusCommand } from './commands/status.js';
import { packageVersion } from '../lib/paths.js';

export function cli(args: string[], scriptName = 'diskless') {
  const y = yargs(args).scriptName(scriptName);
  // `build-image` alone is the same verb as its default command.
  const withCommands =
    scriptName === 'build-image'
      ? y.command(buildImageCommand(true))
      : y.command(buildImageCommand()).command(serveCommand).command(vcCommand).command(keygenCommand).command(signCommand).command(statusCommand).demandCommand(1, 'Name a command; try --help.');
  return withCommands
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

export async function main(args: string[], scriptName?: string): Promise<void> {
  await cli(args, scriptName).parseAsync();
}
