// The part of iPXE's script language a booting node walks through: labels, `goto`,
// `kernel`/`initrd`/`module` with `|| goto <label>`, `sleep`, `boot`, `echo`. Pure:
// parse() turns text into steps; the client (client.ts) runs them.
// iPXE reference: https://ipxe.org/scripting, https://ipxe.org/cmd

export type Step =
  /** `cmdline`: what follows the URL (a kernel's command line), when anything does. */
  | { op: 'fetch'; what: 'kernel' | 'initrd' | 'module'; url: string; onFail?: string; cmdline?: string }
  | { op: 'goto'; label: string }
  | { op: 'sleep'; seconds: number; onFail?: string }
  | { op: 'boot'; onFail?: string }
  | { op: 'other'; line: string };

export interface Script {
  steps: Step[];
  /** Label name -> index of the step after it. */
  labels: Map<string, number>;
}

/** iPXE options that take a value (`--name initrd.img`); the rest are flags. */
const VALUE_OPTIONS = new Set(['--name', '-n', '--timeout', '-t']);

/** The first argument that is not an option (the image URL of kernel/initrd/module), and where it is. */
function firstUrl(args: string[]): { url: string; at: number } | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-')) return { url: a, at: i };
  }
  return undefined;
}

export function parseScript(text: string): Script {
  const lines = text.split(/\r?\n/);
  if (!/^#!ipxe\b/.test(lines[0] ?? '')) throw new Error(`not an iPXE script (first line: ${JSON.stringify(lines[0] ?? '')})`);
  const steps: Step[] = [];
  const labels = new Map<string, number>();
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith(':')) {
      labels.set(line.slice(1).trim(), steps.length);
      continue;
    }
    // `cmd args || goto label`: the fallback when cmd fails.
    const m = /^(.*?)\s*\|\|\s*goto\s+(\S+)\s*$/.exec(line);
    const body = (m ? m[1]! : line).split(/\s+/);
    const onFail = m?.[2];
    const [cmd, ...args] = body;
    switch (cmd) {
      case 'kernel':
      case 'initrd':
      case 'module': {
        const found = firstUrl(args);
        if (!found) throw new Error(`${cmd} without an image URL: ${line}`);
        const cmdline = args.slice(found.at + 1).join(' ');
        steps.push({ op: 'fetch', what: cmd, url: found.url, onFail, ...(cmdline ? { cmdline } : {}) });
        break;
      }
      case 'goto':
        steps.push({ op: 'goto', label: args[0] ?? '' });
        break;
      case 'sleep':
        steps.push({ op: 'sleep', seconds: Number(args[0] ?? 0), onFail });
        break;
      case 'boot':
        steps.push({ op: 'boot', onFail });
        break;
      default:
        steps.push({ op: 'other', line });
    }
  }
  return { steps, labels };
}

/**
 * iPXE expands settings in the DHCP boot file name (`${mac:hexhyp}` and the like,
 * usr/autoboot.c fetch_next_server_and_filename -> expand_settings); a static
 * server such as dnsmasq relies on it for per-node script names.
 */
export function expandBootFile(file: string, mac: string): string {
  return file.replace(/\$\{(?:net0\/)?mac(?::(hexhyp|hex))?\}/g, (_m, fmt: string | undefined) => (fmt === 'hexhyp' ? mac.replace(/:/g, '-') : mac));
}
