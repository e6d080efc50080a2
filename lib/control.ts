// Terminal escapes and control characters out of text a tool or a guest console
// printed: what the project reads (progress, node-up lines) and prints again. Pure.
// CSI (ESC [ … final, with private/intermediate bytes such as ?, ! and space), OSC
// (ESC ] … BEL or ESC \\), other two-byte escapes, and C0 controls but tab and newline.
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]/g;
/** An escape that may still be going on at the end of a chunk. */
const UNFINISHED = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[ -/]*)?$/;

/** Console text without terminal escapes and control characters (a systemd `ESC[!p ESC]104 BEL` reset, colours, CR). */
export function stripControl(s: string): string {
  return s.replace(CONTROL, '');
}

/** stripControl over a stream: an escape split between two chunks is held until it ends. */
export function controlStripper(): (chunk: string) => string {
  let held = '';
  return (chunk) => {
    const s = held + chunk;
    const m = UNFINISHED.exec(s);
    held = m && s.length - m.index <= 256 ? s.slice(m.index) : '';
    return stripControl(held ? s.slice(0, s.length - held.length) : s);
  };
}
