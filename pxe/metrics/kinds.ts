// Label values for /metrics, from the boot events. Pure. Labels must stay few: an
// HTTP path becomes its route's kind (never the path itself, which holds MACs and
// versions), a TFTP failure the kind of failure its message names.
import { route } from '../http/routes.js';

/** The route an HTTP path asked for: boot-script, artifact, status, …, not-found. */
export function httpRoute(path: string): string {
  return route(path).kind;
}

/** The status code's class for errors: "4xx" or "5xx"; undefined for a success. */
export function httpErrorClass(status: number): string | undefined {
  if (status >= 500) return '5xx';
  if (status >= 400) return '4xx';
  return undefined;
}

export const TFTP_ERROR_KINDS = ['not_found', 'access', 'timeout', 'client_abort', 'too_long', 'evicted', 'shutdown', 'io', 'other'] as const;
export type TftpErrorKind = (typeof TFTP_ERROR_KINDS)[number];

/** The messages pxe/tftp/ ends a failed transfer with (server.ts, transfer.ts, paths.ts), by kind. */
const TFTP_ERRORS: [RegExp, TftpErrorKind][] = [
  [/ not found$/, 'not_found'],
  [/^(refused path|no access to|cannot open|cannot read) |leads outside the root$|is not a regular file$/, 'access'],
  [/^timed out after |^no ACK 0 /, 'timeout'],
  [/^client sent ERROR /, 'client_abort'],
  [/^transfer took longer than its limit/, 'too_long'],
  [/^server busy/, 'evicted'],
  [/^server (closed|is closing)/, 'shutdown'],
  [/^(socket|send|read): |^no transfer socket/, 'io'],
];

export function tftpErrorKind(message: string | undefined): TftpErrorKind {
  return TFTP_ERRORS.find(([re]) => re.test(message ?? ''))?.[1] ?? 'other';
}
