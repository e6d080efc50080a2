// Following what a long-running process (a server in a namespace, a QEMU console)
// prints, and ending it: wait for a line or pattern, with the output so far in the
// error when it does not come.
import type { ChildProcess } from 'node:child_process';
import { controlStripper } from '../lib/control.js';

export { controlStripper, stripControl } from '../lib/control.js';

/** Resolve when `re` appears in the child's output (stdout + stderr); keeps all output in `log`. */
export function watchOutput(child: ChildProcess): { log: () => string; waitFor: (re: RegExp, ms: number, what: string) => Promise<RegExpExecArray> } {
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const [out, err] = [controlStripper(), controlStripper()];
  const on = (strip: (s: string) => string) => (d: Buffer) => {
    text += strip(d.toString());
    for (const w of [...waiters]) {
      const m = w.re.exec(text);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', on(out));
  child.stderr?.on('data', on(err));
  return {
    log: () => text,
    waitFor: (re, ms, what) =>
      new Promise((resolve, reject) => {
        const m = re.exec(text);
        if (m) return resolve(m);
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; last output:\n${text.slice(-3000)}`)), ms);
        waiters.push({ re, resolve: (x) => (clearTimeout(timer), resolve(x)) });
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new Error(`${what}: process exited (${code ?? sig}); last output:\n${text.slice(-3000)}`));
        });
      }),
  };
}

/** Wait until `child` prints a line matching `re` on stdout or stderr (from now on). */
export function waitFor(child: ChildProcess, re: RegExp, ms: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output:\n${seen.slice(-2000)}`)), ms);
    const on = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', on);
        child.stderr?.off('data', on);
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: process exited ${code}; output:\n${seen.slice(-2000)}`));
    });
  });
}

/** Collect a child's stdout lines. */
export function lines(child: ChildProcess): string[] {
  const out: string[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  return out;
}

/** Lines of a child's stdout, with a way to wait for one; the tail of stderr for errors. */
export function watchLines(child: ChildProcess) {
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  let err = '';
  let exited = false;
  const failers: Array<(e: Error) => void> = [];
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  child.once('exit', (code, sig) => {
    exited = true;
    for (const f of failers) f(new Error(`process exited ${code ?? sig}; stderr:\n${err}\nstdout:\n${lines.slice(-20).join('\n')}`));
  });
  return {
    lines,
    stderr: () => err,
    waitFor(re: RegExp, ms: number, what: string): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out (${ms} ms) waiting for ${what}; stderr:\n${err}\nstdout:\n${lines.slice(-20).join('\n')}`)), ms);
        const fail = (e: Error) => (clearTimeout(timer), reject(new Error(`${what}: ${e.message}`)));
        if (exited) return fail(new Error('process had exited'));
        failers.push(fail);
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

/** SIGTERM `child` by PID; resolves once it has exited. */
export function stop(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return r();
    child.once('exit', () => r());
    process.kill(child.pid, 'SIGTERM');
  });
}
