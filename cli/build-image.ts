#!/usr/bin/env node
// `build-image <distro>`: the same as `diskless build-image <distro>`.
import { main } from './main.js';

const args = process.argv.slice(2);
const wantsTop = args[0] === '--version';
main(wantsTop ? args : ['build-image', ...args], 'build-image').catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
