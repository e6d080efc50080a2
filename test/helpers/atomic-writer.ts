// Child process for test/lib/atomic.test.ts: rewrites one file with writeFileAtomic,
// alternating two contents, until it is killed. Prints "writing" once it has started.
import { writeFileAtomic } from '../../lib/atomic.js';
import { atomicContents } from './atomic-contents.js';

const file = process.argv[2];
if (!file) throw new Error('usage: atomic-writer.ts FILE');
const contents = atomicContents();
process.stdout.write('writing\n');
for (let i = 0; ; i++) await writeFileAtomic(file, contents[i % 2]!);
