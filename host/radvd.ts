// IPv6 router advertisements on a boot network, as on a normal one. Without any, iPXE
// waits about 15 s for IPv6 autoconfiguration before it boots.
import { existsSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

/** radvd.conf for `bridge`. The router lifetime is 0: nodes get an address, not a default route. */
export function radvdConf(bridge: string): string {
  return `interface ${bridge} {\n  AdvSendAdvert on;\n  IgnoreIfMissing on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n  AdvDefaultLifetime 0;\n  prefix fd77::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n`;
}

export const radvdArgv = (confFile: string) => ['radvd', '--nodaemon', '--config', confFile, '--pidfile', `${confFile}.pid`, '--logmethod', 'stderr'];

/** radvd in `ns` advertising on `bridge`; its config is written to `confFile`. */
export function startRadvd(ns: Netns, bridge: string, confFile: string): ChildProcess {
  writeFileSync(confFile, radvdConf(bridge));
  return ns.spawn(radvdArgv(confFile));
}

export const radvdMissing = (): string | undefined => (existsSync('/usr/sbin/radvd') ? undefined : 'radvd is not installed (apt-get install radvd)');
