#!/usr/bin/env node
// `build-image <distro>`: the same as `diskless build-image <distro>`.
import { main } from './main.js';

main(process.argv.slice(2), 'build-image').catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
