// Child process for test/vc/store.test.ts, on a FileStore in DIR:
//   incr N LOG  take the lock `vc` N times; each time read `counter`, write it + 1
//               (unconditionally: only the lock keeps updates from being lost) and
//               append "in"/"out" lines to LOG inside the locked section
//   hold        take the lock `vc`, print "held", wait to be killed
//   write       rewrite the key `big` forever with two alternating values; prints "writing"
import { appendFileSync } from 'node:fs';
import { FileStore } from '../../vc/store/file.js';
import { bigValues } from './vc-store-values.js';

const [dir, mode, arg, log] = process.argv.slice(2);
if (!dir || !mode) throw new Error('usage: vc-store-worker.ts DIR incr N LOG | hold | write');
const store = new FileStore({ dir, owner: `worker ${mode}` });

if (mode === 'incr') {
  for (let i = 0; i < Number(arg); i++) {
    const lock = await store.lock('vc');
    appendFileSync(log!, `in ${process.pid}\n`);
    const cur = await store.get<number>('counter');
    await store.put('counter', (cur?.value ?? 0) + 1);
    appendFileSync(log!, `out ${process.pid}\n`);
    await lock.release();
  }
  process.stdout.write('done\n');
} else if (mode === 'hold') {
  await store.lock('vc');
  process.stdout.write('held\n');
  setInterval(() => {}, 1000);
} else if (mode === 'write') {
  const values = bigValues();
  process.stdout.write('writing\n');
  for (let i = 0; ; i++) await store.put('big', values[i % 2]);
}
